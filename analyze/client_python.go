package analyze

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// This file is the Python runtime: awslambdaric started by python -m,
// the modules python runs, its handler syntax (module.function) and the
// directories it imports the handler from (sys.path).

// pythonName matches the names of a Python interpreter.
var pythonName = regexp.MustCompile(`^python[0-9.]*$`)

func init() {
	register(&runtime{
		Client: ClientPython, Language: "python", order: 1,
		interpreter: pythonName,
		links: []linkRecogniser{{
			prio:   40,
			match:  func(l *Link) bool { return isName(l, pythonName) && l.Kind == LinkELF },
			follow: (*RICAnalysis).python,
		}},
		marker:    "awslambdaric",
		scanExts:  []string{".py"},
		afterScan: pythonConsoleScript,
		installed: func(t *Target, e *imagefs.Entry) bool {
			if path.Base(e.Path) != "awslambdaric" || !e.IsDir() {
				return false
			}
			_, ok := t.FS.Lookup(e.Path + "/__init__.py")
			return ok
		},
		awsBaseGlobs: []string{"/var/lang/bin/python3*"},
		handler: &handlerSyntax{
			baseLabel: "the AWS Python base image's runtime",
			label:     "the Python runtime interface client (awslambdaric)",
			sourceExt: ".py",
			parse:     parsePython,
			roots:     rootsPython,
			resolve:   resolvePython,
			functions: []*regexp.Regexp{regexp.MustCompile(`(?m)^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(`)},
		},
		tlsName:  func(n string) bool { return strings.HasPrefix(n, "python") },
		tlsStack: StackPython,
		tlsWhy:   func(string) string { return "a Python interpreter" },
	})
}

// pythonConsoleScript judges a console-script stub (/usr/local/bin/uvicorn)
// by the module it imports, when scanning found no marker.
func pythonConsoleScript(a *RICAnalysis, t *Target, c *Chain, i int, r imagefs.Resolution, lang string) bool {
	if !r.Entry.IsRegular() || strings.HasSuffix(r.Final, ".py") {
		return false
	}
	if b, err := ReadBounded(t.FS, r.Final, MaxSourceRead); err == nil {
		if m := stubImport.FindSubmatch(b); m != nil {
			mod := string(m[1])
			top := strings.SplitN(mod, ".", 2)[0]
			switch {
			case WebServers[top]:
				a.Why = append(a.Why, fmt.Sprintf("%s is the command-line entry of %s, a web server, which never polls the Runtime API", r.Final, top))
			default:
				where, _, _ := findPythonModule(t, &c.Links[i], top)
				if where == "" {
					a.Undecided = fmt.Sprintf("%s runs the package %s, which was not found, so its code was not scanned", r.Final, top)
					return true
				}
				a.Why = append(a.Why, fmt.Sprintf("%s imports %s from %s", r.Final, mod, where))
				sub := &RICAnalysis{Link: -1, LangLink: -1, NPX: -1}
				sub.scanSources(t, c, i, where, lang)
				if sub.Client.Name != "" || sub.Undecided != "" {
					a.Client, a.Link, a.Undecided = sub.Client, sub.Link, sub.Undecided
					return true
				}
				a.Why = append(a.Why, sub.Why...)
			}
		}
	}
	return false
}

// pythonArgs splits a python command line: the module after -m, or the
// script, or -c code, and the arguments after it.
func pythonArgs(args []string) (module, script, code string, rest []string, ok bool) {
	for j := 0; j < len(args); j++ {
		a := args[j]
		switch {
		case a == "-m" && j+1 < len(args):
			return args[j+1], "", "", args[j+2:], true
		case strings.HasPrefix(a, "-m") && len(a) > 2:
			return a[2:], "", "", args[j+1:], true
		case a == "-c" && j+1 < len(args):
			return "", "", args[j+1], args[j+2:], true
		case a == "-W" || a == "-X" || a == "--check-hash-based-pycs":
			j++
		case a == "-" || a == "--":
			if a == "--" && j+1 < len(args) {
				return "", args[j+1], "", args[j+2:], true
			}
			return "", "", "", nil, false
		case strings.HasPrefix(a, "-"):
		default:
			return "", a, "", args[j+1:], true
		}
	}
	return "", "", "", nil, false
}

func (a *RICAnalysis) python(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	module, script, code, _, ok := pythonArgs(l.Args)
	a.Lang, a.LangLink = "python", i
	switch {
	case !ok:
		a.Undecided = fmt.Sprintf("%s gets no script or module to run", l.Name)
	case module == "awslambdaric":
		idx := indexOf(l.Args, "awslambdaric")
		if idx < 0 {
			idx = indexOf(l.Args, "-mawslambdaric")
		}
		a.Handler = argHandler(t, c, i, l.Args, idx+1)
		where, ev, hid := findPythonPackage(t, l, "awslambdaric")
		if where == "" {
			a.Missing = fmt.Sprintf("the entrypoint runs %s -m awslambdaric, but there is no awslambdaric package in the directories that python searches", l.Name)
			if hid != nil {
				a.Missing = fmt.Sprintf("the entrypoint runs %s -m awslambdaric, but awslambdaric is installed only at %s, where python does not look under Lambda", l.Name, path.Dir(hid.Path))
				a.MissingHidden = hid
			}
			a.Why = ev
			a.Link = i
			return true
		}
		a.setClient(c, i, ClientPython, "python", where, ev...)
	case code != "":
		if name, ok := textClient([]byte(code), "python"); ok {
			a.setClient(c, i, name, "python", l.Path, "python -c code mentions the runtime client")
			return true
		}
		a.Undecided = fmt.Sprintf("%s runs -c code, which was not followed", l.Name)
	case module != "":
		a.Program = module
		if WebServers[module] || WebServers[strings.SplitN(module, ".", 2)[0]] {
			a.Why = []string{fmt.Sprintf("python -m %s runs a web server, which never polls the Runtime API", module)}
			return true
		}
		where, _, _ := findPythonModule(t, l, module)
		if where == "" {
			a.Undecided = fmt.Sprintf("the module %s that %s runs was not found, so its code was not scanned", module, l.Name)
			return true
		}
		a.scanSources(t, c, i, where, "python")
	default:
		p := path.Join("/", t.Argv().WorkingDir, script)
		if strings.HasPrefix(script, "/") {
			p = path.Clean(script)
		}
		a.Program = p
		a.scanSources(t, c, i, p, "python")
	}
	return true
}

// pythonVersion reads "3.12" from a python link's names.
func pythonVersion(l *Link) string {
	for _, n := range []string{base(l.Path), base(l.Name)} {
		if v := strings.TrimPrefix(n, "python"); v != n && strings.Count(v, ".") == 1 {
			return v
		}
	}
	return ""
}

// HiddenDir is a directory that holds Python packages but that the
// function's python does not search under Lambda, and why.
type HiddenDir struct {
	Path, Why string
}

// pythonPath returns the directories a python started by link l
// searches: the working directory (sys.path[0] for -m), PYTHONPATH, and
// every site-packages/dist-packages directory in the image for its
// version (all versions when it is unknown). zip is set when PYTHONPATH
// holds an archive, which is not searched. hidden are the site-packages
// directories the python does not search under Lambda's environment: the
// user site of another HOME (pip install --user), and directories the
// sandbox user cannot list.
func pythonPath(t *Target, l *Link, extra ...string) (dirs []string, zip bool, hidden []HiddenDir) {
	cfg := t.Config()
	seen := map[string]bool{}
	add := func(d string) {
		if d == "" || !strings.HasPrefix(d, "/") {
			return
		}
		d = path.Clean(d)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	add(path.Join("/", t.Argv().WorkingDir))
	for _, d := range extra {
		add(d)
	}
	if pp, ok := Getenv(cfg.Env, "PYTHONPATH"); ok {
		for _, d := range strings.Split(pp, ":") {
			if strings.HasSuffix(d, ".zip") || strings.HasSuffix(d, ".egg") {
				zip = true
			}
			add(d)
		}
	}
	ver := ""
	var args []string
	if l != nil {
		ver = pythonVersion(l)
		args = l.Args
	}
	userSite := pythonUserSite(t, args)
	for _, d := range sitePackages(t) {
		if ver != "" && strings.Contains(d, "/python3.") && !strings.Contains(d, "/python"+ver+"/") {
			continue
		}
		if base, ok := userSiteBase(d); ok && !userSite.holds(d, ver) {
			hidden = append(hidden, HiddenDir{d, userSite.why(base)})
			continue
		}
		if err := SandboxAccess(t.FS, t.FS.Resolve(d), PermRead|PermExec); err != nil {
			hidden = append(hidden, HiddenDir{d, "python cannot list it under Lambda: " + err.Error()})
			continue
		}
		add(d)
		// Path lines of the directory's .pth files (site.addpackage):
		// absolute directories that exist join sys.path.
		for _, pd := range pthDirs(t, d) {
			add(pd)
		}
	}
	return dirs, zip, hidden
}

// pthDirs returns the directories the .pth files in site directory d add
// to sys.path: each line that is not a comment or an import statement,
// joined to d when relative, when it is a directory.
func pthDirs(t *Target, d string) []string {
	ents, err := t.FS.ReadDir(strings.TrimPrefix(d, "/"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pth") {
			continue
		}
		b, err := ReadBounded(t.FS, path.Join(d, e.Name()), MaxSourceRead)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimRight(line, "\r \t")
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "import ") || strings.HasPrefix(line, "import\t") {
				continue
			}
			p := line
			if !strings.HasPrefix(p, "/") {
				p = path.Join(d, p)
			}
			if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil && r.Entry.IsDir() {
				out = append(out, path.Clean(p))
			}
		}
	}
	return out
}

// PythonEditableFinder returns a .pth file in the site directories of hs
// that installs an import hook for an editable install (setuptools'
// __editable___*_finder): modules it maps are importable from anywhere.
func PythonEditableFinder(t *Target, hs HandlerSpec) string {
	for _, d := range hs.Roots {
		if !strings.HasSuffix(d, "-packages") {
			continue
		}
		ents, err := t.FS.ReadDir(strings.TrimPrefix(d, "/"))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if n := e.Name(); strings.HasSuffix(n, ".pth") && strings.Contains(n, "__editable__") {
				if b, err := ReadBounded(t.FS, path.Join(d, n), MaxSourceRead); err == nil && strings.Contains(string(b), "import ") {
					return path.Join(d, n)
				}
			}
		}
	}
	return ""
}

// userSiteBase reports whether d is a user site-packages directory
// (HOME/.local/lib/pythonX.Y/site-packages, where pip install --user
// puts packages) and returns its HOME.
func userSiteBase(d string) (string, bool) {
	i := strings.Index(d, "/.local/lib/python")
	if i < 0 {
		return "", false
	}
	return d[:i], true
}

// LambdaHome is the HOME a function sees when its image sets no ENV HOME:
// observed on Lambda (npm's "EROFS: read-only file system, mkdir
// '/home/sbx_user1051'"), not documented. Whether Lambda sets HOME or
// programs derive it is unconfirmed; an image's ENV HOME is passed on.
const LambdaHome = "/home/sbx_user1051"

// userSite is the user base python derives from the function's
// environment (site.py getuserbase: PYTHONUSERBASE, else ~/.local with ~
// from HOME): never the HOME of the user who built the image, unless the
// image's ENV says so.
type userSite struct {
	base     string // the user base ("/root/.local"), "" when none
	home     string // HOME in the function's environment
	observed bool   // home is LambdaHome, not from the image's ENV
	disabled string // why the user site is off, "" when on
}

// pythonUserSite computes the user site python uses under Lambda, given
// its arguments (-s and -I turn it off).
func pythonUserSite(t *Target, args []string) userSite {
	env := lambda.Environment(t.Config().Env, lambda.Function{})
	var u userSite
	u.home, _ = Getenv(env, "HOME")
	if !strings.HasPrefix(u.home, "/") {
		u.home, u.observed = LambdaHome, true
	}
	for j := 0; j < len(args); j++ {
		a := args[j]
		switch {
		case a == "-W" || a == "-X":
			j++ // their value
			continue
		case strings.HasPrefix(a, "-m") || strings.HasPrefix(a, "-c") || a == "-" || !strings.HasPrefix(a, "-"):
			j = len(args)
			continue
		case strings.HasPrefix(a, "--") || strings.HasPrefix(a, "-W") || strings.HasPrefix(a, "-X"):
			continue
		}
		// A cluster of one-letter flags (-sB, -I).
		if strings.ContainsAny(a[1:], "sI") {
			u.disabled = "python runs with " + a
		}
	}
	if v, ok := Getenv(env, "PYTHONNOUSERSITE"); ok && v != "" {
		u.disabled = "PYTHONNOUSERSITE is set"
	}
	switch v, ok := Getenv(env, "PYTHONUSERBASE"); {
	case ok && v != "":
		u.base = path.Clean(v)
	default:
		u.base = path.Join(u.home, ".local")
	}
	return u
}

// holds reports whether d is the user site-packages directory python
// version ver adds (any version when ver is unknown).
func (u userSite) holds(d, ver string) bool {
	if u.base == "" || u.disabled != "" {
		return false
	}
	if ver == "" {
		return strings.HasPrefix(d, path.Join(u.base, "lib")+"/python")
	}
	return d == path.Join(u.base, "lib", "python"+ver, "site-packages")
}

// why says why the user site of HOME home is not searched.
func (u userSite) why(home string) string {
	lead := fmt.Sprintf("it is the user site-packages of HOME=%s (pip install --user), which python searches only when it runs with that HOME", home)
	switch {
	case u.disabled != "":
		return lead + "; the user site is off (" + u.disabled + ")"
	case u.observed:
		return lead + fmt.Sprintf(", and the image sets no ENV HOME, so under Lambda HOME is %s (observed, not documented)", u.home)
	}
	return lead + fmt.Sprintf(", and Lambda's environment has HOME=%s", u.home)
}

// sitePackages lists every site-packages and dist-packages directory in
// the image, computed once.
func sitePackages(t *Target) []string {
	return t.facts.sitePackages.get(func() []string {
		var out []string
		_ = t.FS.Walk(func(e *imagefs.Entry) error {
			if b := path.Base(e.Path); e.IsDir() && (b == "site-packages" || b == "dist-packages") {
				out = append(out, e.Path)
			}
			return nil
		})
		return out
	})
}

// findPythonModule finds module (dotted) in the directories python
// searches; it returns the file or package directory found, the
// directories searched, and a copy found only in a directory python does
// not search under Lambda (with the reason).
func findPythonModule(t *Target, l *Link, module string, extra ...string) (string, []string, *HiddenDir) {
	dirs, _, hidden := pythonPath(t, l, extra...)
	rel := strings.ReplaceAll(module, ".", "/")
	for _, d := range dirs {
		if p := PythonModuleAt(t.FS, path.Join(d, rel)); p != "" {
			return p, dirs, nil
		}
	}
	for _, h := range hidden {
		if p := PythonModuleAt(t.FS, path.Join(h.Path, rel)); p != "" {
			return "", dirs, &HiddenDir{p, h.Why}
		}
	}
	return "", dirs, nil
}

// PythonModuleAt returns what imports as the module at stem (a path
// without extension), in the order of CPython's FileFinder: a regular
// package stem/ (with an __init__ module), an extension module (stem.so,
// stem.abi3.so, stem.<tag>.so), stem.py, stem.pyc, then stem/ as a
// namespace package.
func PythonModuleAt(fsys *imagefs.FS, stem string) string {
	isFile := func(p string) bool {
		r := fsys.Resolve(p)
		return r.Err == nil && r.Entry != nil && r.Entry.IsRegular()
	}
	r := fsys.Resolve(stem)
	isDir := r.Err == nil && r.Entry != nil && r.Entry.IsDir()
	if isDir {
		for _, init := range []string{"__init__.py", "__init__.pyc", "__init__.so", "__init__.abi3.so"} {
			if isFile(path.Join(stem, init)) {
				return stem
			}
		}
	}
	dir, name := path.Split(stem)
	if ents, err := fsys.ReadDir(strings.TrimPrefix(path.Clean(dir), "/")); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), name+".") && strings.HasSuffix(e.Name(), ".so") && !e.IsDir() {
				if rest := strings.TrimSuffix(strings.TrimPrefix(e.Name(), name+"."), ".so"); !strings.Contains(rest, ".") {
					return path.Join(dir, e.Name())
				}
			}
		}
	}
	for _, p := range []string{stem + ".so", stem + ".py", stem + ".pyc"} {
		if isFile(p) {
			return p
		}
	}
	if isDir {
		return stem
	}
	return ""
}

// findPythonPackage finds the package a `python -m pkg` imports.
func findPythonPackage(t *Target, l *Link, pkg string) (string, []string, *HiddenDir) {
	p, dirs, hid := findPythonModule(t, l, pkg)
	if p != "" {
		return p, []string{fmt.Sprintf("the %s package is at %s", pkg, p)}, nil
	}
	ev := []string{fmt.Sprintf("looked for %s in %s", pkg, strings.Join(dirs, ", "))}
	if hid != nil {
		ev = append(ev, fmt.Sprintf("%s is at %s, where python does not look under Lambda: %s", pkg, hid.Path, hid.Why))
	}
	return "", ev, hid
}

// pyBuiltins are modules compiled into CPython's standard Linux builds
// (sys.builtin_module_names); a handler module of that name is refused.
var pyBuiltins = map[string]bool{"sys": true, "builtins": true, "marshal": true, "posix": true, "_imp": true, "_io": true, "_thread": true, "_warnings": true, "_weakref": true, "gc": true, "errno": true, "itertools": true, "atexit": true, "pwd": true, "time": true, "_abc": true, "_codecs": true, "_signal": true, "_sre": true, "_stat": true, "_string": true, "faulthandler": true}

// parsePython splits a handler the way the python client does.
func parsePython(h string) (p ParsedHandler, bad, errType string) {
	i := strings.LastIndexByte(h, '.')
	if i < 0 {
		return p, fmt.Sprintf("Bad handler '%s': not enough values to unpack (expected 2, got 1)", h), "Runtime.MalformedHandlerName"
	}
	p.Module, p.Func = h[:i], h[i+1:]
	if p.Module == "" {
		return p, "Empty module name", "ValueError"
	}
	if first := strings.SplitN(p.Module, ".", 2)[0]; pyBuiltins[first] {
		return p, fmt.Sprintf("Cannot use built-in module %s as a handler module", p.Module), "Runtime.BuiltInModuleConflict"
	}
	if p.Func == "" {
		return p, fmt.Sprintf("Handler '' missing on module '%s'", p.Module), "Runtime.HandlerNotFound"
	}
	return p, "", ""
}

// resolvePython finds the file the python client loads for p.
func resolvePython(t *Target, hs HandlerSpec, p ParsedHandler) (string, []string) {
	var tried []string
	rel := strings.ReplaceAll(strings.ReplaceAll(p.Module, "/", "."), ".", "/")
	for _, root := range hs.Roots {
		stem := path.Join(root, rel)
		tried = append(tried, stem+".py", stem+"/")
		if f := PythonModuleAt(t.FS, stem); f != "" {
			return f, tried
		}
	}
	return "", tried
}

// rootsPython sets the directories the python client searches for the handler.
func rootsPython(t *Target, hs *HandlerSpec, taskRoot, wd string) error {
	var extra []string
	hs.RootsWhy = "the working directory, which python -m puts first on sys.path, then PYTHONPATH and site-packages"
	if hs.Base {
		extra = []string{taskRoot, "/opt/python"}
		hs.RootsWhy = "the working directory, LAMBDA_TASK_ROOT, /opt/python, PYTHONPATH and site-packages"
	}
	roots, zip, hidden := pythonPath(t, hs.Link, extra...)
	if zip {
		return fmt.Errorf("%w: PYTHONPATH holds an archive, which is not searched", ErrNotApplicable)
	}
	hs.Roots, hs.Hidden = roots, hidden
	return nil
}

// WebServers are Python modules run with -m that serve HTTP and never
// poll the Runtime API.
var WebServers = map[string]bool{"uvicorn": true, "gunicorn": true, "flask": true, "http.server": true, "hypercorn": true, "daphne": true, "waitress": true, "streamlit": true, "fastapi": true}

// stubImport finds the module a console-script stub imports.
var stubImport = regexp.MustCompile(`(?m)^from ([A-Za-z_][\w.]*) import`)

// PythonHidden finds the dotted module in the directories hs.Hidden lists:
// a copy the python client would import if it searched there.
func PythonHidden(t *Target, hs HandlerSpec, module string) *HiddenDir {
	rel := strings.ReplaceAll(strings.ReplaceAll(module, "/", "."), ".", "/")
	for _, h := range hs.Hidden {
		if p := PythonModuleAt(t.FS, path.Join(h.Path, rel)); p != "" {
			return &HiddenDir{p, h.Why}
		}
	}
	return nil
}
