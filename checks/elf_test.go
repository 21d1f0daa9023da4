package checks

import (
	"bytes"
	"context"
	delf "debug/elf"
	"encoding/binary"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs/elfinfo"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// elfSpec describes a small but valid ELF file for tests: a header, one
// PT_LOAD covering the file, PT_INTERP and PT_DYNAMIC when asked, and
// section headers (.interp, .dynstr, .dynamic, .shstrtab) so debug/elf
// reads it like a linker's output.
type elfSpec struct {
	Machine delf.Machine // default EM_X86_64
	Class32 bool
	OSABI   delf.OSABI
	Type    delf.Type // default ET_DYN with an interpreter, ET_EXEC without
	Interp  string
	Needed  []string
	RPath   string
	RunPath string
	Soname  string
	// Pad inserts bytes before the dynamic data, to push it beyond the
	// head imagefs captures.
	Pad int
}

// build returns the ELF file's bytes.
func (s elfSpec) build() []byte {
	if s.Machine == 0 {
		s.Machine = delf.EM_X86_64
	}
	if s.Type == 0 {
		s.Type = delf.ET_EXEC
		if s.Interp != "" || s.Soname != "" || len(s.Needed) > 0 {
			s.Type = delf.ET_DYN
		}
	}
	is64 := !s.Class32
	ehsize, phent, shent, dynent := 52, 32, 40, 8
	if is64 {
		ehsize, phent, shent, dynent = 64, 56, 64, 16
	}
	bo := binary.LittleEndian
	const base = 0x400000
	dynamic := len(s.Needed) > 0 || s.RPath != "" || s.RunPath != "" || s.Soname != "" || s.Interp != ""
	nph := 1
	if s.Interp != "" {
		nph++
	}
	if dynamic {
		nph++
	}
	off := ehsize + nph*phent
	// .interp
	interpOff := off
	var body bytes.Buffer
	if s.Interp != "" {
		body.WriteString(s.Interp + "\x00")
	}
	body.Write(make([]byte, s.Pad))
	// .dynstr
	dynstrOff := off + body.Len()
	strs := []byte{0}
	addStr := func(x string) uint64 {
		o := uint64(len(strs))
		strs = append(strs, x...)
		strs = append(strs, 0)
		return o
	}
	type dyn struct{ tag, val uint64 }
	var dyns []dyn
	for _, n := range s.Needed {
		dyns = append(dyns, dyn{uint64(delf.DT_NEEDED), addStr(n)})
	}
	if s.Soname != "" {
		dyns = append(dyns, dyn{uint64(delf.DT_SONAME), addStr(s.Soname)})
	}
	if s.RPath != "" {
		dyns = append(dyns, dyn{uint64(delf.DT_RPATH), addStr(s.RPath)})
	}
	if s.RunPath != "" {
		dyns = append(dyns, dyn{uint64(delf.DT_RUNPATH), addStr(s.RunPath)})
	}
	if dynamic {
		body.Write(strs)
	}
	for (off+body.Len())%8 != 0 {
		body.WriteByte(0)
	}
	dynOff := off + body.Len()
	if dynamic {
		dyns = append(dyns, dyn{uint64(delf.DT_STRTAB), uint64(base + dynstrOff)}, dyn{uint64(delf.DT_STRSZ), uint64(len(strs))}, dyn{uint64(delf.DT_NULL), 0})
		for _, d := range dyns {
			if is64 {
				body.Write(bo.AppendUint64(nil, d.tag))
				body.Write(bo.AppendUint64(nil, d.val))
			} else {
				body.Write(bo.AppendUint32(nil, uint32(d.tag)))
				body.Write(bo.AppendUint32(nil, uint32(d.val)))
			}
		}
	}
	dynSize := len(dyns) * dynent
	// .shstrtab
	shstrOff := off + body.Len()
	shstr := []byte("\x00.interp\x00.dynstr\x00.dynamic\x00.shstrtab\x00")
	body.Write(shstr)
	for (off+body.Len())%8 != 0 {
		body.WriteByte(0)
	}
	shOff := off + body.Len()
	type sh struct {
		name, typ, flags, addr, off, size, link, entsize uint64
	}
	shs := []sh{{}}
	if s.Interp != "" {
		shs = append(shs, sh{1, uint64(delf.SHT_PROGBITS), 2, uint64(base + interpOff), uint64(interpOff), uint64(len(s.Interp) + 1), 0, 0})
	}
	dynstrIdx := uint64(0)
	if dynamic {
		dynstrIdx = uint64(len(shs))
		shs = append(shs, sh{9, uint64(delf.SHT_STRTAB), 2, uint64(base + dynstrOff), uint64(dynstrOff), uint64(len(strs)), 0, 0})
		shs = append(shs, sh{17, uint64(delf.SHT_DYNAMIC), 3, uint64(base + dynOff), uint64(dynOff), uint64(dynSize), dynstrIdx, uint64(dynent)})
	}
	shs = append(shs, sh{26, uint64(delf.SHT_STRTAB), 0, 0, uint64(shstrOff), uint64(len(shstr)), 0, 0})
	for _, x := range shs {
		if is64 {
			body.Write(bo.AppendUint32(nil, uint32(x.name)))
			body.Write(bo.AppendUint32(nil, uint32(x.typ)))
			body.Write(bo.AppendUint64(nil, x.flags))
			body.Write(bo.AppendUint64(nil, x.addr))
			body.Write(bo.AppendUint64(nil, x.off))
			body.Write(bo.AppendUint64(nil, x.size))
			body.Write(bo.AppendUint32(nil, uint32(x.link)))
			body.Write(bo.AppendUint32(nil, 0))
			body.Write(bo.AppendUint64(nil, 8))
			body.Write(bo.AppendUint64(nil, x.entsize))
		} else {
			for _, v := range []uint64{x.name, x.typ, x.flags, x.addr, x.off, x.size, x.link, 0, 4, x.entsize} {
				body.Write(bo.AppendUint32(nil, uint32(v)))
			}
		}
	}
	total := uint64(off + body.Len())

	var out bytes.Buffer
	ident := []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, byte(s.OSABI), 0, 0, 0, 0, 0, 0, 0, 0}
	if !is64 {
		ident[4] = 1
	}
	out.Write(ident)
	u16 := func(v uint16) { out.Write(bo.AppendUint16(nil, v)) }
	u32 := func(v uint32) { out.Write(bo.AppendUint32(nil, v)) }
	word := func(v uint64) {
		if is64 {
			out.Write(bo.AppendUint64(nil, v))
		} else {
			u32(uint32(v))
		}
	}
	u16(uint16(s.Type))
	u16(uint16(s.Machine))
	u32(1)
	word(base + uint64(ehsize+nph*phent)) // entry
	word(uint64(ehsize))                  // phoff
	word(uint64(shOff))                   // shoff
	u32(0)                                // flags
	u16(uint16(ehsize))
	u16(uint16(phent))
	u16(uint16(nph))
	u16(uint16(shent))
	u16(uint16(len(shs)))
	u16(uint16(len(shs) - 1)) // shstrndx
	ph := func(typ delf.ProgType, flags uint32, o, size uint64) {
		if is64 {
			u32(uint32(typ))
			u32(flags)
			word(o)
			word(base + o)
			word(base + o)
			word(size)
			word(size)
			word(8)
		} else {
			u32(uint32(typ))
			u32(uint32(o))
			u32(uint32(base + o))
			u32(uint32(base + o))
			u32(uint32(size))
			u32(uint32(size))
			u32(flags)
			u32(4)
		}
	}
	if s.Interp != "" {
		ph(delf.PT_INTERP, 4, uint64(interpOff), uint64(len(s.Interp)+1))
	}
	ph(delf.PT_LOAD, 5, 0, total)
	if dynamic {
		ph(delf.PT_DYNAMIC, 6, uint64(dynOff), uint64(dynSize))
	}
	out.Write(body.Bytes())
	return out.Bytes()
}

func (s elfSpec) String() string { return string(s.build()) }

// Common ELF files of the test images.
const (
	glibcInterp   = "/lib64/ld-linux-x86-64.so.2"
	glibcInterpA  = "/lib/ld-linux-aarch64.so.1"
	muslInterp    = "/lib/ld-musl-x86_64.so.1"
	machineARM64  = delf.EM_AARCH64
	machineX86_64 = delf.EM_X86_64
)

func TestParseELFAgreesWithDebugELF(t *testing.T) {
	for _, s := range []elfSpec{
		{Interp: glibcInterp, Needed: []string{"libstdc++.so.6", "libc.so.6"}, RunPath: "$ORIGIN/lib:/opt/lib"},
		{Machine: delf.EM_AARCH64, Interp: glibcInterpA, Needed: []string{"libc.so.6"}, RPath: "/usr/local/lib"},
		{Soname: "libfoo.so.1", Needed: []string{"libc.so.6"}},
		{},
		{Class32: true, Machine: delf.EM_386, Interp: "/lib/ld-linux.so.2", Needed: []string{"libc.so.6"}},
		{OSABI: delf.ELFOSABI_FREEBSD, Interp: "/libexec/ld-elf.so.1", Needed: []string{"libc.so.7"}},
		{Interp: glibcInterp, Needed: []string{"libGL.so.1"}, Pad: 10000},
	} {
		b := s.build()
		want, err := delf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%+v: debug/elf cannot parse the test file: %v", s, err)
		}
		got, err := ParseELF(b)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		if got.Machine != want.Machine || got.Class != want.Class || got.Type != want.Type || got.OSABI != want.OSABI {
			t.Errorf("%+v: identity %v/%v/%v/%v, debug/elf says %v/%v/%v/%v", s, got.Machine, got.Class, got.Type, got.OSABI, want.Machine, want.Class, want.Type, want.OSABI)
		}
		libs, err := want.ImportedLibraries()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Needed, libs) && len(libs)+len(got.Needed) > 0 {
			t.Errorf("%+v: needed %q, debug/elf says %q", s, got.Needed, libs)
		}
		rp, _ := want.DynString(delf.DT_RUNPATH)
		if strings.Join(got.RunPath, ":") != strings.Join(rp, ":") {
			t.Errorf("runpath %q, debug/elf says %q", got.RunPath, rp)
		}
		interp := ""
		for _, p := range want.Progs {
			if p.Type == delf.PT_INTERP {
				b := make([]byte, p.Filesz)
				p.ReadAt(b, 0)
				interp = strings.TrimRight(string(b), "\x00")
			}
		}
		if got.Interp != interp {
			t.Errorf("interp %q, debug/elf says %q", got.Interp, interp)
		}
		if (s.Needed != nil || s.Soname != "") && !got.DynamicRead {
			t.Errorf("%+v: dynamic section not read", s)
		}
	}
}

func TestParseELFHead(t *testing.T) {
	b := elfSpec{Interp: glibcInterp, Needed: []string{"libGL.so.1"}, Pad: 10000}.build()
	// The head imagefs keeps (program headers and interpreter) is enough
	// for the identity and PT_INTERP, not for DT_NEEDED.
	e, err := ParseELF(b[:4096])
	if err != nil {
		t.Fatal(err)
	}
	if e.Interp != glibcInterp || e.DynamicRead || !e.HasDynamic || e.Arch() != "amd64" {
		t.Errorf("head parse: %+v", e)
	}
	// The 20-byte stub other tests use.
	e, err = ParseELF([]byte(elf))
	if err != nil || !e.HeaderOnly || e.Arch() != "amd64" {
		t.Errorf("stub: %+v, %v", e, err)
	}
	if _, err := ParseELF([]byte("#!/bin/sh\n")); err == nil {
		t.Error("a script parsed as ELF")
	}
}

func TestSniffFormat(t *testing.T) {
	for in, want := range map[string]BinFormat{
		"\x7fELF\x02\x01":                  FormatELF,
		"\xcf\xfa\xed\xfe\x07\x00\x00\x01": FormatMachO,
		"\xca\xfe\xba\xbe\x00\x00\x00\x02": FormatMachO,
		"\xca\xfe\xba\xbe\x00\x00\x00\x41": FormatUnknown, // a Java class file
		"MZ\x90\x00":                       FormatPE,
		"PK\x03\x04\x14\x00":               FormatZip,
		"#!/bin/sh\n":                      FormatScript,
		"echo hello\n":                     FormatUnknown,
	} {
		if got := SniffFormat([]byte(in)); got != want {
			t.Errorf("SniffFormat(%q) = %v, want %v", in, got, want)
		}
	}
}

// ldCacheEntry is an entry for buildLDCache.
type ldCacheEntry struct {
	name, path string
	flags      int32
}

// buildLDCache writes an ld.so.cache in glibc's new format
// ("glibc-ld.so.cache1.1"), as ldconfig does; with old, the old format
// ("ld.so-1.7.0") comes first and the new one follows, aligned.
func buildLDCache(entries []ldCacheEntry, old bool) []byte {
	bo := binary.LittleEndian
	var strs bytes.Buffer
	const header, entry = 48, 24
	strBase := header + entry*len(entries)
	type off struct{ k, v uint32 }
	var offs []off
	for _, e := range entries {
		k := uint32(strBase + strs.Len())
		strs.WriteString(e.name + "\x00")
		v := uint32(strBase + strs.Len())
		strs.WriteString(e.path + "\x00")
		offs = append(offs, off{k, v})
	}
	var nw bytes.Buffer
	nw.WriteString("glibc-ld.so.cache1.1")
	nw.Write(bo.AppendUint32(nil, uint32(len(entries))))
	nw.Write(bo.AppendUint32(nil, uint32(strs.Len())))
	nw.Write([]byte{0, 0, 0, 0})      // flags + padding
	nw.Write(bo.AppendUint32(nil, 0)) // extension offset
	nw.Write(make([]byte, 12))        // unused
	for i, e := range entries {
		nw.Write(bo.AppendUint32(nil, uint32(e.flags)))
		nw.Write(bo.AppendUint32(nil, offs[i].k))
		nw.Write(bo.AppendUint32(nil, offs[i].v))
		nw.Write(bo.AppendUint32(nil, 0)) // osversion
		nw.Write(bo.AppendUint64(nil, 0)) // hwcap
	}
	nw.Write(strs.Bytes())
	if !old {
		return nw.Bytes()
	}
	var b bytes.Buffer
	b.WriteString("ld.so-1.7.0\x00")
	b.Write(bo.AppendUint32(nil, uint32(len(entries))))
	// Old entries point into the string table that follows them (where
	// the new format hides); their offsets are not used by this reader.
	for range entries {
		b.Write(bo.AppendUint32(nil, 1))
		b.Write(bo.AppendUint32(nil, 0))
		b.Write(bo.AppendUint32(nil, 0))
	}
	for b.Len()%8 != 0 {
		b.WriteByte(0)
	}
	b.Write(nw.Bytes())
	return b.Bytes()
}

const x8664Libc6 = 0x0303

func TestParseLDCache(t *testing.T) {
	entries := []ldCacheEntry{
		{"libstdc++.so.6", "/usr/lib64/libstdc++.so.6", x8664Libc6},
		{"libc.so.6", "/lib64/libc.so.6", x8664Libc6},
		{"libc.so.6", "/lib/libc.so.6", 0x0003}, // i386
	}
	for _, old := range []bool{false, true} {
		c, err := ParseLDCache(buildLDCache(entries, old))
		if err != nil {
			t.Fatalf("old=%v: %v", old, err)
		}
		if len(c.Entries) != 3 || c.Entries[1].Name != "libc.so.6" || c.Entries[1].Path != "/lib64/libc.so.6" {
			t.Errorf("old=%v: %+v", old, c)
		}
		if old != (c.Format == "old+new") {
			t.Errorf("format %q", c.Format)
		}
		if !cacheFlagsFit(c.Entries[1].Flags, "amd64") || cacheFlagsFit(c.Entries[2].Flags, "amd64") || cacheFlagsFit(c.Entries[1].Flags, "arm64") {
			t.Errorf("flags: %+v", c.Entries)
		}
	}
	if _, err := ParseLDCache([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
	if _, err := ParseLDCache([]byte("glibc-ld.so.cache1.1\xff\xff\xff\x00")); err == nil {
		t.Error("truncated cache parsed")
	}
}

func TestExpandDST(t *testing.T) {
	if got := expandDST("$ORIGIN/../lib", []string{"/var/task/bin", "/opt/app/bin"}, "amd64"); !slices.Equal(got, []string{"/var/task/lib", "/opt/app/lib"}) {
		t.Errorf("$ORIGIN: %q", got)
	}
	if got := expandDST("/usr/$LIB", nil, "amd64"); !slices.Contains(got, "/usr/lib64") || !slices.Contains(got, "/usr/lib/x86_64-linux-gnu") {
		t.Errorf("$LIB: %q", got)
	}
	if got := expandDST("/opt/${PLATFORM}/lib", nil, "arm64"); !slices.Equal(got, []string{"/opt/aarch64/lib"}) {
		t.Errorf("$PLATFORM: %q", got)
	}
}

// Realistic images for the ELF checks, with real (small) ELF files.

// archELF are the per-architecture facts of a glibc image.
type archELF struct {
	arch     string
	machine  delf.Machine
	interp   string // PT_INTERP as glibc binaries write it
	loader   string // where the loader file is (under /usr/lib64 or /usr/lib)
	cacheFl  int32
	platform string // manylinux platform word
}

var (
	amd64ELF = archELF{"amd64", delf.EM_X86_64, glibcInterp, "/usr/lib64/ld-linux-x86-64.so.2", x8664Libc6, "x86_64"}
	arm64ELF = archELF{"arm64", delf.EM_AARCH64, glibcInterpA, "/usr/lib/ld-linux-aarch64.so.1", 0x0a03, "aarch64"}
)

// exe is a dynamically linked glibc executable for a.
func (a archELF) exe(needed ...string) string {
	return elfSpec{Machine: a.machine, Interp: a.interp, Needed: needed}.String()
}

// lib is a shared library for a.
func (a archELF) lib(soname string, needed ...string) string {
	return elfSpec{Machine: a.machine, Soname: soname, Needed: needed}.String()
}

// al2023Layers is an AWS Lambda base image (python3.12 branch, Amazon
// Linux 2023): /lib64 -> usr/lib64 and /bin -> usr/bin, glibc with
// /etc/ld.so.cache, bash, /lambda-entrypoint.sh, /var/runtime/bootstrap
// and /var/lang/bin/python3.12 linked to /var/lang/lib/libpython3.12.so.
func al2023Layers(a archELF) []testimage.File {
	libdir := "usr/lib64"
	files := []testimage.File{
		testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Dir("usr/lib64", 0), testimage.Dir("usr/lib", 0),
		testimage.Symlink("lib64", "usr/lib64"), testimage.Symlink("bin", "usr/bin"), testimage.Symlink("lib", "usr/lib"),
		testimage.Reg(strings.TrimPrefix(a.loader, "/"), 0o755, a.lib(path.Base(a.interp))),
		testimage.Reg(libdir+"/libc.so.6", 0o755, a.lib("libc.so.6", path.Base(a.interp))),
		testimage.Reg(libdir+"/libm.so.6", 0o755, a.lib("libm.so.6", "libc.so.6")),
		testimage.Reg(libdir+"/libgcc_s.so.1", 0o755, a.lib("libgcc_s.so.1", "libc.so.6")),
		testimage.Reg(libdir+"/libstdc++.so.6", 0o755, a.lib("libstdc++.so.6", "libm.so.6", "libc.so.6", "libgcc_s.so.1")),
		testimage.Reg(libdir+"/libtinfo.so.6", 0o755, a.lib("libtinfo.so.6", "libc.so.6")),
		testimage.Reg("usr/bin/bash", 0o755, a.exe("libtinfo.so.6", "libc.so.6")),
		testimage.Symlink("usr/bin/sh", "bash"),
		testimage.Reg("usr/bin/microdnf", 0o755, a.exe("libc.so.6")),
		testimage.Symlink("usr/bin/dnf", "microdnf"),
		testimage.Dir("etc", 0),
		testimage.Reg("etc/ld.so.conf", 0o644, "include ld.so.conf.d/*.conf\n"),
		testimage.Reg("etc/ld.so.cache", 0o644, string(buildLDCache([]ldCacheEntry{
			{"libtinfo.so.6", "/lib64/libtinfo.so.6", a.cacheFl},
			{"libstdc++.so.6", "/lib64/libstdc++.so.6", a.cacheFl},
			{"libm.so.6", "/lib64/libm.so.6", a.cacheFl},
			{"libgcc_s.so.1", "/lib64/libgcc_s.so.1", a.cacheFl},
			{"libc.so.6", "/lib64/libc.so.6", a.cacheFl},
		}, false))),
	}
	if a.arch == "arm64" {
		files = append(files, testimage.Symlink("usr/lib64/ld-linux-aarch64.so.1", "../lib/ld-linux-aarch64.so.1"))
	}
	for _, f := range awsBaseLayers() {
		switch f.Path {
		case "bin", "bin/sh", "usr", "usr/bin", "var/lang/bin/python3.12":
			continue
		case "usr/local/bin/aws-lambda-rie":
			f.Content = elfSpec{Machine: a.machine}.String() // static Go
		}
		files = append(files, f)
	}
	return append(files,
		testimage.Dir("var/lang/lib", 0),
		testimage.Reg("var/lang/lib/libpython3.12.so.1.0", 0o755, a.lib("libpython3.12.so.1.0", "libm.so.6", "libc.so.6")),
		testimage.Reg("var/lang/bin/python3.12", 0o755, a.exe("libpython3.12.so.1.0", "libm.so.6", "libc.so.6")),
	)
}

// al2023Spec is a function image on the AWS base image: app.py plus the
// extra files given, in a second layer.
func al2023Spec(a archELF, extra ...testimage.File) testimage.Spec {
	app := append([]testimage.File{testimage.Reg("var/task/app.py", 0o644, "import cv2\n")}, extra...)
	return testimage.Spec{
		Arch:      a.arch,
		Config:    awsBaseConfig(),
		Layers:    [][]testimage.File{al2023Layers(a), app},
		CreatedBy: []string{"", "COPY . /var/task/ # buildkit"},
	}
}

// alpineLayers is alpine with musl: /lib/ld-musl-x86_64.so.1, the libc
// link, busybox /bin/sh and libstdc++ in /usr/lib.
func alpineLayers() []testimage.File {
	musl := func(soname string, needed ...string) string {
		return elfSpec{Soname: soname, Needed: needed}.String()
	}
	return []testimage.File{
		testimage.Dir("lib", 0), testimage.Dir("bin", 0), testimage.Dir("sbin", 0), testimage.Dir("usr", 0), testimage.Dir("usr/lib", 0), testimage.Dir("etc", 0),
		testimage.Reg("lib/ld-musl-x86_64.so.1", 0o755, musl("libc.musl-x86_64.so.1")),
		testimage.Symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
		testimage.Reg("bin/busybox", 0o755, elfSpec{Interp: muslInterp, Needed: []string{"libc.musl-x86_64.so.1"}}.String()),
		testimage.Symlink("bin/sh", "/bin/busybox"),
		testimage.Reg("sbin/apk", 0o755, elfSpec{Interp: muslInterp, Needed: []string{"libc.musl-x86_64.so.1"}}.String()),
		testimage.Reg("usr/lib/libgcc_s.so.1", 0o755, musl("libgcc_s.so.1", "libc.musl-x86_64.so.1")),
		testimage.Reg("usr/lib/libstdc++.so.6", 0o755, musl("libstdc++.so.6", "libc.musl-x86_64.so.1", "libgcc_s.so.1")),
	}
}

// bootstrapSpec is an image whose ENTRYPOINT is /var/task/bootstrap,
// built from base layers plus the bootstrap file.
func bootstrapSpec(arch string, base []testimage.File, bootstrap string, extra ...testimage.File) testimage.Spec {
	app := append([]testimage.File{
		testimage.Dir("var", 0), testimage.Dir("var/task", 0),
		testimage.Reg("var/task/bootstrap", 0o755, bootstrap),
	}, extra...)
	layers := [][]testimage.File{app}
	if base != nil {
		layers = [][]testimage.File{base, app}
	}
	return testimage.Spec{
		Arch:      arch,
		Config:    v1.Config{Env: []string{dockerPATH}, Entrypoint: []string{"/var/task/bootstrap"}, WorkingDir: "/var/task"},
		Layers:    layers,
		CreatedBy: []string{"", "COPY bootstrap /var/task/ # buildkit"}[:len(layers)],
	}
}

// staticGo is a statically linked Go binary for machine m.
func staticGo(m delf.Machine) string { return elfSpec{Machine: m}.String() }

// runCheck runs the ELF check id on tg.
func runCheck(t *testing.T, id string, tg *Target) Result {
	t.Helper()
	c := map[string]Check{"LD301": elfArchMismatch{}, "LD302": notLinuxExecutable{}, "LD303": elfInterpreterMissing{}, "LD304": elfLibraryMissing{}}[id]
	return runOne(context.Background(), c, tg)
}

// TestELFSummariesNeedNoReads: modules the layer pass summarised are
// parsed without reading their layer.
func TestELFSummariesNeedNoReads(t *testing.T) {
	var extra []testimage.File
	extra = append(extra, testimage.Dir("var/task/pkg", 0))
	var mods []string
	for _, n := range []string{"a", "b", "c"} {
		p := "var/task/pkg/" + n + ".cpython-312-x86_64-linux-gnu.so"
		extra = append(extra, testimage.Reg(p, 0o644, amd64ELF.lib("lib"+n+".so.1", "libc.so.6", "libm.so.6")))
		mods = append(mods, "/"+p)
	}
	tg := newTarget(t, al2023Spec(amd64ELF, extra...), "amd64")
	if err := tg.preloadELFs(context.Background(), mods); err != nil {
		t.Fatal(err)
	}
	for _, p := range mods {
		f := tg.elfAt(p)
		if f.ELF == nil || !f.ELF.DynamicRead || !slices.Equal(f.ELF.Needed, []string{"libc.so.6", "libm.so.6"}) {
			t.Fatalf("%s: %+v", p, f)
		}
	}
	if st := tg.FS.Stats(); st.Reads != 0 || st.ReadBytes != 0 {
		t.Errorf("parsing 3 summarised modules: %d reads, %d bytes decompressed; want none", st.Reads, st.ReadBytes)
	}
}

func TestELFScanRealisticImages(t *testing.T) {
	// The AWS base image: the chain's binaries are all found and none
	// needs anything missing.
	tg := newTarget(t, al2023Spec(amd64ELF), "amd64")
	s, err := tg.binaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var chain []string
	for _, b := range s.Chain {
		chain = append(chain, b.Path)
	}
	if !slices.Equal(chain, []string{"/usr/bin/bash", "/var/lang/bin/python3.12"}) {
		t.Errorf("chain binaries %q", chain)
	}
	if len(s.Misses) != 0 {
		t.Errorf("misses: %+v", s.Misses)
	}
	for _, id := range []string{"LD301", "LD302", "LD303", "LD304"} {
		if r := runCheck(t, id, tg); r.Status != StatusPassed {
			t.Errorf("%s on the AWS base image: %s %s %+v", id, r.Status, r.Err, r.Findings)
		}
	}
}

func TestPreloadELFsReadsALayerOnce(t *testing.T) {
	var extra []testimage.File
	extra = append(extra, testimage.Dir("var/task/pkg", 0))
	for _, n := range []string{"a", "b", "c", "d"} {
		// 0644: no head captured; the string table lies past what the
		// layer pass keeps of a file (elfinfo.RetainMax), so the pass
		// cannot summarise the module and it must be read from the layer.
		lib := elfSpec{Machine: amd64ELF.machine, Needed: []string{"lib" + n + ".so.1", "libc.so.6"}, Pad: elfinfo.RetainMax + 4096}.String()
		extra = append(extra, testimage.Reg("var/task/pkg/"+n+".cpython-312-x86_64-linux-gnu.so", 0o644, lib))
	}
	extra = append(extra, testimage.Hardlink("var/task/pkg/e.cpython-312-x86_64-linux-gnu.so", "var/task/pkg/a.cpython-312-x86_64-linux-gnu.so"))
	tg := newTarget(t, al2023Spec(amd64ELF, extra...), "amd64")
	var mods []string
	for _, f := range extra[1:] {
		mods = append(mods, "/"+f.Path)
		if _, ok := tg.FS.ELF("/" + f.Path); ok {
			t.Fatalf("%s summarised by the pass although its string table lies past what it keeps", f.Path)
		}
	}
	if err := tg.preloadELFs(context.Background(), mods); err != nil {
		t.Fatal(err)
	}
	// One batched read: the app layer read forward once (skipping ahead
	// through restart points), never more than its size.
	layer := tg.FS.Layers()[1].UncompressedSize
	if st := tg.FS.Stats(); st.Reads != 4 || st.ReadBytes > layer {
		t.Errorf("parsing 4 modules (and a hard link) of one layer: %d reads, %d restarts, %d bytes decompressed of the layer's %d; want 4 reads in one pass", st.Reads, st.Restarts, st.ReadBytes, layer)
	}
	s, err := tg.binaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Modules) != 5 {
		t.Fatalf("%d modules, want 5", len(s.Modules))
	}
	for _, m := range s.Modules {
		if m.File == nil || m.File.ELF == nil || !m.File.ELF.DynamicRead {
			t.Fatalf("%s not parsed: %+v", m.Path, m.File)
		}
	}
	// One finding per missing library, each naming its module.
	r := runCheck(t, "LD304", tg)
	if r.Status != StatusFailed || len(r.Findings) != 4 {
		t.Fatalf("%s, %d findings: %+v", r.Status, len(r.Findings), r.Findings)
	}
}

func TestELFHeadTooShortForDynamic(t *testing.T) {
	// An executable whose dynamic section lies beyond the captured head:
	// it is read whole to find DT_NEEDED.
	spec := al2023Spec(amd64ELF, testimage.Reg("var/task/bootstrap", 0o755, elfSpec{Interp: glibcInterp, Needed: []string{"libmissing.so.3", "libc.so.6"}, Pad: 20000}.String()))
	spec.Config.Entrypoint = []string{"/var/task/bootstrap"}
	tg := newTarget(t, spec, "amd64")
	if h := tg.FS.Head("/var/task/bootstrap"); len(h) >= 20000 {
		t.Fatalf("head is %d bytes; the test needs a short one", len(h))
	}
	r := runCheck(t, "LD304", tg)
	if r.Status != StatusFailed || !strings.Contains(r.Findings[0].Message, "libmissing.so.3") {
		t.Fatalf("%s %+v", r.Status, r.Findings)
	}
}

func TestELFChecksOnStubImages(t *testing.T) {
	// The shared fixtures use a 20-byte ELF stub: the identity is read, and
	// nothing is reported about what cannot be known.
	for name, spec := range map[string]testimage.Spec{
		"aws base": awsBaseSpec(),
		"ruby":     rubySpec("/usr/local/bundle/bin/aws_lambda_ric"),
		"python":   pythonSpec(pythonConfig("/usr/local/bin/python", "-m", "awslambdaric")),
	} {
		tg := newTarget(t, spec, "amd64")
		for _, id := range []string{"LD301", "LD302", "LD303", "LD304"} {
			if r := runCheck(t, id, tg); r.Status != StatusPassed {
				t.Errorf("%s on %s: %s %s %+v", id, name, r.Status, r.Err, r.Findings)
			}
		}
	}
}

// countingSeeker counts the bytes read through it.
type countingSeeker struct {
	*bytes.Reader
	read int64
}

func (c *countingSeeker) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read += int64(n)
	return n, err
}

// ReadELF agrees with debug/elf on the machine's own libraries and
// programs, reading only a small part of the large ones.
func TestReadELFOnRealFiles(t *testing.T) {
	var files []string
	for _, g := range []string{"/usr/lib/x86_64-linux-gnu/*.so*", "/usr/lib/aarch64-linux-gnu/*.so*", "/usr/bin/*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	checked, big := 0, 0
	for _, p := range files {
		if checked >= 400 {
			break
		}
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || SniffFormat(b) != FormatELF {
			continue
		}
		want, err := delf.NewFile(bytes.NewReader(b))
		if err != nil {
			continue
		}
		libs, lerr := want.ImportedLibraries()
		if lerr != nil {
			continue
		}
		checked++
		r := &countingSeeker{Reader: bytes.NewReader(b)}
		got, err := ReadELF(r, int64(len(b)), nil)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got.Machine != want.Machine || got.Class != want.Class {
			t.Errorf("%s: identity %v/%v, debug/elf says %v/%v", p, got.Machine, got.Class, want.Machine, want.Class)
		}
		if !slices.Equal(got.Needed, libs) && len(libs)+len(got.Needed) > 0 {
			t.Errorf("%s: needed %q, debug/elf says %q", p, got.Needed, libs)
		}
		if so, _ := want.DynString(delf.DT_SONAME); len(so) == 1 && got.Soname != so[0] {
			t.Errorf("%s: soname %q, debug/elf says %q", p, got.Soname, so)
		}
		if rp, _ := want.DynString(delf.DT_RUNPATH); strings.Join(got.RunPath, ":") != strings.Join(rp, ":") {
			t.Errorf("%s: runpath %q, debug/elf says %q", p, got.RunPath, rp)
		}
		if len(b) > 4<<20 {
			big++
			if r.read > int64(len(b))/4 {
				t.Errorf("%s: read %d of %d bytes to parse it", p, r.read, len(b))
			}
		}
	}
	if checked < 20 {
		t.Skipf("only %d ELF files on this machine", checked)
	}
	t.Logf("%d ELF files agree with debug/elf (%d over 4 MiB)", checked, big)
}
