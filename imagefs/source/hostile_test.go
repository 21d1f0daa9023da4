package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// rawLayout writes OCI layouts blob by blob, so that tests can build what
// no image tool writes.
type rawLayout struct {
	t   *testing.T
	dir string
}

func newRawLayout(t *testing.T) *rawLayout {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return &rawLayout{t: t, dir: dir}
}

// blob writes b as a blob and returns its descriptor.
func (l *rawLayout) blob(mt types.MediaType, b []byte) v1.Descriptor {
	l.t.Helper()
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if err := os.WriteFile(l.path(h), b, 0o644); err != nil {
		l.t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: int64(len(b))}
}

func (l *rawLayout) path(h v1.Hash) string {
	return filepath.Join(l.dir, "blobs", h.Algorithm, h.Hex)
}

func (l *rawLayout) json(mt types.MediaType, v any) v1.Descriptor {
	b, err := json.Marshal(v)
	if err != nil {
		l.t.Fatal(err)
	}
	return l.blob(mt, b)
}

// index writes an image index blob listing descs.
func (l *rawLayout) index(descs ...v1.Descriptor) v1.Descriptor {
	return l.json(types.OCIImageIndex, &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
}

// top writes index.json listing descs.
func (l *rawLayout) top(descs ...v1.Descriptor) {
	l.t.Helper()
	b, _ := json.Marshal(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
	if err := os.WriteFile(filepath.Join(l.dir, "index.json"), b, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// image writes a linux/amd64 image of nLayers copies of one small layer,
// with the config padded to at least configSize bytes.
func (l *rawLayout) image(nLayers, configSize int) v1.Descriptor {
	l.t.Helper()
	layerTar := tarOf(l.t, map[string]string{"bootstrap": "#!/bin/sh\n"})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layerTar)
	zw.Close()
	layer := l.blob(types.OCILayer, gz.Bytes())
	sum := sha256.Sum256(layerTar)
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	cfg := v1.ConfigFile{Architecture: "amd64", OS: "linux", RootFS: v1.RootFS{Type: "layers"}}
	for i := 0; i < nLayers; i++ {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	}
	if configSize > 0 {
		cfg.Config.Labels = map[string]string{"pad": strings.Repeat("x", configSize)}
	}
	config := l.json(types.OCIConfigJSON, cfg)
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: config}
	for i := 0; i < nLayers; i++ {
		m.Layers = append(m.Layers, layer)
	}
	d := l.json(types.OCIManifestSchema1, m)
	d.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	return d
}

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

// mkfifo makes a FIFO at p; nobody ever writes to it, so opening it
// without O_NONBLOCK would block forever.
func mkfifo(t *testing.T, p string) {
	t.Helper()
	os.Remove(p)
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

// quick runs f and fails when it takes more than 5 s: a blocked open
// would hang until the test binary's timeout.
func quick(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("blocked for 5 s")
	}
}

func TestLayoutMembersThatAreNotFiles(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.json")
	os.WriteFile(outside, []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)

	t.Run("index.json is a FIFO", func(t *testing.T) {
		l := newRawLayout(t)
		l.top(l.image(1, 0))
		mkfifo(t, filepath.Join(l.dir, "index.json"))
		quick(t, func() {
			loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "index.json in OCI layout "+l.dir+" is a FIFO (named pipe), not a regular file: refused")
		})
	})
	t.Run("index.json links to /dev/zero", func(t *testing.T) {
		l := newRawLayout(t)
		os.Symlink("/dev/zero", filepath.Join(l.dir, "index.json"))
		quick(t, func() {
			loadErr(t, "oci:"+l.dir, Options{}, Corrupt, `index.json in OCI layout `+l.dir+` is a symbolic link leading out of the layout (to "/dev/zero"): refused`)
		})
	})
	t.Run("index.json links out of the layout", func(t *testing.T) {
		l := newRawLayout(t)
		os.Symlink(outside, filepath.Join(l.dir, "index.json"))
		loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "symbolic link leading out of the layout")
	})
	t.Run("index.json links inside the layout", func(t *testing.T) {
		l := newRawLayout(t)
		l.top(l.image(1, 0))
		os.Rename(filepath.Join(l.dir, "index.json"), filepath.Join(l.dir, "real-index.json"))
		os.Symlink("real-index.json", filepath.Join(l.dir, "index.json"))
		mustLoad(t, "oci:"+l.dir, Options{})
	})
	t.Run("index.json is a character device", func(t *testing.T) {
		l := newRawLayout(t)
		// 1,5 is /dev/zero.
		if err := syscall.Mknod(filepath.Join(l.dir, "index.json"), syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
			t.Skipf("mknod: %v (needs root)", err)
		}
		quick(t, func() {
			loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "is a character device, not a regular file: refused")
		})
	})
	t.Run("oci-layout is a FIFO", func(t *testing.T) {
		l := newRawLayout(t)
		l.top(l.image(1, 0))
		mkfifo(t, filepath.Join(l.dir, "oci-layout"))
		quick(t, func() {
			loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "oci-layout in OCI layout "+l.dir+" is a FIFO (named pipe)")
		})
	})
	t.Run("manifest blob is a FIFO", func(t *testing.T) {
		l := newRawLayout(t)
		d := l.image(1, 0)
		l.top(d)
		mkfifo(t, l.path(d.Digest))
		quick(t, func() {
			loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "blobs/sha256/"+d.Digest.Hex+" in OCI layout", "is a FIFO (named pipe), not a regular file: refused")
		})
	})
	t.Run("layer blob is a FIFO", func(t *testing.T) {
		l := newRawLayout(t)
		d := l.image(1, 0)
		l.top(d)
		var m v1.Manifest
		b, _ := os.ReadFile(l.path(d.Digest))
		json.Unmarshal(b, &m)
		mkfifo(t, l.path(m.Layers[0].Digest))
		quick(t, func() {
			loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "is a FIFO (named pipe), not a regular file: refused")
		})
	})
	t.Run("config blob links out of the layout", func(t *testing.T) {
		l := newRawLayout(t)
		d := l.image(1, 0)
		l.top(d)
		var m v1.Manifest
		b, _ := os.ReadFile(l.path(d.Digest))
		json.Unmarshal(b, &m)
		os.Remove(l.path(m.Config.Digest))
		os.Symlink(outside, l.path(m.Config.Digest))
		loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "symbolic link leading out of the layout")
	})
	t.Run("archive path is a FIFO", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "fn.tar")
		mkfifo(t, p)
		quick(t, func() {
			loadErr(t, p, Options{}, NotAnImage, "is a FIFO (named pipe), not a regular file: refused")
			loadErr(t, "docker-archive:"+p, Options{}, NotAnImage, "is a FIFO (named pipe), not a regular file: refused")
		})
	})
}

func TestLayoutSizeLimits(t *testing.T) {
	t.Run("50 MB config", func(t *testing.T) {
		l := newRawLayout(t)
		l.top(l.image(1, 50<<20))
		loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "more than the 8 MiB limit for it (maxConfigBytes)")
	})
	t.Run("5000-layer manifest", func(t *testing.T) {
		l := newRawLayout(t)
		l.top(l.image(5000, 0))
		loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "lists 5000 layers, more than the limit of 500 (maxLayers")
	})
	t.Run("500 layers load", func(t *testing.T) {
		l := newRawLayout(t)
		l.top(l.image(maxLayers, 0))
		if img := mustLoad(t, "oci:"+l.dir, Options{}); len(img.Layers) != maxLayers {
			t.Errorf("%d layers", len(img.Layers))
		}
	})
	t.Run("5 MiB index.json", func(t *testing.T) {
		l := newRawLayout(t)
		d := l.image(1, 0)
		d.Annotations = map[string]string{"pad": strings.Repeat("x", 5<<20)}
		l.top(d)
		loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "index.json of OCI layout", "more than the 4 MiB limit for it (maxManifestBytes)")
	})
	t.Run("5 MiB manifest blob", func(t *testing.T) {
		l := newRawLayout(t)
		big := l.blob(types.OCIManifestSchema1, append([]byte(`{"schemaVersion":2}`), bytes.Repeat([]byte(" "), 5<<20)...))
		big.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
		l.top(big)
		loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "more than the 4 MiB limit for it (maxManifestBytes)")
	})
	t.Run("very wide index", func(t *testing.T) {
		l := newRawLayout(t)
		img := l.image(1, 0)
		var descs []v1.Descriptor
		for i := 0; i < 2000; i++ {
			d := img
			d.Annotations = map[string]string{annotationOCIRefName: fmt.Sprintf("t%d", i)}
			descs = append(descs, d)
		}
		l.top(l.index(descs...))
		loadErr(t, "oci:"+l.dir, Options{}, Corrupt, "lists 2000 manifests, more than the limit of 1024 (maxIndexManifests)")
		l.top(descs...)
		loadErr(t, "oci:"+l.dir+":t5", Options{}, Corrupt, "lists 2000 manifests, more than the limit of 1024 (maxIndexManifests)")
	})
	t.Run("deeply nested indexes", func(t *testing.T) {
		l := newRawLayout(t)
		img := l.image(1, 0)
		d := img
		for i := 0; i < 1000; i++ {
			d = l.index(d)
		}
		l.top(d)
		loadErr(t, "oci:"+l.dir+"@"+img.Digest.String(), Options{}, NotFound, "within 4 levels of nested indexes", "(maxIndexDepth, maxIndexVisits)")
		loadErr(t, "oci:"+l.dir, Options{}, PlatformNotFound, "has no linux/amd64 image")
	})
	t.Run("wide tree of indexes", func(t *testing.T) {
		l := newRawLayout(t)
		img := l.image(1, 0)
		var kids []v1.Descriptor
		for i := 0; i < 200; i++ {
			kid := l.index(l.json(types.OCIManifestSchema1, map[string]any{"schemaVersion": 2, "n": i}))
			kids = append(kids, kid)
		}
		l.top(kids...)
		loadErr(t, "oci:"+l.dir+"@"+img.Digest.String(), Options{}, NotFound, "64 indexes read")
	})
}

func TestRegistrySizeLimits(t *testing.T) {
	hermeticDockerConfig(t)
	t.Run("50 MB config is never fetched", func(t *testing.T) {
		var configFetched atomic.Bool
		l := newRawLayout(t)
		d := l.image(1, 50<<20)
		var m v1.Manifest
		b, _ := os.ReadFile(l.path(d.Digest))
		json.Unmarshal(b, &m)
		host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
			switch {
			case strings.Contains(r.URL.Path, "/manifests/"):
				w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
				w.Write(b)
				return true
			case strings.HasSuffix(r.URL.Path, m.Config.Digest.String()):
				configFetched.Store(true)
			}
			return false
		})
		loadErr(t, "registry:"+host+"/fn:t", Options{}, Corrupt, "(maxConfigBytes)")
		if configFetched.Load() {
			t.Error("the config was requested")
		}
	})
	t.Run("5000-layer manifest", func(t *testing.T) {
		l := newRawLayout(t)
		d := l.image(5000, 0)
		b, _ := os.ReadFile(l.path(d.Digest))
		host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
				w.Write(b)
				return true
			}
			return false
		})
		loadErr(t, "registry:"+host+"/fn:t", Options{}, Corrupt, "lists 5000 layers, more than the limit of 500 (maxLayers")
	})
	t.Run("very wide index", func(t *testing.T) {
		l := newRawLayout(t)
		img := l.image(1, 0)
		descs := make([]v1.Descriptor, 5000)
		for i := range descs {
			descs[i] = img
		}
		b, _ := json.Marshal(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
		host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", string(types.OCIImageIndex))
				w.Write(b)
				return true
			}
			return false
		})
		loadErr(t, "registry:"+host+"/fn:t", Options{}, Corrupt, "lists 5000 manifests, more than the limit of 1024 (maxIndexManifests)")
	})
}

// legacyArchive is a loadable docker save archive.
func legacyArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := testimage.WriteLegacyArchive(&buf, "fn:latest", testimage.Image(t, lambdaSpec("amd64"))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipFile(t *testing.T, write func(w io.Writer)) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fn.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	write(zw)
	zw.Close()
	f.Close()
	return p
}

func TestCompressedArchiveBombs(t *testing.T) {
	t.Run("gzip member declaring 20 GiB", func(t *testing.T) {
		p := gzipFile(t, func(w io.Writer) {
			tw := tar.NewWriter(w)
			tw.WriteHeader(&tar.Header{Name: "manifest.json", Size: 20 << 30, Mode: 0o644})
			w.Write(make([]byte, 1<<20))
		})
		fi, _ := os.Stat(p)
		loadErr(t, p, Options{TempDir: t.TempDir()}, Corrupt, `member "manifest.json" declares 20 GiB`,
			fmt.Sprintf("(maxDeflateRatio: gzip expands %s at most 1032 times)", humanSize(fi.Size())))
	})
	t.Run("gzip archive followed by 1 GiB of zeros", func(t *testing.T) {
		arch := legacyArchive(t)
		p := gzipFile(t, func(w io.Writer) {
			w.Write(arch)
			zero := make([]byte, 1<<20)
			for i := 0; i < 1024; i++ {
				w.Write(zero)
			}
		})
		fi, _ := os.Stat(p)
		tmp := t.TempDir()
		start := time.Now()
		img := mustLoad(t, p, Options{TempDir: tmp})
		t.Logf("%s gzip (1 GiB of zeros after the tar) loaded in %s", humanSize(fi.Size()), time.Since(start))
		if len(img.Layers) == 0 {
			t.Error("no layers")
		}
		var spooled int64
		filepath.Walk(tmp, func(_ string, fi os.FileInfo, _ error) error {
			if fi != nil && !fi.IsDir() {
				spooled += fi.Size()
			}
			return nil
		})
		if spooled > int64(len(arch))+1<<20 {
			t.Errorf("spooled %d bytes for a %d-byte archive", spooled, len(arch))
		}
	})
	t.Run("zstd member declaring 20 GiB", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "fn.tar.zst")
		f, _ := os.Create(p)
		zw, _ := zstd.NewWriter(f)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Name: "manifest.json", Size: 20 << 30, Mode: 0o644})
		zw.Write(make([]byte, 1<<20))
		zw.Close()
		f.Close()
		// A 274-byte archive may expand to 1 GiB + 1032 x its size: the
		// ratio bound, tighter than the 10 GiB image bound, refuses it.
		loadErr(t, p, Options{TempDir: t.TempDir()}, Corrupt, `member "manifest.json" declares 20 GiB`, "(maxDeflateRatio: an archive of 274 B")
	})
	t.Run("zstd frame asking for a 2 GiB window", func(t *testing.T) {
		// Magic, a frame header with a window descriptor of 2^31 bytes
		// (exponent 21), then an empty last raw block (RFC 8878 3.1.1).
		p := filepath.Join(t.TempDir(), "fn.tar.zst")
		os.WriteFile(p, []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00}, 0o644)
		loadErr(t, p, Options{TempDir: t.TempDir()}, Corrupt, "window")
	})
	t.Run("zstd members whose data passes the limit", func(t *testing.T) {
		var buf bytes.Buffer
		zw, _ := zstd.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		for i := 0; i < 8; i++ {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("blob%d", i), Size: 1 << 20, Mode: 0o644})
			tw.Write(make([]byte, 1<<20))
		}
		tw.Close()
		zw.Close()
		zr, _ := zstd.NewReader(&buf)
		defer zr.Close()
		_, err := spoolTar(zr, t.TempDir(), "x-*", spoolLimit{bytes: 3 << 20, name: "testLimit", why: "a test"}, "the archive")
		if err == nil || !strings.Contains(err.Error(), "the archive would take more than 3 MiB") || !strings.Contains(err.Error(), "(testLimit: a test)") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSpoolLeavesHolesForZeros(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "zeros", Size: 64 << 20, Mode: 0o644})
	tw.Write(make([]byte, 64<<20))
	tw.WriteHeader(&tar.Header{Name: "data", Size: 5, Mode: 0o644})
	tw.Write([]byte("hello"))
	tw.Close()
	want := buf.Bytes()
	f, err := spoolTar(bytes.NewReader(want), t.TempDir(), "x-*", spoolLimit{bytes: 1 << 30, name: "n", why: "w"}, "the archive")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _ := io.ReadAll(f)
	if !bytes.Equal(got, want) {
		t.Fatalf("spooled %d bytes differ from the %d-byte archive", len(got), len(want))
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err == nil && st.Blocks*512 > 8<<20 {
		t.Errorf("64 MiB of zeros took %d bytes of disk", st.Blocks*512)
	}
}
