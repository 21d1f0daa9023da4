package analyze

import (
	"bytes"
	"context"
	delf "debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/elfinfo"
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

// ELFInfo is what lambdoctor knows about one ELF file (see elfinfo.Info).
type ELFInfo = elfinfo.Info

// ParseELF parses an ELF file's start or whole content (elfinfo.Parse).
func ParseELF(b []byte) (*ELFInfo, error) { return elfinfo.Parse(b) }

// ReadELF parses an ELF file by reading the parts the parse needs
// (elfinfo.Read).
func ReadELF(r io.ReadSeeker, size int64, head []byte) (*ELFInfo, error) {
	return elfinfo.Read(r, size, head)
}

// MachineName is a readable ELF machine (elfinfo.MachineName).
func MachineName(m delf.Machine, c delf.Class) string { return elfinfo.MachineName(m, c) }

// MachineArch maps an ELF machine to the OCI architecture name
// (elfinfo.MachineArch).
func MachineArch(m delf.Machine, c delf.Class) string { return elfinfo.MachineArch(m, c) }

// OSABIName names an ELF OS/ABI value for messages (elfinfo.OSABIName).
func OSABIName(o delf.OSABI) string { return elfinfo.OSABIName(o) }

func interpLibc(interp string) string { return elfinfo.InterpLibc(interp) }

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
const elfHeadRead = elfinfo.HeadRead

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
		if info, ok := t.FS.ELF(p); ok {
			// Summarised by the layer pass: nothing to read.
			f.Format, f.ELF = FormatELF, info
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
		if _, ok := t.FS.ELF(p); ok {
			continue // summarised by the layer pass
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
