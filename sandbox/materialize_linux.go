package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// MaxPathLen is the longest absolute path Materialize writes, in bytes.
// Linux refuses a name of PATH_MAX (4096) bytes or more, its terminating
// NUL counted (ENAMETOOLONG: see path_resolution(7) and
// <linux/limits.h>), so a function could not open a longer path by name
// anyway. It also caps the depth of a tree: a path of n components takes at
// least 2n bytes ("/a/a/..."), so no path has more than 2047 components.
// An image holding a longer path is refused before anything is written,
// with a *TooDeepError.
const MaxPathLen = 4095

// TooDeepError is the error of materialising an image that holds a path
// longer than MaxPathLen.
type TooDeepError struct {
	// Path is the first such path met (in walk order); Components is its
	// number of components.
	Path       string
	Components int
}

func (e *TooDeepError) Error() string {
	shown := e.Path
	if len(shown) > 64 {
		shown = strings.ToValidUTF8(shown[:64], "") + "…"
	}
	return fmt.Sprintf("the image's tree is too deep to unpack: %s is %d bytes long (%d components), and Linux allows at most %d bytes in a path (PATH_MAX is 4096 with the terminating NUL)",
		shown, len(e.Path), e.Components, MaxPathLen)
}

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
// created with O_EXCL|O_NOFOLLOW. An image holding a path longer than
// MaxPathLen is refused before anything is written.
//
// It works in three steps, each bounded in memory by the number of entries
// (never by their content): a walk of the merged view creates the
// directories and symlinks and lists the regular files; one
// imagefs.FS.ReadFiles call then writes every file's content, reading each
// layer in one forward pass; last, hard links are made and directories get
// their owners, modes and times, deepest first.
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
	if err := checkPaths(ctx, fsys); err != nil {
		return nil, fmt.Errorf("materialising into %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("materialising into %s: %w", dir, err)
	}
	defer root.Close()
	m := &materializer{ctx: ctx, fsys: fsys, root: root, rep: &Report{},
		deferOwners: us != nil}
	err = m.run()
	if err != nil {
		err = fmt.Errorf("materialising into %s: %w", dir, err)
	}
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
	return m.rep, err
}

// checkPaths refuses a view holding a path longer than MaxPathLen. It
// stops at the first one, so the walk never holds more than MaxPathLen
// bytes per level.
func checkPaths(ctx context.Context, fsys *imagefs.FS) error {
	var bad error
	n := 0
	err := fsys.Walk(func(e *imagefs.Entry) error {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		n++
		if len(e.Path) > MaxPathLen {
			bad = &TooDeepError{Path: e.Path, Components: strings.Count(e.Path, "/")}
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bad
}

// meta is what Materialize keeps of an entry it writes, to write its
// content and set its metadata afterwards: these fields of its
// imagefs.Entry, in 80 bytes where the Entry takes 120 (an image may hold
// hundreds of thousands of files).
type meta struct {
	path     string
	size     int64
	mtime    time.Time
	uid, gid int
	mode     fs.FileMode
	layer    int32
	// written is set once a regular file holds its content.
	written bool
}

func metaOf(e *imagefs.Entry) meta {
	return meta{path: e.Path, size: e.Size, mtime: e.ModTime, uid: e.UID, gid: e.GID, mode: e.Mode, layer: int32(e.Layer)}
}

// sameMeta reports whether an entry carries the metadata m has.
func (m *meta) sameMeta(e *imagefs.Entry) bool {
	return m.size == e.Size && m.mode == e.Mode && m.uid == e.UID && m.gid == e.GID && m.mtime.Equal(e.ModTime)
}

// sameEntryMeta reports whether two entries carry the same metadata.
func sameEntryMeta(a, b *imagefs.Entry) bool {
	m := metaOf(a)
	return m.sameMeta(b)
}

// dirRec is a directory Materialize created, in walk order, kept to set
// its metadata after its content is written.
type dirRec struct {
	name  string // "." for the root
	depth int    // 0 for the root
	meta
}

// level is one directory of the path a walk is in.
type level struct {
	abs  string
	root *os.Root // opened when first needed
	// dir is the directory opened as a file, when a symlink is made in
	// it: its times are set relative to it.
	dir *os.File
}

func (l *level) close(top *os.Root) {
	if l.root != nil && l.root != top {
		l.root.Close()
	}
	if l.dir != nil {
		l.dir.Close()
	}
}

type materializer struct {
	ctx  context.Context
	fsys *imagefs.FS
	root *os.Root
	rep  *Report
	// files are the regular files to write from content, in walk order;
	// paths are their paths, for ReadFilesIndexed.
	files []meta
	paths []string
	links []*imagefs.Entry
	dirs  []dirRec
	n     int
	// deferOwners is set without root: owners are recorded in owners and
	// set afterwards in the user namespace.
	deferOwners bool
	owners      []owner
}

func (m *materializer) run() error {
	if err := m.walk(); err != nil {
		return err
	}
	// A hard link whose original is written as it was when the link was
	// made becomes a link again: the original was last written in the
	// link's layer or below (a later layer rewriting it would show in its
	// Layer) and carries the metadata the link copied. The others (their
	// original was replaced or removed by a later layer) get their content
	// written as a file of their own, once: further links made in the same
	// layer to the same original are linked to that file, as they shared
	// its inode. So no content is read twice.
	type link struct {
		e      *imagefs.Entry
		target string
	}
	var links []link
	// The originals the links name, among the files: a map of those
	// only, not of every file.
	originals := make(map[string]int, len(m.links))
	for _, e := range m.links {
		originals[e.HardlinkTo] = -1
	}
	if len(originals) > 0 {
		for i := range m.files {
			if _, ok := originals[m.files[i].path]; ok {
				originals[m.files[i].path] = i
			}
		}
	}
	copies := map[string]*imagefs.Entry{}
	for _, e := range m.links {
		if i := originals[e.HardlinkTo]; i >= 0 {
			if o := &m.files[i]; o.layer <= int32(e.Layer) && o.sameMeta(e) {
				links = append(links, link{e, e.HardlinkTo})
				continue
			}
		}
		if c := copies[e.HardlinkTo]; c != nil && c.Layer == e.Layer && sameEntryMeta(c, e) {
			links = append(links, link{e, c.Path})
			continue
		}
		copies[e.HardlinkTo] = e
		m.addFile(e)
	}
	if err := m.writeFiles(); err != nil {
		return err
	}
	for _, l := range links {
		if err := m.root.Link(rel(l.target), rel(l.e.Path)); err != nil {
			return fmt.Errorf("linking %s to %s: %w", l.e.Path, l.target, err)
		}
		m.rep.Hardlinks++
	}
	return m.dirMetadata()
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
func perm(mode fs.FileMode) fs.FileMode {
	return mode & (fs.ModePerm | fs.ModeSticky)
}

func (m *materializer) skip(p, format string, args ...any) {
	m.rep.Skipped = append(m.rep.Skipped, Skip{Path: p, Reason: fmt.Sprintf(format, args...)})
}

func (m *materializer) addFile(e *imagefs.Entry) {
	m.files = append(m.files, metaOf(e))
	m.paths = append(m.paths, e.Path)
}

// walk creates the directories and symlinks and lists the regular files
// and hard links. Walk visits parents before children in lexical order, so
// the directories of the path being walked form a stack; each keeps an
// os.Root open on it (opened when a child is first created in it), so that
// creating an entry costs one system call whatever its depth.
func (m *materializer) walk() error {
	stack := []level{{abs: "/", root: m.root}}
	defer func() {
		for i := range stack {
			stack[i].close(m.root)
		}
	}()
	return m.fsys.Walk(func(e *imagefs.Entry) error {
		if m.n++; m.n%256 == 0 {
			if err := m.ctx.Err(); err != nil {
				return err
			}
		}
		if e.Path == "/" {
			if e.IsDir() {
				m.dirs = append(m.dirs, dirRec{name: ".", meta: metaOf(e)})
			}
			return nil
		}
		parentAbs, base := path.Split(e.Path)
		depth := strings.Count(e.Path, "/")
		for len(stack) > depth {
			stack[len(stack)-1].close(m.root)
			stack = stack[:len(stack)-1]
		}
		if parentAbs != "/" {
			parentAbs = parentAbs[:len(parentAbs)-1]
		}
		if len(stack) != depth || stack[depth-1].abs != parentAbs {
			m.skip(e.Path, "parent %s was not written as a directory", parentAbs)
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		pl := &stack[depth-1]
		if pl.root == nil {
			r, err := stack[depth-2].root.OpenRoot(path.Base(pl.abs))
			if err != nil {
				return fmt.Errorf("opening %s: %w", pl.abs, err)
			}
			pl.root = r
		}
		parent := pl.root
		switch e.Type {
		case imagefs.TypeDir:
			if err := parent.Mkdir(base, 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", e.Path, err)
			}
			stack = append(stack, level{abs: e.Path})
			m.dirs = append(m.dirs, dirRec{name: base, depth: depth, meta: metaOf(e)})
			m.rep.Dirs++
		case imagefs.TypeReg:
			if e.HardlinkTo != "" && e.HardlinkTo != e.Path {
				m.links = append(m.links, e)
				return nil
			}
			m.addFile(e)
		case imagefs.TypeSymlink:
			if err := parent.Symlink(e.Linkname, base); err != nil {
				return fmt.Errorf("creating symlink %s: %w", e.Path, err)
			}
			if m.deferOwners {
				m.owners = append(m.owners, owner{Name: rel(e.Path), UID: e.UID, GID: e.GID})
			} else if err := parent.Lchown(base, e.UID, e.GID); err != nil {
				return fmt.Errorf("chown %s: %w", e.Path, err)
			}
			if pl.dir == nil {
				d, err := parent.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
				if err != nil {
					return fmt.Errorf("opening %s: %w", pl.abs, err)
				}
				pl.dir = d
			}
			if err := lutimes(pl.dir, base, e.ModTime); err != nil {
				return fmt.Errorf("setting times of %s: %w", e.Path, err)
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
	})
}

// The content of the files goes from the goroutine running ReadFiles
// (decompressing) to one writing the files, in batches of batchSize bytes
// (many small files share a batch; a large file spans several), pipeDepth
// batches at most in flight: the two overlap, as tar and its gzip process
// do, and memory stays bounded whatever the files' sizes.
const (
	batchSize = 1 << 20
	pipeDepth = 4
)

// segment is part of one file's content in a batch: buf[start:end].
type segment struct {
	fm          *meta
	start, end  int
	first, last bool
}

type batch struct {
	buf  []byte
	segs []segment
}

// errWriterFailed stops ReadFiles when the writing goroutine failed (its
// error is the one reported).
var errWriterFailed = errors.New("writing files failed")

// writeFiles writes the content of every listed regular file in one
// ReadFiles call: layer by layer, in the order the content lies in each.
func (m *materializer) writeFiles() error {
	free := make(chan *batch, pipeDepth)
	for range pipeDepth {
		free <- &batch{buf: make([]byte, 0, batchSize)}
	}
	full := make(chan *batch, pipeDepth)
	var failed atomic.Bool
	// werr is the writer's error; cerr is a file left unfinished, which
	// follows from a reading error when there is one.
	var werr, cerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := &fileWriter{m: m}
		for b := range full {
			if werr == nil {
				if werr = m.ctx.Err(); werr == nil {
					werr = w.batch(b)
				}
				if werr != nil {
					failed.Store(true)
				}
			}
			b.buf, b.segs = b.buf[:0], b.segs[:0]
			free <- b
		}
		if err := w.close(); werr == nil && cerr == nil {
			cerr = err
		}
	}()
	cur := <-free
	rerr := m.fsys.ReadFilesIndexed(m.ctx, m.paths, func(i int, r io.Reader) error {
		if failed.Load() {
			return errWriterFailed
		}
		fm := &m.files[i]
		abs := fm.path
		seg, first := -1, true
		for {
			if len(cur.buf) == cap(cur.buf) {
				full <- cur
				cur, seg = <-free, -1
			}
			if err := m.ctx.Err(); err != nil {
				return err
			}
			off := len(cur.buf)
			n, err := r.Read(cur.buf[off:cap(cur.buf)])
			cur.buf = cur.buf[:off+n]
			if seg < 0 {
				cur.segs = append(cur.segs, segment{fm: fm, start: off, first: first})
				seg, first = len(cur.segs)-1, false
			}
			cur.segs[seg].end = off + n
			if err == io.EOF {
				cur.segs[seg].last = true
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading %s from the image: %w", abs, err)
			}
		}
	})
	if len(cur.segs) > 0 {
		full <- cur
	}
	close(full)
	<-done
	if werr != nil {
		return werr
	}
	if rerr != nil {
		return rerr
	}
	if cerr != nil {
		return cerr
	}
	for i := range m.files {
		if !m.files[i].written {
			return fmt.Errorf("reading the image: %s was not read", m.files[i].path)
		}
	}
	return nil
}

// fileWriter writes batches of content to files. It keeps the file being
// written open across batches, and the directory of the last file: files of
// a directory mostly lie together in a layer.
type fileWriter struct {
	m       *materializer
	f       *os.File
	dirAbs  string
	dirRoot *os.Root
}

func (w *fileWriter) batch(b *batch) error {
	for _, s := range b.segs {
		e := s.fm
		if s.first {
			if w.f != nil {
				return fmt.Errorf("writing %s: the previous file was not finished", e.path)
			}
			f, err := w.create(e)
			if err != nil {
				return err
			}
			w.f = f
		}
		if w.f == nil {
			return fmt.Errorf("writing %s: the file was not started", e.path)
		}
		if s.end > s.start {
			if _, err := w.f.Write(b.buf[s.start:s.end]); err != nil {
				return fmt.Errorf("writing %s: %w", e.path, err)
			}
		}
		if s.last {
			f := w.f
			w.f = nil
			if err := w.m.setMeta(f, e); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("writing %s: %w", e.path, err)
			}
			s.fm.written = true
			w.m.rep.Files++
		}
	}
	return nil
}

// create creates e's file, empty, in its directory.
func (w *fileWriter) create(e *meta) (*os.File, error) {
	d, base := path.Split(e.path)
	if d != w.dirAbs || w.dirRoot == nil {
		w.closeDir()
		if d == "/" {
			w.dirRoot = w.m.root
		} else {
			r, err := w.m.root.OpenRoot(rel(d))
			if err != nil {
				return nil, fmt.Errorf("opening %s: %w", d, err)
			}
			w.dirRoot = r
		}
		w.dirAbs = d
	}
	f, err := w.dirRoot.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", e.path, err)
	}
	return f, nil
}

func (w *fileWriter) closeDir() {
	if w.dirRoot != nil && w.dirRoot != w.m.root {
		w.dirRoot.Close()
	}
	w.dirRoot, w.dirAbs = nil, ""
}

// close releases what the writer holds; a file still open is an error.
func (w *fileWriter) close() error {
	w.closeDir()
	if w.f != nil {
		name := w.f.Name()
		w.f.Close()
		w.f = nil
		return fmt.Errorf("writing %s: the file was not finished", name)
	}
	return nil
}

// setMeta sets e's owner, mode and times on f, an open file or directory.
func (m *materializer) setMeta(f *os.File, e *meta) error {
	if m.deferOwners {
		m.owners = append(m.owners, owner{Name: rel(e.path), UID: e.uid, GID: e.gid})
	} else if err := f.Chown(e.uid, e.gid); err != nil {
		return fmt.Errorf("chown %s: %w", e.path, err)
	}
	if err := f.Chmod(perm(e.mode)); err != nil {
		return fmt.Errorf("chmod %s: %w", e.path, err)
	}
	tv := syscall.NsecToTimeval(e.mtime.UnixNano())
	sc, err := f.SyscallConn()
	if err == nil {
		cerr := sc.Control(func(fd uintptr) { err = syscall.Futimes(int(fd), []syscall.Timeval{tv, tv}) })
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("setting times of %s: %w", e.path, err)
	}
	return nil
}

// lutimes sets the times of the symlink name in dir (os.Root has no
// Lchtimes): utimensat(2) with AT_SYMLINK_NOFOLLOW on a single name
// relative to a directory Materialize created.
func lutimes(dir *os.File, name string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	sc, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	if cerr := sc.Control(func(fd uintptr) {
		err = unix.UtimesNanoAt(int(fd), name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	}); cerr != nil {
		return cerr
	}
	return err
}

// dirMetadata sets the owner, mode and times of every directory
// Materialize created, children before their parent (so that directories
// without write or search permission are locked last, and no later write
// changes a directory's mtime). The directories of the path being visited
// are kept open, as in walk.
func (m *materializer) dirMetadata() error {
	type open struct {
		rec  *dirRec
		root *os.Root
	}
	var stack []open
	defer func() {
		for _, o := range stack {
			if o.root != m.root {
				o.root.Close()
			}
		}
	}()
	// finish sets the metadata of the directory on top of the stack and
	// closes it.
	finish := func() error {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		d, err := o.root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err == nil {
			err = m.setMeta(d, &o.rec.meta)
			d.Close()
		} else {
			err = fmt.Errorf("opening %s: %w", o.rec.path, err)
		}
		if o.root != m.root {
			o.root.Close()
		}
		return err
	}
	for i := range m.dirs {
		if i%256 == 0 {
			if err := m.ctx.Err(); err != nil {
				return err
			}
		}
		d := &m.dirs[i]
		for len(stack) > d.depth {
			if err := finish(); err != nil {
				return err
			}
		}
		if d.depth == 0 {
			stack = append(stack, open{rec: d, root: m.root})
			continue
		}
		if len(stack) != d.depth {
			return fmt.Errorf("setting the metadata of %s: its parent was not created", d.path)
		}
		r, err := stack[len(stack)-1].root.OpenRoot(d.name)
		if err != nil {
			return fmt.Errorf("opening %s: %w", d.path, err)
		}
		stack = append(stack, open{rec: d, root: r})
	}
	for len(stack) > 0 {
		if err := finish(); err != nil {
			return err
		}
	}
	return nil
}
