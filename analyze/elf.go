package analyze

import (
	"bytes"
	"context"
	delf "debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file reads executables the way the kernel and the dynamic linker
// see them: the ELF identity (class, machine, OS/ABI, type), PT_INTERP and
// the dynamic section (DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME), and
// recognises the non-Linux formats people copy into images by mistake
// (Mach-O, PE, zip). Parsed files are memoised per Target.

// BinFormat is the format of an executable file's content.
type BinFormat int

// Formats recognised from the first bytes of a file.
const (
	FormatUnknown BinFormat = iota
	FormatELF
	FormatMachO // Mach-O or a universal (fat) Mach-O
	FormatPE    // Windows PE ("MZ")
	FormatZip   // a zip archive (jar, Python zipapp without a shebang...)
	FormatScript
)

func (f BinFormat) String() string {
	switch f {
	case FormatELF:
		return "ELF"
	case FormatMachO:
		return "Mach-O (macOS)"
	case FormatPE:
		return "PE (Windows)"
	case FormatZip:
		return "zip archive"
	case FormatScript:
		return "script"
	}
	return "unknown"
}

// SniffFormat names the format of content starting with head.
func SniffFormat(head []byte) BinFormat {
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return FormatELF
	case bytes.HasPrefix(head, []byte("#!")):
		return FormatScript
	case len(head) >= 4 && (bytes.Equal(head[:4], []byte{0xfe, 0xed, 0xfa, 0xcf}) || bytes.Equal(head[:4], []byte{0xcf, 0xfa, 0xed, 0xfe}) ||
		bytes.Equal(head[:4], []byte{0xfe, 0xed, 0xfa, 0xce}) || bytes.Equal(head[:4], []byte{0xce, 0xfa, 0xed, 0xfe})):
		return FormatMachO
	case len(head) >= 8 && bytes.Equal(head[:4], []byte{0xca, 0xfe, 0xba, 0xbe}) && binary.BigEndian.Uint32(head[4:8]) < 45:
		// A universal Mach-O; Java class files share the magic but carry
		// a version >= 45 where the fat header has its (small) arch count.
		return FormatMachO
	case bytes.HasPrefix(head, []byte("MZ")):
		return FormatPE
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return FormatZip
	}
	return FormatUnknown
}

// ELFInfo is what lambdoctor knows about one ELF file.
type ELFInfo struct {
	Class   delf.Class
	Data    delf.Data
	OSABI   delf.OSABI
	Type    delf.Type
	Machine delf.Machine
	// Interp is the PT_INTERP path ("" for a static binary or a library).
	Interp string
	// HasDynamic is true when the file has a PT_DYNAMIC segment.
	HasDynamic bool
	// DynamicRead is true when the dynamic section was read, so Needed,
	// RPath, RunPath and Soname are complete.
	DynamicRead bool
	Needed      []string
	RPath       []string // DT_RPATH, split on ":"
	RunPath     []string // DT_RUNPATH, split on ":"
	HasRunPath  bool
	Soname      string
	// HeaderOnly is true when only the identity (class, machine, type) could
	// be read: the file is truncated or was read only in part.
	HeaderOnly bool
}

// Arch is the Go/OCI architecture name of the machine ("amd64", "arm64",
// "386", "arm", ...), or the ELF machine name for others.
func (e *ELFInfo) Arch() string { return MachineArch(e.Machine, e.Class) }

// Static reports a binary with no PT_INTERP (statically linked, or a
// static-pie).
func (e *ELFInfo) Static() bool { return e.Interp == "" }

// Libc guesses the C library from PT_INTERP: "musl", "glibc" or "".
func (e *ELFInfo) Libc() string { return interpLibc(e.Interp) }

// Describe is an evidence fragment: "ELF 64-bit LSB executable, x86-64
// (amd64), dynamically linked, interpreter /lib64/ld-linux-x86-64.so.2".
func (e *ELFInfo) Describe() string {
	var b strings.Builder
	bits := "64-bit"
	if e.Class == delf.ELFCLASS32 {
		bits = "32-bit"
	}
	order := "LSB"
	if e.Data == delf.ELFDATA2MSB {
		order = "MSB"
	}
	kind := "executable"
	switch e.Type {
	case delf.ET_DYN:
		kind = "shared object"
		if e.Interp != "" {
			kind = "pie executable"
		}
	case delf.ET_REL:
		kind = "relocatable object"
	case delf.ET_CORE:
		kind = "core dump"
	}
	fmt.Fprintf(&b, "ELF %s %s %s, %s", bits, order, kind, MachineName(e.Machine, e.Class))
	if e.OSABI != delf.ELFOSABI_NONE && e.OSABI != delf.ELFOSABI_LINUX {
		fmt.Fprintf(&b, ", OS/ABI %s", OSABIName(e.OSABI))
	}
	switch {
	case e.Interp != "":
		fmt.Fprintf(&b, ", dynamically linked, interpreter %s", e.Interp)
	case e.HeaderOnly:
	case e.HasDynamic:
		b.WriteString(", no interpreter")
	default:
		b.WriteString(", statically linked")
	}
	return b.String()
}

// MachineName is a readable ELF machine: "x86-64 (EM_X86_64)".
func MachineName(m delf.Machine, c delf.Class) string {
	switch m {
	case delf.EM_X86_64:
		if c == delf.ELFCLASS32 {
			return "x86-64 x32 ABI (EM_X86_64, 32-bit)"
		}
		return "x86-64 (EM_X86_64)"
	case delf.EM_AARCH64:
		return "AArch64 (EM_AARCH64)"
	case delf.EM_386:
		return "Intel 80386 (EM_386)"
	case delf.EM_ARM:
		return "32-bit ARM (EM_ARM)"
	}
	return m.String()
}

// OSABIName names an ELF OS/ABI value for messages.
func OSABIName(o delf.OSABI) string {
	switch o {
	case delf.ELFOSABI_FREEBSD:
		return "FreeBSD"
	case delf.ELFOSABI_NETBSD:
		return "NetBSD"
	case delf.ELFOSABI_OPENBSD:
		return "OpenBSD"
	case delf.ELFOSABI_SOLARIS:
		return "Solaris"
	}
	return strings.TrimPrefix(o.String(), "ELFOSABI_")
}

// MachineArch maps an ELF machine to the OCI architecture name.
func MachineArch(m delf.Machine, c delf.Class) string {
	switch m {
	case delf.EM_X86_64:
		if c == delf.ELFCLASS32 {
			return "amd64p32"
		}
		return "amd64"
	case delf.EM_AARCH64:
		return "arm64"
	case delf.EM_386:
		return "386"
	case delf.EM_ARM:
		return "arm"
	case delf.EM_PPC64:
		return "ppc64"
	case delf.EM_S390:
		return "s390x"
	case delf.EM_RISCV:
		return "riscv64"
	case delf.EM_MIPS:
		return "mips"
	}
	return strings.TrimPrefix(m.String(), "EM_")
}

// ArchMachine is the ELF machine of a Lambda architecture, for messages.
func ArchMachine(arch string) string {
	switch arch {
	case "amd64":
		return "x86-64"
	case "arm64":
		return "AArch64"
	}
	return arch
}

// LambdaArchName is the name Lambda's Architectures setting uses.
func LambdaArchName(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	}
	return arch
}

// interpLibc guesses the C library from an interpreter path.
func interpLibc(interp string) string {
	base := path.Base(interp)
	switch {
	case interp == "":
		return ""
	case strings.HasPrefix(base, "ld-musl-"):
		return "musl"
	case strings.HasPrefix(base, "ld-linux") || strings.HasPrefix(base, "ld64.so") || base == "ld.so.1" || strings.HasPrefix(base, "ld-2."):
		return "glibc"
	}
	return ""
}

// errNotELF is returned by ParseELF for content that is not ELF.
var errNotELF = errors.New("not an ELF file")

// ParseELF parses the ELF identity, program headers and dynamic section
// from b, all of a file or its start. What lies beyond b is reported as
// unknown (HeaderOnly, Interp "?", DynamicRead false), never guessed.
func ParseELF(b []byte) (*ELFInfo, error) {
	return parseELF(bytesSource(b))
}

// ReadELF parses the ELF file of size bytes that r reads, reading only the
// parts the parse needs: the headers, the interpreter path, the dynamic
// section and the strings it names (not the code and data in between), so
// that a large library costs a few small reads. head, when not nil, is the
// file's start already in memory.
func ReadELF(r io.ReadSeeker, size int64, head []byte) (*ELFInfo, error) {
	src := &seekSource{r: r, sz: uint64(size)}
	if n := min(src.sz, elfHeadRead); uint64(len(head)) >= n {
		src.head = head
	} else {
		b, ok := src.at(0, n)
		if !ok {
			return nil, src.readErr()
		}
		src.head = b
	}
	e, err := parseELF(src)
	if err == nil && src.err != nil {
		err = src.readErr()
	}
	return e, err
}

// elfSource serves the bytes of an ELF file by offset.
type elfSource interface {
	// at returns n bytes at off, false when they are not available.
	at(off, n uint64) ([]byte, bool)
	// size is the file's size, or what is known of it.
	size() uint64
}

// bytesSource is a file's content, or its start, in memory.
type bytesSource []byte

func (b bytesSource) at(off, n uint64) ([]byte, bool) {
	if off > uint64(len(b)) || n > uint64(len(b))-off {
		return nil, false
	}
	return b[off : off+n], true
}

func (b bytesSource) size() uint64 { return uint64(len(b)) }

// seekSource reads the spans of a file it is asked for, serving the start
// from head.
type seekSource struct {
	r    io.ReadSeeker
	sz   uint64
	head []byte
	err  error
}

// maxELFSpan bounds one read of an ELF part (a dynamic section or string
// table); real ones are kilobytes to a few megabytes.
const maxELFSpan = 16 << 20

func (s *seekSource) size() uint64 { return s.sz }

func (s *seekSource) at(off, n uint64) ([]byte, bool) {
	if off > s.sz || n > s.sz-off {
		return nil, false
	}
	if off+n <= uint64(len(s.head)) {
		return s.head[off : off+n], true
	}
	if n > maxELFSpan || s.err != nil {
		return nil, false
	}
	if _, err := s.r.Seek(int64(off), io.SeekStart); err != nil {
		s.err = err
		return nil, false
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(s.r, b); err != nil {
		s.err = err
		return nil, false
	}
	return b, true
}

func (s *seekSource) readErr() error {
	if s.err == nil {
		return errors.New("reading: short file")
	}
	return fmt.Errorf("reading: %w", s.err)
}

// parseELF parses what src holds.
func parseELF(src elfSource) (*ELFInfo, error) {
	b, ok := src.at(0, min(src.size(), 64))
	if !ok || len(b) < 20 || string(b[:4]) != "\x7fELF" {
		return nil, errNotELF
	}
	e := &ELFInfo{Class: delf.Class(b[delf.EI_CLASS]), Data: delf.Data(b[delf.EI_DATA]), OSABI: delf.OSABI(b[delf.EI_OSABI])}
	var bo binary.ByteOrder
	switch e.Data {
	case delf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case delf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("ELF data encoding %d", b[delf.EI_DATA])
	}
	e.Type = delf.Type(bo.Uint16(b[16:]))
	e.Machine = delf.Machine(bo.Uint16(b[18:]))
	is64 := e.Class == delf.ELFCLASS64
	if !is64 && e.Class != delf.ELFCLASS32 {
		return nil, fmt.Errorf("ELF class %d", b[delf.EI_CLASS])
	}

	// Program headers.
	var phoff, phentsize, phnum uint64
	switch {
	case is64 && len(b) >= 64:
		phoff, phentsize, phnum = bo.Uint64(b[0x20:]), uint64(bo.Uint16(b[0x36:])), uint64(bo.Uint16(b[0x38:]))
	case !is64 && len(b) >= 52:
		phoff, phentsize, phnum = uint64(bo.Uint32(b[0x1c:])), uint64(bo.Uint16(b[0x2a:])), uint64(bo.Uint16(b[0x2c:]))
	default:
		e.HeaderOnly = true
		return e, nil
	}
	minEnt := uint64(32)
	if is64 {
		minEnt = 56
	}
	if phnum == 0 {
		return e, nil // no segments: nothing to load, nothing needed
	}
	if phentsize < minEnt {
		e.HeaderOnly = true
		return e, nil
	}
	phdrs, ok := src.at(phoff, phnum*phentsize)
	if !ok {
		e.HeaderOnly = true
		return e, nil
	}
	type seg struct{ typ, off, vaddr, filesz uint64 }
	var loads []seg
	var dyn *seg
	for k := range phnum {
		ph := phdrs[k*phentsize:]
		var s seg
		if is64 {
			s = seg{uint64(bo.Uint32(ph)), bo.Uint64(ph[8:]), bo.Uint64(ph[16:]), bo.Uint64(ph[32:])}
		} else {
			s = seg{uint64(bo.Uint32(ph)), uint64(bo.Uint32(ph[4:])), uint64(bo.Uint32(ph[8:])), uint64(bo.Uint32(ph[16:]))}
		}
		switch delf.ProgType(s.typ) {
		case delf.PT_INTERP:
			if ib, ok := src.at(s.off, min(s.filesz, 4096)); ok && s.filesz <= 4096 {
				e.Interp = strings.TrimRight(string(ib), "\x00")
			} else {
				// Beyond what was read: known to exist, unknown path.
				e.Interp = "?"
			}
		case delf.PT_LOAD:
			loads = append(loads, s)
		case delf.PT_DYNAMIC:
			d := s
			dyn = &d
		}
	}
	if dyn == nil {
		return e, nil
	}
	e.HasDynamic = true
	dynb, ok := src.at(dyn.off, dyn.filesz)
	if !ok {
		return e, nil
	}
	// Dynamic entries: tag and value.
	ent := uint64(8)
	if is64 {
		ent = 16
	}
	var strtab, strsz uint64
	var needed, rpath, runpath []uint64
	soname, hasSoname := uint64(0), false
	for p := uint64(0); p+ent <= uint64(len(dynb)); p += ent {
		var tag, val uint64
		if is64 {
			tag, val = bo.Uint64(dynb[p:]), bo.Uint64(dynb[p+8:])
		} else {
			tag, val = uint64(bo.Uint32(dynb[p:])), uint64(bo.Uint32(dynb[p+4:]))
		}
		switch delf.DynTag(tag) {
		case delf.DT_NULL:
			p = uint64(len(dynb)) // stop
		case delf.DT_NEEDED:
			needed = append(needed, val)
		case delf.DT_RPATH:
			rpath = append(rpath, val)
		case delf.DT_RUNPATH:
			runpath = append(runpath, val)
		case delf.DT_SONAME:
			soname, hasSoname = val, true
		case delf.DT_STRTAB:
			strtab = val
		case delf.DT_STRSZ:
			strsz = val
		}
	}
	if len(needed)+len(rpath)+len(runpath) == 0 && !hasSoname {
		e.DynamicRead = true
		return e, nil
	}
	// DT_STRTAB is an address: map it to a file offset through PT_LOAD.
	stroff, ok := uint64(0), false
	for _, l := range loads {
		if strtab >= l.vaddr && strtab < l.vaddr+l.filesz {
			stroff, ok = strtab-l.vaddr+l.off, true
			break
		}
	}
	if !ok && len(loads) == 0 {
		stroff, ok = strtab, true
	}
	if !ok || stroff >= src.size() {
		return e, nil
	}
	end := src.size() - stroff
	if strsz > 0 && strsz <= end {
		end = strsz
	}
	// The string table, whole when it fits what may be read at once (the
	// strings are then at hand); else each string on its own.
	table, whole := src.at(stroff, end)
	if !whole {
		// A prefix is in memory: take what it covers.
		if sized, isBytes := src.(bytesSource); isBytes && stroff < uint64(len(sized)) {
			table = sized[stroff:]
		}
	}
	str := func(off uint64) (string, bool) {
		if off >= end {
			return "", false
		}
		if off < uint64(len(table)) {
			if i := bytes.IndexByte(table[off:], 0); i >= 0 {
				return string(table[off : uint64(i)+off]), true
			}
			if whole {
				return "", false
			}
		}
		if _, isBytes := src.(bytesSource); isBytes {
			return "", false
		}
		sb, ok := src.at(stroff+off, min(4096, end-off))
		if !ok {
			return "", false
		}
		if i := bytes.IndexByte(sb, 0); i >= 0 {
			return string(sb[:i]), true
		}
		return "", false
	}
	for _, off := range needed {
		if s, ok := str(off); ok {
			e.Needed = append(e.Needed, s)
		} else {
			return e, nil
		}
	}
	split := func(offs []uint64) []string {
		var out []string
		for _, off := range offs {
			if s, ok := str(off); ok {
				for _, d := range strings.Split(s, ":") {
					if d != "" {
						out = append(out, d)
					}
				}
			}
		}
		return out
	}
	e.RPath, e.RunPath, e.HasRunPath = split(rpath), split(runpath), len(runpath) > 0
	if hasSoname {
		e.Soname, _ = str(soname)
	}
	e.DynamicRead = true
	return e, nil
}

// ELFFile is a memoised parse of the file at a resolved path.
type ELFFile struct {
	Path   string // resolved path in the image
	Entry  *imagefs.Entry
	Format BinFormat
	ELF    *ELFInfo // nil unless Format is FormatELF and it parsed
	Err    error    // why the file could not be read or parsed
}

// elfHeadRead is how much of an ELF file is read from its start: the
// headers, and often the interpreter path and string table.
const elfHeadRead = 64 << 10

// elfAt returns the parse of the regular file at the resolved path p,
// reading it (the captured head when that holds all that is needed, else
// the parts of the file the parse needs) once per Target.
func (t *Target) elfAt(p string) *ELFFile {
	return t.facts.elf.get(p, func() *ELFFile {
		e, _ := t.FS.Lookup(p)
		f := &ELFFile{Path: p, Entry: e}
		if e == nil || !e.IsRegular() {
			f.Err = fmt.Errorf("%s is not a regular file", p)
			return f
		}
		head := t.FS.Head(p)
		if len(head) > 0 {
			f.fill(head)
			if f.Format != FormatELF || (f.ELF != nil && (f.ELF.DynamicRead || !f.ELF.HasDynamic) && !f.ELF.HeaderOnly && f.ELF.Interp != "?") || int64(len(head)) >= e.Size {
				return f
			}
		}
		fh, err := t.FS.Open(strings.TrimPrefix(p, "/"))
		if err != nil {
			f.Err = fmt.Errorf("reading %s: %w", p, err)
			return f
		}
		defer fh.Close()
		f.read(fh.(io.ReadSeeker), e.Size, head)
		return f
	})
}

// read sets the format and parse from the file r reads, of size bytes,
// whose start head may already be in memory.
func (f *ELFFile) read(r io.ReadSeeker, size int64, head []byte) {
	if n := min(size, elfHeadRead); int64(len(head)) < n {
		head = make([]byte, n)
		if _, err := io.ReadFull(r, head); err != nil {
			f.Err = fmt.Errorf("reading %s: %w", f.Path, err)
			return
		}
	}
	f.Format = SniffFormat(head)
	f.ELF, f.Err = nil, nil
	if f.Format != FormatELF {
		return
	}
	f.ELF, f.Err = ReadELF(r, size, head)
	if f.Err != nil {
		f.Err = fmt.Errorf("reading %s: %w", f.Path, f.Err)
	}
}

// fill sets the format and parse from content b (all of the file or its
// start).
func (f *ELFFile) fill(b []byte) {
	f.Format = SniffFormat(b)
	f.ELF, f.Err = nil, nil
	if f.Format != FormatELF {
		return
	}
	e, err := ParseELF(b)
	if err != nil {
		f.Err = err
		return
	}
	f.ELF = e
}

// ReadHead reads the first n bytes of the file at p.
func ReadHead(fsys *imagefs.FS, p string, n int64) ([]byte, error) {
	fh, err := fsys.Open(strings.TrimPrefix(p, "/"))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, n))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return b, nil
}

// preloadELFs parses the files at the resolved paths ps, memoising the
// results, with one batched read: the image filesystem reads each layer
// once, forward, for all the files it holds.
func (t *Target) preloadELFs(ctx context.Context, ps []string) error {
	var todo []string
	for _, p := range ps {
		if _, ok := t.facts.elf.peek(p); ok {
			continue
		}
		e, ok := t.FS.Lookup(p)
		if !ok || !e.IsRegular() || e.HardlinkTo != "" || e.Size == 0 {
			continue // a hard link shares its original's parse
		}
		if h := t.FS.Head(p); int64(len(h)) >= e.Size {
			continue // all in memory already
		}
		todo = append(todo, p)
	}
	if len(todo) < 2 {
		return nil // one file: elfAt reads it just as fast
	}
	return t.FS.ReadFiles(ctx, todo, func(p string, r io.Reader) error {
		e, _ := t.FS.Lookup(p)
		f := &ELFFile{Path: p, Entry: e}
		f.read(r.(io.ReadSeeker), e.Size, t.FS.Head(p))
		if f.Err != nil {
			return nil // elfAt reads it again and reports the error
		}
		t.facts.elf.put(p, f)
		return nil
	})
}

// SiblingArch reports the 32-bit ISA of the function's architecture.
func SiblingArch(e *ELFInfo, arch string) bool {
	switch arch {
	case "amd64":
		return e.Machine == delf.EM_386 || (e.Machine == delf.EM_X86_64 && e.Class == delf.ELFCLASS32)
	case "arm64":
		return e.Machine == delf.EM_ARM || (e.Machine == delf.EM_AARCH64 && e.Class == delf.ELFCLASS32)
	}
	return false
}

// ELFIsGo guesses a Go binary from the build info marker in its head.
func ELFIsGo(t *Target, p string) bool {
	h := t.FS.Head(p)
	return strings.Contains(string(h), "Go build") || strings.Contains(string(h), "\xff Go buildinf:")
}
