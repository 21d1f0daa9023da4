package imagefs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// cachedImage is a three-layer image (gzip with restart points, zstd
// streamed as registries serve it, plain tar) with whiteouts, hard links,
// symlinks, captures and anomalies, and the content of its final files.
type cachedImage struct {
	tars  [][]byte
	blobs [][]byte
	// stream marks the layers served as streams only.
	stream []bool
	want   map[string]string
}

func newCachedImage(t testing.TB) *cachedImage {
	es, want := accessImage(t, 7, 120)
	base := append([]tf{dir("etc", 0o755), reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		reg("bin/tool", 0o755, "\x7fELF"+strings.Repeat("x", 3000)), sym("bin/sh", "tool"),
		hard("bin/tool2", "bin/tool"), reg("../escape", 0o644, "x")}, es...)
	want["/etc/passwd"] = "root:x:0:0::/root:/bin/sh\n"
	want["/bin/tool"] = "\x7fELF" + strings.Repeat("x", 3000)
	want["/bin/tool2"] = want["/bin/tool"]
	mid := []tf{wh("d01/f0001"), opq("d02"), reg("d02/new", 0o644, "new"), reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/bash\n")}
	delete(want, "/d01/f0001")
	for p := range want {
		if strings.HasPrefix(p, "/d02/") {
			delete(want, p)
		}
	}
	want["/d02/new"] = "new"
	want["/etc/passwd"] = "root:x:0:0::/root:/bin/bash\n"
	top := []tf{reg("app/handler.py", 0o644, "def handler(e, c): return 1\n"), reg("app/handler.py", 0o644, "def handler(e, c): return 2\n")}
	want["/app/handler.py"] = "def handler(e, c): return 2\n"
	im := &cachedImage{want: want}
	for k, es := range [][]tf{base, mid, top} {
		tb := tarOf(t, es...)
		im.tars = append(im.tars, tb)
		switch k {
		case 1:
			im.blobs = append(im.blobs, zstdOf(t, tb))
		case 2:
			im.blobs = append(im.blobs, tb)
		default:
			im.blobs = append(im.blobs, gzipOf(t, tb))
		}
		im.stream = append(im.stream, k == 1)
	}
	return im
}

// layers returns the image's layers; opens counts Open calls per layer.
func (im *cachedImage) layers(opens []int) []Layer {
	ls := make([]Layer, len(im.blobs))
	var mu sync.Mutex
	for k, b := range im.blobs {
		var l Layer
		if im.stream[k] {
			l = streamLayer(b, nil)
		} else {
			l = blobLayer(b, nil)
		}
		open := l.Open
		l.Open = func() (io.ReadCloser, error) {
			if opens != nil {
				mu.Lock()
				opens[k]++
				mu.Unlock()
			}
			return open()
		}
		l.DiffID = fmt.Sprintf("sha256:%x", sha256.Sum256(im.tars[k]))
		ls[k] = l
	}
	return ls
}

func cacheOpts(c *Cache) Options {
	return Options{Cache: c, CheckpointEvery: 16 << 10, TempDir: os.TempDir(),
		Capture:    func(name string, _ int64) bool { return name == "/etc/passwd" },
		CaptureKey: "passwd"}
}

// view is everything an FS shows: listing with contents, anomalies and
// layer facts.
func view(t *testing.T, f *FS) string {
	t.Helper()
	var b strings.Builder
	for _, l := range listing(t, f) {
		b.WriteString(l + "\n")
	}
	for _, a := range f.Anomalies() {
		fmt.Fprintf(&b, "anomaly %d %s %s %s\n", a.Layer, a.Kind, a.Path, a.Detail)
	}
	for _, l := range f.Layers() {
		fmt.Fprintf(&b, "layer %d %d %d\n", l.Index, l.Entries, l.UncompressedSize)
	}
	fmt.Fprintf(&b, "len %d head %q\n", f.Len(), f.Head("/bin/tool"))
	return b.String()
}

func mustBuild(t *testing.T, layers []Layer, opts Options) *FS {
	t.Helper()
	f, err := Build(context.Background(), layers, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out
}

func TestCacheReuse(t *testing.T) {
	im := newCachedImage(t)
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := view(t, mustBuild(t, im.layers(nil), Options{CheckpointEvery: 16 << 10, Capture: cacheOpts(nil).Capture}))

	first := mustBuild(t, im.layers(nil), cacheOpts(c))
	if got := view(t, first); got != want {
		t.Fatalf("first build with the cache differs:\n%s", diffLines(strings.Split(got, "\n"), strings.Split(want, "\n")))
	}
	if st := first.Stats(); st.CachedLayers != 0 {
		t.Errorf("first build: %d cached layers", st.CachedLayers)
	}
	if n := len(cacheFiles(t, c.Dir())); n != 6 {
		t.Errorf("%d cache files, want 2 per layer", n)
	}

	opens := make([]int, 3)
	second := mustBuild(t, im.layers(opens), cacheOpts(c))
	if st := second.Stats(); st.CachedLayers != 3 || st.PassBytes != first.Stats().PassBytes {
		t.Errorf("second build: %d cached layers, %d pass bytes", st.CachedLayers, st.PassBytes)
	}
	if !slices.Equal(opens, []int{0, 0, 0}) {
		t.Errorf("second build opened layers %v; cached layers must not be opened", opens)
	}
	// Captured files are served without opening anything.
	if b, err := second.ReadFile("etc/passwd"); err != nil || string(b) != im.want["/etc/passwd"] {
		t.Errorf("etc/passwd = %q, %v", b, err)
	}
	if !slices.Equal(opens, []int{0, 0, 0}) {
		t.Errorf("reading a captured file opened layers %v", opens)
	}
	if got := view(t, second); got != want {
		t.Fatalf("cached build differs:\n%s", diffLines(strings.Split(got, "\n"), strings.Split(want, "\n")))
	}
	// Reads are bounded by the cached restart points, and a streamed blob
	// is fetched once.
	st := second.Stats()
	if opens[1] != 1 {
		t.Errorf("the streamed layer was opened %d times, want once", opens[1])
	}
	if st.BlobOpens == 0 {
		t.Error("no blob opened for reads")
	}
	var worst int64
	for p, body := range im.want {
		before := second.Stats().ReadBytes
		b, err := second.ReadFile(p[1:])
		if err != nil || string(b) != body {
			t.Fatalf("ReadFile(%s): %d bytes, %v", p, len(b), err)
		}
		worst = max(worst, second.Stats().ReadBytes-before-int64(len(body)))
	}
	if worst > readBound(16<<10) {
		t.Errorf("a read decompressed %d bytes beyond its file with cached restart points, bound %d", worst, readBound(16<<10))
	}
	// The cached restart points came with their probes: the reads proved
	// the ones they used, and found none wrong.
	proven := 0
	for li := range second.access {
		acc := &second.access[li]
		if acc.deferred != nil {
			if acc, err = acc.deferred.get(); err != nil {
				t.Fatal(err)
			}
		}
		if len(acc.probes) != len(acc.cps) {
			t.Errorf("layer %d: %d probes for %d cached restart points", li, len(acc.probes), len(acc.cps))
		}
		for i := range acc.cps {
			switch acc.proof[i].Load() {
			case cpWrong:
				t.Errorf("layer %d: cached restart point %d found wrong", li, i)
			case cpProven:
				if !acc.cps[i].member {
					proven++
				}
			}
		}
	}
	if proven == 0 {
		t.Error("the reads proved no cached restart point")
	}

	// Another capture policy is another index.
	other := cacheOpts(c)
	other.CaptureKey = "nothing"
	other.Capture = func(string, int64) bool { return false }
	if st := mustBuild(t, im.layers(nil), other).Stats(); st.CachedLayers != 0 {
		t.Errorf("another capture policy used %d cached layers", st.CachedLayers)
	}
	// Capture without a key cannot be cached.
	dir := t.TempDir()
	c2, _ := OpenCache(dir, 0)
	nokey := cacheOpts(c2)
	nokey.CaptureKey = ""
	mustBuild(t, im.layers(nil), nokey)
	if n := len(cacheFiles(t, dir)); n != 0 {
		t.Errorf("Capture without CaptureKey wrote %d cache files", n)
	}
}

// TestCacheCorruptEntries alters and truncates every cache file in turn:
// each time the next build must notice, decode the layer again (same view)
// and write the file afresh.
func TestCacheCorruptEntries(t *testing.T) {
	im := newCachedImage(t)
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := view(t, mustBuild(t, im.layers(nil), cacheOpts(c)))
	files := cacheFiles(t, c.Dir())
	_, ak, _ := cacheKeys(cacheOpts(c).withDefaults(), im.layers(nil)[2])
	plainAccess := c.fileName(kindAccess, ak)
	for _, p := range files {
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// Offsets in the header, the key, the middle and the checksum; the
		// tail of an access file holds windows, checked on use (below).
		damages := map[string][]byte{
			"truncated":        orig[:len(orig)/2],
			"empty":            {},
			"one byte short":   orig[:len(orig)-1],
			"one byte more":    append(slices.Clone(orig), 0),
			"header flipped":   flip(orig, 9),
			"key flipped":      flip(orig, cacheHeaderLen+3),
			"checksum flipped": flip(orig, len(orig)-1),
			"meta flipped":     flip(orig, len(orig)-sha256.Size-2),
		}
		for name, b := range damages {
			t.Run(filepath.Base(p)[:4]+" "+name, func(t *testing.T) {
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
				f := mustBuild(t, im.layers(nil), cacheOpts(c))
				// The plain layer's blob digest is its DiffID: without its
				// access part it still comes from the cache, and its access
				// is found (and rewritten) when first read.
				wantCached := int64(2)
				if p == plainAccess {
					wantCached = 3
				}
				if st := f.Stats(); st.CachedLayers != wantCached {
					t.Errorf("%d layers from the cache, want %d", st.CachedLayers, wantCached)
				}
				if got := view(t, f); got != want {
					t.Fatalf("view differs:\n%s", diffLines(strings.Split(got, "\n"), strings.Split(want, "\n")))
				}
				now, err := os.ReadFile(p)
				if err != nil || string(now) != string(orig) {
					t.Errorf("the damaged file was not rebuilt (%v)", err)
				}
			})
		}
	}
}

func flip(b []byte, i int) []byte {
	b = slices.Clone(b)
	b[i] ^= 0x40
	return b
}

// TestCacheCorruptWindow damages a restart point's window in the cache: a
// read through it must still return the right bytes (restarting from the
// start of the layer) and the file must be dropped.
func TestCacheCorruptWindow(t *testing.T) {
	im := newCachedImage(t)
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	mustBuild(t, im.layers(nil), cacheOpts(c))
	_, ak, _ := cacheKeys(cacheOpts(c).withDefaults(), im.layers(nil)[0])
	p := c.fileName(kindAccess, ak)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte in every window of the tail.
	tail := int(binary.LittleEndian.Uint64(b[20:]))
	if tail == 0 {
		t.Fatal("no windows cached")
	}
	for i := cacheHeaderLen + len(ak); i < cacheHeaderLen+len(ak)+tail; i += 1 << 10 {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f := mustBuild(t, im.layers(nil), cacheOpts(c))
	if f.Stats().CachedLayers != 3 {
		t.Fatalf("%d cached layers", f.Stats().CachedLayers)
	}
	n := 0
	for pth, body := range im.want {
		if n++; n > 20 {
			break
		}
		got, err := f.ReadFile(pth[1:])
		if err != nil || string(got) != body {
			t.Fatalf("ReadFile(%s) through a corrupt window: %d bytes, %v", pth, len(got), err)
		}
	}
	if f.Stats().Restarts == 0 {
		t.Fatal("nothing was read from the layer")
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("the access file with a corrupt window is still in the cache")
	}
}

// TestCacheLyingDiffID: a layer whose DiffID is not its tar's digest is
// read, but nothing is filed under that DiffID.
func TestCacheLyingDiffID(t *testing.T) {
	im := newCachedImage(t)
	c, _ := OpenCache(t.TempDir(), 0)
	ls := im.layers(nil)
	ls[0].DiffID = ls[1].DiffID
	ls[1].DiffID = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("not the tar")))
	mustBuild(t, ls, cacheOpts(c))
	if n := len(cacheFiles(t, c.Dir())); n != 2 {
		t.Errorf("%d cache files, want only the top layer's 2", n)
	}
	// Nor under another blob digest.
	ls = im.layers(nil)
	ls[2].Digest = ls[0].Digest
	f := mustBuild(t, ls, cacheOpts(c))
	if f.Stats().CachedLayers != 0 {
		t.Errorf("a layer claiming another blob's digest used the cache")
	}
}

// TestCacheConcurrent builds the same image from many goroutines, each
// with its own Cache on one directory (as separate processes would), over
// a cache too small for all of it.
func TestCacheConcurrent(t *testing.T) {
	im := newCachedImage(t)
	dir := t.TempDir()
	ref, _ := OpenCache(t.TempDir(), 0)
	want := view(t, mustBuild(t, im.layers(nil), cacheOpts(ref)))
	var wg sync.WaitGroup
	views := make([]string, 8)
	errs := make([]error, 8)
	for k := range views {
		wg.Go(func() {
			c, err := OpenCache(dir, 0)
			if err != nil {
				errs[k] = err
				return
			}
			for range 3 {
				f, err := Build(context.Background(), im.layers(nil), cacheOpts(c))
				if err != nil {
					errs[k] = err
					return
				}
				f.Close()
			}
			f, err := Build(context.Background(), im.layers(nil), cacheOpts(c))
			if err != nil {
				errs[k] = err
				return
			}
			defer f.Close()
			var b strings.Builder
			err = f.Walk(func(e *Entry) error {
				if e.Type == TypeReg {
					d, err := f.ReadFile(e.Path[1:])
					fmt.Fprintf(&b, "%s %q %v\n", e.Path, d, err)
				}
				return nil
			})
			views[k] = b.String()
			errs[k] = err
		})
	}
	wg.Wait()
	wantFiles := ""
	{
		f := mustBuild(t, im.layers(nil), Options{})
		var b strings.Builder
		f.Walk(func(e *Entry) error {
			if e.Type == TypeReg {
				d, err := f.ReadFile(e.Path[1:])
				fmt.Fprintf(&b, "%s %q %v\n", e.Path, d, err)
			}
			return nil
		})
		wantFiles = b.String()
	}
	for k := range views {
		if errs[k] != nil {
			t.Fatalf("goroutine %d: %v", k, errs[k])
		}
		if views[k] != wantFiles {
			t.Fatalf("goroutine %d saw other content", k)
		}
	}
	c, _ := OpenCache(dir, 0)
	if got := view(t, mustBuild(t, im.layers(nil), cacheOpts(c))); got != want {
		t.Error("the view after concurrent builds differs")
	}
	for _, p := range cacheFiles(t, dir) {
		if strings.HasPrefix(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
	}
}

// TestCacheEviction bounds the cache: the least recently used files go
// first, and using a file keeps it.
func TestCacheEviction(t *testing.T) {
	dir := t.TempDir()
	c, _ := OpenCache(dir, 10_000)
	blob := strings.Repeat("x", 3000)
	old := time.Now().Add(-time.Hour)
	for k := range 3 {
		if err := c.Put("TEST", fmt.Sprint(k), []byte(blob)); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(c.fileName("TEST", fmt.Sprint(k)), old.Add(time.Duration(k)*time.Minute), old.Add(time.Duration(k)*time.Minute))
	}
	if _, ok := c.Get("TEST", "0"); !ok { // touches 0: now 1 is the oldest
		t.Fatal("record 0 missing")
	}
	if err := c.Put("TEST", "3", []byte(blob)); err != nil {
		t.Fatal(err)
	}
	for k, want := range []bool{true, false, true, true} {
		if _, ok := c.Get("TEST", fmt.Sprint(k)); ok != want {
			t.Errorf("record %d present %v, want %v", k, ok, want)
		}
	}
	if size, _ := c.Size(); size > c.MaxBytes() {
		t.Errorf("cache holds %d bytes, bound %d", size, c.MaxBytes())
	}
	// A stale temporary file is swept.
	tmp := filepath.Join(dir, ".tmp-dead")
	os.WriteFile(tmp, []byte("x"), 0o600)
	os.Chtimes(tmp, old, old)
	c.Put("TEST", "4", []byte("y"))
	if _, err := os.Stat(tmp); err == nil {
		t.Error("stale temporary file kept")
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv(CacheDirEnv, "/somewhere/else")
	if d, _ := DefaultCacheDir(); d != "/somewhere/else" {
		t.Errorf("DefaultCacheDir with %s set = %s", CacheDirEnv, d)
	}
	t.Setenv(CacheDirEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	if d, _ := DefaultCacheDir(); d != "/xdg/lambdoctor/layers" {
		t.Errorf("DefaultCacheDir = %s", d)
	}
}

// TestCacheUnknownBlobDigest: a source that names compressed layers by
// their DiffID (legacy archives) gets its cached layers without opening
// them; the first read finds the restart points (recording them once).
func TestCacheUnknownBlobDigest(t *testing.T) {
	im := newCachedImage(t)
	c, _ := OpenCache(t.TempDir(), 0)
	legacy := func(opens []int) []Layer {
		ls := im.layers(opens)
		for k := range ls {
			ls[k].Digest = ls[k].DiffID
		}
		return ls
	}
	want := view(t, mustBuild(t, legacy(nil), cacheOpts(c)))
	for round := range 2 {
		opens := make([]int, 3)
		f := mustBuild(t, legacy(opens), cacheOpts(c))
		if st := f.Stats(); st.CachedLayers != 3 || !slices.Equal(opens, []int{0, 0, 0}) {
			t.Fatalf("round %d: %d cached layers, opens %v", round, st.CachedLayers, opens)
		}
		if got := view(t, f); got != want {
			t.Fatalf("round %d: view differs:\n%s", round, diffLines(strings.Split(got, "\n"), strings.Split(want, "\n")))
		}
		var worst int64
		for p, body := range im.want {
			before := f.Stats().ReadBytes
			b, err := f.ReadFile(p[1:])
			if err != nil || string(b) != body {
				t.Fatalf("ReadFile(%s): %v", p, err)
			}
			worst = max(worst, f.Stats().ReadBytes-before-int64(len(body)))
		}
		if worst > readBound(16<<10) {
			t.Errorf("round %d: a read decompressed %d bytes beyond its file", round, worst)
		}
	}
}

// What one inspection read after its pass is served to the next from the
// cache: the layers are not opened again.
func TestCacheLearnedReads(t *testing.T) {
	im := newCachedImage(t)
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for p := range im.want {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	first, err := Build(context.Background(), im.layers(nil), cacheOpts(c))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths[:len(paths)/2] {
		if _, err := first.ReadFile(p[1:]); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.ReadFiles(context.Background(), paths[len(paths)/2:], func(string, io.Reader) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// A partial read (a parser reading headers) is learned as far as it
	// went.
	file, _ := first.Open(strings.TrimPrefix(paths[len(paths)-1], "/"))
	io.ReadFull(file, make([]byte, 10))
	file.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	opens := make([]int, 3)
	second := mustBuild(t, im.layers(opens), cacheOpts(c))
	for _, p := range paths[:len(paths)/2] {
		b, err := second.ReadFile(p[1:])
		if err != nil || string(b) != im.want[p] {
			t.Fatalf("ReadFile(%s): %d bytes, %v", p, len(b), err)
		}
	}
	file, _ = second.Open(strings.TrimPrefix(paths[len(paths)-1], "/"))
	b := make([]byte, 10)
	if _, err := io.ReadFull(file, b); err != nil || string(b) != im.want[paths[len(paths)-1]][:10] {
		t.Errorf("learned head = %q, %v", b, err)
	}
	file.Close()
	if st := second.Stats(); !slices.Equal(opens, []int{0, 0, 0}) || st.ReadBytes != 0 {
		t.Errorf("reads an earlier inspection made opened layers %v and decompressed %d bytes", opens, st.ReadBytes)
	}
	// A read that was not learned still works, from the layer.
	b, err = second.ReadFile(strings.TrimPrefix(paths[len(paths)-1], "/"))
	if err != nil || string(b) != im.want[paths[len(paths)-1]] {
		t.Errorf("unlearned read: %d bytes, %v", len(b), err)
	}
}

func TestMergeExtents(t *testing.T) {
	got := mergeExtents([]extent{{10, []byte("cdef")}, {8, []byte("ab")}, {12, []byte("efgh")}, {20, []byte("x")}, {9, []byte("b")}}, 100)
	if len(got) != 2 || got[0].off != 8 || string(got[0].b) != "abcdefgh" || got[1].off != 20 {
		t.Errorf("merge = %+v", got)
	}
	capped := mergeExtents([]extent{{0, []byte("abc")}, {10, []byte("def")}}, 4)
	if len(capped) != 1 {
		t.Errorf("cap: %+v", capped)
	}
	enc := encodeExtents(capped)
	if dec := decodeExtents(enc); len(dec) != 1 || string(dec[0].b) != "abc" {
		t.Errorf("round trip: %+v", dec)
	}
	for i := range enc {
		if decodeExtents(enc[:i]) != nil && i < len(enc) {
			t.Errorf("truncated at %d decoded", i)
		}
	}
	if string(extentAt(capped, 2)) != "c" || extentAt(capped, 3) != nil {
		t.Errorf("extentAt")
	}
}

// TestEncodeMerged: encodeMerged writes what encodeExtents(mergeExtents())
// writes, for random overlapping, adjacent and duplicate extents and caps,
// allocating the encoding only (not the merged extents as well).
func TestEncodeMerged(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	gen := func() []extent {
		var exts []extent
		for range rng.IntN(40) {
			b := make([]byte, rng.IntN(300))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			exts = append(exts, extent{off: int64(rng.IntN(4000)), b: b})
		}
		return exts
	}
	for i := range 2000 {
		exts := gen()
		max := rng.IntN(6000)
		want := encodeExtents(mergeExtents(slices.Clone(exts), max))
		if got := encodeMerged(slices.Clone(exts), max); !bytes.Equal(got, want) {
			t.Fatalf("case %d (max %d): encodeMerged differs from encodeExtents(mergeExtents())", i, max)
		}
	}
	// Large extents, merged: one buffer of about their size is allocated.
	var exts []extent
	for k := range 64 {
		exts = append(exts, extent{off: int64(k) * 60 << 10, b: make([]byte, 64<<10)})
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	enc := encodeMerged(exts, maxLearnedPerLayer)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(enc))*5/4 {
		t.Errorf("encoding %d bytes allocated %d bytes, want about the encoding only", len(enc), alloc)
	}
}

// After StopLearning, reads are not kept for later inspections.
func TestCacheStopLearning(t *testing.T) {
	im := newCachedImage(t)
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := Build(context.Background(), im.layers(nil), cacheOpts(c))
	if err != nil {
		t.Fatal(err)
	}
	first.StopLearning()
	if _, err := first.ReadFile("app/handler.py"); err != nil {
		t.Fatal(err)
	}
	first.Close()
	opens := make([]int, 3)
	second := mustBuild(t, im.layers(opens), cacheOpts(c))
	if _, err := second.ReadFile("app/handler.py"); err != nil {
		t.Fatal(err)
	}
	if opens[2] == 0 {
		t.Errorf("a read made after StopLearning was served from the cache")
	}
}
