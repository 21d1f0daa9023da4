package analyze

import (
	"bytes"
	"context"
	delf "debug/elf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/imagefs/elfinfo"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

func TestParseELFAgreesWithDebugELF(t *testing.T) {
	for _, s := range []fixtures.ELFSpec{
		{Interp: fixtures.GlibcInterp, Needed: []string{"libstdc++.so.6", "libc.so.6"}, RunPath: "$ORIGIN/lib:/opt/lib"},
		{Machine: delf.EM_AARCH64, Interp: fixtures.GlibcInterpA, Needed: []string{"libc.so.6"}, RPath: "/usr/local/lib"},
		{Soname: "libfoo.so.1", Needed: []string{"libc.so.6"}},
		{},
		{Class32: true, Machine: delf.EM_386, Interp: "/lib/ld-linux.so.2", Needed: []string{"libc.so.6"}},
		{OSABI: delf.ELFOSABI_FREEBSD, Interp: "/libexec/ld-elf.so.1", Needed: []string{"libc.so.7"}},
		{Interp: fixtures.GlibcInterp, Needed: []string{"libGL.so.1"}, Pad: 10000},
	} {
		b := s.Build()
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
	b := fixtures.ELFSpec{Interp: fixtures.GlibcInterp, Needed: []string{"libGL.so.1"}, Pad: 10000}.Build()
	// The head imagefs keeps (program headers and interpreter) is enough
	// for the identity and PT_INTERP, not for DT_NEEDED.
	e, err := ParseELF(b[:4096])
	if err != nil {
		t.Fatal(err)
	}
	if e.Interp != fixtures.GlibcInterp || e.DynamicRead || !e.HasDynamic || e.Arch() != "amd64" {
		t.Errorf("head parse: %+v", e)
	}
	// The 20-byte stub other tests use.
	e, err = ParseELF([]byte(fixtures.ELFStub))
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

func TestParseLDCache(t *testing.T) {
	entries := []fixtures.LDCacheEntry{
		{Name: "libstdc++.so.6", Path: "/usr/lib64/libstdc++.so.6", Flags: fixtures.X8664Libc6},
		{Name: "libc.so.6", Path: "/lib64/libc.so.6", Flags: fixtures.X8664Libc6},
		{Name: "libc.so.6", Path: "/lib/libc.so.6", Flags: 0x0003}, // i386
	}
	for _, old := range []bool{false, true} {
		c, err := ParseLDCache(fixtures.BuildLDCache(entries, old))
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

func TestELFScanRealisticImages(t *testing.T) {
	// The AWS base image: the chain's binaries are all found and none
	// needs anything missing.
	tg := newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF), "amd64")
	s, err := tg.Binaries(context.Background())
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
}

// TestELFSummariesNeedNoReads: modules the layer pass summarised are
// parsed without reading their layer.
func TestELFSummariesNeedNoReads(t *testing.T) {
	var extra []testimage.File
	extra = append(extra, testimage.Dir("var/task/pkg", 0))
	var mods []string
	for _, n := range []string{"a", "b", "c"} {
		p := "var/task/pkg/" + n + ".cpython-312-x86_64-linux-gnu.so"
		extra = append(extra, testimage.Reg(p, 0o644, fixtures.AMD64ELF.Lib("lib"+n+".so.1", "libc.so.6", "libm.so.6")))
		mods = append(mods, "/"+p)
	}
	tg := newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF, extra...), "amd64")
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

func TestPreloadELFsReadsALayerOnce(t *testing.T) {
	var extra []testimage.File
	extra = append(extra, testimage.Dir("var/task/pkg", 0))
	for _, n := range []string{"a", "b", "c", "d"} {
		// 0644: no head captured; the string table lies past what the
		// layer pass keeps of a file (elfinfo.RetainMax), so the pass
		// cannot summarise the module and it must be read from the layer.
		lib := fixtures.ELFSpec{Machine: delf.EM_X86_64, Needed: []string{"lib" + n + ".so.1", "libc.so.6"}, Pad: elfinfo.RetainMax + 4096}.String()
		extra = append(extra, testimage.Reg("var/task/pkg/"+n+".cpython-312-x86_64-linux-gnu.so", 0o644, lib))
	}
	extra = append(extra, testimage.Hardlink("var/task/pkg/e.cpython-312-x86_64-linux-gnu.so", "var/task/pkg/a.cpython-312-x86_64-linux-gnu.so"))
	tg := newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF, extra...), "amd64")
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
	s, err := tg.Binaries(context.Background())
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
	// The four missing libraries, each missed by its module (the hard link
	// misses its original's again).
	missing := map[string]bool{}
	for _, m := range s.Misses {
		missing[m.Name] = true
	}
	if len(missing) != 4 || !missing["liba.so.1"] || !missing["libd.so.1"] {
		t.Fatalf("missing %v, want liba.so.1 to libd.so.1: %+v", missing, s.Misses)
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
