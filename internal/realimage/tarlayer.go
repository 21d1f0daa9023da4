package realimage

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// tree copies the host directory Src into the image at Dst ("usr/lib"),
// leaving out what Skip (given the path relative to Src) rejects.
type tree struct {
	Src  string
	Dst  string
	Skip func(rel string, d fs.DirEntry) bool
}

// extraFile is a file generated in memory (a Python handler, a dpkg status
// file, a CA bundle).
type extraFile struct {
	Path    string // in the image, no leading slash
	Mode    int64
	Content []byte
	// Link makes it a symlink to Link instead of a regular file.
	Link string
}

// layerSpec is one layer: trees and generated files, written in path order.
type layerSpec struct {
	Name      string
	CreatedBy string
	Trees     []tree
	Extra     []extraFile
}

// layerFile is a written gzip layer.
type layerFile struct {
	Path         string
	Digest       string // sha256:... of the gzip blob
	DiffID       string // sha256:... of the tar
	Compressed   int64
	Uncompressed int64
	Entries      int
	CreatedBy    string
}

// writeLayer streams the tar of spec through klauspost gzip (default
// level, as docker and buildkit write layers) into out, hashing both the
// tar and the blob on the way.
func writeLayer(spec layerSpec, out string) (*layerFile, error) {
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	defer f.Close()
	blobHash := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, blobHash)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	zw := gzip.NewWriter(bw)
	tarHash := sha256.New()
	tc := &countingWriter{w: io.MultiWriter(zw, tarHash)}
	tw := tar.NewWriter(tc)
	lw := &layerWriter{tw: tw, dirs: map[string]bool{}, links: map[[2]uint64]string{}}
	for _, t := range spec.Trees {
		if err := lw.addTree(t); err != nil {
			return nil, fmt.Errorf("layer %s: %w", spec.Name, err)
		}
	}
	extras := append([]extraFile(nil), spec.Extra...)
	sort.Slice(extras, func(i, j int) bool { return extras[i].Path < extras[j].Path })
	for _, e := range extras {
		if err := lw.addExtra(e); err != nil {
			return nil, fmt.Errorf("layer %s: %w", spec.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	return &layerFile{
		Path:         out,
		Digest:       "sha256:" + hex.EncodeToString(blobHash.Sum(nil)),
		DiffID:       "sha256:" + hex.EncodeToString(tarHash.Sum(nil)),
		Compressed:   cw.n,
		Uncompressed: tc.n,
		Entries:      lw.entries,
		CreatedBy:    spec.CreatedBy,
	}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type layerWriter struct {
	tw      *tar.Writer
	dirs    map[string]bool      // directories written
	links   map[[2]uint64]string // dev/inode of multiply linked files → first name
	entries int
}

// parents writes the missing parent directories of name (an image path),
// taking their metadata from the host directory hostDir when it exists.
func (lw *layerWriter) parents(name string, hostRoot, imageRoot string) error {
	var missing []string
	for d := path.Dir(name); d != "." && d != "/" && !lw.dirs[d]; d = path.Dir(d) {
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		hdr := &tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
		if hostRoot != "" {
			if rel, ok := strings.CutPrefix(d, imageRoot); ok {
				if fi, err := os.Lstat(filepath.Join(hostRoot, rel)); err == nil && fi.IsDir() {
					hdr.Mode = int64(fi.Mode().Perm())
					hdr.ModTime = fi.ModTime().Truncate(time.Second)
				}
			}
		}
		if err := lw.tw.WriteHeader(hdr); err != nil {
			return err
		}
		lw.dirs[d] = true
		lw.entries++
	}
	return nil
}

// epoch is the time of generated entries.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// addTree writes t.Src's contents under t.Dst, in lexical order (as
// filepath.WalkDir visits them). Sockets are left out (tar has no type for
// them); device nodes and fifos are kept.
func (lw *layerWriter) addTree(t tree) error {
	dst := strings.Trim(t.Dst, "/")
	return filepath.WalkDir(t.Src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(t.Src, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && t.Skip != nil && t.Skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := dst
		if rel != "." {
			name = path.Join(dst, rel)
		}
		if name == "" || name == "." {
			return nil // the image root itself
		}
		if d.Type()&fs.ModeSocket != 0 {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := lw.parents(name, filepath.Dir(t.Src), path.Dir(dst)); err != nil {
			return err
		}
		if fi.IsDir() && lw.dirs[name] {
			return nil
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = name
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		if fi.IsDir() {
			hdr.Name += "/"
			lw.dirs[name] = true
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := lw.links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				lw.links[key] = name
			}
		}
		if err := lw.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		lw.entries++
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			n, err := io.Copy(lw.tw, src)
			src.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if n != hdr.Size {
				return fmt.Errorf("%s changed size while being archived", p)
			}
		}
		return nil
	})
}

func (lw *layerWriter) addExtra(e extraFile) error {
	name := strings.Trim(e.Path, "/")
	if err := lw.parents(name, "", ""); err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: e.Mode, ModTime: epoch, Size: int64(len(e.Content)), Format: tar.FormatPAX}
	if e.Link != "" {
		hdr.Typeflag, hdr.Linkname, hdr.Size, hdr.Mode = tar.TypeSymlink, e.Link, 0, 0o777
	}
	if err := lw.tw.WriteHeader(hdr); err != nil {
		return err
	}
	lw.entries++
	if hdr.Size > 0 {
		if _, err := lw.tw.Write(e.Content); err != nil {
			return err
		}
	}
	return nil
}
