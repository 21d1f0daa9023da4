package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// modulePath is where the version variable lives; the Makefile stamps the
// same one.
const modulePath = "github.com/lambdoctor/lambdoctor"

// checksumsFile lists the sha256 of every archive, as sha256sum prints it.
const checksumsFile = "checksums.txt"

// imageDir is the OCI image layout under the output directory.
const imageDir = "lambdoctor-oci"

// binaryName is the name of the binary inside the archives and the image.
const binaryName = "lambdoctor"

// target is one operating system and architecture a binary is built for.
type target struct{ goos, goarch string }

func (t target) String() string { return t.goos + "/" + t.goarch }

// targets are the platforms released. The image is made of the linux ones.
var targets = []target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
}

// release is one run: where the source is, where the artifacts go, and
// what they are stamped with.
type release struct {
	root    string // the module's directory
	out     string // the output directory
	version string // e.g. v1.2.3, or what git describe says
	mtime   time.Time
	certs   string // the host's CA bundle, copied into the image
	log     func(format string, a ...any)
}

// archiveVersion is the version as it appears in file names: without the
// leading v, as GoReleaser names its archives (lambdoctor_1.2.3_linux_amd64.tar.gz).
func (r *release) archiveVersion() string { return strings.TrimPrefix(r.version, "v") }

func (r *release) archiveName(t target) string {
	return fmt.Sprintf("%s_%s_%s_%s.tar.gz", binaryName, r.archiveVersion(), t.goos, t.goarch)
}

// binDir is where the unpacked binary of a target is kept for the image
// and the checks (outside the published files).
func (r *release) binPath(t target) string {
	return filepath.Join(r.out, "bin", t.goos+"_"+t.goarch, binaryName)
}

// build writes every artifact into r.out.
func (r *release) build(ctx context.Context) error {
	for _, t := range targets {
		start := time.Now()
		if err := r.goBuild(ctx, t); err != nil {
			return err
		}
		r.log("built %s (%.1f s)", t, time.Since(start).Seconds())
	}
	var names []string
	start := time.Now()
	for _, t := range targets {
		files, err := r.archiveFiles(t)
		if err != nil {
			return err
		}
		name := r.archiveName(t)
		if err := writeFileAtomic(filepath.Join(r.out, name), func(w io.Writer) error {
			return writeArchive(w, files, r.mtime)
		}); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		names = append(names, name)
	}
	if err := writeChecksums(r.out, names); err != nil {
		return err
	}
	r.log("wrote %d archives and %s (%.1f s)", len(names), checksumsFile, time.Since(start).Seconds())
	start = time.Now()
	if err := r.writeImage(); err != nil {
		return err
	}
	r.log("wrote the image layout %s (%.1f s)", filepath.Join(r.out, imageDir), time.Since(start).Seconds())
	return nil
}

// goBuild builds the static binary of one target the way `make build`
// does: CGO_ENABLED=0, -trimpath, the version stamped with -X.
func (r *release) goBuild(ctx context.Context, t target) error {
	out := r.binPath(t)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	ldflags := "-X " + modulePath + "/cmd.version=" + r.version
	c := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, ".")
	c.Dir = r.root
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.goos, "GOARCH="+t.goarch)
	// GOFLAGS from the environment (-race, -cover) would change what is
	// released; the flags above are the whole build.
	c.Env = append(c.Env, "GOFLAGS=")
	var stderr bytes.Buffer
	c.Stdout, c.Stderr = io.Discard, &stderr
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("go build for %s: %s", t, msg)
	}
	return nil
}

// archiveFile is one file of an archive: its name there, where it is
// read from, and its mode.
type archiveFile struct {
	name string
	src  string
	mode int64
}

// archiveFiles lists what the archive of t holds: the binary, LICENSE when
// the repository has one, and README.md, sorted by name.
func (r *release) archiveFiles(t target) ([]archiveFile, error) {
	files := []archiveFile{{binaryName, r.binPath(t), 0o755}}
	for _, doc := range []string{"LICENSE", "README.md"} {
		p := filepath.Join(r.root, doc)
		_, err := os.Stat(p)
		switch {
		case err == nil:
			files = append(files, archiveFile{doc, p, 0o644})
		case errors.Is(err, fs.ErrNotExist) && doc == "LICENSE":
		default:
			return nil, fmt.Errorf("%s: %w", doc, err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, nil
}

// writeArchive writes a tar.gz of files that depends only on their
// contents: entries in the given order, one mtime, owner 0:0 with no
// names, and a gzip header with no name or time.
func writeArchive(w io.Writer, files []archiveFile, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, f := range files {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.name,
			Size:     int64(len(b)),
			Mode:     f.mode,
			ModTime:  mtime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeChecksums writes checksums.txt: "HEX  NAME" a line, sorted by
// name, which `sha256sum -c checksums.txt` reads.
func writeChecksums(dir string, names []string) error {
	names = append([]string(nil), names...)
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		sum, err := fileSHA256(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	return os.WriteFile(filepath.Join(dir, checksumsFile), []byte(b.String()), 0o644)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeFileAtomic writes path through a temporary file renamed into place,
// so an interrupted run leaves no half archive under the final name.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
