// Package elfinfo reads what the kernel and the dynamic linker need from
// an ELF file: its identity (class, byte order, OS/ABI, type, machine),
// PT_INTERP and the dynamic section (DT_NEEDED, DT_RPATH, DT_RUNPATH,
// DT_SONAME), without reading the code and data in between. It parses a
// file's bytes in memory (Parse), a file read by offset (Read), or a file
// streamed start to end (Stream), as imagefs's layer pass sees it, and
// encodes what it learns compactly (Marshal) so that a layer's index can
// keep it. The layout is the System V ABI's (gABI, "Object Files" and
// "Program Loading and Dynamic Linking").
package elfinfo

import (
	"bytes"
	delf "debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Info is what lambdoctor knows about one ELF file.
type Info struct {
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

	// Go is true for a Go program (one with a Go build ID note) that a
	// Stream searched start to end; Scanned is true then, and Markers
	// holds the markers found. Parse and Read leave them unset.
	Go, Scanned bool
	Markers     Marker
	// GoVersion and GoModInfo are a scanned Go program's build
	// information (as runtime/debug.ParseBuildInfo reads GoModInfo), when
	// the pass kept it.
	GoVersion, GoModInfo string
}

// Arch is the Go/OCI architecture name of the machine ("amd64", "arm64",
// "386", "arm", ...), or the ELF machine name for others.
func (e *Info) Arch() string { return MachineArch(e.Machine, e.Class) }

// Static reports a binary with no PT_INTERP (statically linked, or a
// static-pie).
func (e *Info) Static() bool { return e.Interp == "" }

// Libc guesses the C library from PT_INTERP: "musl", "glibc" or "".
func (e *Info) Libc() string { return InterpLibc(e.Interp) }

// Describe is an evidence fragment: "ELF 64-bit LSB executable, x86-64
// (amd64), dynamically linked, interpreter /lib64/ld-linux-x86-64.so.2".
func (e *Info) Describe() string {
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

// InterpLibc guesses the C library from an interpreter path.
func InterpLibc(interp string) string {
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

// HeadRead is how much of an ELF file Read reads from its start when the
// caller has less in memory: the headers, and often the interpreter path
// and string table.
const HeadRead = 64 << 10

// ErrNotELF is returned by Parse for content that is not ELF.
var ErrNotELF = errors.New("not an ELF file")

// Parse parses the ELF identity, program headers and dynamic section
// from b, all of a file or its start. What lies beyond b is reported as
// unknown (HeaderOnly, Interp "?", DynamicRead false), never guessed.
func Parse(b []byte) (*Info, error) {
	return parseELF(bytesSource(b))
}

// Read parses the ELF file of size bytes that r reads, reading only the
// parts the parse needs: the headers, the interpreter path, the dynamic
// section and the strings it names (not the code and data in between), so
// that a large library costs a few small reads. head, when not nil, is the
// file's start already in memory.
func Read(r io.ReadSeeker, size int64, head []byte) (*Info, error) {
	src := &seekSource{r: r, sz: uint64(size)}
	if n := min(src.sz, HeadRead); uint64(len(head)) >= n {
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
	// inMemory returns the bytes from off on that are at hand without a
	// read (possibly none).
	inMemory(off uint64) []byte
	// canRead reports whether at may read what is not in memory.
	canRead() bool
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

func (b bytesSource) inMemory(off uint64) []byte {
	if off >= uint64(len(b)) {
		return nil
	}
	return b[off:]
}

func (bytesSource) canRead() bool { return false }

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

func (s *seekSource) inMemory(off uint64) []byte {
	if off >= uint64(len(s.head)) {
		return nil
	}
	return s.head[off:]
}

func (s *seekSource) canRead() bool { return s.err == nil }

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
func parseELF(src elfSource) (*Info, error) {
	b, ok := src.at(0, min(src.size(), 64))
	if !ok || len(b) < 20 || string(b[:4]) != "\x7fELF" {
		return nil, ErrNotELF
	}
	e := &Info{Class: delf.Class(b[delf.EI_CLASS]), Data: delf.Data(b[delf.EI_DATA]), OSABI: delf.OSABI(b[delf.EI_OSABI])}
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
	// strings are then at hand); else what of it is in memory, and each
	// string beyond that read on its own.
	table, whole := src.at(stroff, end)
	if !whole {
		table = src.inMemory(stroff)
		table = table[:min(uint64(len(table)), end)]
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
		if !src.canRead() {
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
