package source

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layoutDir is an OCI layout directory read through an os.Root: a path
// that leads out of the directory (a symlink to /dev/zero, "..") cannot be
// opened, and a member is opened only when it is a regular file, with
// O_NONBLOCK so that a FIFO swapped in after the check cannot block.
type layoutDir struct {
	dir  string
	root *os.Root
}

func openLayoutDir(dir string) (*layoutDir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, errorf(NotFound, "opening OCI layout %s: %v", dir, err)
	}
	ld := &layoutDir{dir: dir, root: root}
	// oci-layout is not read, but a layout whose oci-layout is not a
	// regular file is not one a tool wrote.
	if _, err := root.Lstat("oci-layout"); err == nil {
		if _, err := ld.stat("oci-layout"); err != nil {
			root.Close()
			return nil, err
		}
	}
	return ld, nil
}

func (l *layoutDir) close() error { return l.root.Close() }

// stat returns name's file info when it is a regular file inside the
// layout (symlinks inside it are followed), else a Corrupt error saying
// what it is.
func (l *layoutDir) stat(name string) (fs.FileInfo, error) {
	fi, err := l.root.Stat(name)
	if err == nil && fi.Mode().IsRegular() {
		return fi, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	what := "not readable"
	if err == nil {
		what = "a " + fileKind(fi.Mode()) + ", not a regular file"
	} else if lfi, lerr := l.root.Lstat(name); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		target, _ := l.root.Readlink(name)
		what = fmt.Sprintf("a symbolic link leading out of the layout (to %q)", target)
	} else {
		what = fmt.Sprintf("not readable (%v)", err)
	}
	return nil, errorf(Corrupt, "%s in OCI layout %s is %s: refused", name, l.dir, what)
}

// open opens a regular file of the layout.
func (l *layoutDir) open(name string) (*os.File, fs.FileInfo, error) {
	if _, err := l.stat(name); err != nil {
		return nil, nil, err
	}
	f, err := l.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, errorf(Corrupt, "opening %s in OCI layout %s: %v", name, l.dir, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, errorf(Corrupt, "%s in OCI layout %s changed while being opened: refused", name, l.dir)
	}
	return f, fi, nil
}

// readFile reads a small regular file of the layout, refusing it over
// limit (limitName names the limit) before reading.
func (l *layoutDir) readFile(name string, limit int64, limitName string) ([]byte, error) {
	f, fi, err := l.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	what := name + " of OCI layout " + l.dir
	if fi.Size() > limit {
		return nil, tooBig(what, fi.Size(), limit, limitName)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, errorf(Corrupt, "reading %s: %v", what, err)
	}
	if int64(len(b)) > limit {
		return nil, tooBig(what, -1, limit, limitName)
	}
	return b, nil
}

func (l *layoutDir) smallBlob(h v1.Hash, limit int64, limitName, what string) ([]byte, error) {
	b, err := l.readFile(blobName(h), limit, limitName)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(Corrupt, "blob %s (%s) is missing from the layout", h, what)
		}
		return nil, err
	}
	if err := verifyDigest(b, h); err != nil {
		return nil, err
	}
	return b, nil
}

func (l *layoutDir) openBlob(h v1.Hash) (io.ReadCloser, error) {
	f, _, err := l.open(blobName(h))
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (l *layoutDir) checkBlob(d v1.Descriptor) error {
	fi, err := l.stat(blobName(d.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return errorf(Corrupt, "blob %s is missing from the layout", d.Digest)
	}
	if err != nil {
		return err
	}
	if d.Size > 0 && fi.Size() != d.Size {
		return errorf(Corrupt, "blob %s is %d bytes, the manifest says %d (truncated?)", d.Digest, fi.Size(), d.Size)
	}
	return nil
}

// fileKind names a non-regular file type.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO (named pipe)"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
}
