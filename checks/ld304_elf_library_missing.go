package checks

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// elfLibraryMissing is LD304: a DT_NEEDED library of a chain binary (or of
// a library it loads, or of a native module) is found nowhere along the
// dynamic linker's search path in the image.
type elfLibraryMissing struct{}

func (elfLibraryMissing) Meta() Meta {
	return Meta{
		ID:       "LD304",
		Name:     "elf-library-missing",
		Title:    "a shared library a binary needs is not found",
		Severity: Error,
		Category: CategoryBinary,
		Needs:    analyze.LDFiles,
	}
}

func (c elfLibraryMissing) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	s, err := t.Binaries(ctx)
	if err != nil {
		return nil, err
	}
	chain := t.Chain()
	var out []Finding
	// Module misses are grouped per library name.
	modMiss := map[string][]analyze.LibMiss{}
	var modNames []string
	for _, m := range s.Misses {
		if m.Root.Role == analyze.RoleModule {
			if modMiss[m.Name] == nil {
				modNames = append(modNames, m.Name)
			}
			modMiss[m.Name] = append(modMiss[m.Name], m)
			continue
		}
		b := m.Root
		f := NewFinding(c.Meta(), "")
		f.Path, f.Layer = b.Path, layerRef(t, b.Entry.Layer)
		l := &chain.Links[b.LinkIndex]
		who := b.Path
		if len(m.Via) > 0 {
			who = fmt.Sprintf("%s (loaded by %s)", m.Via[len(m.Via)-1], strings.Join(append([]string{b.Path}, m.Via[:len(m.Via)-1]...), " -> "))
		}
		symptom := fmt.Sprintf("When %s starts, the dynamic linker stops with \"%s: error while loading shared libraries: %s: cannot open shared object file: No such file or directory\" and exit status 127, which Lambda reports as \"Runtime exited with error: exit status 127\" (Runtime.ExitError)", l.Path, l.Path, m.Name)
		f.Message = fmt.Sprintf("%s runs %s, and %s needs %s (DT_NEEDED), which is not in any directory the %s searches%s. %s.%s",
			chain.Origin(b.LinkIndex), b.Path, who, m.Name, linkerName(m.Musl), whereElse(m), symptom, missNote(t, s, &f, m))
		f.Evidence = append(analyze.ChainEvidence(t, chain, b.LinkIndex), missEvidence(t, m)...)
		f.Fix = libFix(t, m)
		out = append(out, f)
	}
	for _, name := range modNames {
		ms := modMiss[name]
		first := ms[0]
		b := first.Root
		f := NewFinding(c.Meta(), "")
		f.Severity = Warning
		f.Path, f.Layer = b.Path, layerRef(t, b.Entry.Layer)
		who := fmt.Sprintf("the native module %s", b.Path)
		if len(ms) > 1 {
			who = fmt.Sprintf("%d native modules (%s and %d more)", len(ms), b.Path, len(ms)-1)
		}
		if len(first.Via) > 0 {
			who += fmt.Sprintf(", through %s,", strings.Join(first.Via, " -> "))
		}
		var symptom string
		if strings.HasSuffix(b.Path, ".node") {
			symptom = fmt.Sprintf("If the function requires it, Node.js fails with \"Error: %s: cannot open shared object file: No such file or directory\" (Runtime.ImportModuleError with the AWS runtimes)", name)
		} else {
			symptom = fmt.Sprintf("If the function imports it, Python fails with \"Runtime.ImportModuleError: Unable to import module '<handler module>': %s: cannot open shared object file: No such file or directory\"", name)
		}
		verb := "needs"
		if len(ms) > 1 {
			verb = "need"
		}
		f.Message = upperFirst(fmt.Sprintf("%s %s %s (DT_NEEDED), which is not in any directory the %s searches%s. %s; modules nothing imports are harmless, so this is a warning.%s",
			who, verb, name, linkerName(first.Musl), whereElse(first), symptom, missNote(t, s, &f, first)))
		f.Evidence = missEvidence(t, first)
		for i, m := range ms {
			if i == maxListed {
				f.Evidence = append(f.Evidence, fmt.Sprintf("… and %d more modules", len(ms)-maxListed))
				break
			}
			f.Evidence = append(f.Evidence, fmt.Sprintf("needed by %s (%s)", m.Root.Path, t.LayerLabel(m.Root.Entry.Layer)))
		}
		if s.ModulesMore > 0 {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%d more native modules were not examined (limit %d)", s.ModulesMore, analyze.MaxModules))
		}
		f.Fix = libFix(t, first)
		out = append(out, f)
	}
	return out, nil
}

func linkerName(musl bool) string {
	if musl {
		return "musl dynamic linker"
	}
	return "dynamic linker (glibc ld.so)"
}

// whereElse says where else the library is, for the message.
func whereElse(m analyze.LibMiss) string {
	switch {
	case m.ConfOnly != "":
		return fmt.Sprintf(": it is in %s, a directory of /etc/ld.so.conf, but /etc/ld.so.cache does not list it (ldconfig was not run after it was added), and ld.so reads those directories only through the cache", m.ConfOnly)
	case len(m.WrongArch) > 0:
		return fmt.Sprintf(" for this architecture: %s is for another machine, and the linker skips it", m.WrongArch[0])
	case len(m.Elsewhere) == 1:
		return fmt.Sprintf(" (the image has it at %s, a directory the linker does not search)", m.Elsewhere[0])
	case len(m.Elsewhere) > 1:
		return fmt.Sprintf(" (the image has it at %s and %d other place(s), none on the search path)", m.Elsewhere[0], len(m.Elsewhere)-1)
	}
	return " (no file of that name exists anywhere in the image)"
}

// missNote lowers the severity (and says why) when the search path may be
// different at run time.
func missNote(t *analyze.Target, s *analyze.BinScan, f *Finding, m analyze.LibMiss) string {
	var notes []string
	if s.ChainScriptSetsLibPath != "" && len(m.Elsewhere) > 0 {
		f.Severity = Warning
		notes = append(notes, fmt.Sprintf(" %s sets LD_LIBRARY_PATH, which may add the library's directory at run time: check it.", s.ChainScriptSetsLibPath))
	}
	if cfg := t.LDConfig(analyze.MachineArch(m.Root.File.ELF.Machine, m.Root.File.ELF.Class)); cfg.CacheErr != nil && !m.Musl {
		f.Severity = Warning
		notes = append(notes, fmt.Sprintf(" /etc/ld.so.cache could not be read (%v), so libraries it may list were not seen.", cfg.CacheErr))
	}
	return strings.Join(notes, "")
}

func missEvidence(t *analyze.Target, m analyze.LibMiss) []string {
	e := m.Root.File.ELF
	ev := []string{fmt.Sprintf("%s: %s", m.Root.Path, e.Describe())}
	if len(m.Via) > 0 {
		ev = append(ev, "load chain: "+strings.Join(append([]string{m.Root.Path}, m.Via...), " -> ")+" -> "+m.Name)
	}
	if v, ok := analyze.Getenv(t.Config().Env, "LD_LIBRARY_PATH"); ok {
		ev = append(ev, "ENV LD_LIBRARY_PATH="+v)
	} else {
		ev = append(ev, "LD_LIBRARY_PATH: not set in the image's ENV")
	}
	ev = append(ev, fmt.Sprintf("searched for %s: %s", m.Name, strings.Join(m.Steps, ", ")))
	for _, w := range m.WrongArch {
		ev = append(ev, "skipped (wrong machine): "+w)
	}
	for i, p := range m.Elsewhere {
		if i == 3 {
			ev = append(ev, fmt.Sprintf("… and %d more files named %s", len(m.Elsewhere)-3, m.Name))
			break
		}
		if en, ok := t.FS.Lookup(p); ok {
			ev = append(ev, fmt.Sprintf("found elsewhere: %s (%s)", p, t.Describe(en)))
		}
	}
	return ev
}

// libPackages maps common sonames (by prefix) to the package that
// provides them: dnf (Amazon Linux 2023, Fedora), apt (Debian, Ubuntu),
// apk (Alpine).
var libPackages = []struct{ prefix, dnf, apt, apk string }{
	{"libGL.so", "mesa-libGL", "libgl1", "mesa-gl"},
	{"libEGL.so", "mesa-libEGL", "libegl1", "mesa-egl"},
	{"libgthread-2.0.so", "glib2", "libglib2.0-0", "glib"},
	{"libglib-2.0.so", "glib2", "libglib2.0-0", "glib"},
	{"libgobject-2.0.so", "glib2", "libglib2.0-0", "glib"},
	{"libstdc++.so", "libstdc++", "libstdc++6", "libstdc++"},
	{"libgcc_s.so", "libgcc", "libgcc-s1", "libgcc"},
	{"libgomp.so", "libgomp", "libgomp1", "libgomp"},
	{"libgfortran.so", "libgfortran", "libgfortran5", "libgfortran"},
	{"libatomic.so", "libatomic", "libatomic1", "libatomic"},
	{"libX11.so", "libX11", "libx11-6", "libx11"},
	{"libXext.so", "libXext", "libxext6", "libxext"},
	{"libXrender.so", "libXrender", "libxrender1", "libxrender"},
	{"libSM.so", "libSM", "libsm6", "libsm"},
	{"libICE.so", "libICE", "libice6", "libice"},
	{"libxkbcommon.so", "libxkbcommon", "libxkbcommon0", "libxkbcommon"},
	{"libnss3.so", "nss", "libnss3", "nss"},
	{"libnspr4.so", "nspr", "libnspr4", "nspr"},
	{"libasound.so", "alsa-lib", "libasound2", "alsa-lib"},
	{"libgbm.so", "mesa-libgbm", "libgbm1", "mesa-gbm"},
	{"libdrm.so", "libdrm", "libdrm2", "libdrm"},
	{"libcups.so", "cups-libs", "libcups2", "cups-libs"},
	{"libatk-1.0.so", "atk", "libatk1.0-0", "at-spi2-core"},
	{"libpango-1.0.so", "pango", "libpango-1.0-0", "pango"},
	{"libcairo.so", "cairo", "libcairo2", "cairo"},
	{"libfreetype.so", "freetype", "libfreetype6", "freetype"},
	{"libfontconfig.so", "fontconfig", "libfontconfig1", "fontconfig"},
	{"libpng16.so", "libpng", "libpng16-16", "libpng"},
	{"libjpeg.so", "libjpeg-turbo", "libjpeg62-turbo", "libjpeg-turbo"},
	{"libssl.so.3", "openssl-libs", "libssl3", "libssl3"},
	{"libcrypto.so.3", "openssl-libs", "libssl3", "libcrypto3"},
	{"libssl.so.1.1", "compat-openssl11", "libssl1.1", ""},
	{"libcrypto.so.1.1", "compat-openssl11", "libssl1.1", ""},
	{"libz.so", "zlib", "zlib1g", "zlib"},
	{"libffi.so", "libffi", "libffi8", "libffi"},
	{"libpq.so", "libpq", "libpq5", "libpq"},
	{"libxml2.so", "libxml2", "libxml2", "libxml2"},
	{"libxslt.so", "libxslt", "libxslt1.1", "libxslt"},
	{"libcurl.so", "libcurl-minimal", "libcurl4", "libcurl"},
	{"libuuid.so", "libuuid", "libuuid1", "libuuid"},
	{"libexpat.so", "expat", "libexpat1", "expat"},
	{"libgssapi_krb5.so", "krb5-libs", "libgssapi-krb5-2", "krb5-libs"},
	{"libicuuc.so", "libicu", "libicu72", "icu-libs"},
	{"libicui18n.so", "libicu", "libicu72", "icu-libs"},
	{"libsqlite3.so", "sqlite-libs", "libsqlite3-0", "sqlite-libs"},
	{"libbz2.so", "bzip2-libs", "libbz2-1.0", "libbz2"},
	{"liblzma.so", "xz-libs", "liblzma5", "xz-libs"},
}

// packageManager names the image's package manager and its install
// command prefix.
func packageManager(t *analyze.Target) (kind, install string) {
	exists := func(p string) bool {
		r := t.FS.Resolve(p)
		return r.Err == nil && r.Entry != nil
	}
	switch {
	case exists("/sbin/apk"):
		return "apk", "RUN apk add --no-cache "
	case exists("/usr/bin/apt-get"):
		return "apt", "RUN apt-get update && apt-get install -y --no-install-recommends "
	case exists("/usr/bin/dnf") || exists("/usr/bin/microdnf"):
		return "dnf", "RUN dnf install -y "
	case exists("/usr/bin/yum"):
		return "dnf", "RUN yum install -y "
	}
	return "", ""
}

// libFix is the install line (or the search-path change) for a miss.
func libFix(t *analyze.Target, m analyze.LibMiss) string {
	if m.ConfOnly != "" {
		return "RUN ldconfig (after the step that adds " + path.Join(m.ConfOnly, m.Name) + ")"
	}
	if len(m.WrongArch) > 0 {
		w, _, _ := strings.Cut(m.WrongArch[0], " (")
		arch := analyze.MachineArch(m.Root.File.ELF.Machine, m.Root.File.ELF.Class)
		return fmt.Sprintf("replace %s with its linux/%s build (build or download it for %s, e.g. in a docker build --platform linux/%s stage)", w, arch, analyze.ArchMachine(arch), arch)
	}
	if len(m.Elsewhere) > 0 {
		dir := path.Dir(m.Elsewhere[0])
		if v, ok := analyze.Getenv(t.Config().Env, "LD_LIBRARY_PATH"); ok && v != "" {
			return fmt.Sprintf("ENV LD_LIBRARY_PATH=%s:%s (or move %s into a directory already on it)", v, dir, m.Name)
		}
		return fmt.Sprintf("ENV LD_LIBRARY_PATH=%s (or link with -Wl,-rpath,'$ORIGIN/...' so the binary finds it)", dir)
	}
	kind, install := packageManager(t)
	for _, p := range libPackages {
		if !strings.HasPrefix(m.Name, p.prefix) {
			continue
		}
		pkg := map[string]string{"dnf": p.dnf, "apt": p.apt, "apk": p.apk}[kind]
		if pkg != "" {
			return install + pkg
		}
		if kind == "" {
			return fmt.Sprintf("install the package that provides %s (dnf install %s / apt-get install %s / apk add %s), or vendor %s into /var/task/lib and put that directory on LD_LIBRARY_PATH", m.Name, p.dnf, p.apt, p.apk, m.Name)
		}
	}
	sort.Strings(m.Elsewhere)
	return fmt.Sprintf("install the package that provides %s, or vendor it: COPY %s /var/task/lib/ and make sure /var/task/lib is on LD_LIBRARY_PATH (AWS base images already include it)", m.Name, m.Name)
}
