package sandbox_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// tarEntry is one entry of a generated layer.
type tarEntry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	mtime    int64
	content  []byte
	link     string
}

// writeLayers writes each layer as a gzip blob under dir and returns the
// imagefs layers reading them, and the uncompressed size of all layers.
func writeLayers(t testing.TB, dir string, layers [][]tarEntry) ([]imagefs.Layer, int64) {
	t.Helper()
	var out []imagefs.Layer
	var total int64
	for i, ents := range layers {
		var raw bytes.Buffer
		tw := tar.NewWriter(&raw)
		for _, e := range ents {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
				ModTime: time.Unix(e.mtime, 0), Linkname: e.link, Format: tar.FormatPAX}
			if e.typ == tar.TypeReg {
				h.Size = int64(len(e.content))
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatalf("writing %s: %v", e.name, err)
			}
			if e.typ == tar.TypeReg {
				if _, err := tw.Write(e.content); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		total += int64(raw.Len())
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		if _, err := zw.Write(raw.Bytes()); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		out = append(out, imagefs.Layer{Digest: fmt.Sprintf("sha256:layer%d", i), Size: st.Size(),
			Open: func() (io.ReadCloser, error) { return os.Open(p) }})
	}
	return out, total
}

func buildLayers(t testing.TB, layers []imagefs.Layer) *imagefs.FS {
	t.Helper()
	fsys, err := imagefs.Build(context.Background(), layers, imagefs.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

// genContent is size bytes of content: one file in eight is random bytes,
// which deflate stores uncompressed (as it does parts of ELF files and
// compressed data in real layers); the others are text-like and compress
// about as well as source files do.
func genContent(r *rand.Rand, size int) []byte {
	if r.IntN(8) == 0 {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	words := []string{"lambda", "function", "handler", "import", "return", "the", "of", "runtime", "event", "context",
		"\x7fELF\x02\x01\x01", "\x00\x00\x00\x00", "usr/lib", "python3", "node_modules", "{", "}", "\n"}
	b := make([]byte, 0, size+16)
	for len(b) < size {
		if r.IntN(8) == 0 {
			b = append(b, byte(r.IntN(256)), byte(r.IntN(256)))
		}
		b = append(b, words[r.IntN(len(words))]...)
		b = append(b, ' ')
	}
	return b[:size]
}

// bigImage is a generated image of several gzip layers with whiteouts,
// opaque directories, hard links within and across layers, symlinks,
// replaced files and directories, varied owners, modes and times.
func bigImage(t testing.TB) [][]tarEntry {
	r := rand.New(rand.NewPCG(7, 8))
	mtime := int64(1_600_000_000)
	owners := [][2]int{{0, 0}, {1000, 1000}, {65534, 65534}, {496, 495}}
	modes := []int64{0o644, 0o755, 0o600, 0o444, 0o640, 0o4755, 0o2755}
	size := func() int { return int(math.Exp(r.Float64()*math.Log(32768.0/16)) * 16) }
	reg := func(name string) tarEntry {
		mtime++
		o := owners[r.IntN(len(owners))]
		return tarEntry{name: name, typ: tar.TypeReg, mode: modes[r.IntN(len(modes))], uid: o[0], gid: o[1],
			mtime: mtime, content: genContent(r, size())}
	}
	dir := func(name string, mode int64) tarEntry {
		mtime++
		o := owners[r.IntN(len(owners))]
		return tarEntry{name: name, typ: tar.TypeDir, mode: mode, uid: o[0], gid: o[1], mtime: mtime}
	}
	sym := func(name, target string) tarEntry {
		mtime++
		return tarEntry{name: name, typ: tar.TypeSymlink, mode: 0o777, mtime: mtime, link: target}
	}
	hard := func(name, target string) tarEntry {
		return tarEntry{name: name, typ: tar.TypeLink, mode: 0o644, mtime: mtime, link: target}
	}
	wh := func(p string) tarEntry {
		d, b := filepath.Split(p)
		return tarEntry{name: d + ".wh." + b, typ: tar.TypeReg, mode: 0o644, mtime: mtime}
	}

	// Layer 0: a base of 40 packages of 3 subdirectories, 2,400 files.
	var l0 []tarEntry
	l0 = append(l0, dir("usr/", 0o755), dir("usr/lib/", 0o755), dir("ro/", 0o555), dir("tmp/", 0o1777))
	for p := range 40 {
		pd := fmt.Sprintf("usr/lib/p%03d/", p)
		l0 = append(l0, dir(pd, 0o755))
		for s := range 3 {
			sd := fmt.Sprintf("%ss%d/", pd, s)
			l0 = append(l0, dir(sd, []int64{0o755, 0o750, 0o700}[s]))
			for f := range 20 {
				l0 = append(l0, reg(fmt.Sprintf("%sf%03d", sd, f)))
			}
		}
	}
	l0 = append(l0, reg("ro/file"),
		sym("usr/lib/p000/rel", "../p001/s0/f000"), sym("usr/lib/p000/abs", "/usr/lib/p001/s1/f001"),
		sym("usr/lib/p000/dangling", "/nowhere"), sym("usr/lib/p000/out", "../../../../../etc/passwd"),
		hard("usr/lib/p001/hl-same-layer", "usr/lib/p001/s0/f005"),
		hard("usr/lib/p007/hl-replaced-later", "usr/lib/p007/s0/f000"),
		hard("usr/lib/p007/hl-replaced-later-2", "usr/lib/p007/s0/f000"),
		tarEntry{name: "dev/null", typ: tar.TypeChar, mode: 0o666, mtime: mtime})

	// Layer 1: whiteouts, an opaque directory, a new tree of 1,500 files,
	// a hard link to a file of layer 0.
	var l1 []tarEntry
	for p := 10; p < 20; p++ {
		for f := range 10 {
			l1 = append(l1, wh(fmt.Sprintf("usr/lib/p%03d/s1/f%03d", p, f)))
		}
	}
	l1 = append(l1, dir("usr/lib/p002/", 0o711), tarEntry{name: "usr/lib/p002/.wh..wh..opq", typ: tar.TypeReg, mode: 0o644})
	for f := range 50 {
		l1 = append(l1, reg(fmt.Sprintf("usr/lib/p002/new%03d", f)))
	}
	l1 = append(l1, dir("opt/", 0o755), dir("opt/app/", 0o755))
	for d := range 30 {
		l1 = append(l1, dir(fmt.Sprintf("opt/app/m%02d/", d), 0o755))
		for f := range 50 {
			l1 = append(l1, reg(fmt.Sprintf("opt/app/m%02d/x%03d.py", d, f)))
		}
	}
	l1 = append(l1, hard("usr/lib/p003/hl-across-layers", "usr/lib/p003/s2/f002"))

	// Layer 2: replaced files (new content and owners), a directory
	// replaced by a file and a file by a directory, a whited-out
	// directory, 1,000 new files.
	var l2 []tarEntry
	for f := range 20 {
		l2 = append(l2, reg(fmt.Sprintf("usr/lib/p004/s0/f%03d", f)))
	}
	l2 = append(l2, reg("usr/lib/p007/s0/f000"), reg("usr/lib/p005"), wh("usr/lib/p006"),
		dir("usr/lib/p008/s0/f000/", 0o755), reg("usr/lib/p008/s0/f000/inside"))
	l2 = append(l2, dir("var/", 0o755), dir("var/task/", 0o755))
	for d := range 20 {
		l2 = append(l2, dir(fmt.Sprintf("var/task/d%02d/", d), 0o755))
		for f := range 50 {
			l2 = append(l2, reg(fmt.Sprintf("var/task/d%02d/h%03d.js", d, f)))
		}
	}
	// Layer 3: large files, a symlink over a file, more files.
	var l3 []tarEntry
	for i := range 4 {
		e := reg(fmt.Sprintf("var/task/big%d.so", i))
		e.content = genContent(r, 2<<20)
		l3 = append(l3, e)
	}
	l3 = append(l3, sym("usr/lib/p009/s0/f000", "f001"), dir("srv/", 0o755))
	for f := range 500 {
		l3 = append(l3, reg(fmt.Sprintf("srv/y%03d", f)))
	}
	return [][]tarEntry{l0, l1, l2, l3}
}

// compareTree checks that dir holds exactly the merged view of fsys (what
// Materialize writes of it: no device nodes, no setuid or setgid bits).
func compareTree(t *testing.T, fsys *imagefs.FS, dir string) (files int) {
	t.Helper()
	view := map[string]*imagefs.Entry{}
	var regs []string
	fsys.Walk(func(e *imagefs.Entry) error {
		view[e.Path] = e
		if e.Type == imagefs.TypeReg {
			regs = append(regs, e.Path)
		}
		return nil
	})
	for p, e := range view {
		host := filepath.Join(dir, p)
		if e.Type == imagefs.TypeChar || e.Type == imagefs.TypeBlock || e.Type == imagefs.TypeFifo {
			if _, err := os.Lstat(host); err == nil {
				t.Errorf("%s: device or fifo materialised", p)
			}
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(host, &st); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		wantType := map[byte]uint32{imagefs.TypeReg: syscall.S_IFREG, imagefs.TypeDir: syscall.S_IFDIR, imagefs.TypeSymlink: syscall.S_IFLNK}[e.Type]
		if st.Mode&syscall.S_IFMT != wantType {
			t.Errorf("%s: type %o, want %o", p, st.Mode&syscall.S_IFMT, wantType)
			continue
		}
		if int(st.Uid) != e.UID || int(st.Gid) != e.GID {
			t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, e.UID, e.GID)
		}
		if st.Mtim.Sec != e.ModTime.Unix() {
			t.Errorf("%s: mtime %d, want %d", p, st.Mtim.Sec, e.ModTime.Unix())
		}
		if e.Type == imagefs.TypeSymlink {
			if got, err := os.Readlink(host); err != nil || got != e.Linkname {
				t.Errorf("%s -> %q, %v; want -> %q", p, got, err, e.Linkname)
			}
			continue
		}
		want := uint32(e.Mode.Perm())
		if e.Mode&fs.ModeSticky != 0 {
			want |= syscall.S_ISVTX
		}
		if st.Mode&0o7777 != want {
			t.Errorf("%s: mode %o, want %o", p, st.Mode&0o7777, want)
		}
		if e.HardlinkTo != "" {
			o := view[e.HardlinkTo]
			var ost syscall.Stat_t
			same := o != nil && o.Layer <= e.Layer && o.Size == e.Size && o.Mode == e.Mode && o.ModTime.Equal(e.ModTime)
			syscall.Lstat(filepath.Join(dir, e.HardlinkTo), &ost)
			if same != (ost.Ino == st.Ino) {
				t.Errorf("%s: hard link to %s: inodes %d and %d (expected shared: %v)", p, e.HardlinkTo, st.Ino, ost.Ino, same)
			}
		}
	}
	// Nothing more than the view.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walking the materialised tree: %v", err)
			return err
		}
		abs := "/" + strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if abs != "/" && view[strings.TrimSuffix(abs, "/")] == nil {
			t.Errorf("%s is on disk but not in the image", abs)
		}
		return nil
	})
	// Content, read from the image in one pass.
	err := fsys.ReadFiles(context.Background(), regs, func(abs string, r io.Reader) error {
		want, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(dir, abs))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (%d bytes on disk, %d in the image)", abs, len(got), len(want))
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatalf("reading the image's files: %v", err)
	}
	return files
}

// TestMaterializeLargeImage materialises a multi-layer gzip image of more
// than 5,000 files and 30 MB, compares it with the merged view file by
// file, and checks that writing the content decompressed no more than the
// layers once; and, from an FS built as run builds it (keeping the
// decompressed layers: imagefs.Options.Unpacking), nothing at all.
func TestMaterializeLargeImage(t *testing.T) {
	requireSandbox(t)
	layers, unc := writeLayers(t, t.TempDir(), bigImage(t))
	t.Run("plain", func(t *testing.T) {
		materializeLargeImage(t, layers, unc, imagefs.Options{TempDir: t.TempDir()})
	})
	t.Run("unpacking", func(t *testing.T) {
		materializeLargeImage(t, layers, unc, imagefs.Options{TempDir: t.TempDir()}.Unpacking())
	})
}

func materializeLargeImage(t *testing.T, layers []imagefs.Layer, unc int64, opts imagefs.Options) {
	t.Helper()
	fsys, err := imagefs.Build(context.Background(), layers, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	dir := rootfsDir(t)
	before := fsys.Stats()
	start := time.Now()
	rep, err := sandbox.MaterializeReport(context.Background(), fsys, dir)
	if err != nil {
		t.Fatalf("Materialize: %v", err)
	}
	elapsed := time.Since(start)
	st := fsys.Stats()
	read := st.ReadBytes - before.ReadBytes
	t.Logf("%d files, %d dirs, %d symlinks, %d hard links, %.1f MB uncompressed in %d layers: %v; decompressed %.1f MB after the pass (pass %.1f MB), %d reads, %d restarts",
		rep.Files, rep.Dirs, rep.Symlinks, rep.Hardlinks, float64(unc)/1e6, len(layers), elapsed, float64(read)/1e6, float64(st.PassBytes)/1e6, st.Reads-before.Reads, st.Restarts-before.Restarts)
	if rep.Files < 5000 || unc < 30e6 {
		t.Fatalf("image too small for this test: %d files, %d bytes", rep.Files, unc)
	}
	// One forward pass per layer: at most every layer once, plus a little
	// per layer for where a read starts.
	const perLayer = 64 << 10
	switch {
	case opts.KeepDecompressed && read != 0:
		t.Errorf("materialising from the decompressed layers the pass kept decompressed %d bytes, want 0", read)
	case opts.KeepDecompressed:
	case read > st.PassBytes+int64(len(layers))*perLayer:
		t.Errorf("materialising decompressed %d bytes, more than the layers' %d bytes + %d per layer", read, st.PassBytes, perLayer)
	case read == 0:
		t.Errorf("no content read from the layers")
	}
	// Linked: the same-layer link, the link to a file of a lower layer,
	// and the second link to an original a later layer replaced (to the
	// first, which holds the old content).
	if rep.Hardlinks != 3 {
		t.Errorf("%d hard links made, want 3", rep.Hardlinks)
	}
	a, b := lstat(t, filepath.Join(dir, "usr/lib/p007/hl-replaced-later")), lstat(t, filepath.Join(dir, "usr/lib/p007/hl-replaced-later-2"))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("two links to a replaced original: inodes %d and %d, nlink %d; want one inode, nlink 2", a.Ino, b.Ino, a.Nlink)
	}
	if got := compareTree(t, fsys, dir); got != rep.Files+rep.Hardlinks {
		t.Errorf("compared %d regular files, materialised %d files and %d hard links", got, rep.Files, rep.Hardlinks)
	}
	for _, p := range []string{"usr/lib/p006", "usr/lib/p010/s1/f000", "usr/lib/p002/s0"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was deleted by a later layer but is on disk", p)
		}
	}
}

// deepChains is a layer holding chains of nested directories: n chains
// "/cK/d/d/.../d" of depth levels each, with a file at the bottom.
func deepChains(n, depth int) []tarEntry {
	var ents []tarEntry
	for c := range n {
		name := fmt.Sprintf("c%d/", c) + strings.Repeat("d/", depth-1) + "f"
		ents = append(ents, tarEntry{name: name, typ: tar.TypeReg, mode: 0o644, mtime: 1, content: []byte("bottom")})
	}
	return ents
}

func TestMaterializeDeepTree(t *testing.T) {
	requireSandbox(t)
	// 10,000 nested directories in five chains 2,000 deep: each bottom
	// file's path is about 4,000 bytes, within PATH_MAX.
	layers, _ := writeLayers(t, t.TempDir(), [][]tarEntry{deepChains(5, 2000)})
	fsys := buildLayers(t, layers)
	dir := rootfsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	rep, err := sandbox.MaterializeReport(ctx, fsys, dir)
	if err != nil {
		t.Fatalf("Materialize: %v", err)
	}
	t.Logf("%d directories, %d files in %v", rep.Dirs, rep.Files, time.Since(start))
	if rep.Dirs != 10000 || rep.Files != 5 {
		t.Errorf("wrote %d directories and %d files, want 10000 and 5", rep.Dirs, rep.Files)
	}
	bottom := filepath.Join(dir, "c4", strings.Repeat("d/", 1999), "f")
	// The host path is longer than PATH_MAX: read it relative to its
	// directory.
	d, err := os.OpenRoot(filepath.Join(dir, "c4"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if b, err := d.ReadFile(strings.TrimPrefix(bottom, filepath.Join(dir, "c4")+"/")); err != nil || string(b) != "bottom" {
		t.Errorf("bottom file = %q, %v", b, err)
	}
}

// TestMaterializeTooDeep: a tree 10,000 directories deep, made through
// symlinked parents so that no tar name is longer than PATH_MAX. The
// filesystem pass already drops the entry whose path would be longer than
// PATH_MAX (with an anomaly, which LD105 reports), so Materialize writes the
// rest, never a path a function could not open by name, and stays inside
// its directory.
func TestMaterializeTooDeep(t *testing.T) {
	requireSandbox(t)
	const step = 1000
	chain := strings.Repeat("d/", step)
	ents := []tarEntry{{name: "s0/", typ: tar.TypeDir, mode: 0o755, mtime: 1}}
	for i := range 10 {
		ents = append(ents, tarEntry{name: fmt.Sprintf("s%d/%s", i, chain), typ: tar.TypeDir, mode: 0o755, mtime: 1})
		ents = append(ents, tarEntry{name: fmt.Sprintf("s%d", i+1), typ: tar.TypeSymlink, mode: 0o777, mtime: 1,
			link: fmt.Sprintf("/s%d/%s", i, strings.TrimSuffix(chain, "/"))})
	}
	ents = append(ents, tarEntry{name: "s10/f", typ: tar.TypeReg, mode: 0o644, mtime: 1, content: []byte("deep")})
	layers, _ := writeLayers(t, t.TempDir(), [][]tarEntry{ents})
	fsys := buildLayers(t, layers)
	bottom := "/s0/" + strings.Repeat("d/", 10*step) + "f"
	if _, ok := fsys.Lookup(bottom); ok {
		t.Fatalf("the pass kept a file at depth %d, past PATH_MAX", 10*step+2)
	}
	if len(fsys.Anomalies()) == 0 {
		t.Errorf("no anomaly for the entries dropped past PATH_MAX")
	}
	dir := rootfsDir(t)
	start := time.Now()
	rep, err := sandbox.MaterializeReport(context.Background(), fsys, dir)
	if err != nil {
		t.Fatalf("Materialize: %v", err)
	}
	t.Logf("%d directories in %v", rep.Dirs, time.Since(start))
	if rep.Files != 0 {
		t.Errorf("wrote %d files; the only file lies past PATH_MAX", rep.Files)
	}
}

// countdownCtx is a context whose Err reports cancellation from its n-th
// call on: it stops Materialize at a chosen point of its work.
type countdownCtx struct {
	context.Context
	calls atomic.Int64
	n     int64
}

func (c *countdownCtx) Err() error {
	if c.calls.Add(1) >= c.n {
		return context.Canceled
	}
	return nil
}

// Materialize stops cleanly wherever it is canceled: walking, writing
// files (with the writing goroutine busy) or setting directory metadata.
func TestMaterializeCanceledMidway(t *testing.T) {
	requireSandbox(t)
	var ents []tarEntry
	for d := range 20 {
		ents = append(ents, tarEntry{name: fmt.Sprintf("d%02d/", d), typ: tar.TypeDir, mode: 0o755, mtime: 1})
		for f := range 50 {
			ents = append(ents, tarEntry{name: fmt.Sprintf("d%02d/f%02d", d, f), typ: tar.TypeReg, mode: 0o644, mtime: 1,
				content: bytes.Repeat([]byte(fmt.Sprintf("%d/%d ", d, f)), 3000*(f%4))})
		}
	}
	layers, _ := writeLayers(t, t.TempDir(), [][]tarEntry{ents})
	fsys := buildLayers(t, layers)
	// How many times an uncanceled run asks.
	probe := &countdownCtx{Context: context.Background(), n: math.MaxInt64}
	if err := sandbox.Materialize(probe, fsys, rootfsDir(t)); err != nil {
		t.Fatalf("Materialize: %v", err)
	}
	total := probe.calls.Load()
	t.Logf("an uncanceled run checks its context %d times", total)
	goroutines := runtime.NumGoroutine()
	for _, n := range []int64{1, total / 10, total / 3, total / 2, 2 * total / 3, total - 1} {
		ctx := &countdownCtx{Context: context.Background(), n: max(n, 1)}
		err := sandbox.Materialize(ctx, fsys, rootfsDir(t))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("canceled at call %d of %d: %v, want context.Canceled", n, total, err)
		}
	}
	// Cleanups of closed files run on a goroutine of their own for a moment:
	// give them time.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after the canceled runs, %d before:\n%s", g, goroutines, buf[:runtime.Stack(buf, true)])
	}
}
