package source

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

func TestDockerArchiveLegacy(t *testing.T) {
	img := testimage.Image(t, lambdaSpec("amd64"))
	p := writeTo(t, filepath.Join(t.TempDir(), "hello.tar"), func(w io.Writer) error {
		return testimage.WriteLegacyArchive(w, "hello:latest", img)
	})
	for _, ref := range []string{"docker-archive:" + p, p, "docker-archive:" + p + ":hello:latest", "docker-archive:" + p + ":hello"} {
		t.Run(ref, func(t *testing.T) {
			got := mustLoad(t, ref, Options{})
			if got.Source != DockerArchive || !got.PushedFormUnknown {
				t.Errorf("Source %s PushedFormUnknown %v", got.Source, got.PushedFormUnknown)
			}
			if got.Digest != "" || got.Manifest != nil || got.MediaType != "" || got.Index != nil {
				t.Errorf("legacy archive has no manifest: Digest %q Manifest %v Index %v", got.Digest, got.Manifest, got.Index)
			}
			checkLambdaConfig(t, got, "amd64")
			for i, c := range checkLayers(t, got) {
				if c {
					t.Errorf("layer %d: legacy layer.tar must be served uncompressed as stored", i)
				}
				if got.Layers[i].Digest != got.Layers[i].DiffID {
					t.Errorf("layer %d: Digest %s, want the diff_id", i, got.Layers[i].Digest)
				}
			}
			if len(got.RepoTags) != 1 || got.RepoTags[0] != "hello:latest" {
				t.Errorf("RepoTags = %v", got.RepoTags)
			}
		})
	}
}

// TestDockerArchiveGGCRTarball reads go-containerregistry's tarball.Write
// output (gzip layers named <hex>.tar.gz), which docker load accepts.
func TestDockerArchiveGGCRTarball(t *testing.T) {
	img := testimage.Image(t, lambdaSpec("arm64"))
	tag, _ := name.NewTag("example.com/fn:v1")
	p := writeTo(t, filepath.Join(t.TempDir(), "ggcr.tar"), func(w io.Writer) error {
		return tarball.Write(tag, img, w)
	})
	got := mustLoad(t, "docker-archive:"+p, Options{})
	checkLambdaConfig(t, got, "arm64")
	layers, _ := img.Layers()
	for i, c := range checkLayers(t, got) {
		if !c {
			t.Errorf("layer %d: want the gzip blob as stored", i)
		}
		rc, _ := layers[i].Compressed()
		want, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(readLayer(t, got, i), want) {
			t.Errorf("layer %d: bytes differ from the stored blob", i)
		}
	}
}

func TestDockerArchiveContainerd(t *testing.T) {
	img := testimage.Image(t, lambdaSpec("amd64"))
	tests := []struct {
		name string
		opts testimage.ContainerdOptions
	}{
		{"gzip", testimage.ContainerdOptions{}},
		{"uncompressed", testimage.ContainerdOptions{Uncompressed: true}},
		{"index", testimage.ContainerdOptions{OtherPlatforms: []v1.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTo(t, filepath.Join(t.TempDir(), "hello.tar"), func(w io.Writer) error {
				return testimage.WriteContainerdArchive(w, "hello:latest", img, tt.opts)
			})
			got := mustLoad(t, p, Options{})
			if got.Source != DockerArchive || !got.PushedFormUnknown {
				t.Errorf("Source %s PushedFormUnknown %v", got.Source, got.PushedFormUnknown)
			}
			checkLambdaConfig(t, got, "amd64")
			compressed := checkLayers(t, got)
			for i, l := range got.Layers {
				if l.Digest == l.DiffID && compressed[i] {
					t.Errorf("layer %d: Digest should name the blob, got the diff_id", i)
				}
				if compressed[i] == tt.opts.Uncompressed {
					t.Errorf("layer %d: compressed=%v, want %v", i, compressed[i], !tt.opts.Uncompressed)
				}
				if l.MediaType == "" {
					t.Errorf("layer %d: media type not taken from the OCI manifest", i)
				}
			}
			if got.Manifest == nil || got.Digest == "" || got.MediaType == "" {
				t.Fatalf("OCI manifest not matched: Digest %q MediaType %q", got.Digest, got.MediaType)
			}
			if !tt.opts.Uncompressed && got.Digest != digestOf(t, img) {
				t.Errorf("Digest %s, want the image manifest digest %s", got.Digest, digestOf(t, img))
			}
			if tt.opts.OtherPlatforms == nil {
				if got.Index != nil {
					t.Errorf("Index = %+v, want none", got.Index)
				}
				return
			}
			if got.Index == nil || len(got.Index.Manifests) != 2 || got.Index.Selected != 0 {
				t.Fatalf("Index = %+v, want 2 children with the first selected", got.Index)
			}
			// Read as an OCI archive, the index.json names an arm64 child
			// whose blobs were not saved.
			loadErr(t, "oci-archive:"+p, Options{Arch: "arm64"}, Corrupt, "missing")
			viaLayout := mustLoad(t, "oci-archive:"+p, Options{Arch: "amd64"})
			if viaLayout.Source != OCIArchive || viaLayout.Digest != got.Digest || viaLayout.Index == nil {
				t.Errorf("as oci-archive: Source %s Digest %s Index %v", viaLayout.Source, viaLayout.Digest, viaLayout.Index)
			}
		})
	}
}

func TestDockerArchiveCompressed(t *testing.T) {
	img := testimage.Image(t, lambdaSpec("amd64"))
	var plain bytes.Buffer
	if err := testimage.WriteLegacyArchive(&plain, "hello:latest", img); err != nil {
		t.Fatal(err)
	}
	var zst bytes.Buffer
	zw, _ := zstd.NewWriter(&zst)
	zw.Write(plain.Bytes())
	zw.Close()
	for name, data := range map[string][]byte{
		"hello.tar.gz":  testimage.Gzip(plain.Bytes()),
		"hello.tar.zst": zst.Bytes(),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			spool := t.TempDir()
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Load(t.Context(), p, Options{TempDir: spool})
			if err != nil {
				t.Fatal(err)
			}
			checkLambdaConfig(t, got, "amd64")
			checkLayers(t, got)
			if n := len(dirEntries(t, spool)); n != 1 {
				t.Errorf("%d files spooled in TempDir, want 1", n)
			}
			if err := got.Close(); err != nil {
				t.Fatal(err)
			}
			if left := dirEntries(t, spool); len(left) != 0 {
				t.Errorf("Close left %v in TempDir", left)
			}
			if err := got.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func TestDockerArchiveSeveralImages(t *testing.T) {
	a := testimage.Image(t, lambdaSpec("amd64"))
	b := testimage.Image(t, lambdaSpec("arm64"))
	ta, _ := name.NewTag("fn-a:1")
	tb, _ := name.NewTag("fn-b:2")
	p := writeTo(t, filepath.Join(t.TempDir(), "two.tar"), func(w io.Writer) error {
		return tarball.MultiWrite(map[name.Tag]v1.Image{ta: a, tb: b}, w)
	})
	loadErr(t, "docker-archive:"+p, Options{}, Usage, "holds 2 images", "fn-a:1", "fn-b:2")
	loadErr(t, "docker-archive:"+p+":fn-c:3", Options{}, NotFound, "fn-c:3", "fn-a:1")
	got := mustLoad(t, "docker-archive:"+p+":fn-b:2", Options{})
	checkLambdaConfig(t, got, "arm64")
	got = mustLoad(t, p+":index.docker.io/library/fn-a:1", Options{})
	checkLambdaConfig(t, got, "amd64")
}

// hostileTar builds an archive by hand from headers and data.
func hostileTar(t *testing.T, entries ...any) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(entries); i += 2 {
		hdr := entries[i].(*tar.Header)
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		data, _ := entries[i+1].([]byte)
		if hdr.Typeflag == tar.TypeReg && hdr.Size == 0 {
			hdr.Size = int64(len(data))
		}
		hdr.Mode = 0o644
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// legacyParts returns the config, layer tar and diff ID of a one-layer
// image, for hand-built archives.
func legacyParts(t *testing.T) (config, layer []byte) {
	img := testimage.Image(t, testimage.Spec{Layers: [][]testimage.File{{testimage.Reg("hello", 0o644, "hi\n")}}})
	config, _ = img.RawConfigFile()
	ls, _ := img.Layers()
	rc, _ := ls[0].Uncompressed()
	layer, _ = io.ReadAll(rc)
	rc.Close()
	return config, layer
}

func TestDockerArchiveLinksAndHostileNames(t *testing.T) {
	config, layer := legacyParts(t)
	manifest := func(layerPath string) []byte {
		return []byte(`[{"Config":"c.json","RepoTags":["x:1"],"Layers":["` + layerPath + `"]}]`)
	}
	t.Run("shared layer symlink", func(t *testing.T) {
		// docker save links a layer shared by two images as ../<id>/layer.tar.
		p := hostileTar(t,
			&tar.Header{Name: "aaa/layer.tar"}, layer,
			&tar.Header{Name: "bbb/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../aaa/layer.tar"}, nil,
			&tar.Header{Name: "c.json"}, config,
			&tar.Header{Name: "manifest.json"}, manifest("bbb/layer.tar"),
		)
		got := mustLoad(t, p, Options{})
		checkLayers(t, got)
	})
	t.Run("symlink escaping the archive", func(t *testing.T) {
		p := hostileTar(t,
			&tar.Header{Name: "bbb/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../../../etc/passwd"}, nil,
			&tar.Header{Name: "c.json"}, config,
			&tar.Header{Name: "manifest.json"}, manifest("bbb/layer.tar"),
		)
		loadErr(t, p, Options{}, Corrupt, "outside the archive")
	})
	t.Run("dotdot names are never served", func(t *testing.T) {
		p := hostileTar(t,
			&tar.Header{Name: "../evil/layer.tar"}, layer,
			&tar.Header{Name: "c.json"}, config,
			&tar.Header{Name: "manifest.json"}, manifest("../evil/layer.tar"),
		)
		loadErr(t, p, Options{}, Corrupt, "unsafe")
	})
	t.Run("symlink loop", func(t *testing.T) {
		p := hostileTar(t,
			&tar.Header{Name: "a", Typeflag: tar.TypeSymlink, Linkname: "b"}, nil,
			&tar.Header{Name: "b", Typeflag: tar.TypeSymlink, Linkname: "a"}, nil,
			&tar.Header{Name: "c.json"}, config,
			&tar.Header{Name: "manifest.json"}, manifest("a"),
		)
		loadErr(t, p, Options{}, Corrupt, "too many links")
	})
	t.Run("missing layer", func(t *testing.T) {
		p := hostileTar(t,
			&tar.Header{Name: "c.json"}, config,
			&tar.Header{Name: "manifest.json"}, manifest("nope/layer.tar"),
		)
		loadErr(t, p, Options{}, Corrupt, "missing")
	})
	t.Run("bad manifest json", func(t *testing.T) {
		p := hostileTar(t, &tar.Header{Name: "manifest.json"}, []byte(`[{"Config":`))
		loadErr(t, p, Options{}, Corrupt, "manifest.json")
	})
	t.Run("huge size", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40})
		tw.Write([]byte("[]"))
		p := filepath.Join(t.TempDir(), "huge.tar")
		os.WriteFile(p, buf.Bytes(), 0o644)
		loadErr(t, p, Options{}, Corrupt, "truncated")
	})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	img := testimage.Image(t, lambdaSpec("amd64"))
	var full bytes.Buffer
	if err := testimage.WriteLegacyArchive(&full, "hello:latest", img); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.tar")
	os.WriteFile(truncated, full.Bytes()[:full.Len()/2], 0o644)
	notTar := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTar, bytes.Repeat([]byte("not an image\n"), 100), 0o644)
	plainDir := filepath.Join(dir, "plain")
	os.Mkdir(plainDir, 0o755)
	otherTar := hostileTar(t, &tar.Header{Name: "etc/hosts"}, []byte("127.0.0.1 localhost\n"))
	badGzip := filepath.Join(dir, "bad.tar.gz")
	os.WriteFile(badGzip, testimage.Gzip([]byte("plain text, not a tar")), 0o644)

	tests := []struct {
		ref   string
		kind  ErrorKind
		wants []string
	}{
		{"docker-archive:" + filepath.Join(dir, "missing.tar"), NotFound, []string{"no such file"}},
		{filepath.Join(dir, "missing.tar"), NotFound, []string{"no such file"}},
		{"./missing.tar", NotFound, []string{"no such file"}},
		{"oci:" + filepath.Join(dir, "nolayout"), NotFound, []string{"no such file"}},
		{truncated, Corrupt, []string{"truncated"}},
		{notTar, NotAnImage, []string{"not a tar archive"}},
		{badGzip, NotAnImage, []string{"gzip-compressed", "not a tar"}},
		{"docker-archive:" + plainDir, NotAnImage, []string{"directory"}},
		{plainDir, NotAnImage, []string{"not an OCI image layout"}},
		{otherTar, NotAnImage, []string{"neither manifest.json"}},
		{"", Usage, nil},
		{"docker-archive:", Usage, nil},
		{"Not A Ref!!", Usage, []string{"neither an existing file"}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			loadErr(t, tt.ref, Options{DockerHost: "unix:///nonexistent/docker.sock"}, tt.kind, tt.wants...)
		})
	}
}

func TestLoadErrorMessage(t *testing.T) {
	err := &LoadError{Ref: "foo:1", Kind: NotFound, Err: errorf(NotFound, "image not found in registry index.docker.io/library/foo (MANIFEST_UNKNOWN)\nsecond line")}
	want := `loading "foo:1": image not found in registry index.docker.io/library/foo (MANIFEST_UNKNOWN); second line`
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if KindOf(err) != NotFound || KindOf(io.EOF) != "" {
		t.Error("KindOf misclassifies")
	}
}

func TestMediaTypesOfContainerdLayers(t *testing.T) {
	img := testimage.Image(t, lambdaSpec("amd64"))
	p := writeTo(t, filepath.Join(t.TempDir(), "u.tar"), func(w io.Writer) error {
		return testimage.WriteContainerdArchive(w, "u:1", img, testimage.ContainerdOptions{Uncompressed: true})
	})
	got := mustLoad(t, "docker-archive:"+p, Options{})
	for i, l := range got.Layers {
		if l.MediaType != string(types.OCIUncompressedLayer) {
			t.Errorf("layer %d media type %q", i, l.MediaType)
		}
	}
}

// FuzzLoadArchive feeds damaged archives to Load: it must return a
// LoadError or an image, never panic, and never write outside TempDir.
func FuzzLoadArchive(f *testing.F) {
	for _, name := range []string{"hello-docker-archive.tar", "hello-containerd-archive.tar", "hello-oci-archive.tar"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(testimage.Gzip(b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		spool := t.TempDir()
		p := filepath.Join(dir, "x.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := Load(t.Context(), p, Options{TempDir: spool})
		if err != nil {
			if KindOf(err) == "" {
				t.Fatalf("error is not a LoadError: %v", err)
			}
			if left := dirEntries(t, spool); len(left) != 0 {
				t.Fatalf("failed load left %v", left)
			}
			return
		}
		for i := range img.Layers {
			rc, err := img.Layers[i].Open()
			if err == nil {
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
		if err := img.Close(); err != nil {
			t.Fatal(err)
		}
		if left := dirEntries(t, spool); len(left) != 0 {
			t.Fatalf("Close left %v", left)
		}
		if n := len(dirEntries(t, dir)); n != 1 {
			t.Fatalf("%d files in the archive's directory, want 1", n)
		}
	})
}
