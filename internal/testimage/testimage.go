// Package testimage builds small, deterministic container images in Go for
// tests, so every package synthesises images the same way.
package testimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// Epoch is the modification time of every generated entry.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// File is one tar entry of a layer.
type File struct {
	Path     string
	Type     byte // tar.TypeReg when zero
	Mode     int64
	UID, GID int
	Content  string
	Linkname string
}

// Reg is a regular file.
func Reg(path string, mode int64, content string) File {
	return File{Path: path, Type: tar.TypeReg, Mode: mode, Content: content}
}

// Dir is a directory (mode 0755 when mode is 0).
func Dir(path string, mode int64) File {
	if mode == 0 {
		mode = 0o755
	}
	return File{Path: path, Type: tar.TypeDir, Mode: mode}
}

// Symlink is a symbolic link at path pointing to target.
func Symlink(path, target string) File {
	return File{Path: path, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target}
}

// Hardlink is a hard link at path to the existing file target.
func Hardlink(path, target string) File {
	return File{Path: path, Type: tar.TypeLink, Mode: 0o644, Linkname: target}
}

// Whiteout deletes path from lower layers.
func Whiteout(path string) File {
	dir, base := splitPath(path)
	return File{Path: dir + ".wh." + base, Type: tar.TypeReg, Mode: 0o644}
}

// Opaque hides the lower-layer contents of dir.
func Opaque(dir string) File {
	return File{Path: trimSlash(dir) + "/.wh..wh..opq", Type: tar.TypeReg, Mode: 0o644}
}

func splitPath(p string) (string, string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i+1], p[i+1:]
		}
	}
	return "", p
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// Tar returns the uncompressed tar stream of files, in the order given.
func Tar(files ...File) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		typ := f.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{
			Name:     f.Path,
			Typeflag: typ,
			Mode:     f.Mode,
			Uid:      f.UID,
			Gid:      f.GID,
			Linkname: f.Linkname,
			ModTime:  Epoch,
			Format:   tar.FormatPAX,
		}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(f.Content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(fmt.Sprintf("testimage: writing header %q: %v", f.Path, err))
		}
		if typ == tar.TypeReg {
			if _, err := io.WriteString(tw, f.Content); err != nil {
				panic(fmt.Sprintf("testimage: writing %q: %v", f.Path, err))
			}
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Gzip compresses b deterministically.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Layer is a gzip-compressed layer holding files.
func Layer(t testing.TB, files ...File) v1.Layer {
	t.Helper()
	gz := Gzip(Tar(files...))
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz)), nil
	}, tarball.WithMediaType(types.DockerLayer))
	if err != nil {
		t.Fatalf("testimage: building layer: %v", err)
	}
	return l
}

// Spec describes an image to build.
type Spec struct {
	OS, Arch, Variant string // default linux/amd64
	Config            v1.Config
	// Layers, base first; CreatedBy[i] is the history line of layer i.
	Layers    [][]File
	CreatedBy []string
	// OCI makes OCI media types instead of Docker v2 schema 2.
	OCI bool
}

// Image builds the image described by s.
func Image(t testing.TB, s Spec) v1.Image {
	t.Helper()
	var img v1.Image = empty.Image
	if s.OCI {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	for i, files := range s.Layers {
		l := Layer(t, files...)
		if s.OCI {
			gz := Gzip(Tar(files...))
			var err error
			l, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(gz)), nil
			}, tarball.WithMediaType(types.OCILayer))
			if err != nil {
				t.Fatalf("testimage: building layer: %v", err)
			}
		}
		createdBy := fmt.Sprintf("COPY layer%d / # buildkit", i)
		if i < len(s.CreatedBy) {
			createdBy = s.CreatedBy[i]
		}
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   l,
			History: v1.History{CreatedBy: createdBy, Created: v1.Time{Time: Epoch}},
		})
		if err != nil {
			t.Fatalf("testimage: appending layer %d: %v", i, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("testimage: config: %v", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", "amd64", ""
	if s.OS != "" {
		cf.OS = s.OS
	}
	if s.Arch != "" {
		cf.Architecture = s.Arch
	}
	if s.Variant != "" {
		cf.Variant = s.Variant
	}
	cf.Config = s.Config
	cf.Created = v1.Time{Time: Epoch}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatalf("testimage: setting config: %v", err)
	}
	return img
}
