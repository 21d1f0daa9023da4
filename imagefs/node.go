package imagefs

import (
	"io/fs"
	"slices"
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
	// size is the content size of a regular file; for a directory, the
	// length of the unsorted tail of kids while building (see add).
	size int64
	// off is where the content starts in the layer's tar stream, in
	// 512-byte blocks (noOffset if beyond 2 TiB), so that it can be re-read
	// from that layer alone.
	off      uint32
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
	// flagSparse marks a GNU sparse file, whose content is not readable.
	flagSparse
)

// nodeExtra holds what few nodes need.
type nodeExtra struct {
	// data is the start of the content (all of it when len(data) == size).
	data []byte
	// elf is the content's ELF summary (elfinfo.Marshal), when the pass
	// made one.
	elf []byte
	// hardlinkTo is the absolute path a hard link pointed to; srcLayer and
	// srcOff then locate the content.
	hardlinkTo string
	srcOff     uint32
	srcLayer   uint16
}

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

// contentLoc returns the layer and block offset holding n's content.
func (n *node) contentLoc() (layer int, off uint32) {
	if n.extra != nil && n.extra.hardlinkTo != "" {
		return int(n.extra.srcLayer), n.extra.srcOff
	}
	return int(n.layer), n.off
}

// Directory children are kept sorted by name. Tar streams list a
// directory's children in order, so a new child usually goes at the end;
// one that does not is binary-inserted in small directories and, in large
// ones, appended to an unsorted tail of at most maxTail children (counted in
// the directory's otherwise unused size field) that is merged in when full,
// so that unsorted tars cannot make building quadratic. settle merges the
// tail; Build settles every directory before returning.
const maxTail = 64

// find returns the index of the child named name and whether it exists.
func (n *node) find(name string) (int, bool) {
	k := n.kids
	sorted := len(k) - int(n.size)
	for i := sorted; i < len(k); i++ {
		if k[i].name() == name {
			return i, true
		}
	}
	if sorted == 0 {
		return 0, false
	}
	if last := k[sorted-1].name(); name > last {
		return sorted, false
	} else if name == last {
		return sorted - 1, true
	}
	i := sort.Search(sorted, func(i int) bool { return k[i].name() >= name })
	return i, i < sorted && k[i].name() == name
}

// child returns the child named name, nil if none.
func (n *node) child(name string) *node {
	if i, ok := n.find(name); ok {
		return n.kids[i]
	}
	return nil
}

// add inserts c, whose name is not among n's children.
func (n *node) add(c *node) {
	k := n.kids
	if n.size == 0 {
		if len(k) == 0 || c.name() > k[len(k)-1].name() {
			n.kids = append(k, c)
			return
		}
		if len(k) < maxTail {
			i, _ := n.find(c.name())
			k = append(k, nil)
			copy(k[i+1:], k[i:])
			k[i] = c
			n.kids = k
			return
		}
	}
	n.kids = append(k, c)
	n.size++
	if n.size >= maxTail {
		n.settle()
	}
}

// settle merges the unsorted tail of n's children into the sorted part.
func (n *node) settle() {
	t := int(n.size)
	if t == 0 {
		return
	}
	k := n.kids
	tail := slices.Clone(k[len(k)-t:])
	slices.SortFunc(tail, func(a, b *node) int { return strings.Compare(a.name(), b.name()) })
	i, j := len(k)-t-1, t-1
	for w := len(k) - 1; j >= 0; w-- {
		if i >= 0 && k[i].name() > tail[j].name() {
			k[w] = k[i]
			i--
		} else {
			k[w] = tail[j]
			j--
		}
	}
	n.size = 0
}

// remove deletes the child at index i.
func (n *node) remove(i int) {
	if i >= len(n.kids)-int(n.size) {
		n.size--
	}
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

// elfSummary is the content's ELF summary, nil when the pass made none.
func (n *node) elfSummary() []byte {
	if n.extra == nil {
		return nil
	}
	return n.extra.elf
}
