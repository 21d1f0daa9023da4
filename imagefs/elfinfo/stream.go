package elfinfo

import (
	delf "debug/elf"
	"encoding/binary"
)

// Stream parses an ELF file from its bytes written start to end, as a
// layer's tar stream carries it, keeping only what the parse can need: the
// file's start up to the dynamic section (within RetainMax, where linkers
// put the dynamic string table: in the first, read-only PT_LOAD segment)
// and the dynamic section itself. The result is what Read would return,
// or nothing when a part it needs lies outside what was kept (a string
// table beyond RetainMax): the caller then reads the file as before.
//
// A Stream is reused with Reset; its buffers are kept between files.
type Stream struct {
	size uint64
	off  uint64 // bytes written so far

	prefix []byte
	// keep is how much of the start is kept: the headers until they are
	// parsed, then up to the dynamic section (at most RetainMax).
	keep uint64

	dynOff, dynLen uint64
	dyn            []byte

	state streamState
	info  *Info
}

type streamState uint8

const (
	stHeaders streamState = iota // reading the ELF and program headers
	stBody                       // keeping the start and the dynamic section
	stDone                       // the result is known (info may be nil)
)

// Limits of what a Stream keeps.
const (
	// RetainMax bounds the start of a file kept for its string table.
	RetainMax = 1 << 20
	// maxHeaders bounds where the program headers may end.
	maxHeaders = 64 << 10
	// maxDynamic bounds the dynamic section kept (real ones are a few
	// hundred bytes to a few kilobytes).
	maxDynamic = 64 << 10
)

// Reset prepares s for a file of size bytes.
func (s *Stream) Reset(size int64) {
	*s = Stream{size: uint64(max(size, 0)), prefix: s.prefix[:0], dyn: s.dyn[:0], keep: 64}
}

// Done reports whether the result is known: more bytes change nothing.
func (s *Stream) Done() bool { return s.state == stDone }

// Result returns the parse, nil when the file is not ELF or what the parse
// needs was not kept. It is final once Done, or once the whole file was
// written.
func (s *Stream) Result() *Info {
	if s.state != stDone {
		s.finish()
	}
	return s.info
}

// Write feeds the next bytes of the file.
func (s *Stream) Write(p []byte) {
	for len(p) > 0 && s.state != stDone {
		c := uint64(len(p))
		if s.state == stHeaders {
			// Until the headers are parsed, the prefix is all that was
			// written: stop at keep to parse them before going on.
			c = min(c, s.keep-s.off)
		}
		chunk := p[:c]
		p = p[c:]
		if s.off < s.keep {
			s.prefix = append(s.prefix, chunk[:min(c, s.keep-s.off)]...)
		}
		if end := s.dynOff + s.dynLen; s.dynLen > 0 && s.off+c > s.dynOff && s.off < end {
			a := max(s.dynOff, s.off) - s.off
			e := min(end, s.off+c) - s.off
			s.dyn = append(s.dyn, chunk[a:e]...)
		}
		s.off += c
		switch {
		case s.state == stHeaders && s.off >= s.keep:
			s.headers()
		case s.state == stBody && s.off >= s.keep && uint64(len(s.dyn)) == s.dynLen:
			s.finish()
		}
	}
}

// headers reads the ELF header and then the program headers from the
// prefix, widening keep until they are in it, and plans the rest.
func (s *Stream) headers() {
	b := s.prefix
	if len(b) < 64 && uint64(len(b)) < s.size || len(b) < 52 || string(b[:4]) != "\x7fELF" {
		s.done(nil)
		return
	}
	var bo binary.ByteOrder
	switch delf.Data(b[delf.EI_DATA]) {
	case delf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case delf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		s.done(nil)
		return
	}
	is64 := delf.Class(b[delf.EI_CLASS]) == delf.ELFCLASS64
	var phoff, phentsize, phnum uint64
	switch {
	case is64 && len(b) >= 64:
		phoff, phentsize, phnum = bo.Uint64(b[0x20:]), uint64(bo.Uint16(b[0x36:])), uint64(bo.Uint16(b[0x38:]))
	case !is64 && delf.Class(b[delf.EI_CLASS]) == delf.ELFCLASS32:
		phoff, phentsize, phnum = uint64(bo.Uint32(b[0x1c:])), uint64(bo.Uint16(b[0x2a:])), uint64(bo.Uint16(b[0x2c:]))
	default:
		s.done(nil)
		return
	}
	minEnt := uint64(32)
	if is64 {
		minEnt = 56
	}
	if phnum == 0 || phentsize < minEnt {
		s.done(s.parse()) // nothing beyond the header to read
		return
	}
	phEnd := phoff + phentsize*phnum
	if phoff >= maxHeaders || phEnd > maxHeaders || phEnd > s.size {
		s.done(nil)
		return
	}
	if uint64(len(b)) < phEnd {
		s.keep = phEnd
		return // wait for the rest of the program headers
	}
	keep := phEnd
	var dynOff, dynLen uint64
	for k := range phnum {
		ph := b[phoff+k*phentsize:]
		var typ, off, filesz uint64
		if is64 {
			typ, off, filesz = uint64(bo.Uint32(ph)), bo.Uint64(ph[8:]), bo.Uint64(ph[32:])
		} else {
			typ, off, filesz = uint64(bo.Uint32(ph)), uint64(bo.Uint32(ph[4:])), uint64(bo.Uint32(ph[16:]))
		}
		switch delf.ProgType(typ) {
		case delf.PT_INTERP:
			if filesz <= 4096 && off < RetainMax {
				keep = max(keep, off+filesz)
			}
		case delf.PT_DYNAMIC:
			dynOff, dynLen = off, filesz
		}
	}
	if dynLen > 0 {
		if dynLen > maxDynamic || dynOff > s.size || dynLen > s.size-dynOff {
			s.done(nil)
			return
		}
		// The string table lies before the dynamic section: keep the
		// start up to it.
		keep = max(keep, min(dynOff, RetainMax))
		s.dynOff, s.dynLen = dynOff, dynLen
		if s.off > dynOff {
			// Its start was written already, so it is in the prefix
			// (which holds all that was written so far); Write adds the
			// rest.
			s.dyn = append(s.dyn, b[dynOff:min(s.off, dynOff+dynLen)]...)
		}
	}
	s.keep = min(keep, s.size)
	s.state = stBody
	if uint64(len(s.prefix)) >= s.keep && (s.dynLen == 0 || uint64(len(s.dyn)) == s.dynLen) {
		s.finish()
	}
}

// finish parses what was kept.
func (s *Stream) finish() {
	if s.state == stHeaders {
		if uint64(len(s.prefix)) < s.size && uint64(len(s.prefix)) < s.keep {
			s.done(nil)
			return
		}
		s.headers()
		if s.state == stDone {
			return
		}
	}
	if uint64(len(s.prefix)) < s.keep || uint64(len(s.dyn)) < s.dynLen {
		s.done(nil) // the file ended early
		return
	}
	s.done(s.parse())
}

// parse parses the kept spans, keeping the result only when it is
// complete: what the caller would otherwise read the file for.
func (s *Stream) parse() *Info {
	src := &spanSource{sz: s.size, prefix: s.prefix, dynOff: s.dynOff, dyn: s.dyn}
	e, err := parseELF(src)
	if err != nil || e.HeaderOnly || e.Interp == "?" || e.HasDynamic && !e.DynamicRead {
		return nil
	}
	return e
}

func (s *Stream) done(e *Info) {
	s.info, s.state = e, stDone
}

// spanSource serves a file's kept start and dynamic section.
type spanSource struct {
	sz     uint64
	prefix []byte
	dynOff uint64
	dyn    []byte
}

func (s *spanSource) size() uint64 { return s.sz }

func (s *spanSource) canRead() bool { return false }

func (s *spanSource) at(off, n uint64) ([]byte, bool) {
	if off > s.sz || n > s.sz-off {
		return nil, false
	}
	if off+n <= uint64(len(s.prefix)) {
		return s.prefix[off : off+n], true
	}
	if off >= s.dynOff && off+n <= s.dynOff+uint64(len(s.dyn)) {
		return s.dyn[off-s.dynOff : off-s.dynOff+n], true
	}
	return nil, false
}

func (s *spanSource) inMemory(off uint64) []byte {
	switch {
	case off < uint64(len(s.prefix)):
		return s.prefix[off:]
	case off >= s.dynOff && off < s.dynOff+uint64(len(s.dyn)):
		return s.dyn[off-s.dynOff:]
	}
	return nil
}
