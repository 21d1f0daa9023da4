package imagefs

import (
	"io/fs"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs/elfinfo"
)

// Hop is one symlink traversed by a resolution: Path was a symlink to
// Target (as written), set by layer Layer.
type Hop struct {
	Path, Target string
	Layer        int
}

// Resolution is the outcome of resolving a path in the image, with the
// evidence of how it was reached.
type Resolution struct {
	// Requested is the path as asked.
	Requested string
	// Final is the absolute path reached. When the path does not exist it
	// is where resolution stopped: the first missing component joined with
	// what remained to resolve (ErrNotExist), the non-directory met
	// (ErrNotDir), or the symlink at which it gave up (ErrLoop).
	Final string
	// Chain lists every symlink followed, in order, including those met as
	// intermediate components.
	Chain []Hop
	// Entry is the entry at Final; nil unless Err is nil.
	Entry *Entry
	// Err is nil, fs.ErrNotExist, ErrNotDir or ErrLoop.
	Err error
}

// walkResult is the internal outcome of a walk.
type walkResult struct {
	node  *node
	path  string // absolute
	chain []Hop
	err   error
}

// exact returns the node at the unrooted or absolute path p, following no
// symlinks at all; nil if there is none.
func exact(root *node, p string) *node {
	n := root
	for p != "" {
		var c string
		c, p, _ = strings.Cut(p, "/")
		if c == "" || c == "." {
			continue
		}
		if !n.isDir() {
			return nil
		}
		if n = n.child(c); n == nil {
			return nil
		}
	}
	return n
}

// stackPath returns the absolute path of a stack of directories from the
// root.
func stackPath(stack []*node) string {
	if len(stack) <= 1 {
		return "/"
	}
	size := 0
	for _, n := range stack[1:] {
		size += 1 + int(n.nlen)
	}
	var b strings.Builder
	b.Grow(size)
	for _, n := range stack[1:] {
		b.WriteByte('/')
		b.WriteString(n.name())
	}
	return b.String()
}

// walk resolves p (absolute or unrooted) chroot-style: absolute symlink
// targets restart at the image root, ".." never climbs above it, relative
// targets are read from the link's directory, and more than MaxSymlinkHops
// symlinks is a loop. Symlinks met as intermediate components are always
// followed; the final one only when followFinal. When record is set, the
// chain of hops is kept.
func (f *FS) walk(p string, followFinal, record bool) walkResult {
	var buf [16]*node
	stack := append(buf[:0], f.root)
	var res walkResult
	hops := 0
	rest := p
	for {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			break
		}
		comp, after, slash := strings.Cut(rest, "/")
		rest = after
		switch comp {
		case ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		cur := stack[len(stack)-1]
		c := cur.child(comp)
		if c == nil {
			res.err = fs.ErrNotExist
			res.path = path.Join(stackPath(stack), comp, rest)
			return res
		}
		last := !slash
		if c.typ == TypeSymlink && (!last || followFinal) {
			hops++
			linkPath := joinAbs(stackPath(stack), comp)
			if record {
				res.chain = append(res.chain, Hop{Path: linkPath, Target: c.link(), Layer: int(c.layer)})
			}
			if hops > MaxSymlinkHops {
				res.err = ErrLoop
				res.path = linkPath
				return res
			}
			target := c.link()
			if target == "" {
				res.err = fs.ErrNotExist
				res.path = linkPath
				return res
			}
			if target[0] == '/' {
				stack = stack[:1]
			}
			if slash {
				rest = target + "/" + rest
			} else {
				rest = target
			}
			continue
		}
		if last {
			res.node = c
			res.path = joinAbs(stackPath(stack), comp)
			return res
		}
		if !c.isDir() {
			res.err = ErrNotDir
			res.path = joinAbs(stackPath(stack), comp)
			return res
		}
		stack = append(stack, c)
	}
	res.node = stack[len(stack)-1]
	res.path = stackPath(stack)
	return res
}

// Resolve resolves the absolute path abs in the image, following every
// symlink (intermediate and final) chroot-style: absolute targets start at
// the image root, ".." clamps at "/", relative targets are read from the
// link's directory, and more than MaxSymlinkHops hops is ErrLoop. The
// resolution never leaves the image. A relative abs is taken from the root.
func (f *FS) Resolve(abs string) Resolution {
	w := f.walk(abs, true, true)
	r := Resolution{Requested: abs, Final: w.path, Chain: w.chain, Err: w.err}
	if w.err == nil {
		r.Entry = w.node.entry(w.path)
	}
	return r
}

// Lookup returns the entry at exactly the absolute path abs, following no
// symlink at all (not even intermediate ones), like a tar listing of the
// merged view. abs is cleaned lexically first ("/usr/../etc" is "/etc").
func (f *FS) Lookup(abs string) (*Entry, bool) {
	abs = path.Clean("/" + abs)
	n := exact(f.root, abs)
	if n == nil {
		return nil, false
	}
	return n.entry(abs), true
}

// Head returns the bytes captured from the start of the file abs resolves
// to (see Options.HeadSize and Options.Capture), nil if none were. The
// slice is shared: do not modify it.
func (f *FS) Head(abs string) []byte {
	w := f.walk(abs, true, false)
	if w.err != nil || w.node.typ != TypeReg {
		return nil
	}
	d := w.node.data()
	return d[:len(d):len(d)]
}

// ELF returns the ELF summary the pass made of the file abs resolves to
// (see elfinfo.Stream): its identity, interpreter and dynamic section,
// without reading the file. It returns false when there is none: the file
// is not ELF, or a part the summary needs lay where the pass did not keep
// it; read the file then.
func (f *FS) ELF(abs string) (*elfinfo.Info, bool) {
	w := f.walk(abs, true, false)
	if w.err != nil || w.node.typ != TypeReg {
		return nil, false
	}
	b := w.node.elfSummary()
	if b == nil {
		return nil, false
	}
	e, err := elfinfo.Unmarshal(b)
	return e, err == nil
}
