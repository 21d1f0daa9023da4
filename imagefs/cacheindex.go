package imagefs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
)

// How Build uses the Cache (see cache.go for the files): before decoding a
// layer it looks for the layer's entries and access parts; when both are
// there the layer is not opened at all (its blob is opened later, only if
// a read needs content that was not captured). Otherwise the layer is
// decoded, hashing its blob and tar stream on the way, and both parts are
// written when the hashes match the digests they are filed under.

// Cache file kinds.
const (
	kindEntries = "ENTR"
	kindAccess  = "ACCS"
)

// sha256DigestRE matches the digests layers are filed under.
var sha256DigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// cacheKeys returns the keys of l's entries and access parts under opts
// (with defaults applied), and false when l cannot be cached: no cache, no
// usable DiffID, or a Capture function without a CaptureKey naming it.
func cacheKeys(opts Options, l Layer) (entries, access string, ok bool) {
	if opts.Cache == nil || !sha256DigestRE.MatchString(l.DiffID) || opts.Capture != nil && opts.CaptureKey == "" {
		return "", "", false
	}
	entries = fmt.Sprintf("entries\x00%s\x00head=%d maxcapture=%d elfhead=%d capture=%s",
		l.DiffID, opts.HeadSize, opts.MaxCapture, ElfHeadMax, opts.CaptureKey)
	blob := l.Digest
	if blob == "" {
		blob = l.DiffID
	}
	return entries, accessKey(l.DiffID, blob, opts.CheckpointEvery), true
}

func accessKey(diffID, blob string, every int64) string {
	return fmt.Sprintf("access\x00%s\x00%s\x00every=%d", diffID, blob, every)
}

// layer returns layer i's pass result: from the cache when it holds the
// layer, else from decoding it (and then storing it in the cache).
func (d *decoder) layer(ctx context.Context, i int, l Layer) (*layerResult, error) {
	ek, ak, ok := cacheKeys(d.opts, l)
	if !ok {
		return d.decode(ctx, i, l, nil)
	}
	if res := d.loadCached(i, l, ek, ak); res != nil {
		if limit := int64(d.opts.MaxEntries); d.total.Add(int64(res.entries)) > limit {
			return nil, &LayerError{Index: i, Digest: l.Digest, Err: d.tooMany()}
		}
		d.fs.cacheHits.Add(1)
		return res, nil
	}
	h := &passHash{blob: sha256.New()}
	res, err := d.decode(ctx, i, l, h)
	if err != nil {
		return nil, err
	}
	d.storeCached(l, res, h, ek)
	return res, nil
}

// passHash hashes what a pass reads: the blob and, when it is compressed,
// the tar stream.
type passHash struct {
	blob, tar hash.Hash
}

// blobReader returns r, hashing what is read from it into h.blob.
func (h *passHash) blobReader(r io.Reader) io.Reader {
	if h == nil {
		return r
	}
	return io.TeeReader(r, h.blob)
}

// tarWriter returns w, hashing what is written to it into h.tar.
func (h *passHash) tarWriter(w io.Writer) io.Writer {
	if h == nil {
		return w
	}
	h.tar = sha256.New()
	return io.MultiWriter(w, h.tar)
}

func digestOf(h hash.Hash) string {
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// storeCached writes res to the cache when the pass's hashes are the
// layer's DiffID; the access part is filed under the blob's computed
// digest. Failures leave the cache as it was: they are not the user's
// problem.
func (d *decoder) storeCached(l Layer, res *layerResult, h *passHash, entriesKey string) {
	tarDigest := digestOf(h.blob)
	if h.tar != nil {
		tarDigest = digestOf(h.tar)
	} else if res.access.comp != compNone {
		return
	}
	if tarDigest != l.DiffID {
		return // a config that lies about its diff_ids, or a bug: never file it
	}
	res.access.verified = true
	c := d.opts.Cache
	if err := c.write(kindEntries, entriesKey, encodeEntries(res), nil); err != nil {
		return
	}
	meta, tail := d.encodeAccess(&res.access)
	c.write(kindAccess, accessKey(l.DiffID, digestOf(h.blob), d.opts.CheckpointEvery), meta, tail)
}

// Entries part encoding: uvarints and length-prefixed strings.
//
//	uncompressed entries dropped
//	nanomalies { kind path detail }
//	nrecords { op dir' [node] }
//
// dir' is 0 for the previous record's directory, else len+1 and the bytes.
// A whiteout's node is its name; other nodes are typ mode uid gid mtime off
// flags nlen s size data', data' being 0 for no capture, else len+1 and the
// bytes. Layer indexes are not stored: a layer may sit at another position
// in another image.

type encoder struct{ b []byte }

func (e *encoder) u(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) str(s string) { e.u(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) byte1(c byte) { e.b = append(e.b, c) }
func (e *encoder) i(v int64)    { e.u(uint64(v)) }
func (e *encoder) opt(p []byte) { e.optLen(p); e.b = append(e.b, p...) }
func (e *encoder) optLen(p []byte) {
	if p == nil {
		e.u(0)
		return
	}
	e.u(uint64(len(p)) + 1)
}

func encodeEntries(res *layerResult) []byte {
	n := 0
	for _, ch := range res.chunks {
		n += len(ch)
	}
	e := &encoder{b: make([]byte, 0, 64+n*48)}
	e.i(res.uncompressed)
	e.u(uint64(res.entries))
	e.u(uint64(res.dropped))
	e.u(uint64(len(res.anomalies)))
	for _, a := range res.anomalies {
		e.str(string(a.Kind))
		e.str(a.Path)
		e.str(a.Detail)
	}
	e.u(uint64(n))
	prev := ""
	first := true
	for _, ch := range res.chunks {
		for _, r := range ch {
			e.byte1(r.op)
			if !first && r.dir == prev {
				e.u(0)
			} else {
				e.u(uint64(len(r.dir)) + 1)
				e.b = append(e.b, r.dir...)
				prev, first = r.dir, false
			}
			switch r.op {
			case opOpaque:
			case opWhiteout:
				e.str(r.n.name())
			default:
				x := r.n
				e.byte1(x.typ)
				e.u(uint64(x.mode))
				e.u(uint64(x.uid))
				e.u(uint64(x.gid))
				e.u(uint64(x.mtime))
				e.u(uint64(x.off))
				e.byte1(x.flags)
				e.u(uint64(x.nlen))
				e.str(x.s)
				e.i(x.size)
				e.opt(x.data())
				e.opt(x.elfSummary())
			}
		}
	}
	return e.b
}

// errCacheFormat is metadata that does not decode: with a sound checksum,
// only a bug writes it, but it must never crash a reader.
var errCacheFormat = errors.New("malformed cache entry")

type decoderBuf struct {
	b   []byte
	s   string // b as a string, for substrings that share its memory
	pos int
	err error
}

func (r *decoderBuf) u() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		r.err = errCacheFormat
		return 0
	}
	r.pos += n
	return v
}

func (r *decoderBuf) take(n uint64) (int, int) {
	if r.err != nil || n > uint64(len(r.b)-r.pos) {
		r.err = errCacheFormat
		return 0, 0
	}
	start := r.pos
	r.pos += int(n)
	return start, r.pos
}

func (r *decoderBuf) str() string {
	a, b := r.take(r.u())
	return r.s[a:b]
}

func (r *decoderBuf) byte1() byte {
	a, _ := r.take(1)
	if r.err != nil {
		return 0
	}
	return r.b[a]
}

// bounded reads a uvarint that must be at most max.
func (r *decoderBuf) bounded(max uint64) uint64 {
	v := r.u()
	if v > max {
		r.err = errCacheFormat
		return 0
	}
	return v
}

func decodeEntries(b []byte, layer int) (*layerResult, error) {
	r := &decoderBuf{b: b, s: string(b)}
	res := &layerResult{}
	res.uncompressed = int64(r.bounded(1 << 62))
	res.entries = int(r.bounded(1 << 32))
	res.dropped = int(r.bounded(1 << 32))
	na := r.bounded(maxAnomaliesPerLayer)
	for range na {
		a := Anomaly{Layer: layer, Kind: AnomalyKind(r.str()), Path: r.str(), Detail: r.str()}
		res.anomalies = append(res.anomalies, a)
	}
	nr := r.bounded(uint64(len(b)))
	dir := ""
	for k := uint64(0); k < nr && r.err == nil; k++ {
		op := r.byte1()
		if l := r.u(); l > 0 {
			a, e := r.take(l - 1)
			dir = r.s[a:e]
		} else if k == 0 {
			r.err = errCacheFormat
		}
		switch op {
		case opOpaque:
			res.add(dir, nil, op)
		case opWhiteout:
			name := r.str()
			res.add(dir, &node{s: name, nlen: uint16(min(len(name), NameMax))}, op)
		case opAdd, opHardlink, opRoot:
			n := &node{layer: uint16(layer)}
			n.typ = r.byte1()
			n.mode = uint16(r.bounded(0o7777))
			n.uid = uint32(r.bounded(1<<32 - 1))
			n.gid = uint32(r.bounded(1<<32 - 1))
			n.mtime = uint32(r.bounded(1<<32 - 1))
			n.off = uint32(r.bounded(1<<32 - 1))
			n.flags = r.byte1()
			n.nlen = uint16(r.bounded(NameMax))
			n.s = r.str()
			n.size = int64(r.bounded(1 << 62))
			if l := r.u(); l > 0 {
				a, e := r.take(l - 1)
				if r.err == nil {
					n.extra = &nodeExtra{data: b[a:e:e]}
				}
			}
			if l := r.u(); l > 0 {
				a, e := r.take(l - 1)
				if r.err == nil {
					if n.extra == nil {
						n.extra = &nodeExtra{}
					}
					n.extra.elf = b[a:e:e]
				}
			}
			if int(n.nlen) > len(n.s) || op == opRoot && n.typ != TypeDir {
				r.err = errCacheFormat
			}
			res.add(dir, n, op)
		default:
			r.err = errCacheFormat
		}
	}
	if r.err == nil && r.pos != len(b) {
		r.err = errCacheFormat
	}
	if r.err != nil {
		return nil, r.err
	}
	return res, nil
}

// Access part encoding: the windows are the file's tail, in restart-point
// order; the metadata is
//
//	comp size every ncps { unc comp win winLen bit member crc32 probeLen probe }
//
// with win relative to the tail, and probe the first probeLen (at most 64)
// bytes the pass saw after the restart point, which its first use checks
// (see layerAccess.setPoints). Restart points found wrong are left out.

// encodeAccess returns the metadata of acc and a writer of its windows,
// copied from the FS's window store. The windows' CRCs are patched into the
// metadata as the tail writer copies them (the file's metadata is written
// after its tail).
func (d *decoder) encodeAccess(acc *layerAccess) ([]byte, func(io.Writer) (int64, error)) {
	var cps []checkpoint
	var probes []probe
	for k, cp := range acc.cps {
		if acc.proof[k].Load() == cpWrong {
			continue
		}
		cps = append(cps, cp)
		var pr probe
		if k < len(acc.probes) {
			pr = acc.probes[k]
		}
		probes = append(probes, pr)
	}
	e := &encoder{}
	e.byte1(acc.comp)
	e.i(acc.size)
	e.u(uint64(d.opts.CheckpointEvery))
	e.u(uint64(len(cps)))
	crcAt := make([]int, len(cps))
	var off int64
	for k, cp := range cps {
		rel := int64(0)
		if cp.winLen > 0 {
			rel = off
			off += int64(cp.winLen)
		}
		e.i(cp.unc)
		e.i(cp.comp)
		e.i(rel)
		e.u(uint64(cp.winLen))
		e.byte1(cp.bit)
		e.byte1(boolByte(cp.member))
		crcAt[k] = len(e.b)
		e.b = append(e.b, 0, 0, 0, 0)
		e.byte1(byte(probes[k].n))
		e.b = append(e.b, probes[k].b[:probes[k].n]...)
	}
	meta := e.b
	tail := func(w io.Writer) (int64, error) {
		var n int64
		var buf []byte // one window at a time, reused
		for k, cp := range cps {
			if cp.winLen == 0 {
				continue
			}
			if cap(buf) < int(cp.winLen) {
				buf = make([]byte, cp.winLen)
			}
			win := buf[:cp.winLen]
			if err := d.fs.store.getInto(win, cp.win); err != nil {
				return n, err
			}
			binary.LittleEndian.PutUint32(meta[crcAt[k]:], crc32.ChecksumIEEE(win))
			m, err := w.Write(win)
			n += int64(m)
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	return meta, tail
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// decodeAccess decodes an access part whose windows are the tail of f.
func decodeAccess(cf *cacheFile, every int64) (layerAccess, *cachedWindows, error) {
	r := &decoderBuf{b: cf.meta}
	var acc layerAccess
	acc.comp = r.byte1()
	acc.size = int64(r.bounded(1 << 62))
	if int64(r.u()) != every && r.err == nil {
		r.err = errCacheFormat
	}
	n := r.bounded(uint64(len(cf.meta)))
	w := &cachedWindows{f: cf.f, base: cf.tailOff, crc: make(map[int64]uint32)}
	var last int64 = -1
	var cps []checkpoint
	var probes []probe
	for range n {
		var cp checkpoint
		cp.unc = int64(r.bounded(1 << 62))
		cp.comp = int64(r.bounded(1 << 62))
		cp.win = int64(r.bounded(1 << 62))
		cp.winLen = int32(r.bounded(maxWindow))
		cp.bit = r.byte1()
		cp.member = r.byte1() == 1
		a, e := r.take(4)
		var pr probe
		pr.n = int(r.byte1())
		if pr.n > len(pr.b) {
			r.err = errCacheFormat
		}
		if r.err != nil {
			break
		}
		pa, pe := r.take(uint64(pr.n))
		if r.err != nil {
			break
		}
		copy(pr.b[:], cf.meta[pa:pe])
		if cp.unc <= last || cp.comp > acc.size || cp.bit > 7 || cp.win+int64(cp.winLen) > cf.tail {
			r.err = errCacheFormat
			break
		}
		last = cp.unc
		w.crc[cp.win] = binary.LittleEndian.Uint32(cf.meta[a:e])
		cps = append(cps, cp)
		probes = append(probes, pr)
	}
	acc.setPoints(cps, probes)
	if r.err == nil && (r.pos != len(cf.meta) || acc.comp > compZstd) {
		r.err = errCacheFormat
	}
	if r.err != nil {
		return layerAccess{}, nil, r.err
	}
	return acc, w, nil
}

// errBadWindow is a cached window whose CRC does not match.
var errBadWindow = errors.New("cached restart-point window is corrupt")

// cachedWindows reads restart-point windows from a cache file, at their
// offsets, checking each one's CRC.
type cachedWindows struct {
	f    *os.File
	base int64
	crc  map[int64]uint32
	// onBad runs once when a window fails its CRC.
	onBad   func()
	badOnce sync.Once
}

func (w *cachedWindows) get(off int64, n int32) ([]byte, error) {
	b := make([]byte, n)
	if _, err := w.f.ReadAt(b, w.base+off); err != nil {
		return nil, fmt.Errorf("reading the cached restart points: %w", err)
	}
	if crc32.ChecksumIEEE(b) != w.crc[off] {
		if w.onBad != nil {
			w.badOnce.Do(w.onBad)
		}
		return nil, errBadWindow
	}
	return b, nil
}

// loadCached returns layer i's pass result from the cache, nil when the
// cache does not hold both its parts soundly.
func (d *decoder) loadCached(i int, l Layer, entriesKey, accessK string) *layerResult {
	c := d.opts.Cache
	ef, err := c.open(kindEntries, entriesKey)
	if err != nil {
		return nil
	}
	ef.f.Close()
	af, err := c.open(kindAccess, accessK)
	if err != nil && (l.Digest == "" || l.Digest == l.DiffID) {
		// The source does not know the blob's digest (legacy archives
		// with compressed layers name them by DiffID): the restart points
		// are looked for when a read first needs the layer.
		res, err := decodeEntries(ef.meta, i)
		if err != nil {
			c.discard(ef.f.Name())
			return nil
		}
		open := d.fs.lazyBlob(l, -1, d.opts.TempDir)
		res.access = layerAccess{open: open, deferred: &deferredAccess{load: func() (*layerAccess, error) {
			return d.findAccess(l, open)
		}}, known: learned(c, l)}
		return res
	}
	if err != nil {
		return nil
	}
	acc, wins, err := decodeAccess(af, d.opts.CheckpointEvery)
	if err != nil || l.Size >= 0 && l.Size != acc.size {
		af.f.Close()
		c.discard(af.f.Name())
		return nil
	}
	res, err := decodeEntries(ef.meta, i)
	if err != nil {
		af.f.Close()
		c.discard(ef.f.Name())
		return nil
	}
	if len(acc.cps) > 0 {
		accPath := af.f.Name()
		wins.onBad = func() { c.discard(accPath) }
		acc.windows = wins
		d.fs.onClose(af.f.Close)
	} else {
		af.f.Close()
	}
	acc.open = d.fs.lazyBlob(l, acc.size, d.opts.TempDir)
	if acc.comp == compZstd {
		acc.zstd = &zstdAccess{dir: d.opts.TempDir}
	}
	acc.known = learned(c, l)
	res.access = acc
	return res
}

// lazyBlob returns an open function for a layer whose pass result came from
// the cache: the blob is opened only when content must be read. A blob the
// source can only stream is copied once to an unlinked file in tempDir.
func (f *FS) lazyBlob(l Layer, size int64, tempDir string) func() (io.ReaderAt, func() error, error) {
	var mu sync.Mutex
	var spooled *os.File
	return func() (io.ReaderAt, func() error, error) {
		mu.Lock()
		defer mu.Unlock()
		if spooled != nil {
			return spooled, func() error { return nil }, nil
		}
		if l.Open == nil {
			return nil, nil, errors.New("layer has no content")
		}
		raw, err := l.Open()
		if err != nil {
			return nil, nil, err
		}
		f.blobOpens.Add(1)
		if ra, n, ok := randomAccess(raw); ok {
			if size >= 0 && n != size {
				raw.Close()
				return nil, nil, fmt.Errorf("the blob has %d bytes, the cached index was made from %d", n, size)
			}
			return ra, raw.Close, nil
		}
		sp, err := newSpool(tempDir)
		if err != nil {
			raw.Close()
			return nil, nil, fmt.Errorf("creating a spool file: %w", err)
		}
		_, err = io.Copy(sp, raw)
		raw.Close()
		if err == nil && size >= 0 && sp.n != size {
			err = fmt.Errorf("the blob has %d bytes, the cached index was made from %d", sp.n, size)
		}
		if err != nil {
			sp.f.Close()
			return nil, nil, err
		}
		f.onClose(sp.f.Close)
		spooled = sp.f
		return spooled, func() error { return nil }, nil
	}
}

// cacheCounters count what the cache saved an FS.
type cacheCounters struct {
	cacheHits atomic.Int64
	blobOpens atomic.Int64
}

// deferredAccess finds a layer's access once, when a read first needs it.
type deferredAccess struct {
	once sync.Once
	acc  *layerAccess
	err  error
	load func() (*layerAccess, error)
}

func (a *deferredAccess) get() (*layerAccess, error) {
	a.once.Do(func() { a.acc, a.err = a.load() })
	return a.acc, a.err
}

// findAccess returns the access of a cached layer whose blob digest the
// source did not say: the blob is hashed and its restart points taken from
// the cache, or recorded by one pass over the blob (and cached).
func (d *decoder) findAccess(l Layer, open func() (io.ReaderAt, func() error, error)) (*layerAccess, error) {
	ra, done, err := open()
	if err != nil {
		return nil, err
	}
	defer done()
	size, ok := readerSize(ra)
	if !ok {
		return nil, errors.New("the layer's blob has no size")
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
		return nil, err
	}
	blob := digestOf(h)
	c := d.opts.Cache
	key := accessKey(l.DiffID, blob, d.opts.CheckpointEvery)
	if af, err := c.open(kindAccess, key); err == nil {
		acc, wins, err := decodeAccess(af, d.opts.CheckpointEvery)
		if err == nil && acc.size == size {
			if len(acc.cps) > 0 {
				p := af.f.Name()
				wins.onBad = func() { c.discard(p) }
				acc.windows = wins
				d.fs.onClose(af.f.Close)
			} else {
				af.f.Close()
			}
			acc.open = open
			if acc.comp == compZstd {
				acc.zstd = &zstdAccess{dir: d.opts.TempDir}
			}
			return &acc, nil
		}
		af.f.Close()
		c.discard(af.f.Name())
	}
	// Record the restart points with one pass over the blob.
	acc := &layerAccess{open: open, size: size}
	ph := &passHash{blob: sha256.New()}
	cnt := &countingReader{r: ph.blobReader(io.NewSectionReader(ra, 0, size))}
	br := bufio.NewReaderSize(cnt, readBufSize)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		acc.comp = compGzip
		idx := &layerIndex{store: d.fs.store}
		pos := func() int64 { return cnt.n - int64(br.Buffered()) }
		if _, err := gunzipIndexed(br, pos, ph.tarWriter(capped(io.Discard, size)), d.opts.CheckpointEvery, idx); err != nil {
			return nil, fmt.Errorf("indexing the blob: %w", err)
		}
		acc.setPoints(idx.cps, idx.probes)
	} else {
		dec, release, err := decompress(br)
		if err != nil {
			return nil, err
		}
		defer release()
		var w io.Writer = io.Discard
		if dec != io.Reader(br) {
			acc.comp = compZstd
			acc.zstd = &zstdAccess{dir: d.opts.TempDir}
			w = ph.tarWriter(capped(io.Discard, size))
		}
		if _, err := dec.WriteTo(w); err != nil {
			return nil, fmt.Errorf("reading the blob: %w", err)
		}
	}
	tar := digestOf(ph.blob)
	if ph.tar != nil {
		tar = digestOf(ph.tar)
	}
	if tar == l.DiffID && digestOf(ph.blob) == blob {
		meta, tail := d.encodeAccess(acc)
		c.write(kindAccess, key, meta, tail)
	}
	return acc, nil
}

// readerSize returns the size of a blob opened for random access.
func readerSize(ra io.ReaderAt) (int64, bool) {
	switch r := ra.(type) {
	case sizedReaderAt:
		return r.Size(), true
	case *os.File:
		if fi, err := r.Stat(); err == nil {
			return fi.Size(), true
		}
	}
	return 0, false
}

// capped returns w, failing once more than a layer of size compressed
// bytes may expand to has been written (see maxExpansionRatio): the blob
// is only checked against the cached layer's DiffID after this pass.
func capped(w io.Writer, size int64) io.Writer {
	return &cappedWriter{w: w, size: size, left: min(expansionFloor+maxExpansionRatio*size, MaxImageBytes)}
}

type cappedWriter struct {
	w          io.Writer
	size, left int64
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		most := min(expansionFloor+maxExpansionRatio*c.size, MaxImageBytes)
		return 0, limitf("maxExpansionRatio", "the layer's %s of compressed data decompress to more than %s (%d times that beyond the first %s, at most %s): a decompression bomb",
			byteSize(c.size), byteSize(most), maxExpansionRatio, byteSize(expansionFloor), byteSize(MaxImageBytes))
	}
	c.left -= int64(len(p))
	return c.w.Write(p)
}
