package imagefs

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// wordy returns n bytes of text-like content that compresses as source
// code and documents do (about 3:1), so deflate blocks have realistic
// sizes.
func wordy(rng *rand.Rand, n int) string {
	words := []string{"lambda", "handler", "import", "return", "self", "bootstrap", "runtime", "the", "of", "0x7f", "ELF", "\n", "    ", "def", "{", "}", "func", "int", "error", "nil"}
	var b strings.Builder
	for b.Len() < n {
		if rng.IntN(8) == 0 {
			fmt.Fprintf(&b, "%x", rng.Uint64())
		} else {
			b.WriteString(words[rng.IntN(len(words))])
		}
		b.WriteByte(' ')
	}
	return b.String()[:n]
}

// accessImage is a layer of many files of varied sizes, and their content.
func accessImage(t testing.TB, seed uint64, files int) ([]tf, map[string]string) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var es []tf
	want := map[string]string{}
	for i := range files {
		size := rng.IntN(8 << 10)
		switch i % 17 {
		case 3:
			size = 200<<10 + rng.IntN(300<<10)
		case 11:
			size = 0
		}
		name := fmt.Sprintf("d%02d/f%04d", i%23, i)
		body := wordy(rng, size)
		es = append(es, reg(name, 0o644, body))
		want["/"+name] = body
	}
	return es, want
}

// readBound is what one read may decompress beyond its file: the spacing
// of restart points, plus one deflate block of text (the encoder closes
// blocks every 16k tokens: far less than this for text).
func readBound(every int64) int64 { return 2*every + 256<<10 }

func TestReadAfterBuildIsBounded(t *testing.T) {
	es, want := accessImage(t, 1, 600)
	tarball := tarOf(t, es...)
	const every = 64 << 10
	layers := map[string]Layer{
		"gzip at offsets": blobLayer(gzipOf(t, tarball), nil),
		"gzip streamed":   streamLayer(gzipOf(t, tarball), nil),
		"gzip members":    blobLayer(append(gzipOf(t, tarball[:len(tarball)/3]), gzipOf(t, tarball[len(tarball)/3:])...), nil),
		"plain":           blobLayer(tarball, nil),
	}
	for name, l := range layers {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := Build(context.Background(), []Layer{l}, Options{CheckpointEvery: every, TempDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("Build left %d files in TempDir; they should be unlinked at once", len(ents))
			}
			var worst int64
			for p, body := range want {
				before := f.Stats().ReadBytes
				got, err := f.ReadFile(p[1:])
				if err != nil {
					t.Fatalf("ReadFile(%s): %v", p, err)
				}
				if string(got) != body {
					t.Fatalf("ReadFile(%s): %d bytes differ from the %d written", p, len(got), len(body))
				}
				cost := f.Stats().ReadBytes - before - int64(len(body))
				worst = max(worst, cost)
				if cost > readBound(every) {
					t.Errorf("ReadFile(%s) decompressed %d bytes beyond the file, bound %d", p, cost, readBound(every))
				}
			}
			st := f.Stats()
			if name == "plain" && st.ReadBytes != 0 {
				t.Errorf("plain layer: %d bytes decompressed", st.ReadBytes)
			}
			t.Logf("%d reads, %d restarts, worst overhead %d bytes, layer %d bytes", st.Reads, st.Restarts, worst, st.PassBytes)
		})
	}
}

func TestReadFilesOnePass(t *testing.T) {
	es0, want0 := accessImage(t, 2, 400)
	es1, want1 := accessImage(t, 3, 300)
	// Layer 1 hides some of layer 0's files and hard-links one.
	es1 = append(es1, wh("d00"), hard("linked", "d05/f0005"))
	layers := []Layer{
		blobLayer(gzipOf(t, tarOf(t, es0...)), nil),
		streamLayer(gzipOf(t, tarOf(t, es1...)), nil),
		blobLayer(zstdOf(t, tarOf(t, reg("z/one", 0o644, "zstd one"), reg("z/two", 0o644, strings.Repeat("two", 9000)))), nil),
	}
	f, err := Build(context.Background(), layers, Options{CheckpointEvery: 64 << 10, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{"/z/one": "zstd one", "/z/two": strings.Repeat("two", 9000)}
	for p, b := range want0 {
		if !strings.HasPrefix(p, "/d00/") {
			want[p] = b
		}
	}
	for p, b := range want1 {
		want[p] = b
	}
	want["/linked"] = want["/d05/f0005"]
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	got := map[string]string{}
	err = f.ReadFiles(context.Background(), paths, func(p string, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range want {
		if got[p] != b {
			t.Errorf("%s: %d bytes, want %d", p, len(got[p]), len(b))
		}
	}
	st := f.Stats()
	if st.ReadBytes > st.PassBytes {
		t.Errorf("ReadFiles of every file decompressed %d bytes, more than the layers' %d", st.ReadBytes, st.PassBytes)
	}
	t.Logf("%d files: %d bytes decompressed of %d, %d restarts", len(paths), st.ReadBytes, st.PassBytes, st.Restarts)

	// Reading part of each file, or none of it, leaves the next right.
	err = f.ReadFiles(context.Background(), paths, func(p string, r io.Reader) error {
		if len(p)%2 == 0 {
			return nil
		}
		b := make([]byte, 10)
		n, _ := io.ReadFull(r, b)
		if string(b[:n]) != want[p][:min(10, len(want[p]))] {
			return fmt.Errorf("%s starts %q", p, b[:n])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// ReadFilesIndexed gives each file's index in the list, each once.
	seen := make([]int, len(paths))
	err = f.ReadFilesIndexed(context.Background(), paths, func(i int, r io.Reader) error {
		seen[i]++
		b, err := io.ReadAll(r)
		if err == nil && string(b) != want[paths[i]] {
			err = fmt.Errorf("index %d (%s): %d bytes, want %d", i, paths[i], len(b), len(want[paths[i]]))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("index %d (%s) given %d times", i, paths[i], n)
		}
	}

	stop := errors.New("stop")
	if err := f.ReadFiles(context.Background(), paths, func(string, io.Reader) error { return stop }); err != stop {
		t.Errorf("fn's error = %v, want it returned", err)
	}
	if err := f.ReadFiles(context.Background(), []string{"/d00/f0391"}, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("whited-out path: %v", err)
	}
	if err := f.ReadFiles(context.Background(), []string{"/d01"}, nil); err == nil {
		t.Errorf("directory read without error")
	}
}

func TestReadAfterClose(t *testing.T) {
	f := build(t, []tf{reg("f", 0o644, strings.Repeat("x", 10000))})
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFile("f"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("ReadFile after Close = %v", err)
	}
	if e, ok := f.Lookup("/f"); !ok || e.Size != 10000 {
		t.Errorf("metadata after Close: %+v", e)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestRestartPointsCorruptWindowStoreDetected(t *testing.T) {
	// A read after Build that cannot reach its layer any more reports it.
	es, _ := accessImage(t, 4, 50)
	blob := gzipOf(t, tarOf(t, es...))
	fail := false
	l := blobLayer(blob, nil)
	open := l.Open
	l.Open = func() (io.ReadCloser, error) {
		if fail {
			return nil, errors.New("the daemon went away")
		}
		return open()
	}
	f, err := Build(context.Background(), []Layer{l}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fail = true
	_, err = f.ReadFile("d03/f0003")
	if err == nil || !strings.Contains(err.Error(), "the daemon went away") {
		t.Errorf("ReadFile with the source gone = %v", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("layer 0")) {
		t.Errorf("error does not name the layer: %v", err)
	}
}

func TestSeekWithinFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	big := wordy(rng, 3<<20)
	const every = 64 << 10
	f, err := Build(context.Background(), []Layer{blobLayer(gzipOf(t, tarOf(t, reg("small", 0o644, "x"), reg("big", 0o755, big))), nil)},
		Options{CheckpointEvery: every, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := f.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	rs, ok := file.(io.ReadSeeker)
	if !ok {
		t.Fatalf("%T is not an io.ReadSeeker", file)
	}
	for _, at := range []struct {
		off    int64
		whence int
		want   int64
	}{
		{-100, io.SeekEnd, int64(len(big)) - 100},
		{1 << 20, io.SeekStart, 1 << 20},
		{10, io.SeekStart, 10},
		{2 << 20, io.SeekCurrent, 2<<20 + 10 + 64},
	} {
		before := f.Stats().ReadBytes
		pos, err := rs.Seek(at.off, at.whence)
		if err != nil || pos != at.want {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", at.off, at.whence, pos, err, at.want)
		}
		b := make([]byte, 64)
		if _, err := io.ReadFull(rs, b); err != nil {
			t.Fatal(err)
		}
		if string(b) != big[pos:pos+64] {
			t.Errorf("at %d read %q, want %q", pos, b, big[pos:pos+64])
		}
		if cost := f.Stats().ReadBytes - before; cost > readBound(every) {
			t.Errorf("reading 64 bytes at %d decompressed %d bytes, bound %d", pos, cost, readBound(every))
		}
	}
	if _, err := rs.Seek(-1, io.SeekStart); err == nil {
		t.Errorf("negative seek accepted")
	}
}

// Restart points after stored blocks: a layer mixing incompressible
// content (which deflate stores) with text, compressed by Go's
// compress/gzip as image builders do. Every restart point the pass keeps
// must reproduce the stream.
func TestRestartPointsAfterStoredBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var es []tf
	for i := range 120 {
		es = append(es, reg(fmt.Sprintf("t%03d", i), 0o644, wordy(rng, 20<<10+rng.IntN(40<<10))))
		if i%3 == 0 {
			noise := make([]byte, 10<<10+rng.IntN(90<<10))
			for k := range noise {
				noise[k] = byte(rng.Uint32())
			}
			es = append(es, reg(fmt.Sprintf("n%03d", i), 0o644, string(noise)))
		}
	}
	all := tarOf(t, es...)
	var buf bytes.Buffer
	zw := stdgzip.NewWriter(&buf)
	zw.Write(all)
	zw.Close()
	blob := buf.Bytes()
	f, err := Build(context.Background(), []Layer{blobLayer(blob, nil)}, Options{CheckpointEvery: 32 << 10, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	acc := &f.access[0]
	if want := len(all) / (64 << 10); len(acc.cps) < want {
		t.Fatalf("%d restart points kept, want at least %d", len(acc.cps), want)
	}
	for i, cp := range acc.cps {
		win, err := f.store.get(cp.win, cp.winLen)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4096)
		n, err := io.ReadFull(newGzipResumer(bytes.NewReader(blob), int64(len(blob)), cp, win), got)
		if (err != nil && err != io.ErrUnexpectedEOF) || !bytes.Equal(got[:n], all[cp.unc:cp.unc+int64(n)]) {
			t.Fatalf("restart point %d (%+v): %v", i, cp, err)
		}
	}
	// Nothing is proven before a read needs it.
	for i := range acc.cps {
		if st := acc.proof[i].Load(); st != cpUntried && !acc.cps[i].member {
			t.Fatalf("restart point %d has proof state %d before any read", i, st)
		}
	}
	// A restart point that does not reproduce the stream is found wrong by
	// the read that first uses it, which falls back to the one before; the
	// read still returns the layer's bytes, and that one is proven.
	k := len(acc.cps) / 2
	acc.cps[k].comp++
	c, err := f.newCursor(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	at := acc.cps[k].unc + 100
	got := make([]byte, 4096)
	if err := c.seek(at); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, all[at:at+4096]) {
		t.Fatalf("reading at %d past a wrong restart point: %v", at, err)
	}
	if st := acc.proof[k].Load(); st != cpWrong {
		t.Errorf("the wrong restart point has proof state %d, want cpWrong", st)
	}
	if st := acc.proof[k-1].Load(); st != cpProven {
		t.Errorf("the restart point before it has proof state %d, want cpProven", st)
	}
	// Later reads skip it without trying it again.
	restarts := f.Stats().Restarts
	if err := c.seek(acc.cps[k].unc + 10); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got[:10]); err != nil || !bytes.Equal(got[:10], all[acc.cps[k].unc+10:acc.cps[k].unc+20]) {
		t.Fatalf("second read past the wrong restart point: %v", err)
	}
	if n := f.Stats().Restarts - restarts; n != 1 {
		t.Errorf("a read past a known wrong restart point restarted %d times, want once", n)
	}
}

// zstd layers have no restart points: reads decompress the layer at most
// twice in all, however many files are read one by one.
func TestZstdReadsBounded(t *testing.T) {
	es, want := accessImage(t, 7, 300)
	dir := t.TempDir()
	f, err := Build(context.Background(), []Layer{blobLayer(zstdOf(t, tarOf(t, es...)), nil)}, Options{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for p, body := range want {
		got, err := f.ReadFile(p[1:])
		if err != nil || string(got) != body {
			t.Fatalf("ReadFile(%s): %d bytes, %v", p, len(got), err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files left in TempDir; the copy should be unlinked at once", len(ents))
	}
	if st := f.Stats(); st.ReadBytes > 2*st.PassBytes {
		t.Errorf("%d reads decompressed %d bytes, more than twice the layer's %d", st.Reads, st.ReadBytes, st.PassBytes)
	}
}

// TestKeepDecompressed: with Options.KeepDecompressed, reading every file
// after Build decompresses nothing (gzip and zstd layers are served from
// the copies the pass kept), the content is right, and the copies live in
// TempDir, unlinked.
func TestKeepDecompressed(t *testing.T) {
	es0, want := accessImage(t, 2, 300)
	layers := []Layer{
		blobLayer(gzipOf(t, tarOf(t, es0...)), nil),
		streamLayer(gzipOf(t, tarOf(t, reg("s/one", 0o644, strings.Repeat("streamed", 5000)))), nil),
		blobLayer(zstdOf(t, tarOf(t, reg("z/one", 0o644, strings.Repeat("zstd", 7000)))), nil),
		blobLayer(tarOf(t, reg("p/one", 0o644, "plain tar")), nil),
	}
	want["/s/one"] = strings.Repeat("streamed", 5000)
	want["/z/one"] = strings.Repeat("zstd", 7000)
	want["/p/one"] = "plain tar"
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			tmp := t.TempDir()
			f, err := Build(context.Background(), layers, Options{CheckpointEvery: 64 << 10, TempDir: tmp, KeepDecompressed: keep})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("TempDir holds %d names: the copies are not unlinked", len(ents))
			}
			got := map[string]string{}
			err = f.ReadFiles(context.Background(), paths, func(p string, r io.Reader) error {
				b, err := io.ReadAll(r)
				got[p] = string(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for p, b := range want {
				if got[p] != b {
					t.Errorf("%s: %d bytes, want %d", p, len(got[p]), len(b))
				}
			}
			st := f.Stats()
			switch {
			case keep && st.ReadBytes != 0:
				t.Errorf("KeepDecompressed: reading every file decompressed %d bytes, want 0", st.ReadBytes)
			case !keep && st.ReadBytes == 0:
				t.Errorf("without KeepDecompressed nothing was decompressed: the test reads nothing")
			}
			// Seeking back within a file works on the copy too.
			r, err := f.Open("s/one")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rs := r.(io.ReadSeeker)
			buf := make([]byte, 8)
			if _, err := rs.Seek(8*4000, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(rs, buf); err != nil || string(buf) != "streamed" {
				t.Errorf("read after seek: %q, %v", buf, err)
			}
		})
	}
}

// TestKeepDecompressedCopyDropped: a copy that could not be written whole,
// or that would go over the budget, is dropped and its bytes given back,
// and the pass sees every byte.
func TestKeepDecompressedCopyDropped(t *testing.T) {
	f := &FS{}
	defer func() {
		for _, c := range f.closers {
			c()
		}
	}()
	tmp := t.TempDir()
	var sink bytes.Buffer
	var left atomic.Int64
	left.Store(100)
	w := newPlainTee(f, tmp, &left, &sink).(*plainTee)
	w.Write([]byte("abc"))
	if c := w.finish(4); c != nil {
		t.Errorf("a copy of 3 bytes of a 4-byte stream was kept")
	}
	if left.Load() != 100 {
		t.Errorf("budget left %d after a dropped copy, want 100", left.Load())
	}
	w = newPlainTee(f, tmp, &left, &sink).(*plainTee)
	w.f.Close() // writing fails from now on
	w.Write(make([]byte, plainCopyBuf+1))
	if c := w.finish(plainCopyBuf + 1); c != nil {
		t.Errorf("a copy whose file failed was kept")
	}
	w = newPlainTee(f, tmp, &left, &sink).(*plainTee)
	w.Write(make([]byte, 60))
	w2 := newPlainTee(f, tmp, &left, &sink).(*plainTee)
	w2.Write(make([]byte, 30))
	w.Write(make([]byte, 20)) // 110 > 100: dropped
	if c := w.finish(80); c != nil {
		t.Errorf("a copy over the budget was kept")
	}
	w2.Write(make([]byte, 30))
	if c := w2.finish(60); c == nil || c.size != 60 {
		t.Errorf("a copy within the budget left was dropped: %+v", c)
	}
	if left.Load() != 40 {
		t.Errorf("budget left %d, want 40", left.Load())
	}
	if want := 3 + plainCopyBuf + 1 + 80 + 60; sink.Len() != want {
		t.Errorf("the pass saw %d bytes, want every byte written (%d)", sink.Len(), want)
	}
}

// TestRestartPointProofIsFree: proving a restart point on its first use
// decompresses nothing more than the read itself (the probe's bytes are
// served again), and a read of a proven one does not prove it again.
func TestRestartPointProofIsFree(t *testing.T) {
	es, _ := accessImage(t, 5, 400)
	all := tarOf(t, es...)
	blob := gzipOf(t, all)
	f, err := Build(context.Background(), []Layer{blobLayer(blob, nil)}, Options{CheckpointEvery: 16 << 10, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	acc := &f.access[0]
	if len(acc.cps) < 50 {
		t.Fatalf("only %d restart points: the test needs many", len(acc.cps))
	}
	for _, k := range []int{3, 3, 40} {
		cp := acc.cps[k]
		before := f.Stats().ReadBytes
		r := newContentReader(&cursor{f: f, li: 0}, f, cp.unc, 200)
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, all[cp.unc:cp.unc+200]) {
			t.Fatalf("reading at restart point %d: %v", k, err)
		}
		if cost := f.Stats().ReadBytes - before; cost != 200 {
			t.Errorf("reading 200 bytes at restart point %d decompressed %d", k, cost)
		}
		if st := acc.proof[k].Load(); st != cpProven {
			t.Errorf("restart point %d has proof state %d after a read, want cpProven", k, st)
		}
	}
	for i := range acc.cps {
		if st := acc.proof[i].Load(); i != 3 && i != 40 && !acc.cps[i].member && st != cpUntried {
			t.Errorf("restart point %d has proof state %d; no read used it", i, st)
		}
	}
}

// TestCursorSkipReusesBuffer: skipping forward in a layer reuses the
// cursor's buffer instead of allocating 32 KiB each time.
func TestCursorSkipReusesBuffer(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	f, err := Build(context.Background(), []Layer{blobLayer(tarOf(t, reg("big", 0o644, body)), nil)}, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := f.newCursor(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.seek(0); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(10, func() {
		if err := c.skip(40 << 10); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("a skip allocated %.0f times, want the cursor's buffer reused", allocs)
	}
}
