package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The full build (four go builds) is `make release-check`; these tests
// cover the packing and checking on small files.

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeRelease is a release whose "binaries" are small files, so that the
// archives, checksums and image can be written and verified quickly.
func fakeRelease(t *testing.T) *release {
	t.Helper()
	root, out := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(root, "README.md"), "# lambdoctor\n")
	writeFile(t, filepath.Join(root, "LICENSE"), "license text\n")
	certs := filepath.Join(root, "ca.crt")
	writeFile(t, certs, "-----BEGIN CERTIFICATE-----\n")
	r := &release{root: root, out: out, version: "v1.2.3", mtime: epoch, certs: certs, log: t.Logf}
	for _, tg := range targets {
		writeFile(t, r.binPath(tg), "binary for "+tg.String())
	}
	return r
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pack writes the archives and checksums.txt of a fake release.
func pack(t *testing.T, r *release) []string {
	t.Helper()
	var names []string
	for _, tg := range targets {
		files, err := r.archiveFiles(tg)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := writeArchive(&buf, files, r.mtime); err != nil {
			t.Fatal(err)
		}
		names = append(names, r.archiveName(tg))
		writeFile(t, filepath.Join(r.out, r.archiveName(tg)), buf.String())
	}
	if err := writeChecksums(r.out, names); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestArchiveNamesAndContents(t *testing.T) {
	r := fakeRelease(t)
	names := pack(t, r)
	if names[0] != "lambdoctor_1.2.3_linux_amd64.tar.gz" {
		t.Errorf("archive name %s, want lambdoctor_1.2.3_linux_amd64.tar.gz", names[0])
	}
	files, _ := r.archiveFiles(target{"darwin", "arm64"})
	bin, err := verifyArchive(filepath.Join(r.out, r.archiveName(target{"darwin", "arm64"})), files, r.mtime)
	if err != nil {
		t.Fatal(err)
	}
	if string(bin) != "binary for darwin/arm64" {
		t.Errorf("the archive's binary is %q", bin)
	}
	// The files are sorted: LICENSE, README.md, lambdoctor (byte order).
	var got []string
	for _, f := range files {
		got = append(got, f.name)
	}
	if strings.Join(got, ",") != "LICENSE,README.md,lambdoctor" {
		t.Errorf("archive files %q", got)
	}
	// Without LICENSE the archive still has the binary and README.md.
	os.Remove(filepath.Join(r.root, "LICENSE"))
	files, err = r.archiveFiles(target{"linux", "amd64"})
	if err != nil || len(files) != 2 {
		t.Errorf("without LICENSE: %v, %v", files, err)
	}
	// A wrong mtime or file list is reported.
	files, _ = r.archiveFiles(target{"linux", "amd64"})
	if _, err := verifyArchive(filepath.Join(r.out, names[0]), files, r.mtime); err == nil || !strings.Contains(err.Error(), `holds ["LICENSE" "README.md" "lambdoctor"], want ["README.md" "lambdoctor"]`) {
		t.Errorf("an archive with an extra file: %v", err)
	}
}

func TestArchiveReproducible(t *testing.T) {
	r := fakeRelease(t)
	files, _ := r.archiveFiles(target{"linux", "arm64"})
	var a, b bytes.Buffer
	if err := writeArchive(&a, files, r.mtime); err != nil {
		t.Fatal(err)
	}
	// Other mtimes and modes on disk change nothing.
	for _, f := range files {
		os.Chtimes(f.src, time.Now(), time.Now())
		os.Chmod(f.src, 0o600)
	}
	if err := writeArchive(&b, files, r.mtime); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two archives of the same files differ")
	}
}

// TestChecksumsSha256sum checks checksums.txt with GNU sha256sum itself,
// and that a changed archive is caught by verify's own reading.
func TestChecksumsSha256sum(t *testing.T) {
	r := fakeRelease(t)
	names := pack(t, r)
	if _, err := exec.LookPath("sha256sum"); err == nil {
		c := exec.Command("sha256sum", "--check", "--strict", checksumsFile)
		c.Dir = r.out
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum --check: %v\n%s", err, out)
		}
	} else {
		t.Log("sha256sum not found; checking with readChecksums only")
	}
	sums, err := readChecksums(filepath.Join(r.out, checksumsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != len(targets) {
		t.Fatalf("%d checksums, want %d", len(sums), len(targets))
	}
	p := filepath.Join(r.out, names[1])
	if err := verifyChecksum(p, sums[names[1]]); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("x"))
	f.Close()
	if err := verifyChecksum(p, sums[names[1]]); err == nil || !strings.Contains(err.Error(), "but checksums.txt says") {
		t.Errorf("a changed archive: %v", err)
	}
	writeFile(t, filepath.Join(r.out, "bad.txt"), "abc  x\n")
	if _, err := readChecksums(filepath.Join(r.out, "bad.txt")); err == nil {
		t.Error("a malformed line was accepted")
	}
}

// TestVerifyBinaryHeaders reads this test binary's own header: it passes
// for the host's target and fails for any other.
func TestVerifyBinaryHeaders(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	host := target{runtime.GOOS, runtime.GOARCH}
	if host != (target{"linux", "amd64"}) && host != (target{"linux", "arm64"}) {
		t.Skipf("the test binary is for %s", host)
	}
	other := target{"linux", "arm64"}
	if host.goarch == "arm64" {
		other.goarch = "amd64"
	}
	// go test links with cgo when available (a dynamic test binary), so
	// only the machine check is asserted for the host.
	if err := verifyBinary(bin, host); err != nil && !strings.Contains(err.Error(), "not a static build") {
		t.Errorf("the host's binary: %v", err)
	}
	if err := verifyBinary(bin, other); err == nil || !strings.Contains(err.Error(), "want an executable for") {
		t.Errorf("checked as %s: %v", other, err)
	}
	if err := verifyBinary(bin, target{"darwin", "arm64"}); err == nil || !strings.Contains(err.Error(), "not a Mach-O file") {
		t.Errorf("checked as darwin: %v", err)
	}
}

// TestImageLayout writes the image of a fake release twice (the same
// digest both times), and verifies it as make release-check does, except
// for running lambdoctor on it.
func TestImageLayout(t *testing.T) {
	r := fakeRelease(t)
	if err := r.writeImage(); err != nil {
		t.Fatal(err)
	}
	if err := r.verifyImage(context.Background(), target{"plan9", "none"}); err != nil {
		t.Fatal(err)
	}
	digest := func(dir string) string {
		p, err := layout.FromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		ii, err := p.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		d, err := ii.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	first := digest(filepath.Join(r.out, imageDir))
	os.RemoveAll(filepath.Join(r.out, imageDir))
	if err := r.writeImage(); err != nil {
		t.Fatal(err)
	}
	if again := digest(filepath.Join(r.out, imageDir)); again != first {
		t.Errorf("the layout's index.json is %s, then %s", first, again)
	}
	// A binary that differs from the released one is caught.
	writeFile(t, r.binPath(target{"linux", "arm64"}), "another binary")
	if err := r.verifyImage(context.Background(), target{"plan9", "none"}); err == nil || !strings.Contains(err.Error(), "/usr/local/bin/lambdoctor differs") {
		t.Errorf("a changed binary: %v", err)
	}
}

func TestMissingCertificates(t *testing.T) {
	r := fakeRelease(t)
	r.certs = filepath.Join(r.root, "none.crt")
	if err := r.writeImage(); err == nil || !strings.Contains(err.Error(), "apt-get install ca-certificates") {
		t.Errorf("no CA bundle: %v", err)
	}
}

func TestClearOut(t *testing.T) {
	root := t.TempDir()
	if err := clearOut(root, filepath.Join(root, "src")); err == nil || !strings.Contains(err.Error(), "holds the source tree") {
		t.Errorf("-out above the module: %v", err)
	}
	other := filepath.Join(root, "notes")
	writeFile(t, filepath.Join(other, "keep.txt"), "x")
	if err := clearOut(other, filepath.Join(root, "src")); err == nil || !strings.Contains(err.Error(), "not emptying it") {
		t.Errorf("a directory of other files: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "keep.txt")); err != nil {
		t.Error("clearOut removed a file it refused")
	}
	prev := filepath.Join(root, "dist")
	writeFile(t, filepath.Join(prev, checksumsFile), "")
	if err := clearOut(prev, filepath.Join(root, "src")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(prev); !os.IsNotExist(err) {
		t.Error("a previous release was not removed")
	}
}

// TestPublishImage pushes a fake release's image to an in-process
// registry (go-containerregistry's pkg/registry) and reads it back: the
// tag is the version and names the multi-arch index itself, with both
// platforms.
func TestPublishImage(t *testing.T) {
	r := fakeRelease(t)
	if err := r.writeImage(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/lambdoctor"
	tag, digest, err := publishImage(context.Background(), r.out, repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if tag.TagStr() != "v1.2.3" {
		t.Errorf("pushed as %s, want the version as the tag", tag)
	}
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	var platforms []string
	for _, m := range im.Manifests {
		if m.Platform != nil {
			platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
		}
	}
	if got != digest || strings.Join(platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("the registry has %s with %q, want %s with linux/amd64,linux/arm64", got, platforms, digest)
	}
	if _, _, err := publishImage(context.Background(), t.TempDir(), repo, name.Insecure); err == nil || !strings.Contains(err.Error(), "run make release first") {
		t.Errorf("publishing without a layout: %v", err)
	}
}
