package analyze

import (
	"context"
	delf "debug/elf"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file gathers the ELF files a function runs or loads — the
// entrypoint chain's binaries, the extensions, native modules (Python
// extension modules, Node addons, shared objects under /var/task and /opt)
// — and resolves their DT_NEEDED libraries the way the dynamic linker
// would. LD301–LD304 read the result, computed once per Target.

// BinRole says why a file is examined.
type BinRole int

const (
	RoleChain BinRole = iota + 1
	RoleExtension
	RoleModule
)

// BinTarget is one examined file.
type BinTarget struct {
	Role BinRole
	// Shown is the path as named (the chain link's name resolved, the
	// extension or module path); Path is the regular file it resolves to.
	Shown, Path string
	Entry       *imagefs.Entry
	File        *ELFFile
	// LinkIndex is the chain link's index (roleChain only).
	LinkIndex int
}

// LibMiss is a DT_NEEDED library the dynamic linker would not find.
type LibMiss struct {
	Name string
	// Root is the chain binary or module whose loading needs it; Via lists
	// the libraries between Root and the object naming Name.
	Root *BinTarget
	Via  []string
	// Steps are the places searched, in order, each "dir (why)".
	Steps []string
	// WrongArch are candidates skipped because their ELF class or machine
	// differs, with their machine.
	WrongArch []string
	// ConfOnly is a directory of /etc/ld.so.conf holding the library that
	// ld.so.cache does not list (ldconfig was not run after it arrived).
	ConfOnly string
	// Elsewhere are files of that name elsewhere in the image.
	Elsewhere []string
	// Musl is true when the loader is musl's.
	Musl bool
}

// BinScan is the result of the scan.
type BinScan struct {
	// Arch is the architecture binaries must have ("" when unknown), and
	// ArchFrom says where it comes from.
	Arch, ArchFrom string
	Chain          []*BinTarget
	Extensions     []*BinTarget
	Modules        []*BinTarget
	// ModulesMore counts native modules beyond the bound, not examined.
	ModulesMore int
	Misses      []LibMiss
	// ChainScriptSetsLibPath is a chain script that mentions
	// LD_LIBRARY_PATH (so the search path may differ at run time).
	ChainScriptSetsLibPath string
}

// Bounds of the scan.
const (
	MaxModules     = 2000
	maxLoadObjects = 2000
	maxLoadDepth   = 8
)

// Binaries returns the scan of t, computed once.
func (t *Target) Binaries(ctx context.Context) (*BinScan, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrNotApplicable)
	}
	r := t.facts.binaries.get(func() binariesResult {
		s, err := scanBinaries(ctx, t)
		return binariesResult{s, err}
	})
	return r.scan, r.err
}

// functionArch is the architecture the function runs as: the function's
// (t.Arch), else the image config's when it is a Lambda architecture.
func functionArch(t *Target) (string, string) {
	if t.Arch != "" {
		return t.Arch, "the function's architecture"
	}
	if t.Image != nil && t.Image.Config != nil {
		switch a := t.Image.Config.Architecture; a {
		case "amd64", "arm64":
			return a, "config.architecture"
		}
	}
	return "", ""
}

func scanBinaries(ctx context.Context, t *Target) (*BinScan, error) {
	s := &BinScan{}
	s.Arch, s.ArchFrom = functionArch(t)

	// The entrypoint chain.
	c := t.Chain()
	seen := map[string]bool{}
	for i := range c.Links {
		l := &c.Links[i]
		if l.Kind == LinkScript && s.ChainScriptSetsLibPath == "" {
			text := l.Text()
			if text == nil {
				text, _ = ReadPrefix(t.FS, l.Path, MaxScriptRead)
			}
			if strings.Contains(string(text), "LD_LIBRARY_PATH") {
				s.ChainScriptSetsLibPath = l.Path
			}
		}
		if l.Entry == nil || !l.Entry.IsRegular() || l.Path == "" || seen[l.Path] {
			continue
		}
		if l.Kind != LinkELF && l.Kind != LinkOther {
			continue
		}
		seen[l.Path] = true
		s.Chain = append(s.Chain, &BinTarget{Role: RoleChain, Shown: l.Path, Path: l.Path, Entry: l.Entry, LinkIndex: i})
	}

	// Extensions: regular files (or links to them) directly in
	// /opt/extensions.
	if ents, err := t.FS.ReadDir("opt/extensions"); err == nil {
		for _, de := range ents {
			p := "/opt/extensions/" + de.Name()
			r := t.FS.Resolve(p)
			if r.Err != nil || r.Entry == nil || !r.Entry.IsRegular() {
				continue
			}
			s.Extensions = append(s.Extensions, &BinTarget{Role: RoleExtension, Shown: p, Path: r.Final, Entry: r.Entry})
		}
	}

	// Native modules.
	n := 0
	err := t.FS.Walk(func(e *imagefs.Entry) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !e.IsRegular() || e.Size < 64 || !isNativeModule(e.Path) {
			return nil
		}
		if len(s.Modules) >= MaxModules {
			s.ModulesMore++
			return nil
		}
		s.Modules = append(s.Modules, &BinTarget{Role: RoleModule, Shown: e.Path, Path: e.Path, Entry: e})
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Read them, one pass per layer.
	var ps []string
	for _, group := range [][]*BinTarget{s.Chain, s.Extensions, s.Modules} {
		for _, b := range group {
			ps = append(ps, b.Path)
		}
	}
	if err := t.preloadELFs(ctx, ps); err != nil {
		return nil, err
	}
	for _, group := range [][]*BinTarget{s.Chain, s.Extensions, s.Modules} {
		for _, b := range group {
			b.File = t.elfAt(b.Path)
		}
	}

	// Libraries: the chain's binaries first; what they load is already in
	// the process when native modules are loaded into it.
	ld := newLoader(t, s)
	var chainRoots, moduleRoots []*BinTarget
	for _, b := range s.Chain {
		if ld.loadable(b) {
			chainRoots = append(chainRoots, b)
		}
	}
	for _, b := range s.Modules {
		if ld.loadable(b) {
			moduleRoots = append(moduleRoots, b)
		}
	}
	if err := ld.run(ctx, chainRoots, nil); err != nil {
		return nil, err
	}
	preloaded := map[string]string{}
	for k, v := range ld.loadedAll {
		preloaded[k] = v
	}
	if err := ld.run(ctx, moduleRoots, preloaded); err != nil {
		return nil, err
	}
	s.Misses = ld.misses
	return s, nil
}

// isNativeModule reports whether p is a native module a function may load:
// *.so under /var/task, /opt (not the extensions themselves) or a Python
// site-packages/dist-packages directory, and *.node under node_modules.
func isNativeModule(p string) bool {
	base := path.Base(p)
	switch {
	case strings.HasSuffix(base, ".node"):
		return strings.Contains(p, "/node_modules/")
	case strings.HasSuffix(base, ".so"):
		if path.Dir(p) == "/opt/extensions" {
			return false
		}
		return strings.HasPrefix(p, "/var/task/") || strings.HasPrefix(p, "/opt/") ||
			strings.Contains(p, "/site-packages/") || strings.Contains(p, "/dist-packages/")
	}
	return false
}

// PlatformDir reports whether a directory on p's way names a platform
// (prebuilds/linux-arm64, darwin-x64, ...): packages that ship binaries for
// several platforms and pick one at run time.
func PlatformDir(p string) bool {
	dir := strings.ToLower(path.Dir(p))
	for _, w := range []string{"prebuild", "prebuilt", "darwin", "win32", "windows", "macos", "android", "arm64", "aarch64", "x64", "x86_64", "x86-64", "amd64", "ia32", "armv7", "musl", "linux-", "linux_"} {
		if strings.Contains(dir, w) {
			return true
		}
	}
	return false
}

// loadObj is an object being loaded, with what its dependencies need to
// know of it.
type loadObj struct {
	path    string   // as found (for $ORIGIN)
	final   string   // resolved
	info    *ELFInfo // parsed
	root    *BinTarget
	via     []string   // libraries from root to this object
	parents []*loadObj // loaders, nearest first (for DT_RPATH and musl)
	depth   int
}

// loader resolves DT_NEEDED libraries.
type loader struct {
	t         *Target
	s         *BinScan
	libPath   []string // LD_LIBRARY_PATH from the image's ENV
	lambdaLib []string // Lambda's documented LD_LIBRARY_PATH
	wd        string
	loadedAll map[string]string
	objects   int
	misses    []LibMiss
	missSeen  map[string]bool
	index     map[string][]string // basename -> files in the image (lazy)
}

func newLoader(t *Target, s *BinScan) *loader {
	ld := &loader{t: t, s: s, missSeen: map[string]bool{}, loadedAll: map[string]string{}, wd: t.Argv().WorkingDir}
	if v, ok := Getenv(t.Config().Env, "LD_LIBRARY_PATH"); ok {
		ld.libPath = splitPathList(v)
	}
	ld.lambdaLib = splitPathList(lambdaLibraryPath)
	return ld
}

// loadable reports whether b's libraries can be resolved: a fully read
// dynamic ELF whose interpreter (if any) exists.
func (ld *loader) loadable(b *BinTarget) bool {
	f := b.File
	if f == nil || f.ELF == nil || !f.ELF.DynamicRead || len(f.ELF.Needed) == 0 {
		return false
	}
	if ld.s.Arch != "" && f.ELF.Arch() != ld.s.Arch {
		return false // LD301's finding; its libraries are moot
	}
	if b.Role == RoleModule && (PlatformDir(b.Path) || strings.HasPrefix(path.Base(b.Path), "lib") || f.ELF.Soname != "") {
		// Libraries (lib*.so, or with a SONAME) are loaded as some
		// module's dependency, with that module's search path; only the
		// modules themselves start a load.
		return false
	}
	if in := f.ELF.Interp; in != "" {
		r := ld.t.FS.Resolve(in)
		return r.Err == nil && r.Entry != nil && r.Entry.IsRegular()
	}
	return true
}

// musl reports whether objects started from root are loaded by musl.
func (ld *loader) musl(root *BinTarget) bool {
	if in := root.File.ELF.Interp; in != "" {
		if interpLibc(in) == "musl" {
			return true
		}
		r := ld.t.FS.Resolve(in)
		return strings.Contains(path.Base(r.Final), "musl")
	}
	// A module: the process's loader, judged from the chain.
	for _, b := range ld.s.Chain {
		if b.File != nil && b.File.ELF != nil && b.File.ELF.Interp != "" {
			return ld.musl(b)
		}
	}
	return ImageLibc(ld.t.FS, MachineArch(root.File.ELF.Machine, root.File.ELF.Class)).Libc == "musl"
}

// run loads roots breadth first, a level at a time, reading each level's
// candidate files in one pass per layer.
func (ld *loader) run(ctx context.Context, roots []*BinTarget, preloaded map[string]string) error {
	loaded := map[*BinTarget]map[string]string{}
	var level []*loadObj
	for _, r := range roots {
		m := map[string]string{}
		for k, v := range preloaded {
			m[k] = v
		}
		loaded[r] = m
		level = append(level, &loadObj{path: r.Shown, final: r.Path, info: r.File.ELF, root: r})
	}
	visited := map[string]bool{}
	for depth := 0; len(level) > 0 && depth <= maxLoadDepth; depth++ {
		type need struct {
			obj   *loadObj
			name  string
			steps []searchStep
		}
		var needs []need
		var cands []string
		for _, o := range level {
			musl := ld.musl(o.root)
			for _, name := range o.info.Needed {
				if providedByLoader(name, musl) {
					continue
				}
				if _, ok := loaded[o.root][name]; ok {
					continue
				}
				steps := ld.search(o, name, musl)
				needs = append(needs, need{o, name, steps})
				for _, st := range steps {
					for _, c := range st.files {
						cands = append(cands, c.final)
					}
				}
			}
		}
		if err := ld.t.preloadELFs(ctx, cands); err != nil {
			return err
		}
		var next []*loadObj
		for _, nd := range needs {
			o := nd.obj
			if _, ok := loaded[o.root][nd.name]; ok {
				continue // found meanwhile by a sibling
			}
			musl := ld.musl(o.root)
			var wrong []string
			found := false
			for _, st := range nd.steps {
				for _, c := range st.files {
					f := ld.t.elfAt(c.final)
					if f.ELF == nil || f.ELF.Machine != o.info.Machine || f.ELF.Class != o.info.Class {
						what := "not ELF"
						if f.ELF != nil {
							what = MachineName(f.ELF.Machine, f.ELF.Class)
						}
						wrong = append(wrong, c.path+" ("+what+")")
						continue
					}
					found = true
					loaded[o.root][nd.name] = c.final
					ld.loadedAll[nd.name] = c.final
					if so := f.ELF.Soname; so != "" {
						loaded[o.root][so] = c.final
						ld.loadedAll[so] = c.final
					}
					if !visited[o.root.Path+"\x00"+c.final] && f.ELF.DynamicRead && len(f.ELF.Needed) > 0 && ld.objects < maxLoadObjects {
						visited[o.root.Path+"\x00"+c.final] = true
						ld.objects++
						next = append(next, &loadObj{path: c.path, final: c.final, info: f.ELF, root: o.root,
							via: append(append([]string{}, o.via...), c.path), parents: append([]*loadObj{o}, o.parents...), depth: o.depth + 1})
					}
					break
				}
				if found {
					break
				}
			}
			if !found {
				ld.miss(o, nd.name, nd.steps, wrong, musl)
			}
		}
		level = next
	}
	return nil
}

// searchStep is one place the linker looks, with what exists there.
type searchStep struct {
	label string // "/var/task/lib (DT_RUNPATH $ORIGIN/lib of /var/task/app)"
	files []libFile
}

type libFile struct{ path, final string }

// providedByLoader reports names the dynamic linker satisfies itself.
func providedByLoader(name string, musl bool) bool {
	base := path.Base(name)
	switch {
	case base == "linux-vdso.so.1", base == "linux-gate.so.1", strings.HasPrefix(base, "ld-linux"), strings.HasPrefix(base, "ld64.so"), strings.HasPrefix(base, "ld-musl-"):
		return true
	case musl:
		// musl's loader is its libc, and answers for glibc's split
		// libraries (ldso/dynlink.c, "reserved" names).
		for _, r := range []string{"c", "pthread", "rt", "m", "dl", "util", "xnet", "crypt"} {
			if strings.HasPrefix(base, "lib"+r+".") {
				return true
			}
		}
	}
	return false
}

// search lists where the linker looks for name needed by o, in order.
func (ld *loader) search(o *loadObj, name string, musl bool) []searchStep {
	t := ld.t
	var steps []searchStep
	seenDir := map[string]bool{}
	add := func(dir, why string) {
		p := path.Join(dir, name)
		if seenDir[dir] {
			return
		}
		seenDir[dir] = true
		st := searchStep{label: dir + " (" + why + ")"}
		if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
			st.files = append(st.files, libFile{p, r.Final})
		}
		steps = append(steps, st)
	}
	arch := MachineArch(o.info.Machine, o.info.Class)
	if strings.Contains(name, "/") {
		p := name
		if !strings.HasPrefix(p, "/") {
			p = path.Join("/", ld.wd, p)
		}
		add(path.Dir(p), "the path in DT_NEEDED")
		return steps
	}
	origins := func(x *loadObj) []string {
		out := []string{path.Dir(x.path)}
		if d := path.Dir(x.final); d != out[0] {
			out = append(out, d)
		}
		return out
	}
	rpathOf := func(x *loadObj, tag string, dirs []string) {
		for _, d := range dirs {
			for _, e := range expandDST(d, origins(x), arch) {
				add(e, fmt.Sprintf("%s %s of %s", tag, d, x.path))
			}
		}
	}
	if musl {
		for _, d := range ld.libPath {
			add(d, "LD_LIBRARY_PATH")
		}
		for _, x := range append([]*loadObj{o}, o.parents...) {
			if x.info.HasRunPath {
				rpathOf(x, "DT_RUNPATH", x.info.RunPath)
			} else {
				rpathOf(x, "DT_RPATH", x.info.RPath)
			}
		}
		cfg := t.LDConfig(arch)
		if cfg.MuslPathFile != "" {
			for _, d := range cfg.MuslPath {
				add(path.Clean(d), cfg.MuslPathFile)
			}
		} else {
			for _, d := range muslDefaultDirs {
				add(d, "musl default")
			}
		}
		return steps
	}
	if !o.info.HasRunPath {
		for _, x := range append([]*loadObj{o}, o.parents...) {
			if !x.info.HasRunPath {
				rpathOf(x, "DT_RPATH", x.info.RPath)
			}
		}
	}
	for _, d := range ld.libPath {
		add(d, "LD_LIBRARY_PATH")
	}
	if o.info.HasRunPath {
		rpathOf(o, "DT_RUNPATH", o.info.RunPath)
	}
	cfg := t.LDConfig(arch)
	if cfg.Cache != nil {
		st := searchStep{label: "/etc/ld.so.cache"}
		for _, e := range cfg.Cache.Entries {
			if e.Name != name || !cacheFlagsFit(e.Flags, arch) {
				continue
			}
			if r := t.FS.Resolve(e.Path); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
				st.files = append(st.files, libFile{e.Path, r.Final})
			}
		}
		steps = append(steps, st)
	}
	for _, d := range glibcDefaultDirs(arch) {
		add(d, "default directory")
	}
	return steps
}

// miss records a library not found, unless it is found where the search
// cannot be sure it is not looked (Lambda's own LD_LIBRARY_PATH).
func (ld *loader) miss(o *loadObj, name string, steps []searchStep, wrong []string, musl bool) {
	t := ld.t
	for _, d := range ld.lambdaLib {
		r := t.FS.Resolve(path.Join(d, name))
		if r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
			if f := t.elfAt(r.Final); f.ELF != nil && f.ELF.Machine == o.info.Machine {
				return // unconfirmed whether Lambda searches it: do not report
			}
		}
	}
	key := o.root.Path + "\x00" + name
	if ld.missSeen[key] {
		return
	}
	ld.missSeen[key] = true
	m := LibMiss{Name: name, Root: o.root, Via: o.via, WrongArch: wrong, Musl: musl}
	for _, st := range steps {
		m.Steps = append(m.Steps, st.label)
	}
	if !musl {
		arch := MachineArch(o.info.Machine, o.info.Class)
		for _, d := range t.LDConfig(arch).ConfDirs {
			r := t.FS.Resolve(path.Join(d, name))
			if r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
				m.ConfOnly = d
				break
			}
		}
	}
	m.Elsewhere = ld.elsewhere(name)
	ld.misses = append(ld.misses, m)
}

// elsewhere lists files named name anywhere in the image (built once for
// all names on first use).
func (ld *loader) elsewhere(name string) []string {
	if ld.index == nil {
		ld.index = map[string][]string{}
		_ = ld.t.FS.Walk(func(e *imagefs.Entry) error {
			if e.IsDir() {
				return nil
			}
			b := path.Base(e.Path)
			if strings.Contains(b, ".so") {
				ld.index[b] = append(ld.index[b], e.Path)
			}
			return nil
		})
	}
	out := append([]string{}, ld.index[path.Base(name)]...)
	sort.Strings(out)
	return out
}

// LibcInfo says which C library an image has.
type LibcInfo struct {
	Libc   string // "glibc", "musl", "" (none found)
	Loader string // the loader's path
}

// ImageLibc finds the dynamic loader of arch in the image.
func ImageLibc(fsys *imagefs.FS, arch string) LibcInfo {
	var glibc, musl []string
	switch arch {
	case "amd64":
		glibc = []string{"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"}
		musl = []string{"/lib/ld-musl-x86_64.so.1"}
	case "arm64":
		glibc = []string{"/lib/ld-linux-aarch64.so.1", "/lib64/ld-linux-aarch64.so.1", "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"}
		musl = []string{"/lib/ld-musl-aarch64.so.1"}
	default:
		return LibcInfo{}
	}
	exists := func(p string) bool {
		r := fsys.Resolve(p)
		return r.Err == nil && r.Entry != nil && r.Entry.IsRegular()
	}
	for _, p := range musl {
		if exists(p) {
			// gcompat links the glibc names to musl: still musl.
			return LibcInfo{Libc: "musl", Loader: p}
		}
	}
	for _, p := range glibc {
		if exists(p) {
			return LibcInfo{Libc: "glibc", Loader: p}
		}
	}
	return LibcInfo{}
}

// ELFFits reports whether an ELF suits a Lambda architecture (64-bit
// x86-64 for amd64, 64-bit AArch64 for arm64); any ELF fits "".
func ELFFits(e *ELFInfo, arch string) bool {
	switch arch {
	case "amd64":
		return e.Machine == delf.EM_X86_64 && e.Class == delf.ELFCLASS64
	case "arm64":
		return e.Machine == delf.EM_AARCH64 && e.Class == delf.ELFCLASS64
	}
	return true
}
