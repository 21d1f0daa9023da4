package realimage

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// A twin is made from the debian-go image built next to it and is made
// again when that image changes: its info.json records debian-go's digest.
func TestTwinIsKeyedOnDebianGo(t *testing.T) {
	base := Get(t, "debian-go")
	dir := t.TempDir()
	if err := os.Symlink(base.Dir, filepath.Join(dir, "debian-go")); err != nil {
		t.Fatal(err)
	}
	b := &Builder{Dir: dir}
	const name = "debian-go-wrongpath"
	if _, err := LoadTwin(dir, name); !errors.Is(err, ErrMissing) {
		t.Fatalf("LoadTwin before any build: %v, want ErrMissing", err)
	}
	info, cached, err := b.BuildTwin(context.Background(), name)
	if err != nil || cached {
		t.Fatalf("BuildTwin: cached %v, %v", cached, err)
	}
	img, err := tarball.ImageFromPath(info.ArchivePath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/usr/local/bin/bootstrap" {
		t.Errorf("twin ENTRYPOINT %q, want [/usr/local/bin/bootstrap]", got)
	}
	if layers, err := img.Layers(); err != nil || len(layers) != base.Layers {
		t.Errorf("twin has %d layers (%v), want debian-go's %d", len(layers), err, base.Layers)
	}
	if _, cached, err := b.BuildTwin(context.Background(), name); err != nil || !cached {
		t.Errorf("second BuildTwin: cached %v, %v; want the first one's", cached, err)
	}

	// As if debian-go had been rebuilt since.
	raw, err := os.ReadFile(filepath.Join(info.Dir, "info.json"))
	if err != nil {
		t.Fatal(err)
	}
	var stored TwinInfo
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	stored.Base = "sha256:" + strings.Repeat("0", 64)
	if raw, err = json.Marshal(stored); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(info.Dir, "info.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTwin(dir, name); !errors.Is(err, ErrMissing) {
		t.Errorf("LoadTwin of a twin of another debian-go: %v, want ErrMissing", err)
	}
	if _, cached, err := b.BuildTwin(context.Background(), name); err != nil || cached {
		t.Errorf("BuildTwin after debian-go changed: cached %v, %v; want it made again", cached, err)
	}
}

// The noexec twin's function is debian-go's own binary, read back from its
// application layer, with mode 0644.
func TestNoexecTwinKeepsTheFunction(t *testing.T) {
	base := Get(t, "debian-go")
	dir := t.TempDir()
	if err := os.Symlink(base.Dir, filepath.Join(dir, "debian-go")); err != nil {
		t.Fatal(err)
	}
	info, _, err := (&Builder{Dir: dir}).BuildTwin(context.Background(), "debian-go-noexec")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := tarball.ImageFromPath(base.ArchivePath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	twin, err := tarball.ImageFromPath(info.ArchivePath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := appFile(orig, "var/task/bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	got, err := appFile(twin, "var/task/bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("the twin's /var/task/bootstrap (%d bytes) is not debian-go's (%d bytes)", len(got), len(want))
	}
}
