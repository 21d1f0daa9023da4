package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// lambdaSpec is a tiny Lambda-like image for arch: a shell, a bootstrap
// and a handler in two layers.
func lambdaSpec(arch string) testimage.Spec {
	machine := elf.EM_X86_64
	if arch == "arm64" {
		machine = elf.EM_AARCH64
	}
	return testimage.Spec{
		Arch: arch,
		Config: v1.Config{
			Entrypoint: []string{"/var/runtime/bootstrap"},
			Cmd:        []string{"handler.handler"},
			WorkingDir: "/var/task",
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LAMBDA_TASK_ROOT=/var/task"},
		},
		Layers: [][]testimage.File{
			{testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, string(testimage.ELF(machine, "")))},
			{
				testimage.Dir("var", 0), testimage.Dir("var/runtime", 0), testimage.Dir("var/task", 0),
				testimage.Reg("var/runtime/bootstrap", 0o755, "#!/bin/sh\nexec /var/task/handler.sh\n"),
				testimage.Reg("var/task/handler.sh", 0o644, "handler() { echo ok; }\n"),
			},
		},
		CreatedBy: []string{"ADD rootfs.tar / # buildkit", "COPY bootstrap handler.sh / # buildkit"},
	}
}

// writeTo creates path with what write produces.
func writeTo(t *testing.T, path string, write func(w io.Writer) error) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		f.Close()
		t.Fatalf("writing %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustLoad loads ref and registers Close.
func mustLoad(t *testing.T, ref string, opts Options) *Image {
	t.Helper()
	img, err := Load(context.Background(), ref, opts)
	if err != nil {
		t.Fatalf("Load(%q): %v", ref, err)
	}
	t.Cleanup(func() {
		if err := img.Close(); err != nil {
			t.Errorf("Close(%q): %v", ref, err)
		}
	})
	return img
}

// loadErr loads ref, expecting a LoadError of kind whose message contains
// every one of wants.
func loadErr(t *testing.T, ref string, opts Options, kind ErrorKind, wants ...string) *LoadError {
	t.Helper()
	img, err := Load(context.Background(), ref, opts)
	if err == nil {
		img.Close()
		t.Fatalf("Load(%q) succeeded, want a %s error", ref, kind)
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load(%q) error %T %v, want *LoadError", ref, err, err)
	}
	if le.Kind != kind {
		t.Errorf("Load(%q) kind = %s, want %s (%v)", ref, le.Kind, kind, err)
	}
	if le.Ref != ref {
		t.Errorf("LoadError.Ref = %q, want %q", le.Ref, ref)
	}
	msg := err.Error()
	t.Logf("%s error: %s", le.Kind, msg)
	if !strings.HasPrefix(msg, "loading ") || strings.Contains(msg, "\n") {
		t.Errorf("error is not one line naming the image: %q", msg)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
	return le
}

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// readLayer returns the raw bytes Open serves.
func readLayer(t *testing.T, img *Image, i int) []byte {
	t.Helper()
	rc, err := img.Layers[i].Open()
	if err != nil {
		t.Fatalf("layer %d Open: %v", i, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("layer %d read: %v", i, err)
	}
	return b
}

// decompress undoes gzip or zstd, leaving plain tar alone.
func decompress(t *testing.T, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLayers asserts that every layer serves its stored blob: the
// uncompressed content hashes to DiffID, and the raw bytes hash to Digest
// whenever Digest names the stored blob. It returns whether the layers were
// compressed.
func checkLayers(t *testing.T, img *Image) (compressed []bool) {
	t.Helper()
	if len(img.Layers) == 0 {
		t.Fatal("no layers")
	}
	for i, l := range img.Layers {
		raw := readLayer(t, img, i)
		plain := decompress(t, raw)
		if got := sha256Of(plain); got != l.DiffID {
			t.Errorf("layer %d: uncompressed digest %s, DiffID %s", i, got, l.DiffID)
		}
		isCompressed := len(plain) != len(raw) || !bytes.Equal(plain, raw)
		if l.Digest != l.DiffID || !isCompressed {
			if got := sha256Of(raw); got != l.Digest {
				t.Errorf("layer %d: raw digest %s, Digest %s (Open must return the stored blob)", i, got, l.Digest)
			}
		}
		if l.Size != int64(len(raw)) {
			t.Errorf("layer %d: Size %d, blob is %d bytes", i, l.Size, len(raw))
		}
		compressed = append(compressed, isCompressed)
	}
	return compressed
}

// checkLambdaConfig asserts the config of lambdaSpec.
func checkLambdaConfig(t *testing.T, img *Image, arch string) {
	t.Helper()
	if img.Config == nil || len(img.RawConfig) == 0 {
		t.Fatal("config missing")
	}
	if got := img.Config.Config.Entrypoint; len(got) != 1 || got[0] != "/var/runtime/bootstrap" {
		t.Errorf("Entrypoint = %v", got)
	}
	if img.Platform.OS != "linux" || img.Platform.Architecture != arch {
		t.Errorf("Platform = %+v, want linux/%s", img.Platform, arch)
	}
	if img.ImageID != sha256Of(img.RawConfig) {
		t.Errorf("ImageID %s is not the config digest", img.ImageID)
	}
	if len(img.Layers) != 2 {
		t.Fatalf("%d layers, want 2", len(img.Layers))
	}
	if got := img.Layers[1].CreatedBy; got != "COPY bootstrap handler.sh / # buildkit" {
		t.Errorf("layer 1 CreatedBy = %q", got)
	}
}

// digestOf is img's manifest digest.
func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, filepath.Join(dir, e.Name()))
	}
	return names
}
