package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs/elfinfo"
)

// A layer's tar stream is parsed by a writer that the decompressor pushes
// into (gzip, zstd and bufio readers all implement io.WriterTo): content is
// skipped right where the decompressor produced it, without the copy (and
// cache pollution) of a Read loop, so a layer is read at the speed of its
// bare decompression. The parser follows archive/tar's reader: V7, USTAR,
// PAX, GNU and STAR headers, PAX records and GNU long names, the same
// leniency at the end of the stream. GNU sparse files (old and PAX forms)
// are recognized, but their content is not expanded.

const blockSize = 512

// errHeader is a malformed tar header.
var errHeader = errors.New("invalid tar header")

// tarHeader is a parsed tar entry.
type tarHeader struct {
	name, linkname string
	typ            byte
	mode           int64
	uid, gid       int
	// size is the logical size of a regular file (the expanded size of a
	// sparse one).
	size   int64
	mtime  int64
	sparse bool
}

// capturePlan says what to capture of an entry's content.
type capturePlan struct {
	n    *node
	want int64 // bytes from the start
	elf  bool  // extend over ELF program headers and interpreter
	// sum, when set, is the node an ELF summary of the content is kept
	// on (see elfinfo.Stream).
	sum *node
}

// minELFSize is the size of the smallest ELF file: a 32-bit ELF header.
const minELFSize = 52

// Parser states.
const (
	stHeader    byte = iota // filling blk with a header
	stData                  // in an entry's content
	stMeta                  // in PAX or GNU long-name data
	stSparseExt             // in old GNU sparse extension headers
	stPad                   // in the padding after content or meta data
	stEnd                   // after the end-of-archive marker
)

// tarSink parses a tar stream written to it.
type tarSink struct {
	ctx context.Context
	// entry is called for every entry, whose content starts at offset off
	// of the stream; it says what to capture of the content.
	entry func(h *tarHeader, off int64) (capturePlan, error)

	off    int64 // bytes consumed
	state  byte
	zero   bool // one zero block seen
	writes int
	blk    [blockSize]byte
	nblk   int
	left   int64 // bytes left in the current content or meta data
	pad    int64
	size   int64 // stored size of the current content or meta data

	// Meta data pending for the next entry.
	meta     []byte
	metaType byte
	pax      map[string]string
	longName string
	longLink string

	// hdr is the header being parsed, a field so that it is not allocated
	// for every entry.
	hdr tarHeader

	// An old GNU sparse header waiting for its extension headers.
	sparseHdr    tarHeader
	sparseStored int64

	// The capture in progress.
	capt capturePlan
	buf  []byte

	// The ELF summary in progress: sum is its node, nil when none is.
	sum *node
	es  elfinfo.Stream

	// limit is the stream offset beyond which grow must be asked for more
	// (see decoder.decode); with no grow, the stream is unbounded.
	limit int64
	grow  func(need int64) (int64, error)
}

// Write consumes p.
func (s *tarSink) Write(p []byte) (int, error) {
	n := len(p)
	if need := s.off + int64(n); need > s.limit && s.grow != nil {
		limit, err := s.grow(need)
		if err != nil {
			return 0, err
		}
		s.limit = limit
	}
	s.writes++
	if s.writes&15 == 0 {
		if err := s.ctx.Err(); err != nil {
			return 0, err
		}
	}
	for len(p) > 0 {
		switch s.state {
		case stHeader, stSparseExt:
			c := copy(s.blk[s.nblk:], p)
			s.nblk += c
			p = p[c:]
			s.off += int64(c)
			if s.nblk < blockSize {
				continue
			}
			s.nblk = 0
			var err error
			if s.state == stHeader {
				err = s.header()
			} else if s.blk[504] == 0 {
				// Last extension header: the content follows.
				err = s.begin(&s.sparseHdr, s.sparseStored)
			}
			if err != nil {
				return 0, err
			}
		case stData:
			c := int(min(int64(len(p)), s.left))
			if s.capt.n != nil {
				s.feed(p[:c])
			}
			if s.sum != nil {
				s.es.Write(p[:c])
				if s.es.Done() {
					s.summarised()
				}
			}
			p = p[c:]
			s.off += int64(c)
			s.left -= int64(c)
			if s.left == 0 {
				if s.capt.n != nil {
					s.keep()
				}
				if s.sum != nil {
					s.summarised()
				}
				s.afterContent()
			}
		case stMeta:
			c := int(min(int64(len(p)), s.left))
			s.meta = append(s.meta, p[:c]...)
			p = p[c:]
			s.off += int64(c)
			s.left -= int64(c)
			if s.left == 0 {
				if err := s.endMeta(); err != nil {
					return 0, err
				}
			}
		case stPad:
			c := int(min(int64(len(p)), s.pad))
			p = p[c:]
			s.off += int64(c)
			s.pad -= int64(c)
			if s.pad == 0 {
				s.state = stHeader
			}
		case stEnd:
			// What follows the end-of-archive marker (zero padding, as a
			// rule) is read only so that the decompressor checks its
			// trailer.
			s.off += int64(len(p))
			p = nil
		}
	}
	return n, nil
}

// finish reports whether the stream ended where a tar stream may end: after
// the end-of-archive marker, or (as archive/tar accepts) between entries or
// in the padding after one.
func (s *tarSink) finish() error {
	switch {
	case s.state == stEnd, s.state == stPad:
		return nil
	case s.state == stHeader && s.nblk == 0 && !s.metaPending():
		return nil
	}
	return io.ErrUnexpectedEOF
}

func (s *tarSink) metaPending() bool {
	return s.pax != nil || s.longName != "" || s.longLink != ""
}

// afterContent moves to the padding after s.size bytes of content or meta
// data.
func (s *tarSink) afterContent() {
	s.pad = -s.size & (blockSize - 1)
	s.state = stPad
	if s.pad == 0 {
		s.state = stHeader
	}
}

// feed captures content bytes.
func (s *tarSink) feed(p []byte) {
	for len(p) > 0 && s.capt.n != nil {
		c := int(min(int64(len(p)), s.capt.want-int64(len(s.buf))))
		s.buf = append(s.buf, p[:c]...)
		p = p[c:]
		if int64(len(s.buf)) < s.capt.want {
			return
		}
		if s.capt.elf {
			if need := min(elfNeed(s.buf), s.size, ElfHeadMax); need > s.capt.want {
				s.capt.want = need
				s.buf = append(make([]byte, 0, need), s.buf...)
				continue
			}
			s.capt.elf = false
		}
		s.keep()
	}
}

// keep attaches the captured bytes to their node.
func (s *tarSink) keep() {
	n := s.capt.n
	if n.extra == nil {
		n.extra = &nodeExtra{}
	}
	n.extra.data = s.buf
	s.capt, s.buf = capturePlan{}, nil
}

// summarised attaches the ELF summary, if the content was ELF and the
// summary complete, to its node, and ends it.
func (s *tarSink) summarised() {
	if e := s.es.Result(); e != nil {
		n := s.sum
		if n.extra == nil {
			n.extra = &nodeExtra{}
		}
		n.extra.elf = elfinfo.Marshal(e)
	}
	s.sum = nil
}

func isZeroBlock(b *[blockSize]byte) bool {
	var x uint64
	for i := 0; i < blockSize; i += 8 {
		x |= binary.LittleEndian.Uint64(b[i:])
	}
	return x == 0
}

// checksumOK verifies a header's checksum, computed as unsigned or (as old
// tars did) signed bytes, with the checksum field itself read as spaces.
func checksumOK(b *[blockSize]byte, sum int64) bool {
	// The unsigned sum, eight bytes at a time: each 16-bit lane of acc adds
	// at most 2*64 bytes, so it cannot overflow.
	const lo = 0x00ff00ff00ff00ff
	var acc uint64
	for i := 0; i < blockSize; i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		acc += w&lo + w>>8&lo
	}
	acc = acc&0x0000ffff0000ffff + acc>>16&0x0000ffff0000ffff
	unsigned := int64(acc&0xffffffff + acc>>32)
	for _, c := range b[148:156] {
		unsigned += int64(' ') - int64(c)
	}
	if sum == unsigned {
		return true
	}
	var signed int64
	for i, c := range b {
		if 148 <= i && i < 156 {
			c = ' '
		}
		signed += int64(int8(c))
	}
	return sum == signed
}

// header parses the header block just read.
func (s *tarSink) header() error {
	b := &s.blk
	if isZeroBlock(b) {
		if s.zero {
			s.state = stEnd
		}
		s.zero = true
		return nil
	}
	if s.zero {
		return fmt.Errorf("%w: zero block followed by a header", errHeader)
	}
	var p numParser
	if sum := p.octal(b[148:156]); p.err != nil || !checksumOK(b, sum) {
		return fmt.Errorf("%w: bad checksum", errHeader)
	}
	typ := b[156]
	size := p.numeric(b[124:136])
	if p.err != nil || size < 0 {
		return fmt.Errorf("%w: bad size", errHeader)
	}
	switch typ {
	case 'x', 'g', 'L', 'K':
		if size > maxPAXSize {
			return limitf("maxPAXSize", "a %s header of %s, more than the %s Go's archive/tar (used by Docker and containerd) accepts", metaName(typ), byteSize(size), byteSize(maxPAXSize))
		}
		s.metaType, s.meta, s.left, s.size = typ, s.meta[:0], size, size
		s.state = stMeta
		if size == 0 {
			return s.endMeta()
		}
		return nil
	}

	s.hdr = tarHeader{typ: typ, size: size}
	h := &s.hdr
	h.name = cString(b[0:100])
	h.linkname = cString(b[157:257])
	h.mode = p.numeric(b[100:108])
	h.uid = int(p.numeric(b[108:116]))
	h.gid = int(p.numeric(b[116:124]))
	h.mtime = p.numeric(b[136:148])
	var prefix string
	switch magic := string(b[257:263]); {
	case magic == "ustar\x00" && string(b[508:512]) == "tar\x00": // STAR
		prefix = cString(b[345:476])
	case magic == "ustar\x00": // USTAR and PAX
		prefix = cString(b[345:500])
	}
	if p.err != nil {
		return fmt.Errorf("%w: bad numeric field", errHeader)
	}
	if prefix != "" {
		h.name = prefix + "/" + h.name
	}
	logical, err := s.applyMeta(h)
	if err != nil {
		return err
	}
	if h.typ == '\x00' {
		// Legacy archives mark directories with a trailing slash.
		if strings.HasSuffix(h.name, "/") {
			h.typ = TypeDir
		} else {
			h.typ = TypeReg
		}
	}
	// What the archive holds after the header: nothing for header-only
	// types, whatever their size field says.
	stored := h.size
	switch h.typ {
	case tar.TypeLink, TypeSymlink, TypeChar, TypeBlock, TypeDir, TypeFifo:
		stored = 0
	case 'S':
		h.sparse = true
		if real := p.numeric(b[483:495]); p.err == nil {
			logical = real
		}
	}
	if h.sparse {
		h.size = logical
	}
	if typ == 'S' && b[482] != 0 {
		// Old GNU sparse extension headers come before the content.
		s.sparseHdr, s.sparseStored = *h, stored
		s.state = stSparseExt
		return nil
	}
	return s.begin(h, stored)
}

// begin reports the entry h, whose stored content (stored bytes) follows.
func (s *tarSink) begin(h *tarHeader, stored int64) error {
	plan, err := s.entry(h, s.off)
	if err != nil {
		return err
	}
	s.size, s.left = stored, stored
	if stored == 0 {
		s.state = stHeader
		return nil
	}
	if plan.n != nil && plan.want > 0 {
		s.capt = plan
		s.buf = make([]byte, 0, plan.want)
	}
	s.sum = nil
	if plan.sum != nil {
		s.sum = plan.sum
		s.es.Reset(stored)
	}
	s.state = stData
	return nil
}

// applyMeta applies the pending PAX records and GNU long names to h and
// returns the logical size of a PAX sparse file.
func (s *tarSink) applyMeta(h *tarHeader) (int64, error) {
	var logical int64
	if pax := s.pax; pax != nil {
		s.pax = nil
		for k, v := range pax {
			if v == "" {
				continue // keep the header's value
			}
			var err error
			switch k {
			case "path":
				h.name = v
			case "linkpath":
				h.linkname = v
			case "uid":
				var id int64
				id, err = strconv.ParseInt(v, 10, 64)
				h.uid = int(id)
			case "gid":
				var id int64
				id, err = strconv.ParseInt(v, 10, 64)
				h.gid = int(id)
			case "mtime":
				secs, _, _ := strings.Cut(v, ".")
				h.mtime, err = strconv.ParseInt(secs, 10, 64)
			case "size":
				h.size, err = strconv.ParseInt(v, 10, 64)
				if h.size < 0 {
					err = errHeader
				}
			}
			if err != nil {
				return 0, fmt.Errorf("%w: PAX record %s=%q", errHeader, k, v)
			}
		}
		major, minor := pax["GNU.sparse.major"], pax["GNU.sparse.minor"]
		if major != "" || minor != "" || pax["GNU.sparse.map"] != "" {
			h.sparse = true
			if name := pax["GNU.sparse.name"]; name != "" {
				h.name = name
			}
			size := pax["GNU.sparse.size"]
			if size == "" {
				size = pax["GNU.sparse.realsize"]
			}
			logical = h.size
			if size != "" {
				n, err := strconv.ParseInt(size, 10, 64)
				if err != nil || n < 0 {
					return 0, fmt.Errorf("%w: GNU sparse size %q", errHeader, size)
				}
				logical = n
			}
		}
	}
	if s.longName != "" {
		h.name = s.longName
	}
	if s.longLink != "" {
		h.linkname = s.longLink
	}
	s.longName, s.longLink = "", ""
	return logical, nil
}

// endMeta interprets the meta data just read.
func (s *tarSink) endMeta() error {
	switch s.metaType {
	case 'x':
		pax, err := parsePAX(s.meta)
		if err != nil {
			return err
		}
		s.pax = pax
	case 'g':
		// Global PAX headers are entries of their own for archive/tar;
		// they change nothing here.
		if _, err := s.entry(&tarHeader{typ: 'g'}, s.off); err != nil {
			return err
		}
	case 'L':
		s.longName = cString(s.meta)
	case 'K':
		s.longLink = cString(s.meta)
	}
	if cap(s.meta) > 64<<10 {
		s.meta = nil
	}
	s.afterContent()
	return nil
}

// parsePAX parses PAX records ("%d %s=%s\n"). It keeps only the records
// the reader uses; the others (extended attributes, ACLs, access times) are
// checked and dropped.
func parsePAX(b []byte) (map[string]string, error) {
	recs := make(map[string]string)
	for n := 0; len(b) > 0; n++ {
		if n == maxPAXRecords {
			return nil, limitf("maxPAXRecords", "a PAX header holds more than %d records", maxPAXRecords)
		}
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("%w: bad PAX record", errHeader)
		}
		l, err := strconv.Atoi(string(b[:sp]))
		if err != nil || l < 5 || l > len(b) || l <= sp+1 {
			return nil, fmt.Errorf("%w: bad PAX record", errHeader)
		}
		rec := b[sp+1 : l]
		b = b[l:]
		if rec[len(rec)-1] != '\n' {
			return nil, fmt.Errorf("%w: bad PAX record", errHeader)
		}
		k, v, ok := bytes.Cut(rec[:len(rec)-1], []byte("="))
		if !ok || len(k) == 0 {
			return nil, fmt.Errorf("%w: bad PAX record", errHeader)
		}
		switch string(k) {
		case "GNU.sparse.offset", "GNU.sparse.numbytes":
			recs["GNU.sparse.map"] = "present"
		case "path", "linkpath", "uid", "gid", "mtime", "size", "GNU.sparse.major", "GNU.sparse.minor",
			"GNU.sparse.map", "GNU.sparse.name", "GNU.sparse.size", "GNU.sparse.realsize":
			recs[string(k)] = string(v)
		}
	}
	return recs, nil
}

// metaName names a meta data header type for messages.
func metaName(typ byte) string {
	switch typ {
	case 'x':
		return "PAX"
	case 'g':
		return "global PAX"
	case 'L':
		return "GNU long name"
	}
	return "GNU long link"
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// numParser parses tar numeric fields, remembering the first error.
type numParser struct{ err error }

// numeric parses an octal field or, when its first bit is set, a GNU
// base-256 two's complement number.
func (p *numParser) numeric(b []byte) int64 {
	if len(b) > 0 && b[0]&0x80 != 0 {
		var inv byte
		if b[0]&0x40 != 0 {
			inv = 0xff
		}
		var x uint64
		for i, c := range b {
			c ^= inv
			if i == 0 {
				c &= 0x7f
			}
			if x>>56 > 0 {
				p.err = errHeader
				return 0
			}
			x = x<<8 | uint64(c)
		}
		if x>>63 > 0 {
			p.err = errHeader
			return 0
		}
		if inv == 0xff {
			return ^int64(x)
		}
		return int64(x)
	}
	return p.octal(b)
}

// octal parses an octal field padded with spaces or NULs.
func (p *numParser) octal(b []byte) int64 {
	b = bytes.Trim(b, " \x00")
	if len(b) == 0 {
		return 0
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	var x uint64
	for _, c := range b {
		if c < '0' || c > '7' || x>>61 != 0 {
			p.err = errHeader
			return 0
		}
		x = x<<3 | uint64(c-'0')
	}
	return int64(x)
}
