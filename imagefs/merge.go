package imagefs

import (
	"fmt"
	"strings"
)

// merger applies decoded layers, in order, to the tree.
type merger struct {
	f *FS
	// d holds the entry budget that implicit directories count against.
	d   *decoder
	err error
	// implicit counts the implicit directories created, against
	// maxImplicitDirs.
	implicit int
	layer    int
	// anomalies recorded for the current layer, and dropped beyond the cap.
	count, dropped int
	// dirCache remembers the last parent directory looked up, and the
	// length of its path in the merged view (see dir).
	cacheDir  string
	cacheNode *node
	cacheLen  int
	cacheOK   bool
	// dirs remembers every parent directory looked up in this layer (keys
	// are the layer's interned directory paths), so that entries
	// alternating between deep directories do not walk from the root each
	// time. An entry is valid while its gen is the current one: replacing
	// a node (which may hold looked-up directories) starts a new one.
	dirs map[string]dirRef
	gen  uint64
	// lastDir is the last directory added, and the length of its path: the
	// next entries usually go into it.
	lastParent string
	lastDir    *node
	lastLen    int
}

func (m *merger) anomaly(p string, kind AnomalyKind, format string, args ...any) {
	if m.count >= maxAnomaliesPerLayer {
		m.dropped++
		return
	}
	m.count++
	m.f.anomalies = append(m.f.anomalies, Anomaly{Layer: m.layer, Path: p, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// dirRef is a remembered result of dir.
type dirRef struct {
	n    *node
	plen int
	gen  uint64
}

func (m *merger) invalidate() {
	m.cacheOK = false
	m.lastDir = nil
	m.gen++
}

// remember caches the result of dir(d).
func (m *merger) remember(d string, n *node, plen int) {
	m.cacheDir, m.cacheNode, m.cacheLen, m.cacheOK = d, n, plen, true
	if m.dirs == nil {
		m.dirs = make(map[string]dirRef)
	}
	m.dirs[d] = dirRef{n: n, plen: plen, gen: m.gen}
}

// apply merges layer i: first its whiteouts and opaque markers against the
// lower layers, wherever they stand in the tar, then its entries in tar
// order. It fails only when the implicit directories it creates exceed the
// entry budget.
func (m *merger) apply(i int, res *layerResult) error {
	m.layer = i
	m.count = len(res.anomalies)
	m.dropped = res.dropped
	m.invalidate()
	m.dirs = nil
	m.f.anomalies = append(m.f.anomalies, res.anomalies...)

	for _, chunk := range res.chunks {
		for _, r := range chunk {
			switch r.op {
			case opWhiteout:
				if d := m.exactDir(r.dir); d != nil {
					if k, ok := d.find(r.n.name()); ok {
						d.remove(k)
					}
				}
			case opOpaque:
				if d := m.exactDir(r.dir); d != nil {
					d.kids, d.size = nil, 0
				}
			}
		}
	}
	for c, chunk := range res.chunks {
		for k := range chunk {
			m.add(&chunk[k])
		}
		res.chunks[c] = nil
		if m.err != nil {
			return m.err
		}
	}
	if m.dropped > 0 {
		m.f.anomalies = append(m.f.anomalies, Anomaly{Layer: i, Kind: AnomalyTruncated,
			Detail: fmt.Sprintf("%d more anomalies in this layer not recorded", m.dropped)})
	}
	m.invalidate()
	return nil
}

// add merges one record of the additions pass.
func (m *merger) add(r *rec) {
	switch r.op {
	case opRoot:
		setMeta(m.f.root, r.n)
	case opOpaque:
		// The directory holding an opaque marker exists in this layer,
		// declared or not.
		if m.exact(r.dir) == nil {
			m.dir(r.dir)
		}
	case opAdd, opHardlink:
		parent, plen := m.dir(r.dir)
		if parent == nil {
			return
		}
		if clen := plen + 1 + int(r.n.nlen); clen >= PathMax {
			m.anomaly(joinAbs("/"+r.dir, r.n.name()), AnomalyUnsafeName, "merged path of %d bytes (written through symlinks), over Linux's PATH_MAX (%d bytes with its NUL); entry skipped", clen+1, PathMax)
			return
		}
		if r.op == opHardlink && !m.link(r) {
			return
		}
		m.put(parent, plen, r)
	}
}

// exactDir returns the directory at the unrooted path p, following no
// symlinks; nil if there is none.
func (m *merger) exactDir(p string) *node {
	if n := m.exact(p); n != nil && n.isDir() {
		return n
	}
	return nil
}

// exact returns the node at the unrooted path p, following no symlinks; nil
// if there is none.
func (m *merger) exact(p string) *node {
	return exact(m.f.root, p)
}

// dir returns the directory at the unrooted path d where the current layer
// writes, creating missing directories (implicit) and writing through
// symlinks to directories as runtimes do, and the length of its path in the
// merged view ("/usr/lib" is 8, the root 0). It returns nil (after
// recording an anomaly) when a parent is a non-directory, or when writing
// through symlinks would make a path of PathMax bytes or more.
func (m *merger) dir(d string) (*node, int) {
	if m.cacheOK && d == m.cacheDir {
		return m.cacheNode, m.cacheLen
	}
	if m.lastDir != nil && isChild(d, m.lastParent, m.lastDir.name()) {
		m.remember(d, m.lastDir, m.lastLen)
		return m.lastDir, m.lastLen
	}
	if r, ok := m.dirs[d]; ok && r.gen == m.gen {
		m.cacheDir, m.cacheNode, m.cacheLen, m.cacheOK = d, r.n, r.plen, true
		return r.n, r.plen
	}
	fail := func() (*node, int) {
		// Cache the failure: the directory's next entries are skipped
		// without another anomaly.
		m.remember(d, nil, 0)
		return nil, 0
	}
	cur := m.f.root
	plen := 0
	rest := d
	via := ""
	for rest != "" {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		plen += 1 + len(c)
		if plen >= PathMax {
			m.anomaly("/"+d, AnomalyUnsafeName, "merged path of more than %d bytes (written through symlink %s), over Linux's PATH_MAX; entries below it skipped", PathMax-1, via)
			return fail()
		}
		k, ok := cur.find(c)
		if !ok {
			if m.implicit++; m.implicit > maxImplicitDirs {
				m.err = limitf("maxImplicitDirs", "entries' paths imply more than %d directories that no layer declares", maxImplicitDirs)
				return fail()
			}
			if m.d != nil && m.d.total.Add(1) > int64(m.d.opts.MaxEntries) {
				m.err = m.d.tooMany()
				return fail()
			}
			nd := &node{s: c, nlen: uint16(len(c)), typ: TypeDir, mode: 0o755, layer: uint16(m.layer), flags: flagImplicit}
			cur.add(nd)
			cur = nd
			continue
		}
		child := cur.kids[k]
		if child.isDir() {
			cur = child
			continue
		}
		done := d[:len(d)-len(rest)]
		done = strings.TrimSuffix(done, "/")
		if child.typ == TypeSymlink {
			w := m.f.walk(done, true, false)
			if w.err == nil && w.node.isDir() {
				cur = w.node
				via = "/" + done
				plen = len(w.path)
				if w.path == "/" {
					plen = 0
				}
				continue
			}
		}
		m.anomaly("/"+d, AnomalyParentNotDir, "%s is a %s in the image, not a directory; entries below it skipped", "/"+done, typeName(child.typ))
		return fail()
	}
	if via != "" {
		m.anomaly("/"+d, AnomalySymlinkParent, "written through symlink %s", via)
	}
	m.remember(d, cur, plen)
	return cur, plen
}

// isChild reports whether d == parent + "/" + name (unrooted paths).
func isChild(d, parent, name string) bool {
	if parent == "" {
		return d == name
	}
	return len(d) == len(parent)+1+len(name) && strings.HasPrefix(d, parent) &&
		d[len(parent)] == '/' && strings.HasSuffix(d, name)
}

// link fills the hard link r.n from its target; false if there is none.
func (m *merger) link(r *rec) bool {
	n := r.n
	target := n.link()
	w := m.f.walk(target, false, false)
	if w.err != nil || w.node == nil {
		m.anomaly(joinAbs("/"+r.dir, n.name()), AnomalyDanglingHardlink, "hard link to /%s, which does not exist; entry skipped", target)
		return false
	}
	t := w.node
	if t.isDir() {
		m.anomaly(joinAbs("/"+r.dir, n.name()), AnomalyDanglingHardlink, "hard link to directory /%s; entry skipped", target)
		return false
	}
	n.typ, n.mode, n.uid, n.gid, n.size, n.mtime = t.typ, t.mode, t.uid, t.gid, t.size, t.mtime
	n.flags |= t.flags & flagSparse
	if t.typ == TypeSymlink {
		n.s = n.name() + t.link()
	} else {
		n.s = strings.Clone(n.name())
	}
	sl, so := t.contentLoc()
	n.extra = &nodeExtra{hardlinkTo: "/" + target, srcLayer: uint16(sl), srcOff: so}
	if t.extra != nil {
		n.extra.data, n.extra.elf = t.extra.data, t.extra.elf
	}
	return true
}

// put places r.n in parent, whose path is plen bytes long, replacing what
// was there.
func (m *merger) put(parent *node, plen int, r *rec) {
	n := r.n
	clen := plen + 1 + int(n.nlen)
	k, ok := parent.find(n.name())
	if !ok {
		parent.add(n)
		if n.isDir() {
			m.lastParent, m.lastDir, m.lastLen = r.dir, n, clen
		}
		return
	}
	old := parent.kids[k]
	if int(old.layer) == m.layer && old.flags&flagImplicit == 0 && !(old.isDir() && n.isDir()) {
		m.anomaly(joinAbs("/"+r.dir, n.name()), AnomalyDuplicateEntry, "written twice in this layer (%s, then %s); the later one wins", typeName(old.typ), typeName(n.typ))
	}
	if old.isDir() && n.isDir() {
		// A directory over a directory updates its metadata and keeps its
		// children.
		setMeta(old, n)
		m.lastParent, m.lastDir, m.lastLen = r.dir, old, clen
		return
	}
	// Anything else replaces the old entry and its whole subtree.
	parent.kids[k] = n
	m.invalidate()
	if n.isDir() {
		m.lastParent, m.lastDir, m.lastLen = r.dir, n, clen
	}
}

// setMeta copies a directory entry's metadata onto an existing directory.
func setMeta(dst, src *node) {
	dst.mode, dst.uid, dst.gid, dst.mtime = src.mode, src.uid, src.gid, src.mtime
	dst.layer, dst.off = src.layer, src.off
	dst.flags &^= flagImplicit
}

func typeName(t byte) string {
	switch t {
	case TypeReg:
		return "regular file"
	case TypeDir:
		return "directory"
	case TypeSymlink:
		return "symlink"
	case TypeChar:
		return "character device"
	case TypeBlock:
		return "block device"
	case TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("type %q", t)
}
