// Package imagefs is the merged, read-only view of a container image's
// layered filesystem, built without running or extracting the image.
//
// Build reads each layer once (in parallel), applies them base to top with
// OCI whiteout semantics and returns an *FS. The FS implements io/fs
// (fs.FS, fs.StatFS, fs.ReadDirFS, fs.ReadFileFS and fs.ReadLinkFS) with
// unrooted names ("usr/bin/python3", "." for the root), and absolute-path
// helpers for checks: Lookup (exact path), Resolve (chroot-style symlink
// resolution with its chain of hops), Head (captured file heads) and Walk.
// Symlinks are always resolved inside the image: absolute targets start at
// the image root and ".." stops at "/".
//
// An FS is immutable and safe for concurrent use.
package imagefs

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"slices"
	"sync"
	"time"
)

// FS is the merged view of an image's layers. Build makes one.
type FS struct {
	root      *node
	layers    []Layer
	info      []LayerInfo
	anomalies []Anomaly
	n         int

	// access says how to read each layer's content again; store holds
	// the restart points' windows.
	access []layerAccess
	store  *windowStore
	// cache and learn keep the bytes read after the pass for the next
	// Build (see learner); nil without a Cache.
	cache *Cache
	learn *learner
	counters
	mu        sync.Mutex
	closers   []func() error
	closeOnce sync.Once
	closeErr  error
}

var (
	_ fs.FS         = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.ReadLinkFS = (*FS)(nil)
)

// count settles every directory's children in order and sets f.n to the
// number of nodes. It visits the tree with an explicit stack (one slice of
// children per level), so depth costs no recursion.
func (f *FS) count() {
	f.root.settle()
	c := 1
	stack := [][]*node{f.root.kids}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if len(*top) == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		n := (*top)[0]
		*top = (*top)[1:]
		c++
		if n.isDir() {
			n.settle()
			if len(n.kids) > 0 {
				stack = append(stack, n.kids)
			}
		}
	}
	f.n = c
}

// Len returns the number of entries in the merged view, the root included:
// the number of entries Walk visits.
func (f *FS) Len() int { return f.n }

// Layers describes the image's layers, base first.
func (f *FS) Layers() []LayerInfo { return slices.Clone(f.info) }

// Anomalies returns the odd entries met while building, grouped by layer
// (base first): within a layer, those seen while reading the tar (in tar
// order), then those seen while merging it.
func (f *FS) Anomalies() []Anomaly { return slices.Clone(f.anomalies) }

// Walk calls fn for every entry of the merged view in lexical order of
// paths, parents before children, starting with the root "/". Symlinks are
// not followed. If fn returns fs.SkipDir for a directory its children are
// skipped; fs.SkipAll stops the walk without error; any other error stops
// the walk and is returned.
//
// The walk is iterative: it holds one slice of children per level and the
// current path, never every ancestor's full path.
func (f *FS) Walk(fn func(e *Entry) error) error {
	err := walk(f.root, fn)
	if err == fs.SkipAll || err == fs.SkipDir {
		return nil
	}
	return err
}

// walk visits root's tree depth first. fs.SkipDir from a directory skips
// its children; any other error (fs.SkipDir from a non-directory
// included) stops the walk and is returned.
func walk(root *node, fn func(e *Entry) error) error {
	if err := fn(root.entry("/")); err != nil {
		if err == fs.SkipDir {
			return nil
		}
		return err
	}
	type level struct {
		kids []*node // left to visit
		plen int     // length of the directory's path in buf
	}
	stack := []level{{kids: root.kids}}
	buf := make([]byte, 0, 256)
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if len(top.kids) == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		n := top.kids[0]
		top.kids = top.kids[1:]
		buf = append(append(buf[:top.plen], '/'), n.name()...)
		if err := fn(n.entry(string(buf))); err != nil {
			if err == fs.SkipDir && n.isDir() {
				continue
			}
			return err
		}
		if len(n.kids) > 0 {
			stack = append(stack, level{kids: n.kids, plen: len(buf)})
		}
	}
	return nil
}

// lookup resolves an io/fs name for op.
func (f *FS) lookup(op, name string, followFinal bool) (walkResult, error) {
	if !fs.ValidPath(name) {
		return walkResult{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	w := f.walk(name, followFinal, false)
	if w.err != nil {
		return w, &fs.PathError{Op: op, Path: name, Err: w.err}
	}
	return w, nil
}

// Open opens the named file, following symlinks inside the image. Regular
// files whose content was captured are served from memory; others stream
// from their layer, which is re-read (and decompressed) up to the file on
// the first Read.
func (f *FS) Open(name string) (fs.File, error) {
	w, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	info := &fileInfo{name: path.Base(name), abs: w.path, n: w.node}
	n := w.node
	switch {
	case n.isDir():
		return &dirFile{info: info, name: name}, nil
	case n.typ == TypeReg && !n.full() && n.size > 0:
		return &streamFile{fs: f, info: info, name: name}, nil
	case n.typ == TypeReg:
		return &memFile{info: info, Reader: bytes.NewReader(n.data())}, nil
	}
	// Devices and fifos have no content here.
	return &memFile{info: info, Reader: bytes.NewReader(nil)}, nil
}

// Stat returns a FileInfo describing the named file, following symlinks.
// Its Sys method returns the *Entry.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	w, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return &fileInfo{name: path.Base(name), abs: w.path, n: w.node}, nil
}

// Lstat returns a FileInfo describing the named file without following a
// final symlink (intermediate ones are followed). Its Sys method returns
// the *Entry.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	w, err := f.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return &fileInfo{name: path.Base(name), abs: w.path, n: w.node}, nil
}

// ReadLink returns the target of the named symlink, as written.
func (f *FS) ReadLink(name string) (string, error) {
	w, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if w.node.typ != TypeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return w.node.link(), nil
}

// ReadDir returns the entries of the named directory, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	w, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !w.node.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: ErrNotDir}
	}
	return dirEntries(w.path, w.node.kids), nil
}

// ReadFile returns the content of the named file, following symlinks: from
// memory when it was captured, else by re-reading its layer. It holds the
// whole file in memory; Open streams.
func (f *FS) ReadFile(name string) ([]byte, error) {
	w, err := f.lookup("read", name, true)
	if err != nil {
		return nil, err
	}
	n := w.node
	switch {
	case n.isDir():
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrIsDir}
	case n.typ != TypeReg || n.size == 0:
		return []byte{}, nil
	case n.full():
		return bytes.Clone(n.data()), nil
	}
	rc, err := f.content(n)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	defer rc.Close()
	b := make([]byte, n.size)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: noEOF(err)}
	}
	return b, nil
}

func dirEntries(abs string, kids []*node) []fs.DirEntry {
	list := make([]fs.DirEntry, len(kids))
	for i, k := range kids {
		list[i] = &fileInfo{name: k.name(), abs: joinAbs(abs, k.name()), n: k}
	}
	return list
}

// fileInfo is both the fs.FileInfo and the fs.DirEntry of a node.
type fileInfo struct {
	name string
	abs  string
	n    *node
}

func (i *fileInfo) Name() string { return i.name }

func (i *fileInfo) Size() int64 {
	switch i.n.typ {
	case TypeReg:
		return i.n.size
	case TypeSymlink:
		return int64(len(i.n.link()))
	}
	return 0
}

func (i *fileInfo) Mode() fs.FileMode          { return i.n.fileMode() }
func (i *fileInfo) Type() fs.FileMode          { return i.n.fileMode().Type() }
func (i *fileInfo) ModTime() time.Time         { return time.Unix(int64(i.n.mtime), 0).UTC() }
func (i *fileInfo) IsDir() bool                { return i.n.isDir() }
func (i *fileInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i *fileInfo) String() string             { return fs.FormatFileInfo(i) }
func (i *fileInfo) Sys() any                   { return i.n.entry(i.abs) }
func (i *fileInfo) stat() (fs.FileInfo, error) { return i, nil }

// memFile is an open file whose content is in memory.
type memFile struct {
	info *fileInfo
	*bytes.Reader
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.info.stat() }
func (m *memFile) Close() error               { return nil }

// streamFile is an open file whose content streams from its layer.
type streamFile struct {
	fs   *FS
	info *fileInfo
	name string
	rc   io.ReadCloser
	err  error
}

func (s *streamFile) Stat() (fs.FileInfo, error) { return s.info.stat() }

func (s *streamFile) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.rc == nil {
		rc, err := s.fs.content(s.info.n)
		if err != nil {
			s.err = &fs.PathError{Op: "read", Path: s.name, Err: err}
			return 0, s.err
		}
		s.rc = rc
	}
	n, err := s.rc.Read(p)
	if err != nil && err != io.EOF {
		err = &fs.PathError{Op: "read", Path: s.name, Err: err}
	}
	return n, err
}

// Seek sets the offset of the next Read (io.Seeker). Seeking forward
// costs at most the distance to the next restart point of the layer;
// seeking back restarts at the restart point before the target.
func (s *streamFile) Seek(offset int64, whence int) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.rc == nil {
		rc, err := s.fs.content(s.info.n)
		if err != nil {
			s.err = &fs.PathError{Op: "seek", Path: s.name, Err: err}
			return 0, s.err
		}
		s.rc = rc
	}
	return s.rc.(io.Seeker).Seek(offset, whence)
}

func (s *streamFile) Close() error {
	if s.err == fs.ErrClosed {
		return &fs.PathError{Op: "close", Path: s.name, Err: fs.ErrClosed}
	}
	s.err = fs.ErrClosed
	if s.rc != nil {
		return s.rc.Close()
	}
	return nil
}

// dirFile is an open directory.
type dirFile struct {
	info *fileInfo
	name string
	list []fs.DirEntry
	off  int
	read bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info.stat() }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: ErrIsDir}
}

func (d *dirFile) Close() error { return nil }

// ReadDir reads the directory's entries, sorted by name, as
// fs.ReadDirFile requires.
func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	if !d.read {
		d.list = dirEntries(d.info.abs, d.info.n.kids)
		d.read = true
	}
	rest := d.list[d.off:]
	if count <= 0 {
		d.off = len(d.list)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	count = min(count, len(rest))
	d.off += count
	return rest[:count], nil
}
