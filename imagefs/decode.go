package imagefs

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Record operations of a decoded layer.
const (
	opAdd      byte = iota // add n under dir
	opHardlink             // add n under dir as a hard link to arg
	opWhiteout             // delete dir/arg from lower layers
	opOpaque               // hide lower-layer children of dir
	opRoot                 // n carries the metadata of "/"
)

// rec is one decoded tar entry, waiting to be merged (32 bytes). For
// whiteouts n holds only the name to delete; for hard links n.link() is the
// unrooted target path until the merge resolves it.
type rec struct {
	// dir is the unrooted clean parent path, "" for the root. Consecutive
	// records of one directory share the string.
	dir string
	n   *node
	op  byte
}

// recChunk is the number of records per allocation: records are stored in
// fixed chunks, never copied as they grow.
const recChunk = 1024

// layerResult is what decoding a layer yields: its records in tar order and
// the anomalies met. It lives until the layer is merged.
type layerResult struct {
	chunks       [][]rec
	lastDir      string
	anomalies    []Anomaly
	dropped      int
	entries      int
	uncompressed int64
}

// add appends a record.
func (r *layerResult) add(dir string, n *node, op byte) {
	if dir == r.lastDir {
		dir = r.lastDir
	} else {
		r.lastDir = dir
	}
	last := len(r.chunks) - 1
	if last < 0 || len(r.chunks[last]) == recChunk {
		r.chunks = append(r.chunks, make([]rec, 0, recChunk))
		last++
	}
	r.chunks[last] = append(r.chunks[last], rec{dir: dir, n: n, op: op})
}

func (r *layerResult) anomaly(layer int, p string, kind AnomalyKind, format string, args ...any) {
	if len(r.anomalies) >= maxAnomaliesPerLayer {
		r.dropped++
		return
	}
	r.anomalies = append(r.anomalies, Anomaly{Layer: layer, Path: p, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// decoder turns layers into layerResults; one is shared by all workers.
type decoder struct {
	opts  Options
	total atomic.Int64 // entries seen over all layers
}

// readBufSize is the buffer between the blob and the decompressor.
const readBufSize = 256 << 10

// sourceReader remembers the blob's own read errors, to tell a failing
// source from a corrupt layer.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// decompress sniffs the compression of br's stream and returns a reader of
// the tar stream and a function releasing the decompressor.
func decompress(br *bufio.Reader) (io.Reader, func(), error) {
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// tarStream is the decompressed tar stream of a layer. It counts bytes and
// implements io.Seeker for forward skips, so that archive/tar skips file
// content with large reads and checks for cancellation meanwhile.
type tarStream struct {
	r   io.Reader
	n   int64
	ctx context.Context
	buf []byte
}

func (s *tarStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

// Seek supports only forward moves relative to the current position, which
// it performs by reading.
func (s *tarStream) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || off < 0 {
		return s.n, errors.New("tar stream: unsupported seek")
	}
	if off > 0 && s.buf == nil {
		s.buf = make([]byte, 64<<10)
	}
	for off > 0 {
		if err := s.ctx.Err(); err != nil {
			return s.n, err
		}
		m, err := s.r.Read(s.buf[:min(int64(len(s.buf)), off)])
		s.n += int64(m)
		off -= int64(m)
		if err == io.EOF {
			if off > 0 {
				return s.n, io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return s.n, err
		}
	}
	return s.n, nil
}

// decode reads layer i in one streaming pass.
func (d *decoder) decode(ctx context.Context, i int, l Layer) (res *layerResult, err error) {
	if l.Open == nil {
		return nil, &LayerError{Index: i, Digest: l.Digest, Err: errors.New("layer has no content")}
	}
	raw, err := l.Open()
	if err != nil {
		return nil, &LayerError{Index: i, Digest: l.Digest, Err: fmt.Errorf("opening: %w", err)}
	}
	defer raw.Close()
	src := &sourceReader{r: raw}
	fail := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrTooManyEntries):
			return &LayerError{Index: i, Digest: l.Digest, Err: err}
		case src.err != nil:
			return &LayerError{Index: i, Digest: l.Digest, Err: fmt.Errorf("reading: %w", src.err)}
		}
		return &LayerError{Index: i, Digest: l.Digest, Err: err, Corrupt: true}
	}
	dec, release, err := decompress(bufio.NewReaderSize(src, readBufSize))
	if err != nil {
		return nil, fail(err)
	}
	defer release()

	ts := &tarStream{r: dec, ctx: ctx}
	tr := tar.NewReader(ts)
	res = &layerResult{}
	max := int64(d.opts.MaxEntries)
	for ord := 0; ; ord++ {
		hdr, err := next(tr)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail(err)
		}
		res.entries++
		if d.total.Add(1) > max {
			return nil, fail(fmt.Errorf("more than %d entries: %w", max, ErrTooManyEntries))
		}
		if ord&63 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := d.entry(res, i, uint32(ord), hdr, tr); err != nil {
			return nil, fail(err)
		}
	}
	// Read what follows the end-of-archive marker, so that the
	// decompressor checks its trailer (gzip CRC and size).
	if _, err := io.Copy(io.Discard, ts); err != nil {
		return nil, fail(err)
	}
	res.uncompressed = ts.n
	return res, nil
}

// next returns the next tar header. Names escaping the root are not errors
// here (whatever GODEBUG tarinsecurepath says): entry reports them.
func next(tr *tar.Reader) (*tar.Header, error) {
	hdr, err := tr.Next()
	if err == tar.ErrInsecurePath && hdr != nil {
		err = nil
	}
	return hdr, err
}

// cleanName cleans a tar name into an unrooted path ("" for the root). It
// reports false for names that climb above the root.
func cleanName(p string) (string, bool) {
	for {
		switch {
		case strings.HasPrefix(p, "/"):
			p = p[1:]
			continue
		case strings.HasPrefix(p, "./"):
			p = p[2:]
			continue
		}
		break
	}
	if p == "" {
		return "", true
	}
	c := path.Clean(p)
	switch {
	case c == ".":
		return "", true
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", false
	}
	return c, true
}

// escapes reports whether the literal symlink target, read from the
// unrooted directory dir, climbs above the root.
func escapes(dir, target string) bool {
	depth := 0
	if !strings.HasPrefix(target, "/") && dir != "" {
		depth = strings.Count(dir, "/") + 1
	}
	for target != "" {
		var c string
		c, target, _ = strings.Cut(target, "/")
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// entry decodes one tar header (and captures content) into res.
func (d *decoder) entry(res *layerResult, layer int, ord uint32, hdr *tar.Header, tr io.Reader) error {
	name, ok := cleanName(hdr.Name)
	if !ok {
		res.anomaly(layer, hdr.Name, AnomalyUnsafeName, "name climbs above the image root; entry skipped")
		return nil
	}
	dir, base := splitDir(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		switch {
		case base == opaqueMarker:
			res.add(dir, nil, opOpaque)
		case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
			res.anomaly(layer, "/"+name, AnomalyBadWhiteout, "AUFS metadata entry; ignored")
		case base == whiteoutPrefix:
			res.anomaly(layer, "/"+name, AnomalyBadWhiteout, "whiteout names nothing; ignored")
		default:
			target := strings.Clone(base[len(whiteoutPrefix):])
			res.add(dir, &node{s: target, nlen: uint16(min(len(target), maxNameLen))}, opWhiteout)
		}
		return nil
	}
	if len(base) > maxNameLen {
		res.anomaly(layer, hdr.Name, AnomalyUnsafeName, "name component longer than %d bytes; entry skipped", maxNameLen)
		return nil
	}
	typ := hdr.Typeflag
	switch typ {
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeGNUSparse:
		typ = TypeReg
	case TypeDir, TypeSymlink, TypeChar, TypeBlock, TypeFifo, tar.TypeLink:
	default:
		res.anomaly(layer, "/"+name, AnomalyUnsupportedType, "tar type %q; entry skipped", typ)
		return nil
	}
	n := &node{
		typ:   typ,
		mode:  uint16(hdr.Mode & 0o7777),
		uid:   clampID(hdr.Uid),
		gid:   clampID(hdr.Gid),
		mtime: clampTime(hdr.ModTime.Unix()),
		ord:   ord,
		layer: uint16(layer),
		nlen:  uint16(len(base)),
	}
	if name == "" {
		if typ != TypeDir {
			res.anomaly(layer, "/", AnomalyUnsupportedType, "non-directory (type %q) at the image root; entry skipped", typ)
			return nil
		}
		res.add("", n, opRoot)
		return nil
	}
	switch typ {
	case TypeSymlink:
		n.s = base + hdr.Linkname
		if escapes(dir, hdr.Linkname) {
			res.anomaly(layer, "/"+name, AnomalyEscapingLink, "symlink target %q climbs above the image root; resolved clamped at /", hdr.Linkname)
		}
	default:
		n.s = strings.Clone(base)
	}
	switch typ {
	case tar.TypeLink:
		target, ok := cleanName(hdr.Linkname)
		if !ok || target == "" {
			res.anomaly(layer, "/"+name, AnomalyDanglingHardlink, "hard link target %q is outside the image; entry skipped", hdr.Linkname)
			return nil
		}
		n.s = base + target
		res.add(dir, n, opHardlink)
		return nil
	case TypeReg:
		n.size = hdr.Size
		if err := d.capture(n, name, tr); err != nil {
			return fmt.Errorf("reading %q: %w", hdr.Name, err)
		}
	}
	res.add(dir, n, opAdd)
	return nil
}

// clampTime fits unix seconds in a node's mtime.
func clampTime(t int64) uint32 {
	return uint32(min(max(t, 0), math.MaxUint32))
}

func clampID(id int) uint32 {
	if id < 0 || id > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(id)
}

// capture keeps the start (or all) of a regular file's content, as Options
// ask.
func (d *decoder) capture(n *node, name string, tr io.Reader) error {
	size := n.size
	if size <= 0 {
		return nil
	}
	var want int64
	if d.opts.Capture != nil && d.opts.Capture("/"+name, size) {
		want = min(size, d.opts.MaxCapture)
	}
	head := int64(d.opts.HeadSize)
	headed := head > 0 && (n.mode&0o111 != 0 || strings.HasPrefix(name, "opt/extensions/"))
	if headed && want < head {
		want = min(size, head)
	}
	if want == 0 {
		return nil
	}
	buf := make([]byte, want)
	if _, err := io.ReadFull(tr, buf); err != nil {
		return noEOF(err)
	}
	if headed && want < size && want < ElfHeadMax {
		// Extend ELF captures to the program headers, then to the
		// interpreter path, within ElfHeadMax.
		for range 2 {
			need := min(elfNeed(buf), size, ElfHeadMax)
			if need <= int64(len(buf)) {
				break
			}
			more := make([]byte, need)
			copy(more, buf)
			if _, err := io.ReadFull(tr, more[len(buf):]); err != nil {
				return noEOF(err)
			}
			buf = more
		}
	}
	n.extra = &nodeExtra{data: buf}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// elfNeed returns how many bytes from the start of an ELF file hold its
// program headers and, once those are in head, its PT_INTERP string. It
// returns 0 for non-ELF content.
func elfNeed(head []byte) int64 {
	if len(head) < 52 || string(head[:4]) != "\x7fELF" {
		return 0
	}
	var bo binary.ByteOrder
	switch head[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return 0
	}
	var phoff, phentsize, phnum uint64
	is64 := head[4] == 2
	switch {
	case is64 && len(head) >= 64:
		phoff = bo.Uint64(head[0x20:])
		phentsize = uint64(bo.Uint16(head[0x36:]))
		phnum = uint64(bo.Uint16(head[0x38:]))
	case head[4] == 1:
		phoff = uint64(bo.Uint32(head[0x1c:]))
		phentsize = uint64(bo.Uint16(head[0x2a:]))
		phnum = uint64(bo.Uint16(head[0x2c:]))
	default:
		return 0
	}
	if phoff >= ElfHeadMax || phentsize == 0 || phentsize > ElfHeadMax || phnum > ElfHeadMax {
		return 0
	}
	end := phoff + phentsize*phnum
	if end > uint64(len(head)) {
		return int64(end)
	}
	// Program headers are in head: look for PT_INTERP (type 3).
	for k := range phnum {
		ph := head[phoff+k*phentsize : phoff+(k+1)*phentsize]
		if len(ph) < 4 || bo.Uint32(ph) != 3 {
			continue
		}
		var off, sz uint64
		switch {
		case is64 && len(ph) >= 40:
			off, sz = bo.Uint64(ph[8:]), bo.Uint64(ph[32:])
		case !is64 && len(ph) >= 20:
			off, sz = uint64(bo.Uint32(ph[4:])), uint64(bo.Uint32(ph[16:]))
		default:
			return int64(end)
		}
		if off < ElfHeadMax && sz < ElfHeadMax {
			return int64(max(end, off+sz))
		}
		return int64(end)
	}
	return int64(end)
}
