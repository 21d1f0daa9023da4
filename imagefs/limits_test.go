package imagefs

// Hostile layers against the limits of limits.go. Each case is generated
// here (blob files written by the test, or streams generated on the fly),
// built by a child process so that its peak RSS (VmHWM) and wall time are
// its own, and checked against what docs/limits.md promises: the right
// limit error or anomaly, fast, in bounded memory. Run with -v to see the
// figures; cases that decompress gigabytes are skipped under -short.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// hostileChildEnv names the case a child process builds, and its
// directory: "case=dir".
const hostileChildEnv = "LAMBDOCTOR_HOSTILE_CHILD"

// maxHostileRSSMB is the peak RSS every hostile case must stay under.
const maxHostileRSSMB = 200

// hostileResult is what a child reports of one Build.
type hostileResult struct {
	Err          string
	Limit        string // the limitError's name, if any
	TooMany      bool   // errors.Is(err, ErrTooManyEntries)
	Corrupt      bool   // errors.Is(err, ErrCorruptLayer)
	Entries      int    // FS.Len
	Anomalies    map[AnomalyKind]int
	AnomalyBytes int // of paths and details kept
	MaxPath      int // longest path Walk gave
	MaxDepth     int // most components Walk gave
	PeakMB       float64
	Wall         time.Duration
}

// hostileCase is one hostile image.
type hostileCase struct {
	name string
	// prepare writes the case's files into dir (in the parent).
	prepare func(t testing.TB, dir string)
	// layers returns the layers to build (in the child).
	layers func(dir string) ([]Layer, error)
	// check says what is wrong with the outcome, "" if nothing.
	check func(r *hostileResult) string
	// slow cases decompress gigabytes: skipped under -short.
	slow bool
}

// wantLimit checks that Build failed on the named limit.
func wantLimit(name string) func(r *hostileResult) string {
	return func(r *hostileResult) string {
		if r.Limit != name || r.Corrupt {
			return fmt.Sprintf("want limit %s, got error %q (limit %q, corrupt %v)", name, r.Err, r.Limit, r.Corrupt)
		}
		if !strings.HasSuffix(r.Err, "("+name+")") {
			return fmt.Sprintf("message %q does not name limit %s", r.Err, name)
		}
		return ""
	}
}

// wantAnomalies checks that Build succeeded with at least n anomalies of
// kind, and that what they keep is small.
func wantAnomalies(kind AnomalyKind, n int) func(r *hostileResult) string {
	return func(r *hostileResult) string {
		if r.Err != "" {
			return "Build failed: " + r.Err
		}
		if r.Anomalies[kind] < n {
			return fmt.Sprintf("want >= %d %s anomalies, got %v", n, kind, r.Anomalies)
		}
		if r.AnomalyBytes > (maxAnomaliesPerLayer+1)*(PathMax+2*maxExcerpt+200) {
			return fmt.Sprintf("anomalies keep %d bytes", r.AnomalyBytes)
		}
		if r.MaxPath >= PathMax || r.MaxDepth > MaxDepth {
			return fmt.Sprintf("Walk gave a path of %d bytes, %d components", r.MaxPath, r.MaxDepth)
		}
		return ""
	}
}

func fileLayers(dir string) ([]Layer, error) {
	names, err := filepath.Glob(filepath.Join(dir, "layer*"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("no layers in %s: %v", dir, err)
	}
	var ls []Layer
	for _, n := range names {
		fi, err := os.Stat(n)
		if err != nil {
			return nil, err
		}
		ls = append(ls, Layer{Digest: "sha256:" + filepath.Base(n), Size: fi.Size(),
			Open: func() (io.ReadCloser, error) { return os.Open(n) }})
	}
	return ls, nil
}

func writeLayer(t testing.TB, dir string, i int, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("layer%03d", i)), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// zstdFrameHeader starts a zstd frame (RFC 8878 section 3.1.1) with no
// content size and a window of 1<<wlog bytes.
func zstdFrameHeader(wlog int) []byte {
	return []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, byte((wlog - 10) << 3)}
}

// zstdRLEBlock is a block of 128 KiB zero bytes in 4 bytes (RFC 8878
// section 3.1.1.2: 3 bytes of header, RLE type, then the byte).
func zstdRLEBlock(last bool) []byte {
	v := 128<<10<<3 | 1<<1
	if last {
		v |= 1
	}
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), 0}
}

// zstdZeros is one zstd frame of n*128 KiB zero bytes, a tar stream that
// ends at once and is followed by zeros.
func zstdZeros(wlog, n int) []byte {
	b := zstdFrameHeader(wlog)
	for i := range n {
		b = append(b, zstdRLEBlock(i == n-1)...)
	}
	return b
}

// endlessZstd is a zstd frame of RLE blocks that never ends.
type endlessZstd struct {
	head  []byte
	phase int
}

func (e *endlessZstd) Read(p []byte) (int, error) {
	n := copy(p, e.head)
	e.head = e.head[n:]
	block := zstdRLEBlock(false)
	for ; n < len(p); n++ {
		p[n] = block[e.phase]
		e.phase = (e.phase + 1) % len(block)
	}
	return n, nil
}

func (e *endlessZstd) Close() error { return nil }

// zeroBlob is a blob of zero bytes that can be read at offsets.
type zeroBlob struct{ size, off int64 }

func (z *zeroBlob) Size() int64  { return z.size }
func (z *zeroBlob) Close() error { return nil }

func (z *zeroBlob) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.size-off))
	clear(p[:n])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (z *zeroBlob) Read(p []byte) (int, error) {
	n, err := z.ReadAt(p, z.off)
	z.off += int64(n)
	return n, err
}

// gzipMember compresses b as one gzip member.
func gzipMember(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// repeatedGzip writes a gzip layer (one member per piece) holding entry n
// times, then the end-of-archive marker.
func repeatedGzip(t testing.TB, dir string, entry []byte, n int) {
	t.Helper()
	member := gzipMember(t, entry)
	var buf bytes.Buffer
	for range n {
		buf.Write(member)
	}
	buf.Write(gzipMember(t, make([]byte, 2*blockSize)))
	writeLayer(t, dir, 0, buf.Bytes())
}

// paxEntry is a PAX header of recs followed by the USTAR header of an
// entry without content.
func paxEntry(recs string, name string, typ byte) []byte {
	b := append(rawHeader("pax", 'x', int64(len(recs)), false), padded([]byte(recs))...)
	return append(b, rawHeader(name, typ, 0, false)...)
}

// tarLayer writes a gzip layer of the entries write adds.
func tarLayer(t testing.TB, dir string, write func(tw *tar.Writer) error) {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	if err := write(tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeLayer(t, dir, 0, buf.Bytes())
}

func hostileCases() []hostileCase {
	return []hostileCase{
		{
			// A zstd frame that never ends, from a source that streams it
			// (a registry), declared as 4 KiB.
			name: "zstd-bomb-endless",
			layers: func(string) ([]Layer, error) {
				return []Layer{{Digest: "sha256:bomb", Size: 4096, Open: func() (io.ReadCloser, error) {
					return &endlessZstd{head: zstdFrameHeader(17)}, nil
				}}}, nil
			},
			check: wantLimit("maxExpansionRatio"),
		},
		{
			// 512 KiB expanding to 16 GiB of zeros, then trailing garbage.
			name: "zstd-bomb-trailing",
			prepare: func(t testing.TB, dir string) {
				writeLayer(t, dir, 0, append(zstdZeros(17, 16<<30/(128<<10)), bytes.Repeat([]byte("trailing"), 8192)...))
			},
			layers: fileLayers,
			check:  wantLimit("maxExpansionRatio"),
		},
		{
			// A frame asking for a 2 GiB window.
			name: "zstd-window-2GiB",
			prepare: func(t testing.TB, dir string) {
				writeLayer(t, dir, 0, zstdZeros(31, 64))
			},
			layers: fileLayers,
			check:  wantLimit("maxZstdWindow"),
		},
		{
			// The largest window allowed, filled: the history the decoder
			// keeps is the window.
			name: "zstd-window-32MiB-bomb",
			prepare: func(t testing.TB, dir string) {
				writeLayer(t, dir, 0, zstdZeros(25, 8<<30/(128<<10)))
			},
			layers: fileLayers,
			check:  wantLimit("maxExpansionRatio"),
			slow:   true,
		},
		{
			// 11 MB of gzip members expanding to 11 GiB: gzip cannot
			// exceed 1032:1, so the image ceiling stops it.
			name: "gzip-bomb",
			prepare: func(t testing.TB, dir string) {
				member := gzipMember(t, make([]byte, 64<<20))
				var buf bytes.Buffer
				for range 11 << 30 / (64 << 20) {
					buf.Write(member)
				}
				writeLayer(t, dir, 0, buf.Bytes())
			},
			layers: fileLayers,
			check:  wantLimit("MaxImageBytes"),
			slow:   true,
		},
		{
			// Eleven uncompressed layers of 1 GiB each (an empty archive,
			// then zeros): every layer is within its own bound, the image
			// is not.
			name: "image-size-11-layers",
			layers: func(string) ([]Layer, error) {
				var ls []Layer
				for i := range 11 {
					ls = append(ls, Layer{Digest: fmt.Sprintf("sha256:zeros%d", i), Size: 1 << 30,
						Open: func() (io.ReadCloser, error) { return &zeroBlob{size: 1 << 30}, nil }})
				}
				return ls, nil
			},
			check: wantLimit("MaxImageBytes"),
			slow:  true,
		},
		{
			name: "pax-header-2MiB",
			prepare: func(t testing.TB, dir string) {
				writeLayer(t, dir, 0, append(rawHeader("pax", 'x', 2<<20, false), make([]byte, 2<<20)...))
			},
			layers: fileLayers,
			check:  wantLimit("maxPAXSize"),
		},
		{
			name: "pax-12000-records",
			prepare: func(t testing.TB, dir string) {
				var recs strings.Builder
				for i := range 12000 {
					recs.WriteString(paxRecord(fmt.Sprintf("SCHILY.xattr.user.a%d", i), "x"))
				}
				writeLayer(t, dir, 0, paxEntry(recs.String(), "f", '0'))
			},
			layers: fileLayers,
			check:  wantLimit("maxPAXRecords"),
		},
		{
			// 1,000 entries whose 1 MB PAX names climb above the root.
			name: "1MB-names-above-root",
			prepare: func(t testing.TB, dir string) {
				repeatedGzip(t, dir, paxEntry(paxRecord("path", "../"+strings.Repeat("a", 1_000_000)), "x", '0'), 1000)
			},
			layers: fileLayers,
			check:  wantAnomalies(AnomalyUnsafeName, maxAnomaliesPerLayer),
			slow:   true,
		},
		{
			// 5,000 symlinks with 200 KB targets.
			name: "5000-symlinks-200KB-targets",
			prepare: func(t testing.TB, dir string) {
				repeatedGzip(t, dir, paxEntry(paxRecord("linkpath", strings.Repeat("t/", 100_000)), "l", '2'), 5000)
			},
			layers: fileLayers,
			check:  wantAnomalies(AnomalyUnsafeName, maxAnomaliesPerLayer),
			slow:   true,
		},
		{
			// One file 400,000 directories deep, in a 2 KB layer.
			name: "400000-deep-name",
			prepare: func(t testing.TB, dir string) {
				repeatedGzip(t, dir, paxEntry(paxRecord("path", strings.Repeat("a/", 400_000)+"f"), "x", '0'), 1)
			},
			layers: fileLayers,
			check:  wantAnomalies(AnomalyUnsafeName, 1),
		},
		{
			// The deepest file a path can name, with a symlink chain that
			// writes through it to push entries deeper still.
			name: "deepest-path-and-symlink-chain",
			prepare: func(t testing.TB, dir string) {
				deep := strings.Repeat("a/", MaxDepth-1) + "f"
				half := strings.Repeat("b/", 1000)
				tarLayer(t, dir, func(tw *tar.Writer) error {
					if err := tw.WriteHeader(&tar.Header{Name: deep, Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
						return err
					}
					// l0 -> /b/b/...; l0/b/.../l1 -> /l0/b/...; and so on:
					// each link's directory lies 1,000 levels below the
					// last one's.
					link := "l0"
					if err := tw.WriteHeader(&tar.Header{Name: link, Typeflag: tar.TypeSymlink, Linkname: "/" + half}); err != nil {
						return err
					}
					for i := 1; i < 10; i++ {
						if err := tw.WriteHeader(&tar.Header{Name: half, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
							return err
						}
						next := fmt.Sprintf("%s/%sl%d", link, half, i)
						if err := tw.WriteHeader(&tar.Header{Name: next, Typeflag: tar.TypeSymlink, Linkname: "/" + link + "/" + half}); err != nil {
							return err
						}
						link = fmt.Sprintf("l%d", i)
						if err := tw.WriteHeader(&tar.Header{Name: link, Typeflag: tar.TypeSymlink, Linkname: "/" + next}); err != nil {
							return err
						}
					}
					return nil
				})
			},
			layers: fileLayers,
			check: func(r *hostileResult) string {
				if s := wantAnomalies(AnomalyUnsafeName, 1)(r); s != "" {
					return s
				}
				if r.MaxDepth != MaxDepth {
					return fmt.Sprintf("deepest path has %d components, want %d", r.MaxDepth, MaxDepth)
				}
				return ""
			},
		},
		{
			// 20,000 entries in distinct directories with 4,000-byte paths.
			name: "20000-long-distinct-dirs",
			prepare: func(t testing.TB, dir string) {
				long := strings.Repeat("d/", 1995)
				tarLayer(t, dir, func(tw *tar.Writer) error {
					for i := range 20000 {
						if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%06d/%sf", i, long), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
							return err
						}
					}
					return nil
				})
			},
			layers: fileLayers,
			check:  wantLimit("MaxNameBytes"),
		},
		{
			// 3,000 files each 2,040 directories deep in its own tree: 6
			// million implicit directories from a 16 MB tar stream.
			name: "implicit-directory-bomb",
			prepare: func(t testing.TB, dir string) {
				long := strings.Repeat("a/", 2040)
				tarLayer(t, dir, func(tw *tar.Writer) error {
					for i := range 3000 {
						if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%04d/%sf", i, long), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
							return err
						}
					}
					return nil
				})
			},
			layers: fileLayers,
			check:  wantLimit("maxImplicitDirs"),
		},
	}
}

func TestHostileLayers(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			if c.slow && testing.Short() {
				t.Skip("decompresses gigabytes; skipped with -short")
			}
			dir := t.TempDir()
			if c.prepare != nil {
				c.prepare(t, dir)
			}
			r, err := runHostileChild(c.name, dir)
			if err != nil {
				t.Fatal(err)
			}
			outcome := r.Err
			if outcome == "" {
				outcome = fmt.Sprintf("loaded, %d entries, anomalies %v", r.Entries, r.Anomalies)
			}
			t.Logf("%s: %s; wall %v, peak RSS %.0f MB", c.name, outcome, r.Wall.Round(time.Millisecond), r.PeakMB)
			if s := c.check(r); s != "" {
				t.Error(s)
			}
			if r.PeakMB > maxHostileRSSMB {
				t.Errorf("peak RSS %.0f MB, over %d MB", r.PeakMB, maxHostileRSSMB)
			}
		})
	}
}

// runHostileChild builds case name (files in dir) in a child process.
func runHostileChild(name, dir string) (*hostileResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hostileChildEnv+"="+name+"="+dir)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("child: %v: %s%s", err, out.String(), stderr.String())
	}
	var r hostileResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("child output %q: %v", out.String(), err)
	}
	return &r, nil
}

// hostileChild is the child process: build the case once and report.
func hostileChild(arg string) int {
	name, dir, _ := strings.Cut(arg, "=")
	var c *hostileCase
	for _, k := range hostileCases() {
		if k.name == name {
			c = &k
		}
	}
	if c == nil {
		fmt.Println("no case", name)
		return 1
	}
	layers, err := c.layers(dir)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "lambdoctor-hostile-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(tmp)
	r := hostileResult{Anomalies: map[AnomalyKind]int{}}
	start := time.Now()
	f, err := Build(context.Background(), layers, Options{TempDir: tmp})
	if err != nil {
		r.Err = err.Error()
		var le *limitError
		if errors.As(err, &le) {
			r.Limit = le.name
		}
		r.TooMany = errors.Is(err, ErrTooManyEntries)
		r.Corrupt = errors.Is(err, ErrCorruptLayer)
	} else {
		r.Entries = f.Len()
		for _, a := range f.Anomalies() {
			r.Anomalies[a.Kind]++
			r.AnomalyBytes += len(a.Path) + len(a.Detail)
		}
		f.Walk(func(e *Entry) error {
			r.MaxPath = max(r.MaxPath, len(e.Path))
			r.MaxDepth = max(r.MaxDepth, strings.Count(e.Path, "/"))
			return nil
		})
		f.Close()
	}
	r.Wall = time.Since(start)
	r.PeakMB = procStatusMB("VmHWM")
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// TestNameLimitBoundaries checks each per-entry limit one byte either side.
func TestNameLimitBoundaries(t *testing.T) {
	// A clean name of n bytes: components of 200 bytes and a last one.
	nameOf := func(n int) string {
		var b strings.Builder
		for b.Len()+201 < n {
			b.WriteString(strings.Repeat("d", 200) + "/")
		}
		b.WriteString(strings.Repeat("f", n-b.Len()))
		return b.String()
	}
	okName, longName := nameOf(PathMax-2), nameOf(PathMax-1) // "/"+name: 4095 and 4096 bytes
	okComp, longComp := strings.Repeat("c", NameMax), strings.Repeat("c", NameMax+1)
	okTarget, longTarget := strings.Repeat("t", PathMax-1), strings.Repeat("t", PathMax)
	f := build(t, []tf{
		reg(okName, 0o644, "x"),
		reg(longName, 0o644, "x"),
		reg("a/"+okComp+"/f", 0o644, "x"),
		reg("b/"+longComp+"/f", 0o644, "x"),
		sym("okl", okTarget),
		sym("longl", longTarget),
		reg("target", 0o644, "x"),
		hard("okh", "/target"),
		hard("longh", "/"+longName),
	})
	for _, p := range []string{"/" + okName, "/a/" + okComp + "/f", "/okl", "/okh"} {
		if _, ok := f.Lookup(p); !ok {
			t.Errorf("%.40s… (%d bytes) is missing", p, len(p))
		}
	}
	for _, p := range []string{"/" + longName, "/b/" + longComp, "/longl", "/longh"} {
		if _, ok := f.Lookup(p); ok {
			t.Errorf("%.40s… (%d bytes) is in the view", p, len(p))
		}
	}
	var details []string
	for _, a := range f.Anomalies() {
		if a.Kind != AnomalyUnsafeName {
			t.Errorf("anomaly %+v", a)
			continue
		}
		if len(a.Detail) > 3*maxExcerpt || len(a.Path) >= PathMax {
			t.Errorf("anomaly keeps %d + %d bytes", len(a.Path), len(a.Detail))
		}
		details = append(details, a.Detail)
	}
	want := []string{"name of 4096 bytes", "component of 256 bytes", "symlink target of 4096 bytes", "hard link target of 4096 bytes"}
	if len(details) != len(want) {
		t.Fatalf("anomalies: %q", details)
	}
	for i, w := range want {
		if !strings.Contains(details[i], w) {
			t.Errorf("anomaly %d: %q, want %q", i, details[i], w)
		}
	}
}

func TestExcerpt(t *testing.T) {
	if got := excerpt("short"); got != "short" {
		t.Errorf("excerpt(short) = %q", got)
	}
	long := strings.Repeat("é", 1000) // 2,000 bytes
	got := excerpt(long)
	if !strings.HasSuffix(got, "… (2000 bytes)") || len(got) > maxExcerpt+20 || !utf8Valid(got) {
		t.Errorf("excerpt(long) = %q", got)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestPAXKeepsOnlyUsedRecords checks that unknown records are dropped and
// that values are copies, not views of the header's buffer.
func TestPAXKeepsOnlyUsedRecords(t *testing.T) {
	recs := paxRecord("path", "p") + paxRecord("SCHILY.xattr.user.big", strings.Repeat("x", 1000)) + paxRecord("mtime", "1.5")
	got, err := parsePAX([]byte(recs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["path"] != "p" || got["mtime"] != "1.5" {
		t.Errorf("parsePAX = %v", got)
	}
}

// TestMergeDirCacheAlternatingAndReplaced checks the merge's directory
// cache: entries alternating between directories land where they belong,
// and a directory replaced by a file is not written into afterwards.
func TestMergeDirCacheAlternatingAndReplaced(t *testing.T) {
	f := build(t, []tf{
		reg("a/b/f1", 0o644, "1"), reg("c/d/f2", 0o644, "2"),
		reg("a/b/f3", 0o644, "3"), reg("c/d/f4", 0o644, "4"),
		reg("a", 0o644, "file"), // replaces the directory a and its subtree
		reg("a/b/f5", 0o644, "5"), reg("c/d/f6", 0o644, "6"),
	})
	want := []string{"/a reg 0644 =file", "/c dir 0755", "/c/d dir 0755",
		"/c/d/f2 reg 0644 =2", "/c/d/f4 reg 0644 =4", "/c/d/f6 reg 0644 =6"}
	if d := diffLines(listing(t, f), want); d != "" {
		t.Error(d)
	}
	// a was implicit, so replacing it is not a duplicate.
	if got := kinds(f); len(got) != 1 || got[0] != "parent-not-dir /a/b" {
		t.Errorf("anomalies = %v", got)
	}
}

// TestCappedWriter checks the bound of the indexing pass over a cached
// layer's blob.
func TestCappedWriter(t *testing.T) {
	w := capped(io.Discard, 1)
	if _, err := w.Write(make([]byte, expansionFloor)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, maxExpansionRatio)); err != nil {
		t.Fatal(err)
	}
	_, err := w.Write([]byte{0})
	if !errors.Is(err, ErrLimit) || !strings.HasSuffix(err.Error(), "(maxExpansionRatio)") {
		t.Errorf("err = %v", err)
	}
}
