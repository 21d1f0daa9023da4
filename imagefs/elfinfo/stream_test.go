package elfinfo

import (
	"bytes"
	"debug/buildinfo"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"testing"
)

// hostELFs returns up to n ELF files of this machine: its programs and
// shared libraries, the real-shaped inputs the layer pass sees.
func hostELFs(t testing.TB, n int) []string {
	var out []string
	for _, dir := range []string{"/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/local/go/pkg/tool"} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || len(out) >= n {
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			var m [4]byte
			if _, err := f.Read(m[:]); err == nil && string(m[:]) == "\x7fELF" {
				out = append(out, p)
			}
			return nil
		})
	}
	if len(out) < 50 {
		t.Skipf("only %d ELF files on this machine", len(out))
	}
	return out
}

// TestStreamMatchesRead streams this machine's ELF files in random pieces
// and checks that every result the Stream gives is what Read gives, and
// that it gives one for nearly all of them.
func TestStreamMatchesRead(t *testing.T) {
	files := hostELFs(t, 3000)
	rng := rand.New(rand.NewPCG(1, 2))
	var s Stream
	summarised, dynamic, goProgs, withBuildInfo := 0, 0, 0, 0
	var missed []string
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		want, err := Read(bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			t.Fatalf("%s: Read: %v", p, err)
		}
		s.Reset(int64(len(b)))
		for rest := b; len(rest) > 0 && !s.Done(); {
			n := min(len(rest), 1+rng.IntN(70000))
			s.Write(rest[:n])
			rest = rest[n:]
		}
		got := s.Result()
		if want.HasDynamic {
			dynamic++
		}
		if got == nil {
			missed = append(missed, p)
			continue
		}
		summarised++
		// The markers of a Go program are what its bytes hold.
		if got.Go {
			goProgs++
			var marks Marker
			for i, m := range markerBytes {
				if bytes.Contains(b, []byte(m)) {
					marks |= Marker(1) << i
				}
			}
			if !got.Scanned || got.Markers != marks {
				t.Errorf("%s: scanned=%v markers %06b, want %06b", p, got.Scanned, got.Markers, marks)
			}
			// The build information is what debug/buildinfo reads.
			if bi, err := buildinfo.ReadFile(p); err == nil {
				mine, err := debug.ParseBuildInfo(got.GoModInfo)
				if err != nil || got.GoVersion != bi.GoVersion || mine.Path != bi.Path || len(mine.Deps) != len(bi.Deps) {
					t.Errorf("%s: build info %q %q (%v), want %s %s with %d deps", p, got.GoVersion, mine, err, bi.GoVersion, bi.Path, len(bi.Deps))
				} else {
					withBuildInfo++
				}
			}
		}
		parsed := *got
		parsed.Go, parsed.Scanned, parsed.Markers, parsed.GoVersion, parsed.GoModInfo = false, false, 0, "", ""
		if !reflect.DeepEqual(&parsed, want) {
			t.Errorf("%s: stream %+v\nread %+v", p, got, want)
		}
		// The encoding round-trips.
		back, err := Unmarshal(Marshal(got))
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("%s: Unmarshal(Marshal) = %+v, %v; want %+v", p, back, err, got)
		}
	}
	t.Logf("%d of %d ELF files summarised while streamed (%d dynamic, %d Go programs); not: %q", summarised, len(files), dynamic, goProgs, missed)
	t.Logf("%d Go programs with their build information kept", withBuildInfo)
	if goProgs == 0 {
		t.Error("no Go program recognised (the Go toolchain's own are among the files)")
	}
	if summarised < len(files)*95/100 {
		t.Errorf("only %d of %d ELF files summarised while streamed", summarised, len(files))
	}
}

// TestStreamShortAndForeign: truncated files, other content and empty
// input give no result, never a wrong one.
func TestStreamShortAndForeign(t *testing.T) {
	files := hostELFs(t, 200)
	b, err := os.ReadFile(files[len(files)/2])
	if err != nil {
		t.Fatal(err)
	}
	var s Stream
	for _, cut := range []int{0, 3, 40, 63, 64, 100, 1000, len(b) / 2} {
		s.Reset(int64(len(b)))
		s.Write(b[:min(cut, len(b))])
		if e := s.Result(); e != nil {
			// A result from a cut file is only right when all it needs
			// lay before the cut.
			want, err := Read(bytes.NewReader(b), int64(len(b)), nil)
			if err != nil || !reflect.DeepEqual(e, want) {
				t.Errorf("cut at %d: %+v, want %+v", cut, e, want)
			}
		}
	}
	for _, c := range [][]byte{nil, []byte("#!/bin/sh\necho hi\n"), bytes.Repeat([]byte{0x7f}, 5000)} {
		s.Reset(int64(len(c)))
		s.Write(c)
		if e := s.Result(); e != nil {
			t.Errorf("%q: got %+v", c[:min(len(c), 10)], e)
		}
	}
	if _, err := Unmarshal([]byte{marshalFormat, 2, 1, 0, 3, 62, 0, 200}); err == nil {
		t.Error("Unmarshal accepted a string longer than its input")
	}
}

// TestStreamBuildInfoAcrossWrites splits a Go program's bytes at every
// point around its build information's header: the header is found and
// kept whichever write it starts, ends or straddles.
func TestStreamBuildInfoAcrossWrites(t *testing.T) {
	exe, err := os.Executable() // this test binary is a Go program
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Skip(err)
	}
	hdr := -1
	for i := 0; i+16 <= len(b); i += 16 {
		if string(b[i:i+14]) == markerBytes[0] {
			hdr = i
			break
		}
	}
	if hdr < 0 {
		t.Fatal("no aligned build information header")
	}
	var s Stream
	for cut := hdr - 3; cut <= hdr+40; cut++ {
		s.Reset(int64(len(b)))
		s.Write(b[:cut])
		s.Write(b[cut:])
		e := s.Result()
		if e == nil || !e.Go || e.GoVersion != bi.GoVersion {
			t.Fatalf("cut at header%+d: %+v", cut-hdr, e)
		}
	}
}
