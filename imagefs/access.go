package imagefs

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Reading file content after Build: each layer keeps how to reach its blob
// again (the source's own file when Open returns something that can be read
// at an offset, else a copy spooled while the pass read it) and, for gzip
// layers, the restart points the pass recorded. A read then costs the
// file's bytes plus at most Options.CheckpointEvery bytes of decompression
// (zstd layers, which have no restart points yet, are re-read from their
// start, and copied out decompressed if read from the start again: see
// zstdAccess). ReadFiles serves many files of a layer in one
// forward pass.

// Layer compressions.
const (
	compNone byte = iota
	compGzip
	compZstd
)

// layerAccess is how the content of one layer is read after the pass.
type layerAccess struct {
	comp byte
	// cps are the restart points of a gzip layer, by increasing unc;
	// probes[i] is the start of what the pass saw after cps[i], and
	// proof[i] whether cps[i] reproduced it (see setPoints).
	cps    []checkpoint
	probes []probe
	proof  []atomic.Uint32
	// open returns the raw blob for random access and a function closing
	// it; size is the blob's size.
	open func() (io.ReaderAt, func() error, error)
	size int64
	// windows, when set, holds the restart points' windows (a cache
	// file's); else they are in the FS's window store.
	windows *cachedWindows
	// known are bytes of the stream read by earlier inspections (see
	// learner), served without opening the layer.
	known []extent
	// verified is set when this pass hashed the layer's tar stream to its
	// DiffID: only then are reads learned for later inspections.
	verified bool
	// deferred, when set, makes the first read find the restart points
	// (a cached layer whose blob digest the source did not know).
	deferred *deferredAccess
	// zstd is set for zstd layers.
	zstd *zstdAccess
	// plain, when set, is the decompressed stream kept by the pass
	// (Options.KeepDecompressed): reads are served
	// from it.
	plain *plainCopy
}

// plainCopy is a layer's decompressed tar stream, in an unlinked
// temporary file.
type plainCopy struct {
	f    *os.File
	size int64
}

// plainTee writes the pass's decompressed stream to w and to a temporary
// file, within the budget left (shared by the layers decoded at once).
// When the budget runs out or the file cannot be written, the copy is
// dropped (its bytes given back) and the pass goes on.
type plainTee struct {
	w    io.Writer
	f    *os.File
	bw   *bufio.Writer
	left *atomic.Int64
	n    int64
	err  error
}

// plainCopyBuf is the buffer between the pass and a plain copy's file.
const plainCopyBuf = 64 << 10

// errPlainBudget drops a copy that would exceed the budget.
var errPlainBudget = errors.New("over the budget of decompressed copies")

func newPlainTee(f *FS, dir string, left *atomic.Int64, w io.Writer) io.Writer {
	tmp, err := os.CreateTemp(dir, "lambdoctor-plain-*")
	if err != nil {
		return w
	}
	os.Remove(tmp.Name())
	f.onClose(tmp.Close)
	return &plainTee{w: w, f: tmp, bw: bufio.NewWriterSize(tmp, plainCopyBuf), left: left}
}

func (t *plainTee) Write(p []byte) (int, error) {
	if t.err == nil {
		if t.left.Add(-int64(len(p))) < 0 {
			t.left.Add(int64(len(p)))
			t.drop(errPlainBudget)
		} else if _, err := t.bw.Write(p); err != nil {
			t.left.Add(int64(len(p)))
			t.drop(err)
		} else {
			t.n += int64(len(p))
		}
	}
	return t.w.Write(p)
}

// drop gives the copy up: its bytes go back to the budget and its file is
// emptied.
func (t *plainTee) drop(err error) {
	t.err = err
	t.left.Add(t.n)
	t.n = 0
	t.bw = nil
	t.f.Truncate(0)
}

// finish returns the copy when it holds the whole stream of size bytes.
func (t *plainTee) finish(size int64) *plainCopy {
	if t.err == nil {
		if err := t.bw.Flush(); err != nil {
			t.drop(err)
		} else if t.n != size {
			t.drop(fmt.Errorf("copied %d bytes of %d", t.n, size))
		}
	}
	t.bw = nil
	if t.err != nil {
		return nil
	}
	return &plainCopy{f: t.f, size: t.n}
}

// window returns the deflate window of cp.
func (a *layerAccess) window(f *FS, cp checkpoint) ([]byte, error) {
	if a.windows != nil {
		return a.windows.get(cp.win, cp.winLen)
	}
	return f.store.get(cp.win, cp.winLen)
}

// zstdAccess reads a zstd layer after the pass. zstd streams have no
// restart points inside a frame (and image layers are one frame), so the
// first read decompresses from the start; a layer read from its start a
// second time is decompressed once into an unlinked temporary file that
// serves every later read at offsets: reads after the pass never cost more
// than two decompressions of the layer.
type zstdAccess struct {
	dir      string
	restarts atomic.Int32
	once     sync.Once
	plain    *os.File
	size     int64
	err      error
}

// plainCopy returns the decompressed copy of the layer, making it from
// blob the first time.
func (z *zstdAccess) plainCopy(f *FS, blob io.ReaderAt, size int64) (*os.File, error) {
	z.once.Do(func() {
		dec, release, err := decompress(bufio.NewReaderSize(io.NewSectionReader(blob, 0, size), 64<<10))
		if err != nil {
			z.err = err
			return
		}
		defer release()
		tmp, err := os.CreateTemp(z.dir, "lambdoctor-zstd-*")
		if err != nil {
			z.err = fmt.Errorf("creating a temporary copy of a zstd layer: %w", err)
			return
		}
		os.Remove(tmp.Name())
		n, err := io.Copy(tmp, dec)
		f.readBytes.Add(n)
		if err != nil {
			tmp.Close()
			z.err = fmt.Errorf("decompressing a zstd layer into a temporary copy: %w", err)
			return
		}
		z.plain, z.size = tmp, n
		f.onClose(tmp.Close)
	})
	return z.plain, z.err
}

// layerIndex collects what the pass learns about a layer's content access.
type layerIndex struct {
	store  *windowStore
	cps    []checkpoint
	probes []probe // probes[i] is what follows cps[i]
}

// Proof states of a restart point (layerAccess.proof).
const (
	cpUntried uint32 = iota
	cpProven
	cpWrong
)

// setPoints gives a the restart points cps, with the probes of what
// follows each. A restart point is only ever used once proven, and it is
// proven by its first use (cursor.restartAt): decompressing from it must
// reproduce its probe, the first bytes the pass saw after it, else it is
// marked wrong and never used again. Proving them all at the end of the
// pass instead cost an inspection of the Debian + Python image 5% of its
// CPU, for reads that mostly never come (its checks read nothing the pass
// did not capture). The start of a gzip member needs no proof: its offset
// is exact.
func (a *layerAccess) setPoints(cps []checkpoint, probes []probe) {
	a.cps, a.probes = cps, probes
	a.proof = make([]atomic.Uint32, len(cps))
	for i, cp := range cps {
		if cp.member || i >= len(probes) {
			a.proof[i].Store(cpProven)
		}
	}
}

func (x *layerIndex) add(cp checkpoint) { x.cps = append(x.cps, cp) }

// before returns the index of the restart point to read offset off from:
// the last one at or before it, or -1 for the start of the blob.
func (a *layerAccess) before(off int64) int {
	return sort.Search(len(a.cps), func(i int) bool { return a.cps[i].unc > off }) - 1
}

// cpAt returns restart point i, the start of the blob for -1.
func (a *layerAccess) cpAt(i int) checkpoint {
	if i < 0 {
		return checkpoint{member: true}
	}
	return a.cps[i]
}

// windowStore keeps the deflate windows of restart points in a temporary
// file, so that memory does not grow with the image: 32 KiB per restart
// point.
type windowStore struct {
	dir  string
	mu   sync.Mutex
	f    *os.File
	size int64
	err  error
}

// put appends b and returns its offset.
func (s *windowStore) put(b []byte) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "lambdoctor-windows-*")
		if err != nil {
			s.err = fmt.Errorf("creating the restart-point store: %w", err)
			return 0, s.err
		}
		// Unlinked at once: the open descriptor keeps it, and nothing
		// stays behind whatever happens to the process.
		os.Remove(f.Name())
		s.f = f
	}
	off := s.size
	if _, err := s.f.WriteAt(b, off); err != nil {
		s.err = fmt.Errorf("writing the restart-point store: %w", err)
		return 0, s.err
	}
	s.size += int64(len(b))
	return off, nil
}

// getInto reads len(b) bytes at off into b.
func (s *windowStore) getInto(b []byte, off int64) error {
	s.mu.Lock()
	f := s.f
	s.mu.Unlock()
	if f == nil {
		return errors.New("restart-point store is closed")
	}
	if _, err := f.ReadAt(b, off); err != nil {
		return fmt.Errorf("reading the restart-point store: %w", err)
	}
	return nil
}

// get reads n bytes at off.
func (s *windowStore) get(off int64, n int32) ([]byte, error) {
	s.mu.Lock()
	f := s.f
	s.mu.Unlock()
	if f == nil {
		return nil, errors.New("restart-point store is closed")
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("reading the restart-point store: %w", err)
	}
	return b, nil
}

func (s *windowStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	s.err = errors.New("restart-point store is closed")
	return err
}

// sizedReaderAt is what a Layer's Open may return for its blob to be read
// at offsets directly (io.SectionReader is one; *os.File is handled too).
type sizedReaderAt interface {
	io.ReaderAt
	Size() int64
}

// randomAccess reports whether raw can be read at offsets, and its size.
func randomAccess(raw io.Reader) (io.ReaderAt, int64, bool) {
	switch r := raw.(type) {
	case sizedReaderAt:
		return r, r.Size(), true
	case *os.File:
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			return r, fi.Size(), true
		}
	}
	return nil, 0, false
}

// reopener returns an open function that re-opens l for random access.
func reopener(l Layer) func() (io.ReaderAt, func() error, error) {
	return func() (io.ReaderAt, func() error, error) {
		raw, err := l.Open()
		if err != nil {
			return nil, nil, err
		}
		ra, _, ok := randomAccess(raw)
		if !ok {
			raw.Close()
			return nil, nil, errors.New("the source no longer serves the layer at offsets")
		}
		return ra, raw.Close, nil
	}
}

// spool is a copy of a blob the source can only stream, written while the
// pass reads it. Its file is unlinked at once and lives until the FS is
// closed.
type spool struct {
	f *os.File
	n int64
}

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "lambdoctor-layer-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return &spool{f: f}, nil
}

func (s *spool) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.n += int64(n)
	return n, err
}

// Stats counts the decompression done by an FS.
type Stats struct {
	// PassBytes is the size of the uncompressed streams Build read: the
	// sum of the layers' UncompressedSize.
	PassBytes int64
	// ReadBytes is the uncompressed bytes produced by reads after Build
	// (the content returned and what was decompressed to reach it).
	ReadBytes int64
	// Reads counts the files read after Build that were not in memory.
	Reads int64
	// Restarts counts how many times a read started decompressing (at a
	// restart point or at the start of a layer).
	Restarts int64
	// CachedLayers counts the layers whose index came from the Cache
	// instead of a pass; BlobOpens counts the blobs of those layers that
	// reads had to open since.
	CachedLayers, BlobOpens int64
}

// Stats returns the FS's decompression counters.
func (f *FS) Stats() Stats {
	return Stats{
		PassBytes: f.passBytes,
		ReadBytes: f.readBytes.Load(),
		Reads:     f.reads.Load(),
		Restarts:  f.restarts.Load(),

		CachedLayers: f.cacheHits.Load(),
		BlobOpens:    f.blobOpens.Load(),
	}
}

// Close releases what Build kept to read content later (spooled blobs,
// restart points). Reading content after Close fails; metadata stays.
func (f *FS) Close() error {
	f.closeOnce.Do(func() {
		f.saveLearned()
		f.closeErr = f.store.close()
		f.mu.Lock()
		closers := f.closers
		f.closers = nil
		f.mu.Unlock()
		for _, c := range closers {
			if err := c(); err != nil && f.closeErr == nil {
				f.closeErr = err
			}
		}
		for i := range f.access {
			f.access[i].open = nil
		}
	})
	return f.closeErr
}

// onClose registers c to run when the FS is closed.
func (f *FS) onClose(c func() error) {
	f.mu.Lock()
	f.closers = append(f.closers, c)
	f.mu.Unlock()
}

// cursor reads one layer's uncompressed stream forward from any offset.
type cursor struct {
	f    *FS
	li   int
	acc  *layerAccess
	blob io.ReaderAt
	done func() error
	// r yields the stream from offset pos; release frees its decompressor.
	r       io.Reader
	pos     int64
	release func()
	// skipBuf receives what skip drops; allocated by the first skip, it
	// serves the cursor's every skip (one escaped to the heap per call).
	skipBuf []byte
}

func (f *FS) newCursor(li int) (*cursor, error) {
	if f.access[li].open == nil {
		return nil, errors.New("content is not readable after the filesystem was closed")
	}
	return &cursor{f: f, li: li}, nil
}

// openBlob opens the cursor's layer, the first time it must be read.
func (c *cursor) openBlob() error {
	acc := &c.f.access[c.li]
	if acc.open == nil {
		return errors.New("content is not readable after the filesystem was closed")
	}
	if acc.deferred != nil {
		var err error
		if acc, err = acc.deferred.get(); err != nil {
			return fmt.Errorf("opening layer %d (%s): %w", c.li, c.f.info[c.li].Digest, err)
		}
	}
	blob, done, err := acc.open()
	if err != nil {
		return fmt.Errorf("opening layer %d (%s): %w", c.li, c.f.info[c.li].Digest, err)
	}
	c.acc, c.blob, c.done = acc, blob, done
	return nil
}

// seek positions the cursor at offset off of the uncompressed stream,
// choosing between reading on and restarting at a restart point.
func (c *cursor) seek(off int64) error {
	if c.r != nil && c.pos == off {
		return nil
	}
	if p := c.f.access[c.li].plain; p != nil {
		c.close()
		c.r, c.pos = io.NewSectionReader(p.f, off, max(p.size-off, 0)), off
		return nil
	}
	if c.blob == nil {
		if err := c.openBlob(); err != nil {
			return err
		}
	}
	switch c.acc.comp {
	case compNone:
		c.r, c.pos = io.NewSectionReader(c.blob, off, max(c.acc.size-off, 0)), off
		return nil
	case compGzip:
		i := c.acc.before(off)
		if c.r == nil || off < c.pos || c.acc.cpAt(i).unc > c.pos {
			if err := c.restartAt(i); err != nil {
				return err
			}
		}
	case compZstd:
		if c.r == nil || off < c.pos {
			if c.acc.zstd.restarts.Add(1) > 1 {
				plain, err := c.acc.zstd.plainCopy(c.f, c.blob, c.acc.size)
				if err != nil {
					return err
				}
				c.close()
				c.r, c.pos = io.NewSectionReader(plain, off, max(c.acc.zstd.size-off, 0)), off
				return nil
			}
			if err := c.restart(checkpoint{member: true}); err != nil {
				return err
			}
		}
	}
	return c.skip(off - c.pos)
}

// restartAt starts decompressing at restart point i of a gzip layer (-1
// for the start of the blob), or at the last one before it that proves
// right (see setPoints).
func (c *cursor) restartAt(i int) error {
	for ; ; i-- {
		if i >= 0 && c.acc.proof[i].Load() == cpWrong {
			continue
		}
		if err := c.restart(c.acc.cpAt(i)); err != nil {
			return err
		}
		if i < 0 || c.acc.proof[i].Load() == cpProven || c.prove(i) {
			return nil
		}
		c.acc.proof[i].Store(cpWrong)
	}
}

// prove reads what follows restart point i, where the cursor was just
// restarted, and compares it with the probe the pass recorded: when they
// match, the restart point is marked proven and the bytes read are served
// again by the cursor; otherwise (different bytes, or a decompression
// error) it reports false.
func (c *cursor) prove(i int) bool {
	pr := &c.acc.probes[i]
	got := make([]byte, pr.n)
	if _, err := io.ReadFull(c.r, got); err != nil || !bytes.Equal(got, pr.b[:pr.n]) {
		return false
	}
	c.acc.proof[i].Store(cpProven)
	c.r = io.MultiReader(bytes.NewReader(got), c.r)
	return true
}

// restart starts decompressing at cp.
func (c *cursor) restart(cp checkpoint) error {
	c.close()
	c.f.restarts.Add(1)
	switch c.acc.comp {
	case compGzip:
		var win []byte
		if cp.winLen > 0 {
			var err error
			win, err = c.acc.window(c.f, cp)
			switch {
			case errors.Is(err, errBadWindow):
				// A corrupt cache file: read from the start of the
				// layer instead (the file is removed).
				cp, win = checkpoint{member: true}, nil
			case err != nil:
				return err
			}
		}
		c.r, c.release = newGzipResumer(c.blob, c.acc.size, cp, win), func() {}
	default:
		dec, release, err := decompress(bufio.NewReaderSize(io.NewSectionReader(c.blob, 0, c.acc.size), 64<<10))
		if err != nil {
			return err
		}
		c.r, c.release = dec, release
	}
	c.pos = cp.unc
	return nil
}

// skip reads and drops n bytes.
func (c *cursor) skip(n int64) error {
	if n <= 0 {
		return nil
	}
	if c.skipBuf == nil {
		c.skipBuf = make([]byte, 32<<10)
	}
	buf := c.skipBuf
	for n > 0 {
		m, err := c.Read(buf[:min(int64(len(buf)), n)])
		n -= int64(m)
		if err == io.EOF && n > 0 {
			return io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// Read reads the stream at the cursor's position.
func (c *cursor) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.pos += int64(n)
	if _, plain := c.r.(*io.SectionReader); !plain {
		c.f.readBytes.Add(int64(n))
	}
	return n, err
}

func (c *cursor) close() {
	if c.release != nil {
		c.release()
	}
	c.r, c.release = nil, nil
}

// Close frees the cursor's decompressor and blob.
func (c *cursor) Close() error {
	c.close()
	if c.done != nil {
		d := c.done
		c.done = nil
		return d()
	}
	return nil
}

// content opens the content of the regular file n. Its layer is read from
// the restart point before the first byte Read asks for.
func (f *FS) content(n *node) (io.ReadCloser, error) {
	li, off, err := f.loc(n)
	if err != nil {
		return nil, err
	}
	c, err := f.newCursor(li)
	if err != nil {
		return nil, err
	}
	f.reads.Add(1)
	return newContentReader(c, f, off, n.size), nil
}

// loc returns the layer and byte offset of n's content.
func (f *FS) loc(n *node) (int, int64, error) {
	li, off := n.contentLoc()
	if n.flags&flagSparse != 0 {
		return 0, 0, fmt.Errorf("sparse file in layer %d (%s): %w", li, f.info[li].Digest, errors.ErrUnsupported)
	}
	if off == noOffset {
		return 0, 0, fmt.Errorf("file beyond 2 TiB in layer %d (%s): %w", li, f.info[li].Digest, errors.ErrUnsupported)
	}
	return li, int64(off) * blockSize, nil
}

func (f *FS) readError(li int, err error) error {
	return &LayerError{Index: li, Digest: f.info[li].Digest, Err: fmt.Errorf("re-reading: %w", noEOF(err)), Corrupt: true}
}

// contentReader reads one file's bytes from a cursor. It is an
// io.ReadSeeker: seeking forward reads on or jumps to a later restart
// point, whichever decompresses less; seeking back restarts at the restart
// point before the target.
type contentReader struct {
	c     *cursor
	fs    *FS
	start int64 // the file's offset in the layer's stream
	size  int64
	pos   int64 // offset in the file
	err   error // a failed seek, returned by the next Read
	// learned counts the bytes handed to the FS's learner.
	learned int64
}

func newContentReader(c *cursor, f *FS, start, size int64) *contentReader {
	return &contentReader{c: c, fs: f, start: start, size: size}
}

func (r *contentReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	left := r.size - r.pos
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	if b := extentAt(r.fs.access[r.c.li].known, r.start+r.pos); b != nil {
		n := copy(p, b)
		r.pos += int64(n)
		return n, nil
	}
	if r.c.r == nil || r.c.pos != r.start+r.pos {
		if err := r.c.seek(r.start + r.pos); err != nil {
			r.err = r.fs.readError(r.c.li, err)
			return 0, r.err
		}
	}
	n, err := r.c.Read(p)
	if r.learned < maxLearnedPerFile {
		k := min(int64(n), maxLearnedPerFile-r.learned)
		r.fs.learn.record(r.c.li, r.start+r.pos, p[:k])
		r.learned += k
	}
	r.pos += int64(n)
	if err == io.EOF {
		if r.pos < r.size {
			err = io.ErrUnexpectedEOF
		} else if n > 0 {
			err = nil
		}
	}
	return n, err
}

// Seek sets the offset of the next Read; the layer is positioned lazily,
// by that Read.
func (r *contentReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return r.pos, errors.New("seek: invalid whence")
	}
	if offset < 0 {
		return r.pos, errors.New("seek: negative position")
	}
	r.pos = offset
	return offset, nil
}

func (r *contentReader) Close() error { return r.c.Close() }

// ReadFiles calls fn with the content of the regular file each absolute
// path in paths resolves to (symlinks followed, as Open does). Files
// captured whole are served from memory first; the others are read layer
// by layer, in the order their content lies in the layer, each layer in
// one forward pass that restarts only where a restart point skips ahead.
// The reader passed to fn (an io.ReadSeeker: see Open) is valid during the
// call only; fn need not read it to the end. Paths that do not resolve to a regular file fail the call
// before anything is read. A path listed twice is read once. An error from
// fn stops the reading and is returned.
func (f *FS) ReadFiles(ctx context.Context, paths []string, fn func(abs string, r io.Reader) error) error {
	seen := make(map[string]bool, len(paths))
	distinct := make([]string, 0, len(paths))
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			distinct = append(distinct, p)
		}
	}
	return f.ReadFilesIndexed(ctx, distinct, func(i int, r io.Reader) error { return fn(distinct[i], r) })
}

// ReadFilesIndexed is ReadFiles for a list of distinct paths (a path listed
// twice is read twice), calling fn with the index of each path in paths:
// for a caller reading a whole tree (lambdoctor run's unpack), it needs no
// map from paths to what the caller keeps about them, and keeps no more
// than 24 bytes per path itself.
func (f *FS) ReadFilesIndexed(ctx context.Context, paths []string, fn func(i int, r io.Reader) error) error {
	type item struct {
		n   *node
		off int64
		li  int32
		i   int32
	}
	if len(paths) > math.MaxInt32 {
		return fmt.Errorf("reading %d files at once: more than %d", len(paths), math.MaxInt32)
	}
	items := make([]item, 0, len(paths))
	for i, p := range paths {
		w := f.walk(p, true, false)
		if w.err != nil {
			return &fs.PathError{Op: "read", Path: p, Err: w.err}
		}
		if w.node.typ != TypeReg {
			return &fs.PathError{Op: "read", Path: p, Err: errNotRegular}
		}
		it := item{n: w.node, li: -1, i: int32(i)}
		if !w.node.full() && w.node.size > 0 {
			li, off, err := f.loc(w.node)
			if err != nil {
				return &fs.PathError{Op: "read", Path: p, Err: err}
			}
			it.li, it.off = int32(li), off
		}
		items = append(items, it)
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.li, b.li); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	})
	var c *cursor
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if it.li < 0 {
			if err := fn(int(it.i), bytes.NewReader(it.n.data())); err != nil {
				return err
			}
			continue
		}
		if c == nil || c.li != int(it.li) {
			if c != nil {
				c.Close()
			}
			var err error
			if c, err = f.newCursor(int(it.li)); err != nil {
				c = nil
				return err
			}
		}
		f.reads.Add(1)
		cr := newContentReader(c, f, it.off, it.n.size)
		if err := fn(int(it.i), cr); err != nil {
			return err
		}
	}
	return nil
}

// errNotRegular is the error of reading the content of a non-regular
// file.
var errNotRegular = errors.New("not a regular file")

// counters are the FS's Stats.
type counters struct {
	passBytes int64
	readBytes atomic.Int64
	reads     atomic.Int64
	restarts  atomic.Int64
	cacheCounters
}
