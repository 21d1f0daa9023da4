package sandbox

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// Materialize writes the merged root filesystem of fsys into dir, which
// must be an existing empty directory (inside a private temporary directory
// the caller removes). See MaterializeReport.
func Materialize(ctx context.Context, fsys *imagefs.FS, dir string) error {
	_, err := MaterializeReport(ctx, fsys, dir)
	return err
}

// MaterializeReport writes the merged root filesystem of fsys into dir and
// says what it wrote and skipped.
//
// It writes directories, regular files, symlinks (exactly as written in the
// layer, never followed on the host) and hard links, keeping permissions,
// sticky bits, owners and modification times; setuid and setgid bits are
// dropped. Device nodes and fifos are skipped and reported. Nothing is ever
// written outside dir: every operation goes through an os.Root opened on dir
// (which refuses paths escaping it, symlinks included), every entry's
// parent must be a directory Materialize itself created, and files are
// created with O_EXCL|O_NOFOLLOW.
//
// Without root, owners are set in the sandbox's user namespace (see
// Supported): the host sees the owners shifted into the user's
// subordinate ids, and the tree must be given back with Release before it
// can be removed. Materialize gives it back itself when it fails.
func MaterializeReport(ctx context.Context, fsys *imagefs.FS, dir string) (*Report, error) {
	var us *usernsSetup
	if unprivileged() {
		var err error
		if us, err = checkUserns(); err != nil {
			return nil, err
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("materialising into %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("materialising into %s: not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("materialising into %s: %w", dir, err)
	}
	if len(ents) > 0 {
		return nil, fmt.Errorf("materialising into %s: directory is not empty", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("materialising into %s: %w", dir, err)
	}
	defer root.Close()
	m := &materializer{ctx: ctx, fsys: fsys, root: root, rep: &Report{},
		dirs: map[string]bool{".": true}, files: map[string]*imagefs.Entry{},
		deferOwners: us != nil}
	rep, err := m.run(dir)
	if us != nil {
		if err == nil {
			if _, cerr := us.run(shimOp{Op: "chown", Root: dir, Owners: m.owners}); cerr != nil {
				err = fmt.Errorf("materialising into %s: setting owners in the user namespace: %w", dir, cerr)
			}
		}
		if err != nil {
			Release(dir)
		}
	}
	return rep, err
}

func (m *materializer) run(dir string) (*Report, error) {
	if err := m.fsys.Walk(m.entry); err != nil {
		return m.rep, fmt.Errorf("materialising into %s: %w", dir, err)
	}
	for _, e := range m.links {
		if err := m.hardlink(e); err != nil {
			return m.rep, fmt.Errorf("materialising into %s: %w", dir, err)
		}
	}
	// Directory metadata last, deepest first, so read-only directories
	// are filled before they are locked and their mtimes stay as written.
	for _, e := range slices.Backward(m.dirMeta) {
		if err := m.dirMetadata(e); err != nil {
			return m.rep, fmt.Errorf("materialising into %s: %w", dir, err)
		}
	}
	return m.rep, nil
}

type materializer struct {
	ctx  context.Context
	fsys *imagefs.FS
	root *os.Root
	rep  *Report
	// dirs holds the directories created (relative names, "." for the root).
	dirs map[string]bool
	// files holds the regular files written from content.
	files   map[string]*imagefs.Entry
	links   []*imagefs.Entry
	dirMeta []*imagefs.Entry
	n       int
	// deferOwners is set without root: owners are recorded in owners and
	// set afterwards in the user namespace.
	deferOwners bool
	owners      []owner
}

// chown sets the owner of name to e's, or records it (deferOwners).
func (m *materializer) chown(name string, e *imagefs.Entry, set func(uid, gid int) error) error {
	if m.deferOwners {
		m.owners = append(m.owners, owner{Name: name, UID: e.UID, GID: e.GID})
		return nil
	}
	if err := set(e.UID, e.GID); err != nil {
		return fmt.Errorf("chown %s: %w", e.Path, err)
	}
	return nil
}

// rel is the name of the absolute image path p relative to the root.
func rel(p string) string {
	r := strings.TrimPrefix(path.Clean("/"+p), "/")
	if r == "" {
		return "."
	}
	return r
}

// perm is the mode Materialize gives e: its permission and sticky bits,
// never setuid or setgid.
func perm(e *imagefs.Entry) fs.FileMode {
	return e.Mode & (fs.ModePerm | fs.ModeSticky)
}

func (m *materializer) skip(p, format string, args ...any) {
	m.rep.Skipped = append(m.rep.Skipped, Skip{Path: p, Reason: fmt.Sprintf(format, args...)})
}

func (m *materializer) entry(e *imagefs.Entry) error {
	m.n++
	if m.n%256 == 0 {
		if err := m.ctx.Err(); err != nil {
			return err
		}
	}
	name := rel(e.Path)
	if name == "." {
		if e.IsDir() {
			m.dirMeta = append(m.dirMeta, e)
		}
		return nil
	}
	if parent := path.Dir(name); !m.dirs[parent] {
		m.skip(e.Path, "parent %s was not written as a directory", "/"+parent)
		if e.IsDir() {
			return fs.SkipDir
		}
		return nil
	}
	switch e.Type {
	case imagefs.TypeDir:
		if err := m.root.Mkdir(name, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", e.Path, err)
		}
		m.dirs[name] = true
		m.dirMeta = append(m.dirMeta, e)
		m.rep.Dirs++
	case imagefs.TypeReg:
		if e.HardlinkTo != "" && e.HardlinkTo != e.Path {
			m.links = append(m.links, e)
			return nil
		}
		return m.regular(e)
	case imagefs.TypeSymlink:
		if err := m.root.Symlink(e.Linkname, name); err != nil {
			return fmt.Errorf("creating symlink %s: %w", e.Path, err)
		}
		if err := m.chown(name, e, func(uid, gid int) error { return m.root.Lchown(name, uid, gid) }); err != nil {
			return err
		}
		m.rep.Symlinks++
	case imagefs.TypeChar, imagefs.TypeBlock:
		m.skip(e.Path, "device node (Lambda gives functions only a minimal /dev)")
	case imagefs.TypeFifo:
		m.skip(e.Path, "fifo")
	default:
		m.skip(e.Path, "unsupported entry type %q", e.Type)
	}
	return nil
}

// regular writes e's content to a new file.
func (m *materializer) regular(e *imagefs.Entry) error {
	name := rel(e.Path)
	src, err := m.fsys.Open(name)
	if err != nil {
		return fmt.Errorf("reading %s from the image: %w", e.Path, err)
	}
	defer src.Close()
	dst, err := m.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", e.Path, err)
	}
	if _, err := io.Copy(dst, &ctxReader{ctx: m.ctx, r: src}); err != nil {
		dst.Close()
		return fmt.Errorf("writing %s: %w", e.Path, err)
	}
	if err := m.chown(name, e, dst.Chown); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Chmod(perm(e)); err != nil {
		dst.Close()
		return fmt.Errorf("chmod %s: %w", e.Path, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", e.Path, err)
	}
	if err := m.root.Chtimes(name, e.ModTime, e.ModTime); err != nil {
		return fmt.Errorf("setting times of %s: %w", e.Path, err)
	}
	m.files[name] = e
	m.rep.Files++
	return nil
}

// hardlink links e to the file it was a hard link to, when that file was
// written with the same content; otherwise (the original was replaced or
// removed by a later layer) it writes e's content as a file of its own.
func (m *materializer) hardlink(e *imagefs.Entry) error {
	target := rel(e.HardlinkTo)
	if o := m.files[target]; o != nil && o.Layer == e.Layer && o.Size == e.Size &&
		o.Mode == e.Mode && o.UID == e.UID && o.GID == e.GID && o.ModTime.Equal(e.ModTime) {
		if err := m.root.Link(target, rel(e.Path)); err != nil {
			return fmt.Errorf("linking %s to %s: %w", e.Path, e.HardlinkTo, err)
		}
		m.rep.Hardlinks++
		return nil
	}
	return m.regular(e)
}

// dirMetadata sets the owner, mode and times of a directory Materialize
// created.
func (m *materializer) dirMetadata(e *imagefs.Entry) error {
	name := rel(e.Path)
	d, err := m.root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", e.Path, err)
	}
	defer d.Close()
	if err := m.chown(name, e, d.Chown); err != nil {
		return err
	}
	if err := d.Chmod(perm(e)); err != nil {
		return fmt.Errorf("chmod %s: %w", e.Path, err)
	}
	if err := m.root.Chtimes(name, e.ModTime, e.ModTime); err != nil {
		return fmt.Errorf("setting times of %s: %w", e.Path, err)
	}
	return nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
