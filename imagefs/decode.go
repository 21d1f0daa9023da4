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
	opHardlink             // add n under dir as a hard link to n.link()
	opWhiteout             // delete dir/n.name() from lower layers
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
	access  layerAccess
	chunks  [][]rec
	lastDir string
	// dirs interns the parent paths of records, so that records of one
	// directory share one string however the tar orders them, and no
	// record keeps its entry's whole name alive.
	dirs         map[string]string
	anomalies    []Anomaly
	dropped      int
	entries      int
	uncompressed int64
}

// add appends a record; it returns the bytes of a directory path it kept
// for the first time.
func (r *layerResult) add(dir string, n *node, op byte) (kept int) {
	if dir == r.lastDir {
		dir = r.lastDir
	} else {
		if c, ok := r.dirs[dir]; ok {
			dir = c
		} else {
			dir = strings.Clone(dir)
			if r.dirs == nil {
				r.dirs = make(map[string]string)
			}
			r.dirs[dir] = dir
			kept = len(dir)
		}
		r.lastDir = dir
	}
	last := len(r.chunks) - 1
	if last < 0 || len(r.chunks[last]) == recChunk {
		r.chunks = append(r.chunks, make([]rec, 0, recChunk))
		last++
	}
	r.chunks[last] = append(r.chunks[last], rec{dir: dir, n: n, op: op})
	return kept
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
	fs    *FS
	opts  Options
	total atomic.Int64 // entries seen over all layers, and implicit directories merged
	// imageBytes is the part of MaxImageBytes the layers reserved.
	imageBytes atomic.Int64
	// nameBytes counts the names, link targets and directory paths kept,
	// against MaxNameBytes.
	nameBytes atomic.Int64
	// plainLeft is what is left of the budget of decompressed copies
	// (Options.KeepDecompressed).
	plainLeft atomic.Int64
}

// tooMany is the error of an image past its entry budget.
func (d *decoder) tooMany() error {
	return &limitError{name: "Options.MaxEntries", also: ErrTooManyEntries,
		msg: fmt.Sprintf("more than %d entries over all layers (tar entries and the directories their paths imply)", d.opts.MaxEntries)}
}

// keepNames accounts n more bytes of names kept against MaxNameBytes.
func (d *decoder) keepNames(n int) error {
	if n > 0 && d.nameBytes.Add(int64(n)) > MaxNameBytes {
		return limitf("MaxNameBytes", "the layers' names and link targets take more than %s", byteSize(MaxNameBytes))
	}
	return nil
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

// decompressor is what decompress returns: gzip and zstd readers, and
// bufio.Reader for plain tar, are all io.WriterTo.
type decompressor interface {
	io.Reader
	io.WriterTo
}

// decompress sniffs the compression of br's stream and returns a reader of
// the tar stream and a function releasing the decompressor.
func decompress(br *bufio.Reader) (decompressor, func(), error) {
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(maxZstdWindow))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// decode reads layer i in one streaming pass, and records in res.access
// how to read its content again.
//
// h, when set, hashes the blob and the tar stream as they are read (for
// the cache: see layer).
func (d *decoder) decode(ctx context.Context, i int, l Layer, h *passHash) (*layerResult, error) {
	if l.Open == nil {
		return nil, &LayerError{Index: i, Digest: l.Digest, Err: errors.New("layer has no content")}
	}
	raw, err := l.Open()
	if err != nil {
		return nil, &LayerError{Index: i, Digest: l.Digest, Err: fmt.Errorf("opening: %w", err)}
	}
	defer raw.Close()
	res := &layerResult{}
	var blob io.Reader = raw
	if _, size, ok := randomAccess(raw); ok {
		res.access.open, res.access.size = reopener(l), size
	} else {
		// The source can only stream the blob (a registry): keep a copy
		// as it is read, for reads after the pass.
		sp, err := newSpool(d.opts.TempDir)
		if err != nil {
			return nil, &LayerError{Index: i, Digest: l.Digest, Err: fmt.Errorf("creating a spool file: %w", err)}
		}
		d.fs.onClose(sp.f.Close)
		blob = io.TeeReader(raw, sp)
		res.access.open = func() (io.ReaderAt, func() error, error) { return sp.f, func() error { return nil }, nil }
		defer func() { res.access.size = sp.n }()
	}
	src := &sourceReader{r: h.blobReader(blob)}
	fail := func(err error) error {
		if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			err = limitf("maxZstdWindow", "a zstd frame asks for a window larger than %s", byteSize(maxZstdWindow))
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrLimit):
			return &LayerError{Index: i, Digest: l.Digest, Err: err}
		case src.err != nil:
			return &LayerError{Index: i, Digest: l.Digest, Err: fmt.Errorf("reading: %w", src.err)}
		}
		return &LayerError{Index: i, Digest: l.Digest, Err: err, Corrupt: true}
	}
	cnt := &countingReader{r: src}
	br := bufio.NewReaderSize(cnt, readBufSize)

	limit := int64(d.opts.MaxEntries)
	sink := &tarSink{ctx: ctx}
	sink.entry = func(h *tarHeader, off int64) (capturePlan, error) {
		res.entries++
		if d.total.Add(1) > limit {
			return capturePlan{}, d.tooMany()
		}
		return d.entry(res, i, off, h)
	}
	// The tar stream may grow to expansionFloor plus maxExpansionRatio
	// times the compressed size (as declared, or as read so far if more),
	// within what is left of MaxImageBytes, reserved imageBudgetStep at a
	// time and given back at the end.
	var reserved int64
	defer func() { d.imageBytes.Add(sink.off - reserved) }()
	sink.grow = func(need int64) (int64, error) {
		// access.size is the blob's size when the source reads at
		// offsets, 0 until the end when it streams.
		comp := max(l.Size, cnt.n, res.access.size)
		floor := int64(expansionFloor)
		if d.opts.expansionFloor > 0 {
			floor = d.opts.expansionFloor
		}
		layerMax := floor + maxExpansionRatio*comp
		if need > layerMax {
			return 0, limitf("maxExpansionRatio", "the layer's %s of compressed data decompress to more than %s (%d times that beyond the first %s): a decompression bomb",
				byteSize(comp), byteSize(layerMax), maxExpansionRatio, byteSize(floor))
		}
		for reserved < need {
			reserved += imageBudgetStep
			if d.imageBytes.Add(imageBudgetStep) > MaxImageBytes {
				return 0, limitf("MaxImageBytes", "the layers decompress to more than %s, over Lambda's 10 GB limit on an image's uncompressed size", byteSize(MaxImageBytes))
			}
		}
		return min(layerMax, reserved), nil
	}
	// The stream is read to its end, so that the decompressor checks its
	// trailer (gzip CRC and size) and rejects trailing garbage.
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		res.access.comp = compGzip
		idx := &layerIndex{store: d.fs.store}
		pos := func() int64 { return cnt.n - int64(br.Buffered()) }
		w := h.tarWriter(sink)
		if d.copyLayer(l) {
			w = newPlainTee(d.fs, d.opts.TempDir, &d.plainLeft, w)
		}
		_, err := gunzipIndexed(br, pos, w, d.opts.CheckpointEvery, idx)
		if err != nil {
			return nil, fail(err)
		}
		if res.access.size == 0 {
			res.access.size = cnt.n // a spooled blob: all of it was read
		}
		res.access.setPoints(idx.cps, idx.probes)
		if t, ok := w.(*plainTee); ok {
			res.access.plain = t.finish(sink.off)
		}
	} else {
		dec, release, err := decompress(br)
		if err != nil {
			return nil, fail(err)
		}
		defer release()
		var w io.Writer = sink
		if dec != io.Reader(br) {
			res.access.comp = compZstd
			w = h.tarWriter(sink)
			res.access.zstd = &zstdAccess{dir: d.opts.TempDir}
			if d.copyLayer(l) {
				w = newPlainTee(d.fs, d.opts.TempDir, &d.plainLeft, w)
			}
		}
		if _, err := dec.WriteTo(w); err != nil {
			return nil, fail(err)
		}
		if t, ok := w.(*plainTee); ok {
			res.access.plain = t.finish(sink.off)
		}
	}
	if err := sink.finish(); err != nil {
		return nil, fail(err)
	}
	res.uncompressed = sink.off
	return res, nil
}

// copyLayer says whether to try keeping l's decompressed stream: not when
// its compressed size alone is over what is left of the budget (a layer
// decompresses to more than its compressed size but for a few bytes of
// framing).
func (d *decoder) copyLayer(l Layer) bool {
	left := d.plainLeft.Load()
	return left > 0 && l.Size <= left
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

// entry records the tar entry h, whose content starts at offset off of the
// layer's tar stream, into res, and says what to capture of its content.
func (d *decoder) entry(res *layerResult, layer int, off int64, h *tarHeader) (capturePlan, error) {
	if h.typ == 'g' {
		return capturePlan{}, nil // a global PAX header
	}
	name, ok := cleanName(h.name)
	if !ok {
		res.anomaly(layer, excerpt(h.name), AnomalyUnsafeName, "name climbs above the image root; entry skipped")
		return capturePlan{}, nil
	}
	if len(name)+1 >= PathMax {
		// An excerpt is no path: keep it as written, without a leading
		// slash (see Anomaly.Path).
		res.anomaly(layer, excerpt(h.name), AnomalyUnsafeName, "name of %d bytes, over Linux's PATH_MAX (%d bytes with its NUL); entry skipped", len(name)+1, PathMax)
		return capturePlan{}, nil
	}
	if c := longestComponent(name); c > NameMax {
		res.anomaly(layer, "/"+name, AnomalyUnsafeName, "a name component of %d bytes, over Linux's NAME_MAX (%d); entry skipped", c, NameMax)
		return capturePlan{}, nil
	}
	dir, base := splitDir(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		switch {
		case base == opaqueMarker:
			return capturePlan{}, d.keepNames(res.add(dir, nil, opOpaque))
		case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
			res.anomaly(layer, "/"+name, AnomalyBadWhiteout, "AUFS metadata entry; ignored")
		case base == whiteoutPrefix:
			res.anomaly(layer, "/"+name, AnomalyBadWhiteout, "whiteout names nothing; ignored")
		default:
			target := strings.Clone(base[len(whiteoutPrefix):])
			kept := res.add(dir, &node{s: target, nlen: uint16(len(target))}, opWhiteout)
			return capturePlan{}, d.keepNames(kept + len(target))
		}
		return capturePlan{}, nil
	}
	typ := h.typ
	switch typ {
	case TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		typ = TypeReg
	case TypeDir, TypeSymlink, TypeChar, TypeBlock, TypeFifo, tar.TypeLink:
	default:
		res.anomaly(layer, "/"+name, AnomalyUnsupportedType, "tar type %q; entry skipped", typ)
		return capturePlan{}, nil
	}
	n := &node{
		typ:   typ,
		mode:  uint16(h.mode & 0o7777),
		uid:   clampID(h.uid),
		gid:   clampID(h.gid),
		mtime: clampTime(h.mtime),
		off:   blockOffset(off),
		layer: uint16(layer),
		nlen:  uint16(len(base)),
	}
	if name == "" {
		if typ != TypeDir {
			res.anomaly(layer, "/", AnomalyUnsupportedType, "non-directory (type %q) at the image root; entry skipped", typ)
			return capturePlan{}, nil
		}
		res.add("", n, opRoot)
		return capturePlan{}, nil
	}
	switch typ {
	case TypeSymlink:
		if len(h.linkname) >= PathMax {
			res.anomaly(layer, "/"+name, AnomalyUnsafeName, "symlink target of %d bytes, over Linux's PATH_MAX (%d bytes with its NUL): %q; entry skipped", len(h.linkname), PathMax, excerpt(h.linkname))
			return capturePlan{}, nil
		}
		n.s = base + h.linkname
		if escapes(dir, h.linkname) {
			res.anomaly(layer, "/"+name, AnomalyEscapingLink, "symlink target %q climbs above the image root; resolved clamped at /", excerpt(h.linkname))
		}
	case tar.TypeLink:
		target, ok := cleanName(h.linkname)
		if !ok || target == "" {
			res.anomaly(layer, "/"+name, AnomalyDanglingHardlink, "hard link target %q is outside the image; entry skipped", excerpt(h.linkname))
			return capturePlan{}, nil
		}
		if len(target)+1 >= PathMax {
			res.anomaly(layer, "/"+name, AnomalyUnsafeName, "hard link target of %d bytes, over Linux's PATH_MAX (%d bytes with its NUL): %q; entry skipped", len(target)+1, PathMax, excerpt(target))
			return capturePlan{}, nil
		}
		n.s = base + target
		return capturePlan{}, d.keepNames(res.add(dir, n, opHardlink) + len(n.s))
	default:
		n.s = strings.Clone(base)
	}
	if err := d.keepNames(res.add(dir, n, opAdd) + len(n.s)); err != nil {
		return capturePlan{}, err
	}
	if typ != TypeReg {
		return capturePlan{}, nil
	}
	n.size = h.size
	if h.sparse {
		n.flags |= flagSparse
		res.anomaly(layer, "/"+name, AnomalySparseFile, "sparse file of %d bytes; kept, but its content cannot be read", h.size)
		return capturePlan{}, nil
	}
	return d.plan(n, name), nil
}

// longestComponent returns the length of p's longest component, or
// len(p) when that is at most NameMax (no component can be longer).
func longestComponent(p string) int {
	if len(p) <= NameMax {
		return len(p)
	}
	longest, cur := 0, 0
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			cur = 0
			continue
		}
		cur++
		longest = max(longest, cur)
	}
	return longest
}

// plan decides what to capture of a regular file's content, as Options
// ask.
func (d *decoder) plan(n *node, name string) capturePlan {
	size := n.size
	if size <= 0 {
		return capturePlan{}
	}
	// Every file that may be ELF is summarised as it streams by (see
	// elfinfo.Stream), so that the loader checks need not read it again.
	var sum *node
	if size >= minELFSize {
		sum = n
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
		return capturePlan{sum: sum}
	}
	// ELF captures extend to the program headers, then the interpreter
	// path, within ElfHeadMax.
	return capturePlan{n: n, want: want, elf: headed && want < size && want < ElfHeadMax, sum: sum}
}

// noOffset marks a content offset a node cannot store.
const noOffset = 1<<32 - 1

// blockOffset converts a content offset to the 512-byte block index a node
// stores, noOffset when it does not fit.
func blockOffset(off int64) uint32 {
	if off%blockSize != 0 || off/blockSize >= noOffset {
		return noOffset
	}
	return uint32(off / blockSize)
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
