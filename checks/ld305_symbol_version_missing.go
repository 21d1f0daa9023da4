package checks

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// symbolVersionMissing is LD305: a program or library on the entrypoint
// chain, or a native module, requires a symbol version (GLIBC_2.38,
// GLIBCXX_3.4.32, ...) that the library the dynamic linker finds for it
// does not define, so glibc's ld.so refuses to load it. It happens when
// a binary is built on a newer distribution than the image it runs in.
type symbolVersionMissing struct{}

func (symbolVersionMissing) Meta() Meta {
	return Meta{
		ID:       "LD305",
		Name:     "elf-symbol-version-missing",
		Title:    "a binary needs a symbol version its library does not define",
		Severity: Error,
		Category: CategoryBinary,
		Needs:    analyze.LDFiles,
	}
}

func (c symbolVersionMissing) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	s, err := t.Binaries(ctx)
	if err != nil {
		return nil, err
	}
	chain := t.Chain()
	var out []Finding
	for _, m := range s.VersionMisses {
		b := m.Root
		f := NewFinding(c.Meta(), "")
		f.Path, f.Layer = b.Path, layerRef(t, b.Entry.Layer)
		need := strings.Join(m.Missing, ", ")
		first := m.Missing[0]
		loaderMsg := fmt.Sprintf("%s: version `%s' not found (required by %s)", m.LibraryPath, first, m.Object)
		who := m.Object
		if len(m.Via) > 0 {
			who = fmt.Sprintf("%s (loaded by %s)", m.Object, strings.Join(append([]string{b.Path}, m.Via[:len(m.Via)-1]...), " -> "))
		}
		have := newestOfFamily(m.Defined, first)
		haveText := "defines no version of that family"
		if have != "" {
			haveText = "defines versions up to " + have
		}
		switch b.Role {
		case analyze.RoleModule:
			f.Severity = Warning
			symptom := fmt.Sprintf("If the function imports it, the import fails with \"%s\" (Python: Runtime.ImportModuleError; Node.js: Error: ... Runtime.ImportModuleError)", loaderMsg)
			f.Message = fmt.Sprintf("The native module %s requires %s of %s, but %s, the %s the dynamic linker finds, %s. %s; modules nothing imports are harmless, so this is a warning.",
				who, need, m.Library, m.LibraryPath, m.Library, haveText, symptom)
			f.Fix = fmt.Sprintf("install a build of %s made for this image's %s: build it in the same base image (pip and npm then pick or compile a matching build; for a Python wheel, a manylinux tag no newer than the image's glibc), or move to a base image whose %s defines %s", nativeModuleName(b.Path), m.Library, m.Library, first)
		default:
			l := &chain.Links[b.LinkIndex]
			f.Message = fmt.Sprintf("%s runs %s, and %s requires %s of %s, but %s, the %s the dynamic linker finds, %s. When %s starts, glibc's ld.so stops with \"%s\" (exit status 1), which Lambda reports as \"Runtime exited with error: exit status 1\" (Runtime.ExitError). The binary was built against a newer %s than the image has.",
				chain.Origin(b.LinkIndex), b.Path, who, need, m.Library, m.LibraryPath, m.Library, haveText, l.Path, loaderMsg, familyName(first))
			f.Fix = fmt.Sprintf("build %s against the image's %s: compile it in the same base image the function runs on (a multi-stage build FROM that image, or CGO_ENABLED=0 for a Go program), or run it on a base image whose %s defines %s", m.Object, m.Library, m.Library, first)
		}
		f.Evidence = versionEvidence(t, chain, m)
		out = append(out, f)
	}
	return out, nil
}

// versionEvidence shows the object, the versions it requires and what the
// library found defines.
func versionEvidence(t *analyze.Target, chain *analyze.Chain, m analyze.VersionMiss) []string {
	var ev []string
	if m.Root.Role == analyze.RoleChain {
		ev = analyze.ChainEvidence(t, chain, m.Root.LinkIndex)
	}
	ev = append(ev, fmt.Sprintf("%s: %s", m.Root.Path, m.Root.File.ELF.Describe()))
	if len(m.Via) > 0 {
		ev = append(ev, "load chain: "+strings.Join(append([]string{m.Root.Path}, m.Via...), " -> "))
	}
	ev = append(ev, fmt.Sprintf("%s requires of %s (DT_VERNEED): %s", m.Object, m.Library, strings.Join(m.Missing, ", ")+" (not defined)"))
	ev = append(ev, fmt.Sprintf("%s defines (DT_VERDEF): %s", m.LibraryPath, summariseVersions(m.Defined)))
	return ev
}

// familyName names the library behind a version family, for messages.
func familyName(v string) string {
	switch {
	case strings.HasPrefix(v, "GLIBC_"):
		return "glibc"
	case strings.HasPrefix(v, "GLIBCXX_"), strings.HasPrefix(v, "CXXABI_"):
		return "libstdc++ (GCC)"
	case strings.HasPrefix(v, "GCC_"):
		return "libgcc"
	case strings.HasPrefix(v, "OPENSSL_"):
		return "OpenSSL"
	}
	return "library"
}

// family is a version's name up to its number: "GLIBC_" of GLIBC_2.38;
// a version without a number (GLIBC_PRIVATE) is a family of its own.
func family(v string) string {
	i := strings.LastIndexByte(v, '_')
	if i < 0 || i+1 == len(v) || v[i+1] < '0' || v[i+1] > '9' {
		return v
	}
	return v[:i+1]
}

// newestOfFamily returns the newest version of want's family in defined,
// "" when there is none.
func newestOfFamily(defined []string, want string) string {
	fam, best := family(want), ""
	for _, d := range defined {
		if family(d) == fam && (best == "" || versionLess(best, d)) {
			best = d
		}
	}
	return best
}

// versionLess compares the numbers of two versions of one family:
// GLIBC_2.9 < GLIBC_2.38.
func versionLess(a, b string) bool {
	pa := strings.Split(strings.TrimPrefix(a, family(a)), ".")
	pb := strings.Split(strings.TrimPrefix(b, family(b)), ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// summariseVersions lists versions compactly: per family its count and
// newest ("GLIBC_ 2.2.5 … 2.36 (38 versions)").
func summariseVersions(vs []string) string {
	if len(vs) == 0 {
		return "none"
	}
	type agg struct {
		n              int
		oldest, newest string
	}
	var order []string
	fams := map[string]*agg{}
	for _, v := range vs {
		f := family(v)
		a := fams[f]
		if a == nil {
			a = &agg{oldest: v, newest: v}
			fams[f] = a
			order = append(order, f)
		}
		a.n++
		if versionLess(v, a.oldest) {
			a.oldest = v
		}
		if versionLess(a.newest, v) {
			a.newest = v
		}
	}
	var parts []string
	for _, f := range order {
		a := fams[f]
		if a.n == 1 {
			parts = append(parts, a.newest)
			continue
		}
		parts = append(parts, fmt.Sprintf("%s … %s (%d versions)", a.oldest, a.newest, a.n))
	}
	return strings.Join(parts, "; ")
}

// nativeModuleName is the package a native module file belongs to, for the fix.
func nativeModuleName(p string) string {
	if i := strings.LastIndex(p, "/node_modules/"); i >= 0 {
		rest := p[i+len("/node_modules/"):]
		parts := strings.SplitN(rest, "/", 3)
		if strings.HasPrefix(parts[0], "@") && len(parts) > 1 {
			return parts[0] + "/" + parts[1]
		}
		return parts[0]
	}
	for _, marker := range []string{"/site-packages/", "/dist-packages/"} {
		if i := strings.LastIndex(p, marker); i >= 0 {
			return strings.SplitN(p[i+len(marker):], "/", 2)[0]
		}
	}
	return p
}
