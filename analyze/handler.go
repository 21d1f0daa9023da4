package analyze

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// HandlerSpec is the handler and how the client in the image resolves it.
type HandlerSpec struct {
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

// HandlerContext returns how the image's client resolves its handler, or
// an ErrNotApplicable error saying why the handler is not checked.
func HandlerContext(t *Target) (HandlerSpec, error) {
	var hs HandlerSpec
	if t.Argv().Empty() {
		return hs, fmt.Errorf("%w: the image has no command", ErrNotApplicable)
	}
	if t.FS == nil {
		return hs, fmt.Errorf("%w: no filesystem was loaded", ErrNotApplicable)
	}
	a := t.RIC()
	c := a.Client
	switch {
	case c.Name == ClientAWSBase && (c.Language == "python" || c.Language == "nodejs" || c.Language == "ruby"):
		hs.Lang, hs.Base = c.Language, true
	case handlerLangs[c.Name] != "" && a.Link >= 0:
		hs.Lang = handlerLangs[c.Name]
	case c.Name == "":
		return hs, fmt.Errorf("%w: no runtime interface client was recognised (see LD401)", ErrNotApplicable)
	default:
		return hs, fmt.Errorf("%w: the handler of %s is not checked", ErrNotApplicable, c.Name)
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
			return hs, fmt.Errorf("%w: PYTHONPATH holds an archive, which is not searched", ErrNotApplicable)
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

// ClientLabel names the client for messages.
func (hs HandlerSpec) ClientLabel() string {
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
func (hs HandlerSpec) Evidence(t *Target) []string {
	ev := t.Argv().Evidence()
	ev = append(ev, fmt.Sprintf("handler %s from %s", QuoteJSON(hs.Arg.Value), hs.Arg.From))
	ev = append(ev, "runtime client: "+hs.Client)
	if len(hs.Roots) > 0 {
		ev = append(ev, fmt.Sprintf("searched %s: %s", hs.RootsWhy, strings.Join(hs.Roots, ", ")))
	}
	return ev
}

// CmdSource is the instruction that sets the handler.
func CmdSource(t *Target) string {
	if t.Argv().Overrides.Command != nil {
		return "ImageConfig.Command"
	}
	return "CMD"
}

// ParsedHandler is a handler split the way its client splits it.
type ParsedHandler struct {
	// Module is the module (Python, dotted or with slashes), the file
	// (Node.js: moduleRoot + module; Ruby: the file name).
	Module string
	// ModuleRoot is the Node.js directory prefix ("src/").
	ModuleRoot string
	// Func is the function (Python), the property path (Node.js) or the
	// method (Ruby).
	Func string
}

// ParseHandler splits h for lang; bad is the client's error text and
// errType its error type when it rejects h.
func ParseHandler(lang, h string) (p ParsedHandler, bad, errType string) {
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
		b := NodeBasename(h)
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
		parts := RubySplit(h)
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

// NodeBasename is Node's path.basename: trailing slashes dropped.
func NodeBasename(h string) string {
	s := strings.TrimRight(h, "/")
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// RubySplit is Ruby's String#split('.'): trailing empty fields dropped.
func RubySplit(h string) []string {
	parts := strings.Split(h, ".")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// pyBuiltins are modules compiled into CPython's standard Linux builds
// (sys.builtin_module_names); a handler module of that name is refused.
var pyBuiltins = map[string]bool{"sys": true, "builtins": true, "marshal": true, "posix": true, "_imp": true, "_io": true, "_thread": true, "_warnings": true, "_weakref": true, "gc": true, "errno": true, "itertools": true, "atexit": true, "pwd": true, "time": true, "_abc": true, "_codecs": true, "_signal": true, "_sre": true, "_stat": true, "_string": true, "faulthandler": true}

// ResolveHandlerModule finds the file the client would load for p; it
// returns the path found ("" if none) and what was tried.
func ResolveHandlerModule(t *Target, hs HandlerSpec, p ParsedHandler) (string, []string) {
	var tried []string
	switch hs.Lang {
	case "python":
		rel := strings.ReplaceAll(strings.ReplaceAll(p.Module, "/", "."), ".", "/")
		for _, root := range hs.Roots {
			stem := path.Join(root, rel)
			tried = append(tried, stem+".py", stem+"/")
			if f := PythonModuleAt(t.FS, stem); f != "" {
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

// SourceExt is the extension of a language's source files.
var SourceExt = map[string]string{"python": ".py", "nodejs": ".js", "ruby": ".rb"}

// GuessFunction returns the function a module most likely meant as its
// handler: one whose name contains "handler", else the first defined.
func GuessFunction(text, lang string) string {
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
