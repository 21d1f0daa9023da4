package imagefs

// Benchmarks on a generated image of >= 1 GiB / >= 60,000 files in 8 gzip
// layers, cached under os.TempDir() (lambdoctor-imagefs-bench-*). They skip
// unless LAMBDOCTOR_BENCH=1:
//
//	LAMBDOCTOR_BENCH=1 go test -run '^$' -bench 'GunzipFloor|Build$' -benchtime 3x ./imagefs/
//
// BenchmarkGunzipFloor is one klauspost gunzip pass over all layers,
// serially; BenchmarkBuild is Build with default options. BenchmarkBuild also
// reports x-floor (its time per op over one floor pass measured in the same
// run) and, from a child process that only builds, peak-RSS-MB (VmHWM) next
// to budget-MB (15 MB + 0.4 KB per entry).

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// benchChildEnv names the image directory a child process builds.
const benchChildEnv = "LAMBDOCTOR_BENCH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchChildEnv); dir != "" {
		os.Exit(benchChild(dir))
	}
	os.Exit(m.Run())
}

// benchParams shape the generated image.
type benchParams struct {
	Layers   int
	Files    int // small and medium files, log-uniform sizes
	MinSize  int // of those files
	MaxSize  int // of those files
	BigFiles int // large files, BigSize each
	BigSize  int // bytes
	Seed     uint64
	Weights  []int // share of files per layer
}

// defaultBench is the image the large benchmarks use: about 1.3 GiB and
// 64,000 entries in 8 layers, the largest holding 30% of the files.
func defaultBench() benchParams {
	return benchParams{
		Layers: 8, Files: 60000, MinSize: 64, MaxSize: 128 << 10, BigFiles: 8, BigSize: 32 << 20, Seed: 1,
		Weights: []int{30, 5, 20, 10, 15, 5, 10, 5},
	}
}

// benchImage is a generated image on disk.
type benchImage struct {
	Dir          string
	Blobs        []string
	Compressed   int64
	Uncompressed int64
	TarEntries   int
}

func (im *benchImage) layers() []Layer {
	ls := make([]Layer, len(im.Blobs))
	for i, p := range im.Blobs {
		st, err := os.Stat(p)
		size := int64(-1)
		if err == nil {
			size = st.Size()
		}
		ls[i] = Layer{Digest: fmt.Sprintf("bench-layer-%d", i), Size: size, Open: func() (io.ReadCloser, error) { return os.Open(p) }}
	}
	return ls
}

func benchImageFor(b *testing.B) *benchImage {
	b.Helper()
	if os.Getenv("LAMBDOCTOR_BENCH") != "1" {
		b.Skip("set LAMBDOCTOR_BENCH=1 to generate (once, ~1.3 GiB in os.TempDir()) and benchmark a large image")
	}
	im, err := generateBenchImage(defaultBench())
	if err != nil {
		b.Fatal(err)
	}
	return im
}

// generateBenchImage writes the image of p under os.TempDir(), or reuses it.
func generateBenchImage(p benchParams) (*benchImage, error) {
	key, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("lambdoctor-imagefs-bench-%x", fnv64(key)))
	manifest := filepath.Join(dir, "image.json")
	if raw, err := os.ReadFile(manifest); err == nil {
		var im benchImage
		if err := json.Unmarshal(raw, &im); err == nil {
			return &im, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	plans := planBenchLayers(p)
	im := &benchImage{Dir: dir, Blobs: make([]string, p.Layers)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, p.Layers)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range p.Layers {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			path := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
			n, u, entries, err := writeBenchLayer(path, plans[i], p.Seed+uint64(i))
			errs[i] = err
			mu.Lock()
			im.Blobs[i] = path
			im.Compressed += n
			im.Uncompressed += u
			im.TarEntries += entries
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	raw, err := json.Marshal(im)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(manifest+".tmp", raw, 0o644); err != nil {
		return nil, err
	}
	return im, os.Rename(manifest+".tmp", manifest)
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// benchEntry is one planned tar entry.
type benchEntry struct {
	name string
	typ  byte
	mode int64
	size int
	link string
	elf  bool
	seed uint64
}

// planBenchLayers lays files out in directories and spreads them over
// layers; upper layers also delete a few lower files and make one
// directory opaque.
func planBenchLayers(p benchParams) [][]benchEntry {
	r := rand.New(rand.NewPCG(p.Seed, 7))
	total := 0
	for _, w := range p.Weights {
		total += w
	}
	pick := func() int {
		x := r.IntN(total)
		for i, w := range p.Weights {
			if x < w {
				return i
			}
			x -= w
		}
		return len(p.Weights) - 1
	}
	tops := []string{"usr/lib", "usr/share", "opt/app", "var/task", "usr/local/lib/python3.12/site-packages", "usr/lib64"}
	exts := []string{".py", ".so", ".js", ".json", ".txt", ".h", ""}
	plans := make([][]benchEntry, p.Layers)
	var lowerFiles [][]string
	for range p.Layers {
		lowerFiles = append(lowerFiles, nil)
	}
	logMin, logMax := math.Log(float64(p.MinSize)), math.Log(float64(p.MaxSize))
	for f := range p.Files + p.BigFiles {
		l := pick()
		d := f / 40 // 40 files per directory
		name := fmt.Sprintf("%s/pkg%04d/m%d/f%06d%s", tops[d%len(tops)], d/3, d%3, f, exts[f%len(exts)])
		e := benchEntry{name: name, typ: tar.TypeReg, mode: 0o644, seed: uint64(f)}
		if f < p.Files {
			e.size = int(math.Exp(logMin + r.Float64()*(logMax-logMin)))
		} else {
			e.size = p.BigSize
		}
		switch x := r.IntN(100); {
		case x < 4 && f > 0:
			e.typ, e.size, e.mode = tar.TypeSymlink, 0, 0o777
			e.link = fmt.Sprintf("f%06d%s", f-1, exts[(f-1)%len(exts)])
		case x < 14:
			e.mode = 0o755
			e.elf = x < 10
		}
		plans[l] = append(plans[l], e)
		if e.typ == tar.TypeReg {
			lowerFiles[l] = append(lowerFiles[l], name)
		}
	}
	for l := 1; l < p.Layers; l++ {
		// A few hard links to this layer's files and whiteouts of lower
		// ones.
		own := lowerFiles[l]
		for k := 0; k+1 < len(own) && k < 200; k++ {
			plans[l] = append(plans[l], benchEntry{name: own[k] + ".link", typ: tar.TypeLink, mode: 0o644, link: own[k]})
		}
		lower := lowerFiles[l-1]
		for k := 0; k < len(lower); k += 97 {
			d, b := splitDir(lower[k])
			plans[l] = append(plans[l], benchEntry{name: d + "/.wh." + b, typ: tar.TypeReg, mode: 0o644})
		}
		if len(lower) > 0 {
			d, _ := splitDir(lower[len(lower)/2])
			plans[l] = append(plans[l], benchEntry{name: d + "/.wh..wh..opq", typ: tar.TypeReg, mode: 0o644})
		}
	}
	for l := range plans {
		sort.SliceStable(plans[l], func(i, j int) bool { return plans[l][i].name < plans[l][j].name })
	}
	return plans
}

// writeBenchLayer writes one gzip layer (klauspost, default level).
func writeBenchLayer(path string, plan []benchEntry, seed uint64) (compressed, uncompressed int64, entries int, err error) {
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return 0, 0, 0, err
	}
	defer out.Close()
	bw := bufio.NewWriterSize(out, 1<<20)
	zw := gzip.NewWriter(bw)
	cw := &countWriter{w: zw}
	tw := tar.NewWriter(cw)
	seenDirs := map[string]bool{}
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var content []byte
	words := strings.Fields(benchVocabulary)
	for _, e := range plan {
		d, _ := splitDir(e.name)
		var missing []string
		for x := d; x != "" && !seenDirs[x]; x, _ = splitDir(x) {
			missing = append(missing, x)
			seenDirs[x] = true
		}
		for k := len(missing) - 1; k >= 0; k-- {
			if err := tw.WriteHeader(&tar.Header{Name: missing[k] + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}); err != nil {
				return 0, 0, 0, err
			}
			entries++
		}
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: mtime, Size: int64(e.size)}
		if err := tw.WriteHeader(h); err != nil {
			return 0, 0, 0, err
		}
		entries++
		if e.size > 0 {
			content = benchContent(content[:0], words, e.size, seed^e.seed*0x9e3779b97f4a7c15, e.elf)
			if _, err := tw.Write(content); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return 0, 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, 0, err
	}
	st, err := out.Stat()
	if err != nil {
		return 0, 0, 0, err
	}
	if err := out.Close(); err != nil {
		return 0, 0, 0, err
	}
	return st.Size(), cw.n, entries, os.Rename(tmp, path)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// benchVocabulary is the vocabulary of the compressible parts.
const benchVocabulary = (`import def return class self none true false function const let var
	module exports require lambda handler event context response status body headers json yaml
	config value key index length buffer string integer float array object error warning info debug
	trace request client server http https amazonaws region bucket table queue stream record
	the of and to in is that for it with as on be at by this from or an are was but not`)

// benchContent appends size bytes of deterministic content: 1 KiB blocks,
// 40% random (incompressible), 60% text.
func benchContent(b []byte, words []string, size int, seed uint64, elf bool) []byte {
	r := rand.New(rand.NewPCG(seed, seed>>7|1))
	if elf && size >= 64 {
		b = append(b, "\x7fELF\x02\x01\x01"...)
		b = append(b, make([]byte, 64-7)...)
	}
	var w [8]byte
	for len(b) < size {
		end := min(len(b)+1024, size)
		if r.IntN(10) < 4 {
			for len(b) < end {
				v := r.Uint64()
				for k := range w {
					w[k] = byte(v >> (8 * k))
				}
				b = append(b, w[:min(8, end-len(b))]...)
			}
			continue
		}
		for len(b) < end {
			word := words[r.IntN(len(words))]
			b = append(b, word[:min(len(word), end-len(b))]...)
			if len(b) < end {
				b = append(b, " \n"[r.IntN(8)/7])
			}
		}
	}
	return b
}

// gunzipAll is the floor: one klauspost gunzip pass over every layer,
// serially.
func gunzipAll(im *benchImage) (int64, error) {
	var total int64
	for _, p := range im.Blobs {
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, readBufSize))
		if err != nil {
			f.Close()
			return 0, err
		}
		n, err := io.Copy(io.Discard, zr)
		f.Close()
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func BenchmarkGunzipFloor(b *testing.B) {
	im := benchImageFor(b)
	b.SetBytes(im.Uncompressed)
	b.ResetTimer()
	for b.Loop() {
		if _, err := gunzipAll(im); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(im.TarEntries), "entries")
}

func BenchmarkBuild(b *testing.B) {
	im := benchImageFor(b)
	layers := im.layers()
	b.SetBytes(im.Uncompressed)
	var entries int
	start := time.Now()
	n := 0
	b.ResetTimer()
	for b.Loop() {
		f, err := Build(context.Background(), layers, Options{})
		if err != nil {
			b.Fatal(err)
		}
		entries = f.Len()
		n++
	}
	perOp := time.Since(start) / time.Duration(n)
	b.StopTimer()
	floorStart := time.Now()
	if _, err := gunzipAll(im); err != nil {
		b.Fatal(err)
	}
	floor := time.Since(floorStart)
	b.ReportMetric(float64(entries), "entries")
	b.ReportMetric(float64(perOp)/float64(floor), "x-floor")
	peak, base, err := benchChildRSS(im.Dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(peak, "peak-RSS-MB")
	b.ReportMetric(base, "base-RSS-MB")
	b.ReportMetric(15+0.4*float64(entries)/1024, "budget-MB")
}

// benchChildRSS builds the image in a fresh process and returns its peak
// RSS (VmHWM) and its RSS before building, in MB.
func benchChildRSS(dir string) (peak, base float64, err error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("child: %v: %s", err, out.String())
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(out.String()), "peak=%g base=%g", &peak, &base); err != nil {
		return 0, 0, fmt.Errorf("child output %q: %v", out.String(), err)
	}
	return peak, base, nil
}

// benchChild is the child process: build once, print VmHWM.
func benchChild(dir string) int {
	raw, err := os.ReadFile(filepath.Join(dir, "image.json"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	var im benchImage
	if err := json.Unmarshal(raw, &im); err != nil {
		fmt.Println(err)
		return 1
	}
	base := procStatusMB("VmRSS")
	f, err := Build(context.Background(), im.layers(), Options{})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	peak := procStatusMB("VmHWM")
	runtime.KeepAlive(f)
	fmt.Printf("peak=%.1f base=%.1f\n", peak, base)
	return 0
}

// procStatusMB reads a kB field of /proc/self/status, in MB.
func procStatusMB(field string) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return -1
			}
			return kb / 1024
		}
	}
	return -1
}

// BenchmarkBuildSmall builds an in-memory image of 4 layers / 8,000 files;
// it needs no generation on disk and always runs under -bench.
func BenchmarkBuildSmall(b *testing.B) {
	p := benchParams{Layers: 4, Files: 8000, MinSize: 16, MaxSize: 8 << 10, Seed: 3, Weights: []int{4, 3, 2, 1}}
	plans := planBenchLayers(p)
	var layers []Layer
	var total int64
	for i, plan := range plans {
		path := filepath.Join(b.TempDir(), "layer.tar.gz")
		_, u, _, err := writeBenchLayer(path, plan, uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		blob, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		total += u
		layers = append(layers, blobLayer(blob, nil))
	}
	b.SetBytes(total)
	var entries int
	for b.Loop() {
		f, err := Build(context.Background(), layers, Options{})
		if err != nil {
			b.Fatal(err)
		}
		entries = f.Len()
	}
	b.ReportMetric(float64(entries), "entries")
}
