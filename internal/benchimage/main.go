// Command benchimage writes real-shaped test images for measuring the
// layer cache: docker save archives whose gzip layers are copied from this
// machine's /usr/lib and /usr/share (a native-library base, a Python
// stack, shared data, a small application layer), about 300 MB
// uncompressed, and a second archive that differs only in its top layer.
//
//	go run ./internal/benchimage -out DIR
//
// writes DIR/real.tar and DIR/real-top-changed.tar as Docker 25 and later
// save them (OCI blobs named by digest), and legacy-real.tar and
// legacy-real-top-changed.tar in the legacy layout go-containerregistry
// writes (compressed layers named by DiffID).
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

// layerSpec is a layer: the trees copied into it, up to budget bytes of
// file content.
type layerSpec struct {
	roots  []string
	budget int64
	extra  map[string]string
}

func main() {
	out := flag.String("out", os.TempDir(), "the directory the archives are written to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "benchimage:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	base := []layerSpec{
		{roots: []string{"/usr/lib/x86_64-linux-gnu"}, budget: 150 << 20},
		{roots: []string{"/usr/lib/python3.11", "/usr/lib/python3"}, budget: 110 << 20},
		{roots: []string{"/usr/share/vim", "/usr/share/i18n", "/usr/share/perl", "/usr/share/mime"}, budget: 90 << 20},
	}
	app := layerSpec{roots: []string{"/usr/lib/node_modules"}, budget: 25 << 20, extra: map[string]string{
		"var/runtime/bootstrap": "#!/bin/sh\nexec /usr/bin/python3 -m awslambdaric \"$@\"\n",
		"var/task/app.py":       "def handler(event, context):\n    return {'ok': True}\n",
	}}
	var layers []v1.Layer
	for _, s := range base {
		l, err := makeLayer(s)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	for _, v := range []struct {
		file  string
		extra string
	}{{"real.tar", ""}, {"real-top-changed.tar", "# changed\n"}} {
		s := app
		s.extra = map[string]string{}
		for k, b := range app.extra {
			s.extra[k] = b + v.extra
		}
		top, err := makeLayer(s)
		if err != nil {
			return err
		}
		img, err := mutate.AppendLayers(empty.Image, append(layers[:len(layers):len(layers)], top)...)
		if err != nil {
			return err
		}
		img, err = mutate.Config(img, v1.Config{
			Entrypoint: []string{"/var/runtime/bootstrap"},
			Cmd:        []string{"app.handler"},
			WorkingDir: "/var/task",
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LAMBDA_TASK_ROOT=/var/task"},
		})
		if err != nil {
			return err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		cf.OS, cf.Architecture = "linux", "amd64"
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return err
		}
		tag, _ := name.NewTag("lambdoctor-bench/real:" + strings.TrimSuffix(v.file, ".tar"))
		p := filepath.Join(out, v.file)
		if err := writeDockerArchive(p, tag.String(), img); err != nil {
			return err
		}
		fi, _ := os.Stat(p)
		fmt.Printf("%s: %d bytes\n", p, fi.Size())
		// The legacy layout go-containerregistry writes (layers named by
		// DiffID, so the blob digest is unknown to readers).
		p = filepath.Join(out, "legacy-"+v.file)
		if err := tarball.WriteToFile(p, tag, img); err != nil {
			return err
		}
	}
	return nil
}

// writeDockerArchive writes img as `docker save` of Docker 25 and later
// does: an OCI layout (blobs/sha256/..., index.json, oci-layout) with a
// manifest.json naming the blobs.
func writeDockerArchive(p, tag string, img v1.Image) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	blob := func(h v1.Hash) string { return "blobs/sha256/" + h.Hex }
	rawManifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mdigest, _ := img.Digest()
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cdigest, _ := img.ConfigName()
	entry := map[string]any{"Config": blob(cdigest), "RepoTags": []string{tag}}
	var layerPaths []string
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if err := add(blob(d), b); err != nil {
			return err
		}
		layerPaths = append(layerPaths, blob(d))
	}
	entry["Layers"] = layerPaths
	if err := add(blob(cdigest), rawConfig); err != nil {
		return err
	}
	if err := add(blob(mdigest), rawManifest); err != nil {
		return err
	}
	mt, _ := img.MediaType()
	index := map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{"mediaType": mt, "digest": mdigest.String(), "size": len(rawManifest),
			"annotations": map[string]string{"io.containerd.image.name": tag}}}}
	for name, v := range map[string]any{"index.json": index, "manifest.json": []any{entry}} {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := add(name, b); err != nil {
			return err
		}
	}
	if err := add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// makeLayer builds a gzip layer of spec in memory.
func makeLayer(spec layerSpec) (v1.Layer, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	var used int64
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	addDirs := func(p string) error {
		var parts []string
		for d := filepath.Dir(p); d != "." && d != "/"; d = filepath.Dir(d) {
			parts = append([]string{d}, parts...)
		}
		for _, d := range parts {
			if seen[d] {
				continue
			}
			seen[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, root := range spec.roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || used >= spec.budget {
				return nil // unreadable entries are left out
			}
			rel := strings.TrimPrefix(p, "/")
			info, err := d.Info()
			if err != nil {
				return nil
			}
			h := &tar.Header{Name: rel, Mode: int64(info.Mode().Perm()), ModTime: mtime}
			switch {
			case d.IsDir():
				if seen[rel] {
					return nil
				}
				seen[rel] = true
				h.Typeflag, h.Name = tar.TypeDir, rel+"/"
			case info.Mode()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return nil
				}
				h.Typeflag, h.Linkname = tar.TypeSymlink, target
			case info.Mode().IsRegular():
				h.Typeflag, h.Size = tar.TypeReg, info.Size()
			default:
				return nil
			}
			if err := addDirs(rel); err != nil {
				return err
			}
			if h.Typeflag != tar.TypeReg {
				return tw.WriteHeader(h)
			}
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			n, err := io.Copy(tw, io.LimitReader(f, h.Size))
			if err == nil && n < h.Size {
				_, err = tw.Write(make([]byte, h.Size-n)) // a file that shrank
			}
			used += h.Size
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	for p, body := range spec.extra {
		if err := addDirs(p); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body)), ModTime: mtime}); err != nil {
			return nil, err
		}
		io.WriteString(tw, body)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	blob := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	})
}
