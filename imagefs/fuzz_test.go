package imagefs

// Fuzz targets of the layer reader: `make fuzz` runs each for FUZZTIME,
// CI for a few seconds. The seeds are the hostile layers of limits_test.go
// in small.

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
)

// fuzzSeeds are small hostile and ordinary layers, as blobs (plain tar,
// gzip or zstd).
func fuzzSeeds(t testing.TB) [][]byte {
	plain := tarOf(t,
		dir("etc", 0o755), reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		sym("bin", "usr/bin"), hard("etc/p2", "etc/passwd"), wh("gone"), opq("etc"))
	paxName := func(name string) []byte {
		return append(paxEntry(paxRecord("path", name), "x", '0'), make([]byte, 2*blockSize)...)
	}
	var manyRecs strings.Builder
	for i := range 50 {
		manyRecs.WriteString(paxRecord("SCHILY.xattr.user.a"+strings.Repeat("x", i), "v"))
	}
	return [][]byte{
		plain,
		gzipOf(t, plain),
		zstdOf(t, plain),
		paxName("../" + strings.Repeat("a", 5000)),
		paxName(strings.Repeat("a/", 3000) + "f"),
		paxName(strings.Repeat("c", 300) + "/f"),
		append(paxEntry(paxRecord("linkpath", strings.Repeat("t/", 2100)), "l", '2'), make([]byte, 2*blockSize)...),
		append(paxEntry(manyRecs.String(), "f", '0'), make([]byte, 2*blockSize)...),
		rawHeader("pax", 'x', 2<<20, false),
		paxEntry(paxRecord("size", "-5"), "f", '0'),
		rawHeader("L", 'L', 1<<20, true),
		zstdZeros(31, 2),
		zstdZeros(17, 3),
		tarOf(t, sym("a", "/b/c"), dir("b/c", 0o755), reg("a/f", 0o644, "through"), sym("b/c/loop", "/b/c/loop/x"), reg("b/c/loop/y", 0o644, "")),
	}
}

// FuzzTarSink feeds a stream to the tar parser in writes of random sizes
// and checks that it never panics, consumes every byte it accepts, and
// fails only with the errors the decoder knows.
func FuzzTarSink(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		r := rand.New(rand.NewPCG(seed, seed))
		entries := 0
		sink := &tarSink{ctx: context.Background(), entry: func(h *tarHeader, off int64) (capturePlan, error) {
			entries++
			if off%blockSize != 0 || off > int64(len(stream)) {
				t.Fatalf("entry %q at offset %d of %d", h.name, off, len(stream))
			}
			return capturePlan{}, nil
		}}
		rest := stream
		var err error
		for len(rest) > 0 && err == nil {
			n := min(len(rest), 1+r.IntN(2*blockSize))
			_, err = sink.Write(rest[:n])
			rest = rest[n:]
		}
		if err == nil {
			if sink.off != int64(len(stream)) {
				t.Fatalf("consumed %d of %d bytes", sink.off, len(stream))
			}
			err = sink.finish()
		}
		if err != nil && !errors.Is(err, errHeader) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrLimit) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzBuild builds a one-layer image from a blob and checks the merged
// view: Build fails only as a corrupt layer or on a limit, and a view it
// returns walks in order, within PathMax and MaxDepth, with every entry
// counted and anomalies kept small.
func FuzzBuild(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		if len(blob) > 256<<10 {
			return
		}
		fsys, err := Build(context.Background(), []Layer{blobLayer(blob, nil)},
			Options{MaxEntries: 10_000, TempDir: t.TempDir(), expansionFloor: 1 << 20})
		if err != nil {
			var le *LayerError
			if !errors.As(err, &le) || !errors.Is(err, ErrCorruptLayer) && !errors.Is(err, ErrLimit) {
				t.Fatalf("Build error %v is neither a corrupt layer nor a limit", err)
			}
			return
		}
		defer fsys.Close()
		n, prev := 0, ""
		err = fsys.Walk(func(e *Entry) error {
			n++
			if len(e.Path) >= PathMax || strings.Count(e.Path, "/") > MaxDepth {
				t.Fatalf("path of %d bytes", len(e.Path))
			}
			if n > 1 && !pathBefore(prev, e.Path) {
				t.Fatalf("Walk gave %q after %q", e.Path, prev)
			}
			prev = e.Path
			if e.IsRegular() && e.Size <= 1<<20 {
				if _, err := fsys.ReadFile(e.Path[1:]); err != nil && !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, fs.ErrNotExist) {
					// A file whose tar content is short fails the pass,
					// so a built view reads every file.
					t.Fatalf("ReadFile(%s): %v", e.Path, err)
				}
			}
			return nil
		})
		if err != nil || n != fsys.Len() {
			t.Fatalf("Walk: %v, %d entries, Len %d", err, n, fsys.Len())
		}
		for _, a := range fsys.Anomalies() {
			if len(a.Path) >= PathMax+maxExcerpt || len(a.Detail) > 2*PathMax {
				t.Fatalf("anomaly keeps %d + %d bytes", len(a.Path), len(a.Detail))
			}
		}
	})
}

// pathBefore reports whether a comes before b in Walk's order: component
// by component, parents first.
func pathBefore(a, b string) bool {
	ac, bc := strings.Split(a, "/")[1:], strings.Split(b, "/")[1:]
	if a == "/" {
		ac = nil
	}
	for i := range min(len(ac), len(bc)) {
		if ac[i] != bc[i] {
			return ac[i] < bc[i]
		}
	}
	return len(ac) < len(bc)
}

// TestFuzzSeedsAreHostile keeps the seeds honest: each plain-tar seed
// that is not an ordinary layer must hit a limit or an anomaly.
func TestFuzzSeedsAreHostile(t *testing.T) {
	seeds := fuzzSeeds(t)
	var ordinary int
	for i, s := range seeds {
		fsys, err := Build(context.Background(), []Layer{blobLayer(s, nil)}, Options{})
		switch {
		case err != nil:
			if !errors.Is(err, ErrLimit) && !errors.Is(err, ErrCorruptLayer) {
				t.Errorf("seed %d: %v", i, err)
			}
		case len(fsys.Anomalies()) == 0:
			ordinary++
		}
		if fsys != nil {
			fsys.Close()
		}
	}
	// The three encodings of the plain layer, the zstd frame of zeros (an
	// empty archive) and the PAX header of 50 records (under the cap).
	if ordinary != 5 {
		t.Errorf("%d seeds are ordinary layers, want 5", ordinary)
	}
}
