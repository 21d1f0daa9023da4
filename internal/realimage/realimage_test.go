package realimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func TestInstLineParsesAptSimulation(t *testing.T) {
	for line, want := range map[string]debPackage{
		"Inst libssl3 (3.0.22-1~deb12u2 Debian:12.13/stable, Debian-Security:12/stable-security [amd64])": {"libssl3", "3.0.22-1~deb12u2", "amd64"},
		"Inst python3-numpy (1:1.24.2-1+deb12u1 Debian:12.13/stable [amd64])":                             {"python3-numpy", "1:1.24.2-1+deb12u1", "amd64"},
		"Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u2 Debian:12.13/stable-updates [all])":               {"tzdata", "2025b-0+deb12u2", "all"},
	} {
		m := instLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("%q: no match", line)
			continue
		}
		if got := (debPackage{m[1], m[2], m[3]}); got != want {
			t.Errorf("%q: %+v, want %+v", line, got, want)
		}
	}
	if instLine.MatchString("Conf libssl3 (3.0.22-1~deb12u2 Debian:12.13/stable [amd64])") {
		t.Error("a Conf line matched")
	}
	if got := (debPackage{"python3-numpy", "1:1.24.2-1+deb12u1", "amd64"}).file(); got != "python3-numpy_1%3a1.24.2-1+deb12u1_amd64.deb" {
		t.Errorf("file() = %s", got)
	}
}

func TestSlimSkipKeepsCopyrightAndLocaleAlias(t *testing.T) {
	for rel, skip := range map[string]bool{
		"usr/share/doc/bash":                  false,
		"usr/share/doc/bash/copyright":        false,
		"usr/share/doc/bash/changelog.gz":     true,
		"usr/share/doc/bash/examples/x":       true,
		"usr/share/man/man1/ls.1.gz":          true,
		"usr/share/locale/locale.alias":       false,
		"usr/share/locale/de/LC_MESSAGES/x":   true,
		"usr/share/zoneinfo/UTC":              false,
		"usr/lib/x86_64-linux-gnu/libc.so.6":  false,
		"usr/share/lintian/overrides/package": true,
	} {
		if got := slimSkip(rel, nil); got != skip {
			t.Errorf("slimSkip(%q) = %v, want %v", rel, got, skip)
		}
	}
}

func TestLoadRejectsMissingStaleAndUnknownImages(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir, "debian-go"); !errors.Is(err, ErrMissing) {
		t.Errorf("missing image: %v, want ErrMissing", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "debian-go"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(info Info) {
		raw, err := json.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "debian-go", "info.json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(Info{Version: "realimage-0", Name: "debian-go", Archive: "image.tar", Layout: "oci"})
	if _, err := Load(dir, "debian-go"); !errors.Is(err, ErrMissing) {
		t.Errorf("stale image: %v, want ErrMissing", err)
	}
	write(Info{Version: Version, Name: "debian-go", Archive: "image.tar", Layout: "oci"})
	if _, err := Load(dir, "debian-go"); !errors.Is(err, ErrMissing) {
		t.Errorf("image without its files: %v, want ErrMissing", err)
	}
	if _, err := Load(dir, "alpine"); err == nil || errors.Is(err, ErrMissing) {
		t.Errorf("unknown image: %v, want an unknown-image error", err)
	}
}

func TestWriteLayerKeepsLinksAndHashesWhatItWrites(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "bin", "tool"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "bin", "tool"), filepath.Join(src, "bin", "tool2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("tool", filepath.Join(src, "bin", "alias")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "layer.tar.gz")
	lf, err := writeLayer(layerSpec{Name: "t", Trees: []tree{{Src: src, Dst: "usr/local"}},
		Extra: []extraFile{{Path: "etc/motd", Mode: 0o644, Content: []byte("hello\n")}}}, out)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(blob); "sha256:"+hex.EncodeToString(sum[:]) != lf.Digest || int64(len(blob)) != lf.Compressed {
		t.Errorf("digest/size %s/%d do not match the blob", lf.Digest, lf.Compressed)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); "sha256:"+hex.EncodeToString(sum[:]) != lf.DiffID || int64(len(raw)) != lf.Uncompressed {
		t.Errorf("diffID/size %s/%d do not match the tar", lf.DiffID, lf.Uncompressed)
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	got := map[string]*tar.Header{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		order = append(order, h.Name)
	}
	if len(order) != lf.Entries {
		t.Errorf("%d entries in the tar, layerFile says %d", len(order), lf.Entries)
	}
	want := []string{"usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/alias", "usr/local/bin/tool", "usr/local/bin/tool2", "etc/", "etc/motd"}
	if len(order) != len(want) {
		t.Fatalf("entries %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("entries %v, want %v", order, want)
		}
	}
	if h := got["usr/local/bin/tool2"]; h.Typeflag != tar.TypeLink || h.Linkname != "usr/local/bin/tool" {
		t.Errorf("tool2: type %c link %q, want a hard link to usr/local/bin/tool", h.Typeflag, h.Linkname)
	}
	if h := got["usr/local/bin/alias"]; h.Typeflag != tar.TypeSymlink || h.Linkname != "tool" {
		t.Errorf("alias: type %c link %q, want a symlink to tool", h.Typeflag, h.Linkname)
	}
	if h := got["usr/local/bin/tool"]; h.Mode&0o111 == 0 || h.Size != 18 {
		t.Errorf("tool: mode %o size %d", h.Mode, h.Size)
	}
}
