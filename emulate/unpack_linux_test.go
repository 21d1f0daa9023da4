package emulate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// A tmpfs that fills up while the tree is unpacked into it (MemoryBase
// found room, then something else took it): with --rootfs auto the unpack
// starts again on disk and says why; with --rootfs memory it fails, naming
// the way out.
func TestUnpackFallsBackToDiskWhenTheTmpfsFills(t *testing.T) {
	if err := sandbox.Supported(); err != nil {
		t.Skip(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	small := t.TempDir()
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(small, syscall.MNT_DETACH) })
	old := memoryBase
	memoryBase = func(int64, int) (string, error) { return small, nil }
	t.Cleanup(func() { memoryBase = old })

	// 3 MB of files: more than the 1 MB tmpfs holds.
	var files []testimage.File
	for i := range 3 {
		files = append(files, testimage.Reg(filepath.Join("data", string(rune('a'+i))), 0o644, strings.Repeat("x", 1<<20)))
	}
	img := testimage.Image(t, testimage.Spec{Layers: [][]testimage.File{files}})
	ref := filepath.Join(t.TempDir(), "img.tar")
	tag, _ := name.NewTag("example.com/fn:test")
	if err := tarball.WriteToFile(ref, tag, img); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		mode    string
		wantErr string
	}{
		{RootFSAuto, ""},
		{RootFSMemory, "--rootfs disk writes it under $TMPDIR instead"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			disk := t.TempDir()
			rd, err := sandbox.CreateRunDirIn(disk)
			if err != nil {
				t.Fatal(err)
			}
			w := &Workspace{LoadDir: filepath.Join(rd.Path, "load"), RootFS: filepath.Join(rd.Path, "rootfs"), dir: rd}
			os.Mkdir(w.LoadDir, 0o700)
			defer w.Close()
			s, err := inspect.New(inspect.Options{Unpack: true, TempDir: w.LoadDir})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			im, err := s.Open(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			_, up, err := unpack(context.Background(), w, im, Function{RootFSIn: tt.mode})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "no space left on device") {
					t.Fatalf("err %v, want the tmpfs full and %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if up.Into != RootFSDisk || up.Dir != disk || !strings.Contains(up.Why, small+" filled up") {
				t.Errorf("unpack %+v, want on disk in %s, saying %s filled up", up, disk, small)
			}
			if b, err := os.ReadFile(filepath.Join(w.RootFS, "data", "c")); err != nil || len(b) != 1<<20 {
				t.Errorf("data/c on disk: %d bytes, %v", len(b), err)
			}
			if left, _ := filepath.Glob(filepath.Join(small, "*")); len(left) > 0 {
				t.Errorf("left on the tmpfs: %v", left)
			}
		})
	}
}
