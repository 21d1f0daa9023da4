package imagefs

import (
	"io/fs"
	"sort"
	"strings"
	"time"
)

// node is one path of the merged view. It is kept small (80 bytes): the
// view of a large image holds hundreds of thousands of them. A node stores
// only its own name; paths are derived while walking.
type node struct {
	// s is the name, followed (for symlinks) by the link target:
	// name = s[:nlen], target = s[nlen:].
	s string
	// kids are a directory's children, sorted by name.
	kids []*node
	// extra holds the rare parts: captured bytes, hard link origin.
	extra *nodeExtra
	size  int64
	// ord is the position of the entry among its layer's tar headers, so
	// that content can be re-read from that layer alone.
	ord      uint32
	mtime    uint32 // unix seconds, clamped to 1970..2106
	uid, gid uint32
	mode     uint16 // permission and setuid/setgid/sticky bits
	nlen     uint16
	layer    uint16
	typ      byte
	flags    byte
}

const (
	// flagImplicit marks a directory no layer declared.
	flagImplicit byte = 1 << iota
)

// nodeExtra holds what few nodes need.
type nodeExtra struct {
	// data is the start of the content (all of it when len(data) == size).
	data []byte
	// hardlinkTo is the absolute path a hard link pointed to; srcLayer and
	// srcOrd then locate the content.
	hardlinkTo string
	srcOrd     uint32
	srcLayer   uint16
}

// maxNameLen bounds one path component (Linux allows 255 bytes).
const maxNameLen = 1<<16 - 1

func (n *node) name() string { return n.s[:n.nlen] }

func (n *node) link() string { return n.s[n.nlen:] }

func (n *node) isDir() bool { return n.typ == TypeDir }

// data returns the captured bytes, nil if none.
func (n *node) data() []byte {
	if n.extra == nil {
		return nil
	}
	return n.extra.data
}

// full reports whether the whole content is in memory.
func (n *node) full() bool {
	d := n.data()
	return d != nil && int64(len(d)) == n.size
}

// contentLoc returns the layer and tar position holding n's content.
func (n *node) contentLoc() (layer int, ord uint32) {
	if n.extra != nil && n.extra.hardlinkTo != "" {
		return int(n.extra.srcLayer), n.extra.srcOrd
	}
	return int(n.layer), n.ord
}

// find returns the index of the child named name, or where it would be
// inserted, and whether it exists.
func (n *node) find(name string) (int, bool) {
	k := n.kids
	// Tar streams list a directory's children in order: check the end
	// first.
	if len(k) == 0 {
		return 0, false
	}
	if last := k[len(k)-1].name(); name > last {
		return len(k), false
	} else if name == last {
		return len(k) - 1, true
	}
	i := sort.Search(len(k), func(i int) bool { return k[i].name() >= name })
	return i, i < len(k) && k[i].name() == name
}

// child returns the child named name, nil if none.
func (n *node) child(name string) *node {
	if i, ok := n.find(name); ok {
		return n.kids[i]
	}
	return nil
}

// insert puts c at index i of n's children.
func (n *node) insert(i int, c *node) {
	if i == len(n.kids) {
		n.kids = append(n.kids, c)
		return
	}
	n.kids = append(n.kids, nil)
	copy(n.kids[i+1:], n.kids[i:])
	n.kids[i] = c
}

// remove deletes the child at index i.
func (n *node) remove(i int) {
	copy(n.kids[i:], n.kids[i+1:])
	n.kids[len(n.kids)-1] = nil
	n.kids = n.kids[:len(n.kids)-1]
	if len(n.kids) == 0 {
		n.kids = nil
	}
}

// fileMode returns the io/fs mode of n, type bits included.
func (n *node) fileMode() fs.FileMode {
	return permMode(n.mode) | typeMode(n.typ)
}

// permMode converts tar mode bits to fs.FileMode permission and special
// bits.
func permMode(m uint16) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

func typeMode(t byte) fs.FileMode {
	switch t {
	case TypeDir:
		return fs.ModeDir
	case TypeSymlink:
		return fs.ModeSymlink
	case TypeChar:
		return fs.ModeDevice | fs.ModeCharDevice
	case TypeBlock:
		return fs.ModeDevice
	case TypeFifo:
		return fs.ModeNamedPipe
	}
	return 0
}

// entry builds the public Entry of n at abs.
func (n *node) entry(abs string) *Entry {
	e := &Entry{
		Path:     abs,
		Type:     n.typ,
		Mode:     permMode(n.mode),
		UID:      int(n.uid),
		GID:      int(n.gid),
		Layer:    int(n.layer),
		ModTime:  time.Unix(int64(n.mtime), 0).UTC(),
		Implicit: n.flags&flagImplicit != 0,
	}
	switch n.typ {
	case TypeReg:
		e.Size = n.size
	case TypeSymlink:
		e.Linkname = n.link()
	}
	if n.extra != nil {
		e.HardlinkTo = n.extra.hardlinkTo
	}
	return e
}

// joinAbs joins an absolute directory and a name.
func joinAbs(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// splitDir splits a clean unrooted path into its parent ("" for the root)
// and base name.
func splitDir(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}
