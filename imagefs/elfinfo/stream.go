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
// A Go program (one with a Go build ID note) is also searched, start to
// end, for the Markers, and its Result says which it holds (Scanned).
//
// A Stream is reused with Reset; its buffers are kept between files.
type Stream struct {
	size uint64
	off  uint64 // bytes written so far

	prefix []byte
	// keep is how much of the start is kept: the headers until they are
	// parsed, then up to the dynamic section (at most RetainMax).
	keep uint64

	// spans are the parts kept past the start: the dynamic section and,
	// when it lies beyond the start kept, the interpreter path.
	spans [3]span
	nspan int
	// biWanted is set once the Go build information was looked for, and
	// biSpan is 1 + its index in spans when it is kept.
	biWanted bool
	biSpan   int

	// notes are the PT_NOTE segments within the start kept, looked at
	// once the start is in: a Go build ID note turns scanning on.
	notes       [4][2]uint64
	nnote       int
	notesLooked bool
	bo          binary.ByteOrder
	scan        markerScan
	parsed      bool

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

// span is a part of the file kept as it streams by.
type span struct {
	off, n uint64
	b      []byte
}

func (p *span) complete() bool { return uint64(len(p.b)) == p.n }

// Reset prepares s for a file of size bytes.
func (s *Stream) Reset(size int64) {
	spans := s.spans
	for i := range spans {
		spans[i] = span{b: spans[i].b[:0]}
	}
	*s = Stream{size: uint64(max(size, 0)), prefix: s.prefix[:0], spans: spans, keep: 64, scan: markerScan{tail: s.scan.tail[:0], biOff: -1}}
}

// want adds the span [off, off+n) to what is kept; what of it was written
// already is in the prefix (which holds all that was written so far while
// the headers are read).
func (s *Stream) want(off, n uint64) {
	p := &s.spans[s.nspan]
	s.nspan++
	p.off, p.n = off, n
	if s.off > off {
		p.b = append(p.b, s.prefix[off:min(s.off, off+n)]...)
	}
}

// spansComplete reports whether every span is kept whole.
func (s *Stream) spansComplete() bool {
	for i := range s.nspan {
		if !s.spans[i].complete() {
			return false
		}
	}
	return true
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
		if s.state == stHeaders || s.state == stBody && !s.notesLooked {
			// Until the headers are parsed and the notes looked at, the
			// prefix is all that was written: stop at keep to look at
			// them before going on.
			c = min(c, s.keep-s.off)
		}
		chunk := p[:c]
		p = p[c:]
		if s.off < s.keep {
			s.prefix = append(s.prefix, chunk[:min(c, s.keep-s.off)]...)
		}
		for i := range s.nspan {
			p := &s.spans[i]
			if end := p.off + p.n; s.off+c > p.off && s.off < end {
				a := max(p.off, s.off) - s.off
				e := min(end, s.off+c) - s.off
				p.b = append(p.b, chunk[a:e]...)
			}
		}
		if s.scan.on {
			// (Scanning starts in lookAtNotes, which scans the start,
			// this chunk included, so no byte is scanned twice.)
			s.scan.write(chunk, int64(s.off))
			if s.scan.biOff >= 0 && !s.biWanted {
				s.wantBuildInfo(chunk, s.off)
			}
		}
		s.off += c
		switch {
		case s.state == stHeaders && s.off >= s.keep:
			s.headers()
		case s.state == stBody && !s.notesLooked && s.off >= s.keep:
			s.lookAtNotes()
		}
		if s.state == stBody && s.notesLooked && s.off >= s.keep && s.spansComplete() {
			s.parseOnce()
			if !s.scan.on || s.scan.all() {
				s.finish()
			}
		}
	}
}

// lookAtNotes turns scanning on for a Go program, scanning the start.
func (s *Stream) lookAtNotes() {
	s.notesLooked = true
	for i := range s.nnote {
		off, n := s.notes[i][0], s.notes[i][1]
		if off+n <= uint64(len(s.prefix)) && isGoNote(s.prefix[off:off+n], s.bo) {
			s.scan.on = true
			s.scan.write(s.prefix, 0)
			if s.scan.biOff >= 0 {
				s.wantBuildInfo(s.prefix, 0)
			}
			return
		}
	}
}

// wantBuildInfo keeps the Go build information found at scan.biOff (its
// header and the two strings after it) as a span, starting with what of
// it p, the bytes just scanned, starting at offset start, holds (and, for
// a header that straddled two writes, what the scan kept of the first).
func (s *Stream) wantBuildInfo(p []byte, start uint64) {
	s.biWanted = true
	off := uint64(s.scan.biOff)
	pre := s.scan.biPre
	if off < start && off+uint64(len(pre)) != start {
		return // not what the scan saw: cannot happen, but never guess
	}
	sp := &s.spans[s.nspan]
	s.nspan++
	sp.off, sp.n = off, min(uint64(maxBuildInfo), s.size-off)
	if off < start {
		sp.b = append(sp.b, pre[:min(uint64(len(pre)), sp.n)]...)
		p = p[:min(uint64(len(p)), sp.n-uint64(len(sp.b)))]
	} else {
		p = p[off-start : min(uint64(len(p)), off-start+sp.n)]
	}
	sp.b = append(sp.b, p...)
	s.biSpan = s.nspan
}

// parseOnce parses the kept parts, once.
func (s *Stream) parseOnce() {
	if !s.parsed {
		s.parsed, s.info = true, s.parse()
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
	var dynOff, dynLen, interpOff, interpLen uint64
	// roEnd is where the first PT_LOAD segment ends when it is not
	// executable: linkers that separate code (GNU ld -z separate-code, the
	// x86-64 default, and lld) put the symbol and string tables there, and
	// nothing the parse needs after it but the dynamic section.
	roEnd, firstLoad := uint64(0), true
	for k := range phnum {
		ph := b[phoff+k*phentsize:]
		var typ, off, filesz, flags uint64
		if is64 {
			typ, flags, off, filesz = uint64(bo.Uint32(ph)), uint64(bo.Uint32(ph[4:])), bo.Uint64(ph[8:]), bo.Uint64(ph[32:])
		} else {
			typ, off, filesz, flags = uint64(bo.Uint32(ph)), uint64(bo.Uint32(ph[4:])), uint64(bo.Uint32(ph[16:])), uint64(bo.Uint32(ph[24:]))
		}
		switch delf.ProgType(typ) {
		case delf.PT_LOAD:
			if firstLoad && off == 0 && flags&uint64(delf.PF_X) == 0 {
				roEnd = filesz
			}
			firstLoad = false
		case delf.PT_INTERP:
			if filesz > 4096 || off > s.size || filesz > s.size-off {
				s.done(nil) // Read would not read it either
				return
			}
			interpOff, interpLen = off, filesz
		case delf.PT_DYNAMIC:
			dynOff, dynLen = off, filesz
		case delf.PT_NOTE:
			if s.nnote < len(s.notes) && off < maxHeaders && filesz <= maxHeaders-off && off+filesz <= s.size {
				s.notes[s.nnote] = [2]uint64{off, filesz}
				s.nnote++
				keep = max(keep, off+filesz)
			}
		}
	}
	s.bo = bo
	if dynLen > 0 {
		if dynLen > maxDynamic || dynOff > s.size || dynLen > s.size-dynOff {
			s.done(nil)
			return
		}
		// The string table lies before the dynamic section: keep the
		// start up to it, or to the end of a read-only first segment.
		upTo := dynOff
		if roEnd > 0 {
			upTo = min(upTo, roEnd)
		}
		keep = max(keep, min(upTo, RetainMax))
		s.want(dynOff, dynLen)
	}
	if interpLen > 0 {
		if interpOff+interpLen <= RetainMax {
			keep = max(keep, interpOff+interpLen)
		} else {
			s.want(interpOff, interpLen)
		}
	}
	s.keep = min(keep, s.size)
	s.state = stBody
	if uint64(len(s.prefix)) >= s.keep {
		s.lookAtNotes()
		if s.spansComplete() {
			s.parseOnce()
			if !s.scan.on || s.scan.all() {
				s.finish()
			}
		}
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
	if uint64(len(s.prefix)) < s.keep || !s.spansComplete() {
		s.done(nil) // the file ended early
		return
	}
	s.parseOnce()
	if s.info != nil && s.scan.on && (s.scan.all() || s.off == s.size) {
		s.info.Go, s.info.Scanned, s.info.Markers = true, true, s.scan.found
		if s.biSpan > 0 {
			s.info.GoVersion, s.info.GoModInfo = parseBuildInfo(s.spans[s.biSpan-1].b)
		}
	}
	s.done(s.info)
}

// parse parses the kept spans, keeping the result only when it is
// complete: what the caller would otherwise read the file for.
func (s *Stream) parse() *Info {
	src := &spanSource{sz: s.size, prefix: s.prefix, spans: s.spans[:s.nspan]}
	e, err := parseELF(src)
	if err != nil || e.HeaderOnly || e.Interp == "?" || e.HasDynamic && !e.DynamicRead {
		return nil
	}
	return e
}

func (s *Stream) done(e *Info) {
	s.info, s.state = e, stDone
}

// spanSource serves a file's kept start and spans.
type spanSource struct {
	sz     uint64
	prefix []byte
	spans  []span
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
	for _, p := range s.spans {
		if off >= p.off && off+n <= p.off+uint64(len(p.b)) {
			return p.b[off-p.off : off-p.off+n], true
		}
	}
	return nil, false
}

func (s *spanSource) inMemory(off uint64) []byte {
	if off < uint64(len(s.prefix)) {
		return s.prefix[off:]
	}
	for _, p := range s.spans {
		if off >= p.off && off < p.off+uint64(len(p.b)) {
			return p.b[off-p.off:]
		}
	}
	return nil
}
