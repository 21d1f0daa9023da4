package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths inside the image.
const (
	imageBinary = "/usr/local/bin/lambdoctor"
	imageCerts  = "/etc/ssl/certs/ca-certificates.crt"
)

// refNameAnnotation tags the index in the layout's index.json, so that
// "oci:dist/lambdoctor-oci:VERSION" names it.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// imageFile is one entry of the image's single layer.
type imageFile struct {
	name string // without the leading /
	mode int64  // permission bits, with sticky for /tmp
	dir  bool
	data []byte
}

// imageLayerFiles is what lambdoctor needs at run time on an empty base:
// the binary, the CA bundle Go's crypto/x509 reads on Linux for registry
// pulls over TLS, a world-writable sticky /tmp for spooled image exports
// and the layer cache (XDG_CACHE_HOME=/tmp/.cache), and root's home, where
// a Docker config for registry credentials is mounted (/root/.docker).
func imageLayerFiles(binary, certs []byte) []imageFile {
	return []imageFile{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: imageCerts[1:], mode: 0o644, data: certs},
		{name: "root/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: imageBinary[1:], mode: 0o755, data: binary},
	}
}

// layerTar writes the files as an uncompressed tar, owned by 0:0, all with
// one mtime.
func layerTar(files []imageFile, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, ModTime: mtime, Format: tar.FormatPAX}
		if f.dir {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// platformImage builds the image of one linux architecture from scratch.
func (r *release) platformImage(goarch string, certs []byte) (v1.Image, error) {
	bin, err := os.ReadFile(r.binPath(target{"linux", goarch}))
	if err != nil {
		return nil, err
	}
	raw, err := layerTar(imageLayerFiles(bin, certs), r.mtime)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: r.mtime},
			CreatedBy: "lambdoctor internal/release: " + imageBinary + ", " + imageCerts + ", /tmp, /root",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goarch
	if goarch == "arm64" {
		cf.Variant = "v8"
	}
	cf.Created = v1.Time{Time: r.mtime}
	cf.Config.Entrypoint = []string{imageBinary}
	cf.Config.Cmd = []string{"--help"}
	cf.Config.Env = []string{
		"PATH=/usr/local/bin",
		// Go reads this file on Linux anyway; naming it keeps a base
		// image swap from changing where the bundle is looked for.
		"SSL_CERT_FILE=" + imageCerts,
		// The layer cache (os.UserCacheDir) in the writable /tmp for any
		// user: with --user 1000, HOME is / and /.cache is not writable.
		"XDG_CACHE_HOME=/tmp/.cache",
	}
	cf.Config.WorkingDir = "/"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   "lambdoctor",
		"org.opencontainers.image.version": r.version,
		"org.opencontainers.image.source":  "https://" + modulePath,
	}
	return mutate.ConfigFile(img, cf)
}

// writeImage writes the multi-architecture image (an OCI index of the
// linux/amd64 and linux/arm64 images) as an OCI layout whose index.json
// names it by the version.
func (r *release) writeImage() error {
	certs, err := os.ReadFile(r.certs)
	if err != nil {
		return fmt.Errorf("reading the CA bundle for the image: %w (on Debian: apt-get install ca-certificates; or name another with -ca-certificates)", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, t := range targets {
		if t.goos != "linux" {
			continue
		}
		img, err := r.platformImage(t.goarch, certs)
		if err != nil {
			return fmt.Errorf("building the %s image: %w", t, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
			},
		})
	}
	dir := filepath.Join(r.out, imageDir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating the layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameAnnotation: r.version})); err != nil {
		return fmt.Errorf("writing the image to %s: %w", dir, err)
	}
	return nil
}
