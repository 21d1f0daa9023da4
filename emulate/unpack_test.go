package emulate

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/sandbox"
)

func TestPlaceRootFS(t *testing.T) {
	ws := func() *Workspace {
		d := t.TempDir()
		return &Workspace{LoadDir: filepath.Join(d, "run", "load"), RootFS: filepath.Join(d, "run", "rootfs")}
	}
	for _, tt := range []struct {
		name    string
		fn      Function
		why     string // in Unpack.Why
		wantErr string
	}{
		{name: "disk asked", fn: Function{RootFSIn: RootFSDisk}},
		{name: "auto with --keep", fn: Function{RootFSIn: RootFSAuto, Keep: true}, why: "--keep writes it to disk"},
		{name: "unknown", fn: Function{RootFSIn: "ram"}, wantErr: `unknown root filesystem place "ram"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := ws()
			root := w.RootFS
			up, err := placeRootFS(w, tt.fn, 10<<20, 5)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if up.Into != RootFSDisk || w.RootFS != root || w.mem != nil || up.Bytes != 10<<20 {
				t.Errorf("placed %+v at %s, want on disk at %s", up, w.RootFS, root)
			}
			if up.Dir != filepath.Dir(filepath.Dir(root)) {
				t.Errorf("Dir %s, want the run directory's parent", up.Dir)
			}
			if !strings.Contains(up.Why, tt.why) {
				t.Errorf("Why %q lacks %q", up.Why, tt.why)
			}
		})
	}
}

func TestPlaceRootFSInMemory(t *testing.T) {
	old := memoryBase
	t.Cleanup(func() { memoryBase = old })
	noFit := &sandbox.NoMemoryError{Need: 10 << 20, Reasons: []string{"/dev/shm: 4.1 MB free"}}

	// Nothing fits: auto goes to disk and says why; memory fails.
	memoryBase = func(int64, int) (string, error) { return "", noFit }
	w := &Workspace{RootFS: filepath.Join(t.TempDir(), "run", "rootfs")}
	up, err := placeRootFS(w, Function{}, 10<<20, 5)
	if err != nil || up.Into != RootFSDisk || !strings.Contains(up.Why, "/dev/shm: 4.1 MB free") {
		t.Errorf("auto with no tmpfs: %+v, %v; want disk, saying why", up, err)
	}
	_, err = placeRootFS(w, Function{RootFSIn: RootFSMemory}, 10<<20, 5)
	if err == nil || !strings.Contains(err.Error(), "--rootfs memory: no tmpfs can hold the 10.5 MB tree: /dev/shm: 4.1 MB free") {
		t.Errorf("memory with no tmpfs: %v", err)
	}

	// A tmpfs fits: the tree goes into a run directory there, which
	// Close removes.
	base := t.TempDir()
	memoryBase = func(int64, int) (string, error) { return base, nil }
	disk := t.TempDir()
	rd, err := sandbox.CreateRunDirIn(disk)
	if err != nil {
		t.Fatal(err)
	}
	w = &Workspace{LoadDir: filepath.Join(rd.Path, "load"), RootFS: filepath.Join(rd.Path, "rootfs"), dir: rd}
	up, err = placeRootFS(w, Function{}, 10<<20, 5)
	if err != nil || up.Into != RootFSMemory || up.Dir != base || w.mem == nil || filepath.Dir(filepath.Dir(w.RootFS)) != base {
		t.Fatalf("auto with a tmpfs: %+v, %v, root filesystem at %s", up, err, w.RootFS)
	}
	w.Close()
	for _, d := range []string{base, disk} {
		if left, _ := filepath.Glob(filepath.Join(d, "*")); len(left) > 0 {
			t.Errorf("Close left %v", left)
		}
	}
}

func TestUnpackLine(t *testing.T) {
	for _, tt := range []struct {
		u    Unpack
		want string
	}{
		{Unpack{Bytes: 358_200_000, Entries: 13832, Ms: 1290, Into: RootFSMemory, Dir: "/dev/shm"},
			"13832 entries taking 358.2 MB, into memory (tmpfs) in /dev/shm, in 1.3 s"},
		{Unpack{Bytes: 4096, Entries: 1, Ms: 5, Into: RootFSDisk, Dir: "/tmp", Why: "--keep writes it to disk, where a kept tree holds no memory"},
			"1 entry taking 4.1 kB, to disk in /tmp, in 5 ms (--keep writes it to disk, where a kept tree holds no memory)"},
	} {
		if got := unpackLine(&tt.u); got != tt.want {
			t.Errorf("unpackLine(%+v) =\n  %q\nwant\n  %q", tt.u, got, tt.want)
		}
	}
}
