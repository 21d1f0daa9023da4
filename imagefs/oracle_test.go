package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestExtractOracle cross-checks the merged view against
// go-containerregistry's mutate.Extract on images simple enough for it
// (no duplicates, no escaping links, no whiteout and re-add of a path in
// one layer).
func TestExtractOracle(t *testing.T) {
	images := map[string][][]tf{
		"basic": {
			{dir("etc/", 0o755), reg("etc/hosts", 0o644, "127.0.0.1 localhost\n"), dir("usr/", 0o755), dir("usr/bin/", 0o755),
				reg("usr/bin/env", 0o755, "\x7fELF env"), sym("usr/bin/sh", "env"), sym("bin", "usr/bin"), dir("tmp/", 0o1777)},
			{dir("var/", 0o755), dir("var/task/", 0o755), reg("var/task/app.py", 0o644, "def handler(e, c): pass\n"),
				hard("var/task/app2.py", "var/task/app.py"), reg("etc/hosts", 0o600, "changed\n")},
		},
		"whiteouts": {
			{dir("a/", 0o755), dir("a/b/", 0o755), reg("a/b/c", 0o644, "c"), reg("a/d", 0o644, "d"), dir("x/", 0o755), reg("x/y", 0o644, "y"), reg("z", 0o644, "z")},
			{wh("a/b"), dir("x/", 0o700), reg("x/new", 0o644, "new"), opq("x"), reg("z", 0o755, "z2")},
			{reg("a", 0o644, "a is a file now"), dir("z/", 0o755), reg("z/inner", 0o644, "inner")},
		},
	}
	for i := range 16 {
		images[fmt.Sprintf("random-%d", i)] = randomImage(uint64(i))
	}
	for name, layers := range images {
		t.Run(name, func(t *testing.T) {
			var v1layers []v1.Layer
			var ls []Layer
			for _, es := range layers {
				blob := gzipOf(t, tarOf(t, es...))
				l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
				if err != nil {
					t.Fatal(err)
				}
				v1layers = append(v1layers, l)
				d, err := l.Digest()
				if err != nil {
					t.Fatal(err)
				}
				ls = append(ls, Layer{Digest: d.String(), Size: int64(len(blob)), Open: l.Compressed})
			}
			img, err := mutate.AppendLayers(empty.Image, v1layers...)
			if err != nil {
				t.Fatal(err)
			}
			want := extractListing(t, img)
			f, err := Build(context.Background(), ls, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a := f.Anomalies(); len(a) != 0 {
				t.Errorf("anomalies: %+v", a)
			}
			got := viewListing(t, f)
			if d := diffLines(got, want); d != "" {
				t.Error(d)
			}
		})
	}
}

func describe(typ byte, mode int64, content, link string) string {
	switch typ {
	case tar.TypeDir:
		return fmt.Sprintf("dir %04o", mode&0o7777)
	case tar.TypeSymlink:
		return "sym ->" + link
	}
	return fmt.Sprintf("reg %04o %q", mode&0o7777, content)
}

func extractListing(t *testing.T, img v1.Image) []string {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	type ent struct {
		hdr     *tar.Header
		content string
	}
	ents := map[string]ent{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		ents[path.Clean(hdr.Name)] = ent{hdr, string(b)}
	}
	var out []string
	for name, e := range ents {
		h := e.hdr
		if h.Typeflag == tar.TypeLink {
			target := ents[path.Clean(h.Linkname)]
			out = append(out, "/"+name+" "+describe(target.hdr.Typeflag, target.hdr.Mode, target.content, target.hdr.Linkname))
			continue
		}
		out = append(out, "/"+name+" "+describe(h.Typeflag, h.Mode, e.content, h.Linkname))
	}
	sort.Strings(out)
	return out
}

func viewListing(t *testing.T, f *FS) []string {
	var out []string
	err := f.Walk(func(e *Entry) error {
		if e.Path == "/" {
			return nil
		}
		var content string
		if e.Type == TypeReg {
			b, err := f.ReadFile(e.Path[1:])
			if err != nil {
				return err
			}
			content = string(b)
		}
		mode := int64(e.Mode.Perm())
		if e.Mode&fs.ModeSticky != 0 {
			mode |= 0o1000
		}
		out = append(out, e.Path+" "+describe(e.Type, mode, content, e.Linkname))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// randomImage makes a few layers of random but well-formed changes: new
// subtrees, modified files, whiteouts, opaque directories, files replacing
// directories and back. Within a layer no two changes touch overlapping
// paths, and every directory is declared.
func randomImage(seed uint64) [][]tf {
	r := rand.New(rand.NewPCG(seed, 99))
	kind := map[string]byte{"": tar.TypeDir} // unrooted path -> type
	// wasDir holds paths that were directories once: mutate.Extract
	// resurrects a directory's old children when a directory replaces a
	// file that had replaced it (see TestMergeSemantics), so the generator
	// avoids that sequence.
	wasDir := map[string]bool{}
	uniq := 0
	fresh := func() string { uniq++; return fmt.Sprintf("n%d", uniq) }
	var layers [][]tf
	for range 5 {
		var es []tf
		var locked []string
		overlaps := func(p string) bool {
			for _, l := range locked {
				if p == l || strings.HasPrefix(p, l+"/") || strings.HasPrefix(l, p+"/") || l == "" || p == "" {
					return true
				}
			}
			return false
		}
		var dirs, files []string
		for p, k := range kind {
			if k == tar.TypeDir {
				dirs = append(dirs, p)
			} else if k == tar.TypeReg {
				files = append(files, p)
			}
		}
		sort.Strings(dirs)
		sort.Strings(files)
		join := func(d, n string) string {
			if d == "" {
				return n
			}
			return d + "/" + n
		}
		removeTree := func(p string) {
			for q := range kind {
				if q == p || strings.HasPrefix(q, p+"/") {
					delete(kind, q)
				}
			}
		}
		addTree := func(p string) {
			es = append(es, dir(p+"/", 0o755), reg(p+"/f", int64(0o600+r.IntN(0o200)), fresh()),
				dir(p+"/sub/", 0o750), reg(p+"/sub/g", 0o644, fresh()), sym(p+"/l", "f"))
			kind[p], kind[p+"/f"], kind[p+"/sub"], kind[p+"/sub/g"], kind[p+"/l"] = tar.TypeDir, tar.TypeReg, tar.TypeDir, tar.TypeReg, tar.TypeSymlink
			wasDir[p], wasDir[p+"/sub"] = true, true
		}
		for range 12 {
			switch op := r.IntN(6); {
			case op == 0 || len(files) == 0: // new subtree
				d := dirs[r.IntN(len(dirs))]
				if d != "" && overlaps(d) {
					continue
				}
				p := join(d, fresh())
				locked = append(locked, p)
				addTree(p)
			case op == 1: // modify a file
				p := files[r.IntN(len(files))]
				if overlaps(p) || kind[p] != tar.TypeReg {
					continue
				}
				locked = append(locked, p)
				es = append(es, reg(p, 0o640, fresh()))
			case op == 2: // whiteout
				p := files[r.IntN(len(files))]
				if r.IntN(2) == 0 && len(dirs) > 1 {
					p = dirs[1+r.IntN(len(dirs)-1)]
				}
				if overlaps(p) || kind[p] == 0 {
					continue
				}
				locked = append(locked, p)
				es = append(es, wh(p))
				removeTree(p)
			case op == 3 && len(dirs) > 1: // opaque
				p := dirs[1+r.IntN(len(dirs)-1)]
				if overlaps(p) || kind[p] != tar.TypeDir {
					continue
				}
				locked = append(locked, p)
				removeTree(p)
				kind[p] = tar.TypeDir
				n := fresh()
				marker, file := opq(p), reg(p+"/"+n, 0o644, n)
				kind[p+"/"+n] = tar.TypeReg
				switch r.IntN(3) {
				case 0:
					es = append(es, dir(p+"/", 0o711), marker, file)
				case 1:
					es = append(es, dir(p+"/", 0o711), file, marker)
				default:
					es = append(es, file, marker)
				}
			case op == 4 && len(dirs) > 1: // a file replaces a directory
				p := dirs[1+r.IntN(len(dirs)-1)]
				if overlaps(p) || kind[p] != tar.TypeDir {
					continue
				}
				locked = append(locked, p)
				removeTree(p)
				kind[p] = tar.TypeReg
				es = append(es, reg(p, 0o644, fresh()))
			case op == 5: // a directory replaces a file
				p := files[r.IntN(len(files))]
				if overlaps(p) || kind[p] != tar.TypeReg || wasDir[p] {
					continue
				}
				locked = append(locked, p)
				delete(kind, p)
				addTree(p)
			}
		}
		if len(es) == 0 {
			p := fresh()
			addTree(p)
		}
		layers = append(layers, slices.Clone(es))
	}
	return layers
}
