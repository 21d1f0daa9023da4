package source

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPathLikeNamesNeverReachARegistry: names that can only be meant as
// paths are a file or "no such file" with a did-you-mean, never a lookup
// of index.docker.io (the test has no network: a lookup would fail with
// a network error, not NotFound).
func TestPathLikeNamesNeverReachARegistry(t *testing.T) {
	hermeticDockerConfig(t)
	cleanDaemonEnv(t)
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(fixtures, "broken-entrypoint.tar"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "testdata", "images"), 0o755)
	os.WriteFile(filepath.Join(dir, "testdata", "images", "broken-entrypoint.tar"), data, 0o644)
	t.Chdir(dir)
	for _, tt := range []struct {
		ref   string
		wants []string
	}{
		{"testdata/images/broken-entrypoint.tarr", []string{"did you mean testdata/images/broken-entrypoint.tar?", "because testdata exists here", "registry:testdata/images/broken-entrypoint.tarr"}},
		{"testdata/images/brokn-entrypoint", []string{"did you mean testdata/images/broken-entrypoint.tar?", "because testdata exists here"}},
		{"testdat/images/broken-entrypoint.tar", []string{"did you mean testdata/images/broken-entrypoint.tar?", "because it ends in .tar"}},
		{"fn.tar:v1", []string{"no such file or directory: fn.tar:v1", "it ends in .tar"}},
		{"build/fn.tgz", []string{"because it ends in .tgz"}},
		{"./fn", []string{"because it starts with ."}},
		{"/nonexistent/fn", []string{"/ has no nonexistent", "because it starts with /"}},
	} {
		t.Run(tt.ref, func(t *testing.T) {
			le := loadErr(t, tt.ref, Options{}, NotFound, tt.wants...)
			if strings.Contains(le.Error(), "registry ") && !strings.Contains(le.Error(), "registry:") {
				t.Errorf("went to a registry: %s", le)
			}
		})
	}
	// The real file loads, by the same relative path.
	img := mustLoad(t, "testdata/images/broken-entrypoint.tar", Options{})
	if img.Source != DockerArchive {
		t.Errorf("Source %s", img.Source)
	}
	loadErr(t, "docker-archive:testdata/images/broken-entrypoint.tarr", Options{}, NotFound, "did you mean testdata/images/broken-entrypoint.tar?")
}

func TestLooksLikePath(t *testing.T) {
	t.Chdir(t.TempDir())
	os.Mkdir("build", 0o755)
	for ref, want := range map[string]bool{
		"fn.tar": true, "fn.tar.gz": true, "fn.tgz": true, "fn.tar:v1": true, "./fn": true, "../fn": true, "/fn": true, "~/fn.tar": true,
		"build/fn": true, ".hidden": true,
		"fn": false, "fn:latest": false, "library/ubuntu:22.04": false, "ghcr.io/org/fn:v1": false,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/fn:latest": false, "localhost:5000/fn": false,
	} {
		if got := looksLikePath(ref) != ""; got != want {
			t.Errorf("looksLikePath(%q) = %v (%q), want %v", ref, got, looksLikePath(ref), want)
		}
	}
}

func TestStdin(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "hello-docker-archive.tar"))
	if err != nil {
		t.Fatal(err)
	}
	want := mustLoad(t, filepath.Join(fixtures, "hello-docker-archive.tar"), Options{})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	oci, err := os.ReadFile(filepath.Join(fixtures, "hello-oci-archive.tar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, ref string
		in        []byte
		kind      Kind
	}{
		{"docker save", "-", data, DockerArchive},
		{"docker save | gzip", "-", gz.Bytes(), DockerArchive},
		{"OCI archive", "-", oci, OCIArchive},
		{"docker-archive:-", "docker-archive:-", data, DockerArchive},
		{"oci-archive:-", "oci-archive:-", oci, OCIArchive},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spool := t.TempDir()
			var notes []string
			img := mustLoad(t, tt.ref, Options{Stdin: bytes.NewReader(tt.in), TempDir: spool, Notef: func(f string, a ...any) {
				notes = append(notes, strings.TrimSpace(fmt.Sprintf(f, a...)))
			}})
			if img.Source != tt.kind || img.Ref != tt.ref {
				t.Errorf("Source %s Ref %q", img.Source, img.Ref)
			}
			if tt.kind == DockerArchive && img.ImageID != want.ImageID {
				t.Errorf("ImageID %s, want %s", img.ImageID, want.ImageID)
			}
			checkLayers(t, img)
			if len(notes) != 1 || !strings.Contains(notes[0], "from stdin into "+spool) || !strings.Contains(notes[0], humanSize(int64(len(tt.in)))) {
				t.Errorf("notes %q", notes)
			}
			if len(dirEntries(t, spool)) == 0 {
				t.Error("nothing spooled")
			}
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			if left := dirEntries(t, spool); len(left) != 0 {
				t.Errorf("Close left %v", left)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		loadErr(t, "-", Options{Stdin: bytes.NewReader(nil), TempDir: t.TempDir()}, NotAnImage, "stdin was empty")
	})
	t.Run("not a tar", func(t *testing.T) {
		spool := t.TempDir()
		loadErr(t, "-", Options{Stdin: strings.NewReader("hello, world\n"), TempDir: spool}, NotAnImage, "the archive read from stdin (13 B) is a file but not a tar archive")
		if left := dirEntries(t, spool); len(left) != 0 {
			t.Errorf("the failed load left %v", left)
		}
	})
	t.Run("a FIFO names -", func(t *testing.T) {
		loadErr(t, "docker-archive:/dev/stdin", Options{}, NotAnImage, "give - as the image")
	})
}

// TestBareNameBothHalves: a bare name that neither a daemon nor the
// registry has says both, also when no daemon answers.
func TestBareNameBothHalves(t *testing.T) {
	hermeticDockerConfig(t)
	cleanDaemonEnv(t)
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		t.Skip("a daemon's socket exists at /var/run/docker.sock")
	}
	reg := startRegistry(t)
	loadErr(t, reg+"/nope:1", Options{}, NotFound, "image not found in registry "+reg+"/nope",
		"no local Docker daemon answered to look for it there (tried unix:///var/run/docker.sock (the default socket", "podman's system socket): no such socket)")

	sock := filepath.Join(t.TempDir(), "docker.sock")
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	loadErr(t, reg+"/nope:1", Options{}, NotFound, "image not found in registry "+reg+"/nope",
		"no local Docker daemon answered to look for it there (tried unix://"+sock+" (DOCKER_HOST): no such socket)")
}
