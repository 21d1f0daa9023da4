package realbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/realimage"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// benchImages are the images measured, in order; those not built are
// skipped (`make bench` builds them all).
var benchImages = []string{"debian-python", "debian-go", "go-small", "big"}

// image returns the built image name for b, skipping benchmarks under
// -short or LAMBDOCTOR_BENCH=0.
func image(b *testing.B, name string) *realimage.Info {
	b.Helper()
	if os.Getenv("LAMBDOCTOR_BENCH") == "0" || testing.Short() {
		b.Skip("real-image benchmarks disabled (LAMBDOCTOR_BENCH=0 or -short)")
	}
	return realimage.Get(b, name)
}

// usage is what a measured step cost.
type usage struct {
	wall, cpu time.Duration
	maxRSSMB  float64 // children only
	// anonMB and fileMB are the sampled peaks of a child's anonymous and
	// file-backed resident memory.
	anonMB, fileMB float64
}

func (u *usage) add(v usage) {
	u.wall += v.wall
	u.cpu += v.cpu
	u.maxRSSMB = max(u.maxRSSMB, v.maxRSSMB)
	u.anonMB = max(u.anonMB, v.anonMB)
	u.fileMB = max(u.fileMB, v.fileMB)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// inProcess measures f run in this process.
func inProcess(f func() error) (usage, error) {
	c0, t0 := selfCPU(), time.Now()
	err := f()
	return usage{wall: time.Since(t0), cpu: selfCPU() - c0}, err
}

// child measures a command: wall, user+sys CPU and peak RSS from its
// rusage (the whole process tree it waited for), and the peaks of its
// anonymous and file-backed resident memory, sampled from
// /proc/PID/status every 10 ms (more often costs the child measurable CPU on one core). The rusage peak counts the pages of
// the lambdoctor binary itself that the process touched (shared,
// reclaimable page cache: 15-17 MB of a 41 MB static binary); the
// anonymous peak is the memory the process allocated.
func child(cmd *exec.Cmd) (usage, []byte, error) {
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return usage{}, nil, err
	}
	done := make(chan struct{})
	sampled := make(chan [2]float64, 1)
	go func() {
		var peak [2]float64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if anon, file, ok := residentMB(cmd.Process.Pid); ok {
				peak[0], peak[1] = max(peak[0], anon), max(peak[1], file)
			}
			select {
			case <-done:
				sampled <- peak
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(t0)
	close(done)
	peak := <-sampled
	out := stdout.Bytes()
	u := usage{wall: wall, anonMB: peak[0], fileMB: peak[1]}
	if ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage); ru != nil {
		u.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		u.maxRSSMB = float64(ru.Maxrss) / 1024 // kB on Linux
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("%s: %v: %s", cmd.Path, err, stderr.Bytes())
	}
	return u, out, err
}

// residentMB reads RssAnon and RssFile of a running process, in MB.
func residentMB(pid int) (anon, file float64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found || (k != "RssAnon" && k != "RssFile") {
			continue
		}
		var kb float64
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err != nil {
			continue
		}
		if k == "RssAnon" {
			anon, ok = kb/1024, true
		} else {
			file = kb / 1024
		}
	}
	return anon, file, ok
}

// floor is one single-threaded klauspost gunzip pass over every layer of
// the image, serially: the cost of reading the image once.
func floor(info *realimage.Info) (usage, error) {
	return inProcess(func() error {
		for _, p := range info.BlobPaths() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
			if err != nil {
				f.Close()
				return err
			}
			_, err = io.Copy(io.Discard, zr)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// lambdoctor builds the command once per test process, as `make build`
// does, into a temporary directory.
func lambdoctor(b *testing.B) string {
	b.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lambdoctor-realbench-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "lambdoctor")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, "github.com/lambdoctor/lambdoctor")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build builds it
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		b.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

var (
	mergedMu sync.Mutex
	merged   = map[string]int{}
)

// mergedEntries is the number of entries of the image's merged filesystem,
// which the peak RSS budget is per.
func mergedEntries(b *testing.B, info *realimage.Info) int {
	b.Helper()
	mergedMu.Lock()
	defer mergedMu.Unlock()
	if n, ok := merged[info.Name]; ok {
		return n
	}
	img, err := source.Load(context.Background(), info.ArchivePath(), source.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	f, err := imagefs.Build(context.Background(), img.Layers, imagefs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	merged[info.Name] = f.Len()
	return f.Len()
}

// report adds the metrics every real-image benchmark shares.
func report(b *testing.B, info *realimage.Info, what, fl usage) {
	n := float64(b.N)
	b.ReportMetric(float64(what.wall.Milliseconds())/n, "ms/run")
	b.ReportMetric(float64(fl.wall.Milliseconds())/n, "floor-ms/run")
	b.ReportMetric(float64(what.wall)/float64(fl.wall), "x-floor")
	if fl.cpu > 0 {
		b.ReportMetric(float64(what.cpu)/float64(fl.cpu), "cpu-x-floor")
	}
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	b.ReportMetric(float64(info.Uncompressed)/1e6, "image-MB")
}

// forms are the ways each image is given to inspect.
func forms(info *realimage.Info) []struct{ name, ref string } {
	f := []struct{ name, ref string }{{"docker-save", info.ArchivePath()}}
	if info.Name == "debian-python" {
		f = append(f, struct{ name, ref string }{"oci", "oci:" + info.LayoutPath()})
	}
	return f
}

// BenchmarkInspect runs `lambdoctor inspect --format json IMAGE` as a child
// process of the built binary, each run paired with a floor pass in the
// same iteration. It reports x-floor (wall) and cpu-x-floor (user+sys of
// the child over the floor's) of an inspect without the layer cache
// (--no-cache), peak-RSS-MB from the child's rusage next to budget-MB (15
// MB + 0.4 KB per merged entry), with its parts: peak-anon-MB, what the
// process allocated, and peak-file-MB, the pages of its own binary; fill-x-floor, an inspect that fills a new
// cache; and reinspect-ms, the wall time of an inspect of the same image
// once its layers are cached.
func BenchmarkInspect(b *testing.B) {
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			info := image(b, name)
			bin := lambdoctor(b)
			entries := mergedEntries(b, info)
			for _, form := range forms(info) {
				b.Run(form.name, func(b *testing.B) {
					var what, fill, again, fl usage
					for range b.N {
						addFloor(b, info, &fl)
						cache := b.TempDir()
						for _, run := range []struct {
							acc  *usage
							args []string
						}{{&what, []string{"--no-cache"}}, {&fill, nil}, {&again, nil}} {
							cmd := exec.Command(bin, append([]string{"inspect", "--format", "json", "--fail-on", "none", form.ref}, run.args...)...)
							cmd.Env = append(os.Environ(), "LAMBDOCTOR_CACHE_DIR="+cache)
							u, out, err := child(cmd)
							if err != nil {
								b.Fatalf("%v\n%s", err, out)
							}
							run.acc.add(u)
						}
					}
					report(b, info, what, fl)
					b.ReportMetric(float64(fill.wall)/float64(fl.wall), "fill-x-floor")
					b.ReportMetric(float64(again.wall.Milliseconds())/float64(b.N), "reinspect-ms")
					b.ReportMetric(what.maxRSSMB, "peak-RSS-MB")
					b.ReportMetric(what.anonMB, "peak-anon-MB")
					b.ReportMetric(what.fileMB, "peak-file-MB")
					b.ReportMetric(15+0.4*float64(entries)/1024, "budget-MB")
					b.ReportMetric(float64(entries), "entries")
				})
			}
		})
	}
}

// BenchmarkTarExtract is the comparison bar for `run`'s unpack: GNU tar
// -xzf of every layer in order into a fresh directory (no whiteout
// handling), paired with a floor pass, in each place run may unpack
// into (see places).
func BenchmarkTarExtract(b *testing.B) {
	if _, err := exec.LookPath("tar"); err != nil {
		b.Skip("tar is not installed")
	}
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			info := image(b, name)
			for _, pl := range places(b, info) {
				b.Run(pl.name, func(b *testing.B) {
					var what, fl usage
					for range b.N {
						addFloor(b, info, &fl)
						dir := tempIn(b, pl.base, "lambdoctor-realbench-tar-")
						for _, blob := range info.BlobPaths() {
							u, out, err := child(exec.Command("tar", "-xzf", blob, "-C", dir))
							if err != nil {
								os.RemoveAll(dir)
								b.Fatalf("%v\n%s", err, out)
							}
							what.add(u)
						}
						b.StopTimer()
						if err := os.RemoveAll(dir); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					report(b, info, what, fl)
				})
			}
		})
	}
}

// addFloor runs one floor pass over info's layers and adds it to fl.
func addFloor(b *testing.B, info *realimage.Info, fl *usage) usage {
	b.Helper()
	f, err := floor(info)
	if err != nil {
		b.Fatal(err)
	}
	fl.add(f)
	return f
}

// tempIn makes a fresh directory in base ("" for $TMPDIR); the benchmark
// removes it.
func tempIn(b *testing.B, base, prefix string) string {
	b.Helper()
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

// place is a directory run may unpack into.
type place struct {
	name string // "memory" or "disk"
	base string // "" for $TMPDIR
}

// places are where run may unpack info's tree: "memory", the tmpfs that
// `run --rootfs auto` picks for it (sandbox.MemoryBase; left out when none
// fits), and "disk", $TMPDIR.
func places(b *testing.B, info *realimage.Info) []place {
	var ps []place
	if base, err := sandbox.MemoryBase(info.Uncompressed, info.Entries); err == nil {
		ps = append(ps, place{"memory", base})
	} else {
		b.Logf("%s: not unpacked into memory: %v", info.Name, err)
	}
	return append(ps, place{"disk", ""})
}

// unpackTimeout bounds one unpack: LAMBDOCTOR_BENCH_UNPACK_TIMEOUT (a Go
// duration), 60 s by default.
func unpackTimeout(b *testing.B) time.Duration {
	if s := os.Getenv("LAMBDOCTOR_BENCH_UNPACK_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("LAMBDOCTOR_BENCH_UNPACK_TIMEOUT=%q: %v", s, err)
		}
		return d
	}
	return 60 * time.Second
}

// unpack is what `lambdoctor run` does before it starts the function: load
// the image, build its filesystem (keeping the decompressed layers, as run
// does: imagefs.Options.Unpacking), write the merged root filesystem into
// dir with sandbox.MaterializeReport.
func unpack(ctx context.Context, ref, dir string) error {
	img, err := source.Load(ctx, ref, source.Options{})
	if err != nil {
		return err
	}
	defer img.Close()
	fsys, err := imagefs.Build(ctx, img.Layers, imagefs.Options{}.Unpacking())
	if err != nil {
		return err
	}
	defer fsys.Close()
	_, err = sandbox.MaterializeReport(ctx, fsys, dir)
	return err
}

// treeEntry is one entry of an image's merged tree, for writeTree.
type treeEntry struct {
	path, link string
	typ        byte
	size       int64
}

// mergedTree lists the merged tree of the image (root excluded), in walk
// order.
func mergedTree(b *testing.B, info *realimage.Info) []treeEntry {
	b.Helper()
	img, err := source.Load(context.Background(), info.ArchivePath(), source.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	f, err := imagefs.Build(context.Background(), img.Layers, imagefs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var tree []treeEntry
	f.Walk(func(e *imagefs.Entry) error {
		if e.Path != "/" {
			tree = append(tree, treeEntry{path: e.Path, link: e.Linkname, typ: e.Type, size: e.Size})
		}
		return nil
	})
	return tree
}

// writeTree is the floor of writing the image's tree to disk: the same
// directories, symlinks and regular files (hard links as files) with the
// same sizes, content from memory (zeros), one system call per step and
// nothing else (no decompression, owners, modes or times).
func writeTree(tree []treeEntry, dir string) error {
	buf := make([]byte, 1<<20)
	for _, e := range tree {
		p := dir + e.path
		switch e.typ {
		case imagefs.TypeDir:
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
		case imagefs.TypeSymlink:
			if err := os.Symlink(e.link, p); err != nil {
				return err
			}
		case imagefs.TypeReg:
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			for n := e.size; n > 0; {
				k := min(n, int64(len(buf)))
				if _, err := f.Write(buf[:k]); err != nil {
					f.Close()
					return err
				}
				n -= k
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkUnpack measures run's unpack (see unpack) in this process, in
// each place run may unpack into (see places), paired with a floor pass
// and with writeTree, the floor of writing the same tree from memory to
// the same place (write-floor-ms, and x-write-floor for the unpack's wall
// time over it): what the disk or the tmpfs alone costs. Each unpack is
// bounded by unpackTimeout, and one that does not finish ends the
// benchmark with "did not finish" (unpack-finished 0) instead of hanging.
func BenchmarkUnpack(b *testing.B) {
	if err := sandbox.Supported(); err != nil {
		b.Skip(err)
	}
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			info := image(b, name)
			tree := mergedTree(b, info)
			for _, pl := range places(b, info) {
				b.Run(pl.name, func(b *testing.B) { benchUnpack(b, info, tree, pl) })
			}
		})
	}
}

func benchUnpack(b *testing.B, info *realimage.Info, tree []treeEntry, pl place) {
	limit := unpackTimeout(b)
	key := info.Name + "/" + pl.name
	if f, ok := unfinished[key]; ok {
		// The testing package runs a benchmark with b.N = 1 before
		// b.N = 3: do not wait for the limit again.
		reportUnfinished(b, key, limit, f)
		return
	}
	var what, fl, wr usage
	for range b.N {
		f := addFloor(b, info, &fl)
		wdir := tempIn(b, pl.base, "lambdoctor-realbench-write-")
		w, err := inProcess(func() error { return writeTree(tree, wdir) })
		if rerr := os.RemoveAll(wdir); err == nil {
			err = rerr
		}
		if err != nil {
			b.Fatal(err)
		}
		wr.add(w)
		dir := tempIn(b, pl.base, "lambdoctor-realbench-unpack-")
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		u, err := inProcess(func() error { return unpack(ctx, info.ArchivePath(), dir) })
		timedOut := ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded)
		cancel()
		b.StopTimer()
		sandbox.Release(dir)
		if rerr := os.RemoveAll(dir); rerr != nil {
			b.Fatal(rerr)
		}
		b.StartTimer()
		if timedOut {
			unfinished[key] = f.wall
			reportUnfinished(b, key, limit, f.wall)
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		what.add(u)
	}
	report(b, info, what, fl)
	b.ReportMetric(1, "unpack-finished")
	b.ReportMetric(float64(wr.wall.Milliseconds())/float64(b.N), "write-floor-ms")
	b.ReportMetric(float64(what.wall)/float64(wr.wall), "x-write-floor")
}

// unfinished records the images whose unpack hit the limit, with the wall
// time of the floor pass it was paired with.
var unfinished = map[string]time.Duration{}

func reportUnfinished(b *testing.B, name string, limit, floorWall time.Duration) {
	b.Logf("%s: unpack did not finish in %s (floor pass: %s)", name, limit, floorWall.Round(time.Millisecond))
	b.ReportMetric(0, "unpack-finished")
	b.ReportMetric(limit.Seconds(), "limit-s")
	b.ReportMetric(float64(limit)/float64(floorWall), "x-floor-at-least")
}

// TestFloorReadsEveryLayer keeps the floor honest: it decompresses exactly
// the image's uncompressed size.
func TestFloorReadsEveryLayer(t *testing.T) {
	info := realimage.Get(t, "go-small")
	var total int64
	for _, p := range info.BlobPaths() {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != info.Uncompressed {
		t.Fatalf("the layers decompress to %d bytes, info.json says %d", total, info.Uncompressed)
	}
	if _, err := floor(info); err != nil {
		t.Fatal(err)
	}
}
