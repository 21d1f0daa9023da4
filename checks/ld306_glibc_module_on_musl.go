package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// glibcModuleOnMusl is LD306: a native module built for glibc (a
// manylinux wheel's extension, an addon compiled on Debian) in an image
// whose runtime runs under musl (Alpine). musl's loader ignores symbol
// versions and loads the module; the import then fails on the first
// symbol only glibc has (the fortified __*_chk functions, glibc's
// internal aliases). The opposite case, a musl-built module in a glibc
// image, is LD304's (libc.musl-*.so.1 is not found).
type glibcModuleOnMusl struct{}

func (glibcModuleOnMusl) Meta() Meta {
	return Meta{
		ID:       "LD306",
		Name:     "glibc-module-on-musl",
		Title:    "a native module built for glibc is loaded by musl",
		Severity: Warning,
		Category: CategoryBinary,
		Needs:    analyze.LDFiles,
	}
}

func (c glibcModuleOnMusl) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	s, err := t.Binaries(ctx)
	if err != nil {
		return nil, err
	}
	if len(s.GlibcOnMusl) == 0 {
		return nil, nil
	}
	first := s.GlibcOnMusl[0]
	b := first.Root
	f := NewFinding(c.Meta(), "")
	f.Path, f.Layer = b.Path, layerRef(t, b.Entry.Layer)
	who, they := "The native module "+b.Path+" was", "it requires"
	if n := len(s.GlibcOnMusl); n > 1 {
		who, they = fmt.Sprintf("%d native modules (%s and %d more) were", n, b.Path, n-1), b.Path+" requires"
	}
	loader := "musl's loader"
	if first.Loader != "" {
		loader = "musl's loader " + first.Loader
	}
	f.Message = fmt.Sprintf("%s built for glibc (%s glibc's symbol versions: %s), but the function's runtime runs under %s. musl ignores symbol versions and loads such a module, so if the function imports it, the import fails on the first symbol only glibc has, with \"Error relocating %s: <symbol>: symbol not found\" (Runtime.ImportModuleError); a module that uses no glibc-only symbol does load, which lambdoctor cannot tell, so this is a warning.",
		who, they, strings.Join(first.Versions[:min(len(first.Versions), 4)], ", "), loader, b.Path)
	f.Evidence = []string{fmt.Sprintf("%s: %s", b.Path, b.File.ELF.Describe())}
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s requires (DT_VERNEED): %s", b.Path, strings.Join(first.Versions, ", ")))
	for i, m := range s.GlibcOnMusl[1:] {
		if i == maxListed {
			f.Evidence = append(f.Evidence, fmt.Sprintf("… and %d more modules", len(s.GlibcOnMusl)-1-maxListed))
			break
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("also built for glibc: %s (%s)", m.Root.Path, t.LayerLabel(m.Root.Entry.Layer)))
	}
	f.Evidence = append(f.Evidence, "no gcompat (libgcompat.so.0) in the image")
	f.Fix = "install the modules in this image so that musl builds are used (pip picks musllinux wheels or compiles from source on Alpine; npm ci rebuilds addons), or run the function on a glibc-based image (the AWS base images, Debian)"
	return []Finding{f}, nil
}
