package imagefs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
)

// Random access into gzip layers (the zran technique of zlib's examples):
// while the one pass inflates a layer it records restart points at deflate
// block boundaries, every Options.CheckpointEvery bytes of output: the
// compressed position (byte and bit), the uncompressed offset and the 32 KiB
// of output before it (the deflate window, which later blocks may copy
// from). Reading a file afterwards inflates from the restart point at or
// before the file, so it costs at most CheckpointEvery bytes of
// decompression more than the file itself, wherever the file lies.
// klauspost/compress's flate reader reports and resumes from such points
// (WithEobCallback, WithResumeFrom); the gzip framing (RFC 1952: header,
// members, CRC-32 and size trailer) is done here.

// checkpoint is a restart point of a compressed layer.
type checkpoint struct {
	// unc is the offset in the uncompressed (tar) stream.
	unc int64
	// comp is the offset in the blob of the byte holding the next bit.
	comp int64
	// win locates the deflate window in the FS's window store; winLen 0
	// means none is needed (the start of a gzip member: comp is then where
	// its header starts).
	win    int64
	winLen int32
	// bit is the number of bits of the byte at comp already consumed.
	bit uint8
	// member marks the start of a gzip member: the reader parses its
	// header at comp.
	member bool
}

// gzip header flags (RFC 1952, section 2.3.1).
const (
	gzFlagHdrCrc  = 1 << 1
	gzFlagExtra   = 1 << 2
	gzFlagName    = 1 << 3
	gzFlagComment = 1 << 4
)

// errGzipHeader is a malformed gzip member header.
var errGzipHeader = errors.New("gzip: invalid header")

// readGzipHeader consumes one gzip member header from br.
func readGzipHeader(br *bufio.Reader) error {
	var buf [10]byte
	if _, err := io.ReadFull(br, buf[:]); err != nil {
		return noEOF(err)
	}
	if buf[0] != 0x1f || buf[1] != 0x8b || buf[2] != 8 {
		return errGzipHeader
	}
	flg := buf[3]
	if flg>>5 != 0 {
		return errGzipHeader
	}
	digest := crc32.ChecksumIEEE(buf[:])
	if flg&gzFlagExtra != 0 {
		var n [2]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			return noEOF(err)
		}
		digest = crc32.Update(digest, crc32.IEEETable, n[:])
		extra := make([]byte, binary.LittleEndian.Uint16(n[:]))
		if _, err := io.ReadFull(br, extra); err != nil {
			return noEOF(err)
		}
		digest = crc32.Update(digest, crc32.IEEETable, extra)
	}
	for _, f := range []byte{gzFlagName, gzFlagComment} {
		if flg&f == 0 {
			continue
		}
		// A NUL-terminated string; RFC 1952 sets no bound, archive readers
		// do (Go's: 512 bytes is typical of names; we allow 64 KiB).
		for n := 0; ; n++ {
			c, err := br.ReadByte()
			if err != nil {
				return noEOF(err)
			}
			digest = crc32.Update(digest, crc32.IEEETable, []byte{c})
			if c == 0 {
				break
			}
			if n >= 64<<10 {
				return fmt.Errorf("%w: name or comment longer than 64 KiB", errGzipHeader)
			}
		}
	}
	if flg&gzFlagHdrCrc != 0 {
		var n [2]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			return noEOF(err)
		}
		if binary.LittleEndian.Uint16(n[:]) != uint16(digest) {
			return fmt.Errorf("%w: header checksum mismatch", errGzipHeader)
		}
	}
	return nil
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// crcWriter passes writes to w, keeping their CRC-32 and length, and
// copies the output that follows a new restart point into its probe.
type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
	idx *layerIndex // probing its last restart point
}

func (c *crcWriter) Write(p []byte) (int, error) {
	if c.idx != nil {
		// The decompressor hands out output a window at a time: the
		// bytes after the restart point may come later than its report.
		pr := &c.idx.probes[len(c.idx.probes)-1]
		if skip := pr.at - c.n; skip < int64(len(p)) {
			pr.n += copy(pr.b[pr.n:], p[max(skip, 0):])
			if pr.n == len(pr.b) {
				c.idx = nil
			}
		}
	}
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, crc32.IEEETable, p[:n])
	c.n += int64(n)
	return n, err
}

// probe starts copying the output from offset at (of this member's
// output) into a probe of idx's last restart point.
func (c *crcWriter) probe(idx *layerIndex, at int64) {
	idx.probes = append(idx.probes, probe{at: at})
	c.idx = idx
}

// probe is the start of the output after a restart point, to check the
// restart point against once the pass is over.
type probe struct {
	at int64
	b  [64]byte
	n  int
}

// gunzipIndexed inflates the gzip stream of br into w, member after member,
// checking each member's CRC-32 and size, and records restart points into
// idx every `every` bytes of output (never, when every <= 0). pos returns
// the blob offset of br's next unread byte. Like gzip readers in
// multistream mode, it accepts several members and rejects anything else
// after the last.
func gunzipIndexed(br *bufio.Reader, pos func() int64, w io.Writer, every int64, idx *layerIndex) (int64, error) {
	var total int64
	var win [maxWindow]byte
	for member := 0; ; member++ {
		if member > 0 {
			if _, err := br.Peek(1); err == io.EOF {
				return total, nil
			}
		}
		start := pos()
		if err := readGzipHeader(br); err != nil {
			return total, err
		}
		deflateStart := pos()
		if member > 0 && every > 0 {
			// A member's start needs no proof: its offset is exact.
			idx.add(checkpoint{unc: total, comp: start, member: true})
			idx.probes = append(idx.probes, probe{})
		}
		base, last := total, total
		cw := &crcWriter{w: w}
		var cbErr error
		var opts []flate.ReaderOpt
		if every > 0 {
			// klauspost/compress v1.20 counts the bytes buffered ahead
			// twice when a stored block starts, so its CompressedOffset
			// runs ahead of the stream by a number of whole bytes (the bit
			// offset stays right). drift tracks that excess: it grows only
			// at stored blocks, after which no bits are buffered, so there
			// the excess is exact; elsewhere the true offset lies at most 4
			// bytes (the bits buffered) before the bytes consumed.
			var drift int64
			opts = append(opts, flate.WithEobCallback(func(cp flate.InflateCheckpoint) {
				consumed := pos() - deflateStart
				if e := cp.CompressedOffset - consumed; e > drift {
					drift = e
				}
				comp := cp.CompressedOffset - drift
				at := base + cp.UncompressedOffset
				if cbErr != nil || at-last < every || cp.Final || len(cp.Window) == 0 || consumed-comp > 4 || comp > consumed {
					return
				}
				last = at
				n := copy(win[:], cp.Window)
				off, err := idx.store.put(win[:n])
				if err != nil {
					cbErr = err
					return
				}
				idx.add(checkpoint{unc: at, comp: deflateStart + comp, bit: cp.BitOffset, win: off, winLen: int32(n)})
				cw.probe(idx, cp.UncompressedOffset)
			}))
		}
		fr := flate.NewReaderOpts(br, opts...)
		_, err := fr.(io.WriterTo).WriteTo(cw)
		total += cw.n
		if err != nil {
			return total, err
		}
		if cbErr != nil {
			return total, fmt.Errorf("storing a restart point: %w", cbErr)
		}
		var trailer [8]byte
		if _, err := io.ReadFull(br, trailer[:]); err != nil {
			return total, noEOF(err)
		}
		if binary.LittleEndian.Uint32(trailer[:4]) != cw.crc {
			return total, errors.New("gzip: CRC-32 mismatch")
		}
		if binary.LittleEndian.Uint32(trailer[4:]) != uint32(cw.n) {
			return total, errors.New("gzip: size mismatch")
		}
	}
}

// maxWindow is the deflate window (RFC 1951: distances reach back 32 KiB).
const maxWindow = 32 << 10

// gzipResumer reads a gzip blob's uncompressed stream from a restart point,
// crossing into later members as needed. Checksums are not verified: the
// pass that recorded the restart points verified the whole stream.
type gzipResumer struct {
	br  *bufio.Reader
	fr  io.ReadCloser
	err error
}

// newGzipResumer starts reading blob (of size bytes) at cp, with the
// deflate window win.
func newGzipResumer(blob io.ReaderAt, size int64, cp checkpoint, win []byte) *gzipResumer {
	br := bufio.NewReaderSize(io.NewSectionReader(blob, cp.comp, size-cp.comp), 64<<10)
	g := &gzipResumer{br: br}
	if cp.member {
		g.startMember()
		return g
	}
	g.fr = flate.NewReaderOpts(br, flate.WithResumeFrom(flate.InflateCheckpoint{
		CompressedOffset: cp.comp, BitOffset: cp.bit, Window: win,
	}))
	return g
}

func (g *gzipResumer) startMember() {
	if err := readGzipHeader(g.br); err != nil {
		g.err = err
		return
	}
	g.fr = flate.NewReader(g.br)
}

func (g *gzipResumer) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, g.err
	}
	for g.err == nil {
		n, err := g.fr.Read(p)
		if err == io.EOF {
			// The end of a member: skip its trailer; another may follow.
			err = nil
			if _, terr := g.br.Discard(8); terr != nil {
				g.err = noEOF(terr)
			} else if _, perr := g.br.Peek(1); perr != nil {
				g.err = io.EOF
			} else {
				g.startMember()
			}
		}
		if err != nil {
			g.err = err
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, g.err
}
