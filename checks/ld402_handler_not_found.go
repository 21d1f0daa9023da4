package checks

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// handlerNotFound is LD402: the handler string names a module or file the
// runtime interface client cannot load, resolved the way each client does
// it (Python awslambdaric bootstrap._get_handler, the Node.js RIC's
// UserFunction.js, the Ruby RIC's LambdaHandler + require). A function
// name that appears nowhere in the module is reported as a warning: that
// search is textual and cannot see dynamic definitions.
type handlerNotFound struct{}

func (handlerNotFound) Meta() Meta {
	return Meta{
		ID:       "LD402",
		Name:     "handler-not-found",
		Title:    "the handler's module does not exist where the runtime looks for it",
		Severity: Error,
		Category: CategoryRuntime,
	}
}

// handlerSpec is the handler and how the client in the image resolves it.
type handlerSpec struct {
	Lang   string // "python", "nodejs" or "ruby"
	Client string // a Client* name
	Base   bool   // started by the AWS base images' /lambda-entrypoint.sh
	Arg    handlerArg
	// Roots are the directories searched, in order, and RootsWhy says
	// what they are.
	Roots    []string
	RootsWhy string
	// NodePath is NODE_PATH (Node.js only).
	NodePath []string
	// Link is the chain link of the interpreter, when known.
	Link *Link
}

// handlerLangs maps client names to the languages whose handler is
// checked.
var handlerLangs = map[string]string{ClientPython: "python", ClientNode: "nodejs", ClientRuby: "ruby"}

// handlerContext returns how the image's client resolves its handler, or
// an ErrSkip error saying why the handler is not checked.
func handlerContext(t *Target) (handlerSpec, error) {
	var hs handlerSpec
	if t.Argv().Empty() {
		return hs, fmt.Errorf("%w: the image has no command", ErrSkip)
	}
	if t.FS == nil {
		return hs, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	a := t.ric()
	c := a.Client
	switch {
	case c.Name == ClientAWSBase && (c.Language == "python" || c.Language == "nodejs" || c.Language == "ruby"):
		hs.Lang, hs.Base = c.Language, true
	case handlerLangs[c.Name] != "" && a.Link >= 0:
		hs.Lang = handlerLangs[c.Name]
	case c.Name == "":
		return hs, fmt.Errorf("%w: no runtime interface client was recognised (see LD401)", ErrSkip)
	default:
		return hs, fmt.Errorf("%w: the handler of %s is not checked", ErrSkip, c.Name)
	}
	hs.Client, hs.Arg = c.Name, a.Handler
	ch := t.Chain()
	for i := range ch.Links {
		if l := &ch.Links[i]; isName(l, pythonName) || isName(l, nodeName) || isName(l, rubyName) {
			hs.Link = l
		}
	}
	cfg := t.Config()
	wd := path.Join("/", t.Argv().WorkingDir)
	taskRoot := "/var/task"
	if v, ok := Getenv(cfg.Env, "LAMBDA_TASK_ROOT"); ok && strings.HasPrefix(v, "/") {
		taskRoot = path.Clean(v)
	}
	switch hs.Lang {
	case "python":
		var extra []string
		hs.RootsWhy = "the working directory, which python -m puts first on sys.path, then PYTHONPATH and site-packages"
		if hs.Base {
			extra = []string{taskRoot, "/opt/python"}
			hs.RootsWhy = "the working directory, LAMBDA_TASK_ROOT, /opt/python, PYTHONPATH and site-packages"
		}
		roots, zip := pythonPath(t, hs.Link, extra...)
		if zip {
			return hs, fmt.Errorf("%w: PYTHONPATH holds an archive, which is not searched", ErrSkip)
		}
		hs.Roots = roots
	case "nodejs":
		hs.Roots = []string{wd}
		hs.RootsWhy = "the working directory, which the RIC uses as its app root"
		if hs.Base {
			hs.Roots = uniq(taskRoot, wd)
			hs.RootsWhy = "LAMBDA_TASK_ROOT and the working directory"
		}
		if np, ok := Getenv(cfg.Env, "NODE_PATH"); ok {
			for _, d := range strings.Split(np, ":") {
				if strings.HasPrefix(d, "/") {
					hs.NodePath = append(hs.NodePath, path.Clean(d))
				}
			}
		}
	case "ruby":
		hs.Roots = []string{wd}
		hs.RootsWhy = "the working directory, which the RIC puts on $LOAD_PATH, and RUBYLIB"
		if hs.Base {
			hs.Roots = uniq(taskRoot, wd)
			hs.RootsWhy = "LAMBDA_TASK_ROOT, the working directory and RUBYLIB"
		}
		if rl, ok := Getenv(cfg.Env, "RUBYLIB"); ok {
			for _, d := range strings.Split(rl, ":") {
				if strings.HasPrefix(d, "/") {
					hs.Roots = uniq(append(hs.Roots, path.Clean(d))...)
				}
			}
		}
	}
	return hs, nil
}

func uniq(ss ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// clientLabel names the client for messages.
func (hs handlerSpec) clientLabel() string {
	switch {
	case hs.Base:
		return map[string]string{"python": "the AWS Python base image's runtime", "nodejs": "the AWS Node.js base image's runtime", "ruby": "the AWS Ruby base image's runtime"}[hs.Lang]
	case hs.Lang == "python":
		return "the Python runtime interface client (awslambdaric)"
	case hs.Lang == "nodejs":
		return "the Node.js runtime interface client (aws-lambda-ric)"
	}
	return "the Ruby runtime interface client (aws_lambda_ric)"
}

// handlerEvidence is the evidence every handler finding starts with.
func (hs handlerSpec) evidence(t *Target) []string {
	ev := t.Argv().Evidence()
	ev = append(ev, fmt.Sprintf("handler %s from %s", QuoteJSON(hs.Arg.Value), hs.Arg.From))
	ev = append(ev, "runtime client: "+hs.Client)
	if len(hs.Roots) > 0 {
		ev = append(ev, fmt.Sprintf("searched %s: %s", hs.RootsWhy, strings.Join(hs.Roots, ", ")))
	}
	return ev
}

// cmdSource is the instruction that sets the handler.
func cmdSource(t *Target) string {
	if t.Argv().Overrides.Command != nil {
		return "ImageConfig.Command"
	}
	return "CMD"
}

// parsedHandler is a handler split the way its client splits it.
type parsedHandler struct {
	// Module is the module (Python, dotted or with slashes), the file
	// (Node.js: moduleRoot + module; Ruby: the file name).
	Module string
	// ModuleRoot is the Node.js directory prefix ("src/").
	ModuleRoot string
	// Func is the function (Python), the property path (Node.js) or the
	// method (Ruby).
	Func string
}

// parseHandler splits h for lang; bad is the client's error text and
// errType its error type when it rejects h.
func parseHandler(lang, h string) (p parsedHandler, bad, errType string) {
	switch lang {
	case "python":
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
	case "nodejs":
		if strings.Contains(h, "..") {
			return p, fmt.Sprintf("'%s' is not a valid handler name. Use absolute paths when specifying root directories in handler names.", h), "Runtime.MalformedHandlerName"
		}
		b := nodeBasename(h)
		p.ModuleRoot = h[:strings.Index(h, b)]
		i := strings.IndexByte(b, '.')
		if i < 0 {
			return p, "Bad handler", "Runtime.MalformedHandlerName"
		}
		p.Module, p.Func = b[:i], b[i+1:]
		if p.Func == "" {
			return p, h + " is undefined or not exported", "Runtime.HandlerNotFound"
		}
	case "ruby":
		parts := rubySplit(h)
		if len(parts) != 2 && len(parts) != 3 {
			q := make([]string, len(parts))
			for i, s := range parts {
				q[i] = QuoteJSON(s)
			}
			return p, fmt.Sprintf("Invalid handler [%s], must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD where FILENAME corresponds with an existing Ruby source file FILENAME.rb, CLASS is an optional module/class namespace and METHOD is a callable method. If using CLASS, METHOD must be a class-level method.", strings.Join(q, ", ")), "ArgumentError"
		}
		p.Module, p.Func = parts[0], parts[len(parts)-1]
	}
	return p, "", ""
}

// nodeBasename is Node's path.basename: trailing slashes dropped.
func nodeBasename(h string) string {
	s := strings.TrimRight(h, "/")
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// rubySplit is Ruby's String#split('.'): trailing empty fields dropped.
func rubySplit(h string) []string {
	parts := strings.Split(h, ".")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// pyBuiltins are modules compiled into CPython's standard Linux builds
// (sys.builtin_module_names); a handler module of that name is refused.
var pyBuiltins = map[string]bool{"sys": true, "builtins": true, "marshal": true, "posix": true, "_imp": true, "_io": true, "_thread": true, "_warnings": true, "_weakref": true, "gc": true, "errno": true, "itertools": true, "atexit": true, "pwd": true, "time": true, "_abc": true, "_codecs": true, "_signal": true, "_sre": true, "_stat": true, "_string": true, "faulthandler": true}

// resolveHandlerModule finds the file the client would load for p; it
// returns the path found ("" if none) and what was tried.
func resolveHandlerModule(t *Target, hs handlerSpec, p parsedHandler) (string, []string) {
	var tried []string
	switch hs.Lang {
	case "python":
		rel := strings.ReplaceAll(strings.ReplaceAll(p.Module, "/", "."), ".", "/")
		for _, root := range hs.Roots {
			stem := path.Join(root, rel)
			tried = append(tried, stem+".py", stem+"/")
			if f := pythonModuleAt(t.FS, stem); f != "" {
				return f, tried
			}
		}
	case "nodejs":
		wd := path.Join("/", t.Argv().WorkingDir)
		for _, root := range hs.Roots {
			lsp := path.Join(root, p.ModuleRoot, p.Module)
			if strings.HasPrefix(p.ModuleRoot, "/") {
				lsp = path.Join(p.ModuleRoot, p.Module)
			}
			for _, ext := range []string{"", ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"} {
				tried = append(tried, lsp+ext)
				if r := t.FS.Resolve(lsp + ext); r.Err == nil && r.Entry != nil && (r.Entry.IsRegular() || r.Entry.IsDir()) {
					return lsp + ext, tried
				}
			}
		}
		// require.resolve(module, {paths: [appRoot, moduleRoot]}): the
		// node_modules directories above each, then NODE_PATH.
		starts := append([]string{}, hs.Roots...)
		if p.ModuleRoot != "" {
			starts = append(starts, path.Join(wd, p.ModuleRoot))
		}
		var dirs []string
		for _, s := range starts {
			for d := s; ; d = path.Dir(d) {
				if path.Base(d) != "node_modules" {
					dirs = append(dirs, path.Join(d, "node_modules"))
				}
				if d == "/" {
					break
				}
			}
		}
		dirs = append(dirs, hs.NodePath...)
		for _, d := range uniq(dirs...) {
			for _, ext := range []string{"", ".js", ".json", ".node"} {
				if r := t.FS.Resolve(path.Join(d, p.Module) + ext); r.Err == nil && r.Entry != nil {
					return path.Join(d, p.Module) + ext, tried
				}
			}
		}
		tried = append(tried, fmt.Sprintf("node_modules/%s above %s", p.Module, strings.Join(starts, ", ")))
	case "ruby":
		file := p.Module
		cands := []string{}
		switch {
		case strings.HasPrefix(file, "/"):
			cands = append(cands, file+".rb", file+".so", file)
		default:
			for _, root := range hs.Roots {
				f := path.Join(root, file)
				cands = append(cands, f+".rb", f+".so")
				if strings.HasSuffix(file, ".rb") || strings.HasSuffix(file, ".so") {
					cands = append(cands, f)
				}
			}
		}
		for _, f := range cands {
			tried = append(tried, f)
			if r := t.FS.Resolve(f); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
				return f, tried
			}
		}
	}
	return "", tried
}

// handlerSymptom is what the client reports when the module is missing.
func handlerSymptom(t *Target, hs handlerSpec, p parsedHandler) string {
	switch hs.Lang {
	case "python":
		return fmt.Sprintf(`"Runtime.ImportModuleError: Unable to import module '%s': %s"`, p.Module, pythonImportError(t, hs, p.Module))
	case "nodejs":
		return fmt.Sprintf(`"Runtime.ImportModuleError: Error: Cannot find module '%s'"`, p.Module)
	}
	return fmt.Sprintf(`an init error "cannot load such file -- %s" (LoadError)`, p.Module)
}

// pythonImportError is CPython's ModuleNotFoundError text for importing
// the dotted module mod, which is missing: Python imports each parent
// first, so it names the first parent that does not exist, or says that a
// parent is a plain module ("app.py"), not a package.
func pythonImportError(t *Target, hs handlerSpec, mod string) string {
	mod = strings.ReplaceAll(mod, "/", ".")
	parts := strings.Split(mod, ".")
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], ".")
		found := ""
		for _, root := range hs.Roots {
			if found = pythonModuleAt(t.FS, path.Join(root, strings.Join(parts[:i], "/"))); found != "" {
				break
			}
		}
		switch {
		case found == "":
			return fmt.Sprintf("No module named '%s'", parent)
		case path.Base(found) != parts[i-1]: // a file (app.py, app.so), not a package directory
			return fmt.Sprintf("No module named '%s'; '%s' is not a package", mod, parent)
		}
	}
	return fmt.Sprintf("No module named '%s'", mod)
}

// sourceExt is the extension of a language's source files.
var sourceExt = map[string]string{"python": ".py", "nodejs": ".js", "ruby": ".rb"}

func (c handlerNotFound) Run(ctx context.Context, t *Target) ([]Finding, error) {
	hs, err := handlerContext(t)
	if err != nil {
		return nil, err
	}
	if !hs.Arg.Set || !hs.Arg.Known {
		return nil, fmt.Errorf("%w: the handler is not a literal argument (see LD403 for a missing one)", ErrSkip)
	}
	p, bad, _ := parseHandler(hs.Lang, hs.Arg.Value)
	if bad != "" {
		return nil, nil // LD403's case
	}
	found, tried := resolveHandlerModule(t, hs, p)
	if found != "" {
		return c.checkFunction(t, hs, p, found)
	}
	f := NewFinding(c.Meta(), "")
	f.Source = t.Argv().ConfigField("Cmd")
	ev := hs.evidence(t)
	if len(tried) > 8 {
		tried = append(tried[:8], fmt.Sprintf("… %d more", len(tried)-8))
	}
	ev = append(ev, "tried "+strings.Join(tried, ", ")+": none exists")
	f.Path = path.Join(hs.Roots[0], strings.ReplaceAll(p.ModuleRoot+p.Module, ".", "/")) + sourceExt[hs.Lang]
	if hs.Lang == "nodejs" {
		f.Path = path.Join(hs.Roots[0], p.ModuleRoot, p.Module) + ".js"
	}
	what := fmt.Sprintf("%s names the handler %s, but %s finds no module %q in %s (%s)", cmdSource(t), QuoteJSON(hs.Arg.Value), hs.clientLabel(), p.Module, strings.Join(hs.Roots[:min(len(hs.Roots), 4)], ", "), hs.RootsWhy)
	msg := what + fmt.Sprintf(". Init fails while loading the handler, and every invoke reports %s.", handlerSymptom(t, hs, p))

	// Did you mean: a file of that name elsewhere.
	stem := path.Base(strings.ReplaceAll(p.Module, ".", "/"))
	if hs.Lang != "python" {
		stem = path.Base(p.Module)
	}
	var cands []NamedFile
	for _, ext := range map[string][]string{"python": {".py"}, "nodejs": {".js", ".mjs", ".cjs"}, "ruby": {".rb"}}[hs.Lang] {
		nf, err := FindFiles(ctx, t.FS, stem+ext, nil)
		if err != nil {
			return nil, err
		}
		for _, n := range nf {
			if !strings.Contains(n.Path, "/site-packages/") && !strings.Contains(n.Path, "/dist-packages/") && !strings.Contains(n.Path, "/node_modules/") && !strings.Contains(n.Path, "/gems/") && !strings.HasPrefix(n.Path, "/usr/lib/") && !strings.HasPrefix(n.Path, "/var/runtime/") {
				cands = append(cands, n)
			}
		}
	}
	fix := ""
	if len(cands) > 0 {
		best := cands[0].Path
		for i, n := range cands {
			if i == maxCandidates {
				break
			}
			ev = append(ev, fmt.Sprintf("found %s: %s", n.Path, t.Describe(n.Resolution.Entry)))
		}
		msg += fmt.Sprintf(" A file of that name exists at %s.", best)
		fix = handlerFixFor(t, hs, p, best)
	}
	if fix == "" {
		wd := hs.Roots[0]
		fix = fmt.Sprintf("COPY %s%s %s/ (the file that defines %s), or change %s to name a module that exists", p.Module, sourceExt[hs.Lang], wd, p.Func, cmdSource(t))
		if hs.Lang == "python" && strings.Contains(p.Module, ".") || strings.Contains(p.Module, "/") {
			fix = fmt.Sprintf("COPY the package that holds %s into %s, or change %s to name a module that exists", p.Module, wd, cmdSource(t))
		}
	}
	f.Message = msg
	f.Evidence = ev
	f.Fix = fix
	return []Finding{f}, nil
}

// handlerFixFor proposes a handler naming the file found at best, when it
// lies under a searched root, or a WORKDIR/COPY otherwise.
func handlerFixFor(t *Target, hs handlerSpec, p parsedHandler, best string) string {
	noExt := strings.TrimSuffix(best, path.Ext(best))
	for _, root := range hs.Roots {
		rel, ok := strings.CutPrefix(noExt, strings.TrimSuffix(root, "/")+"/")
		if !ok || root == "/" {
			continue
		}
		h := rel + "." + p.Func
		if hs.Lang == "ruby" {
			parts := rubySplit(hs.Arg.Value)
			h = rel + "." + strings.Join(parts[1:], ".")
		}
		return DockerfileExec(cmdSource(t), []string{h})
	}
	dir := path.Dir(best)
	if hs.Base {
		return fmt.Sprintf("COPY the file into %s (e.g. COPY %s %s/), where the runtime looks", hs.Roots[0], path.Base(best), hs.Roots[0])
	}
	return fmt.Sprintf("WORKDIR %s (the client's app root is the working directory), or COPY %s into %s", dir, path.Base(best), hs.Roots[0])
}

// checkFunction warns when the function name appears nowhere in the
// module's source. The search is textual: definitions made dynamically
// are skipped rather than reported.
func (c handlerNotFound) checkFunction(t *Target, hs handlerSpec, p parsedHandler, found string) ([]Finding, error) {
	src := found
	r := t.FS.Resolve(found)
	if r.Err != nil || r.Entry == nil {
		return nil, nil
	}
	if r.Entry.IsDir() {
		switch hs.Lang {
		case "python":
			src = path.Join(found, "__init__.py")
		default:
			return nil, nil
		}
	}
	if ext := path.Ext(src); !(hs.Lang == "python" && ext == ".py" || hs.Lang == "nodejs" && (ext == ".js" || ext == ".mjs" || ext == ".cjs" || ext == ".ts" || ext == ".mts" || ext == ".cts") || hs.Lang == "ruby" && ext == ".rb") {
		return nil, nil
	}
	b, err := readBounded(t.FS, src, maxSourceRead)
	if err != nil || len(b) == maxSourceRead {
		return nil, nil
	}
	text := string(b)
	name := p.Func
	if hs.Lang == "nodejs" {
		name = strings.SplitN(p.Func, ".", 2)[0]
	}
	if name == "" {
		return nil, nil
	}
	dynamic := map[string][]string{
		"python": {"import *", "globals()", "setattr(", "__getattr__", "exec("},
		"nodejs": {"export *", "module.exports = require", "module.exports=require", "Object.assign(", "exports[", "__exportStar", "defineProperty"},
		"ruby":   {"define_method", "define_singleton_method", "method_missing", "instance_eval", "class_eval", "module_function", "send("},
	}[hs.Lang]
	for _, d := range dynamic {
		if strings.Contains(text, d) {
			return nil, nil
		}
	}
	if regexp.MustCompile(`(^|[^A-Za-z0-9_$])` + regexp.QuoteMeta(name) + `($|[^A-Za-z0-9_$])`).MatchString(text) {
		return nil, nil
	}
	f := NewFinding(c.Meta(), "")
	f.Severity = Warning
	f.Path = src
	f.Layer = t.LayerRef(r.Entry.Layer)
	ev := hs.evidence(t)
	ev = append(ev, fmt.Sprintf("module file %s: %s", src, t.Describe(r.Entry)))
	ev = append(ev, fmt.Sprintf("the name %q appears nowhere in %s (%d bytes)", name, src, len(b)))
	symptom := map[string]string{
		"python": fmt.Sprintf(`"Runtime.HandlerNotFound: Handler '%s' missing on module '%s'"`, p.Func, p.Module),
		"nodejs": fmt.Sprintf(`"Runtime.HandlerNotFound: %s is undefined or not exported"`, hs.Arg.Value),
		"ruby":   fmt.Sprintf(`a NoMethodError for %s (reported as a critical handler error)`, p.Func),
	}[hs.Lang]
	f.Message = fmt.Sprintf("%s names the function %q in %s, but that name appears nowhere in %s. If it is really missing, every invoke fails with %s. Unconfirmed: this is a text search, so a function defined or exported indirectly would be missed.", cmdSource(t), name, QuoteJSON(hs.Arg.Value), src, symptom)
	if g := guessFunction(text, hs.Lang); g != "" {
		h := strings.TrimSuffix(hs.Arg.Value, p.Func) + g
		f.Fix = DockerfileExec(cmdSource(t), []string{h}) + fmt.Sprintf(" (%s defines %s)", src, g)
	} else {
		f.Fix = fmt.Sprintf("define %s in %s, or name a function it defines in %s", name, src, cmdSource(t))
	}
	f.Evidence = ev
	return []Finding{f}, nil
}

// guessFunction returns the function a module most likely meant as its
// handler: one whose name contains "handler", else the first defined.
func guessFunction(text, lang string) string {
	res := map[string][]*regexp.Regexp{
		"python": {regexp.MustCompile(`(?m)^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(`)},
		"nodejs": {regexp.MustCompile(`exports\.([A-Za-z_$][\w$]*)\s*=`), regexp.MustCompile(`export\s+(?:async\s+)?(?:function\*?|const|let|var)\s+([A-Za-z_$][\w$]*)`)},
		"ruby":   {regexp.MustCompile(`(?m)^\s*def\s+(?:self\.)?([A-Za-z_]\w*[?!]?)`)},
	}[lang]
	var names []string
	for _, re := range res {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			names = append(names, m[1])
		}
	}
	for _, n := range names {
		if strings.Contains(strings.ToLower(n), "handler") {
			return n
		}
	}
	if len(names) > 0 && !strings.HasPrefix(names[0], "_") {
		return names[0]
	}
	return ""
}
