// Package realimage builds and finds the real-shaped test and benchmark
// images: container images made the way real Lambda images are (a Debian
// bookworm minbase root filesystem from debootstrap, Debian packages
// unpacked on top, an application layer), in gzip layers, as docker save
// tarballs and OCI layouts.
//
// The images are generated once by `make realimages` (go run
// ./internal/realimage/cmd/realimage) into build/realimages/ at the top of
// the repository (or $LAMBDOCTOR_REALIMAGES_DIR) and reused while their
// recipe Version is unchanged. Tests find them with Path; they skip when an
// image is missing, or fail under LAMBDOCTOR_REQUIRE_REALIMAGES=1.
//
// The images:
//
//   - debian-python: Debian minbase, python3, then numpy/pandas/boto3 from
//     Debian packages, then a small app layer with a Python handler. There is
//     no runtime interface client (PyPI is out of reach): it is a benchmark
//     shape and a "no runtime client" case, not a working function.
//   - debian-go: Debian minbase, ca-certificates, and a real aws-lambda-go
//     function as /var/task/bootstrap: a working function image.
//   - go-small: the debian-go function FROM scratch with only the
//     certificates and time zones: a few MB, the common pre-push case.
//   - big: about 3 GB in 9 layers, from the Debian root filesystem, the
//     Python packages and this machine's own /usr (benchmarks only).
package realimage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Version names the recipes: change it whenever an image's content or shape
// changes, and every image is rebuilt on the next `make realimages`.
const Version = "realimage-2"

// Names are the images, in build order.
var Names = []string{"debian-go", "debian-python", "go-small", "big"}

// RequireEnv, set to 1 (by .ci/run), turns a missing image into a test
// failure instead of a skip.
const RequireEnv = "LAMBDOCTOR_REQUIRE_REALIMAGES"

// DirEnv overrides where the images live.
const DirEnv = "LAMBDOCTOR_REALIMAGES_DIR"

// Info describes a built image; it is written last, as NAME/info.json, so
// an image without it is incomplete.
type Info struct {
	Version string `json:"version"`
	Name    string `json:"name"`
	// Dir is the image's directory (set by Load, not stored).
	Dir string `json:"-"`
	// Archive is the docker save tarball, Layout the OCI layout directory,
	// both relative to Dir.
	Archive string `json:"archive"`
	Layout  string `json:"layout"`
	// Blobs are the gzip layer blobs, base first, relative to Dir (inside
	// the OCI layout).
	Blobs []string `json:"blobs"`
	// DiffIDs are the layers' uncompressed digests, base first.
	DiffIDs []string `json:"diffIDs"`
	// Compressed and Uncompressed are the layers' total sizes in bytes;
	// Entries the total number of tar entries over all layers.
	Compressed   int64   `json:"compressed"`
	Uncompressed int64   `json:"uncompressed"`
	Entries      int     `json:"entries"`
	Layers       int     `json:"layers"`
	Seconds      float64 `json:"seconds"`
	// Working says whether the image is a function that answers an invoke.
	Working bool `json:"working"`
}

// ArchivePath is the docker save tarball.
func (i *Info) ArchivePath() string { return filepath.Join(i.Dir, i.Archive) }

// LayoutPath is the OCI layout directory.
func (i *Info) LayoutPath() string { return filepath.Join(i.Dir, i.Layout) }

// BlobPaths are the gzip layer blobs, base first.
func (i *Info) BlobPaths() []string {
	ps := make([]string, len(i.Blobs))
	for k, b := range i.Blobs {
		ps[k] = filepath.Join(i.Dir, b)
	}
	return ps
}

// Dir is where the images live: $LAMBDOCTOR_REALIMAGES_DIR, or
// build/realimages at the top of the repository (found from the working
// directory by its go.mod).
func Dir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		raw, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(string(raw), "module github.com/lambdoctor/lambdoctor\n") {
			return filepath.Join(d, "build", "realimages"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("cannot find the lambdoctor repository above %s (set %s)", wd, DirEnv)
		}
	}
}

// ErrMissing is wrapped by Load when an image has not been built (or was
// built from an older recipe).
var ErrMissing = errors.New("real-shaped image not built")

// Load returns the image name built under dir, when it is complete and of
// the current Version.
func Load(dir, name string) (*Info, error) {
	if !slices.Contains(Names, name) {
		return nil, fmt.Errorf("unknown real-shaped image %q (known: %s)", name, strings.Join(Names, ", "))
	}
	idir := filepath.Join(dir, name)
	raw, err := os.ReadFile(filepath.Join(idir, "info.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (run `make realimages`)", ErrMissing, idir)
	}
	if err != nil {
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, fmt.Errorf("%s/info.json: %v", idir, err)
	}
	if info.Version != Version {
		return nil, fmt.Errorf("%w: %s is from recipe %s, want %s (run `make realimages`)", ErrMissing, idir, info.Version, Version)
	}
	info.Dir = idir
	for _, p := range append(info.BlobPaths(), info.ArchivePath(), info.LayoutPath()) {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: %s is incomplete: %v (run `make realimages`)", ErrMissing, idir, err)
		}
	}
	return &info, nil
}

// Get returns the built image name for a test or benchmark. When it is
// missing, t is skipped, or fails under LAMBDOCTOR_REQUIRE_REALIMAGES=1.
func Get(t testing.TB, name string) *Info {
	t.Helper()
	dir, err := Dir()
	if err == nil {
		var info *Info
		if info, err = Load(dir, name); err == nil {
			return info
		}
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s=1 but %v", RequireEnv, err)
	}
	t.Skip(err)
	return nil
}

// Path returns the docker save tarball of the built image name (see Get).
func Path(t testing.TB, name string) string {
	t.Helper()
	return Get(t, name).ArchivePath()
}
