package checks

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
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

// handlerSymptom is what the client reports when the module is missing.
func handlerSymptom(t *analyze.Target, hs analyze.HandlerSpec, p analyze.ParsedHandler) string {
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
func pythonImportError(t *analyze.Target, hs analyze.HandlerSpec, mod string) string {
	mod = strings.ReplaceAll(mod, "/", ".")
	parts := strings.Split(mod, ".")
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], ".")
		found := ""
		for _, root := range hs.Roots {
			if found = analyze.PythonModuleAt(t.FS, path.Join(root, strings.Join(parts[:i], "/"))); found != "" {
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

func (c handlerNotFound) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	hs, err := handlerContext(t)
	if err != nil {
		return nil, err
	}
	if !hs.Arg.Set || !hs.Arg.Known {
		return nil, fmt.Errorf("%w: the handler is not a literal argument (see LD403 for a missing one)", ErrSkip)
	}
	p, bad, _ := analyze.ParseHandler(hs.Lang, hs.Arg.Value)
	if bad != "" {
		return nil, nil // LD403's case
	}
	found, tried := analyze.ResolveHandlerModule(t, hs, p)
	if found != "" {
		return c.checkFunction(t, hs, p, found)
	}
	if hs.Lang == "python" {
		if pth := analyze.PythonEditableFinder(t, hs); pth != "" {
			return nil, fmt.Errorf("%w: %s installs an import hook (an editable install) that can map module names anywhere", ErrSkip, pth)
		}
	}
	f := NewFinding(c.Meta(), "")
	f.Source = t.Argv().ConfigField("Cmd")
	ev := hs.Evidence(t)
	if len(tried) > 8 {
		tried = append(tried[:8], fmt.Sprintf("… %d more", len(tried)-8))
	}
	ev = append(ev, "tried "+strings.Join(tried, ", ")+": none exists")
	f.Path = path.Join(hs.Roots[0], strings.ReplaceAll(p.ModuleRoot+p.Module, ".", "/")) + analyze.SourceExt(hs.Lang)
	if hs.Lang == "nodejs" {
		f.Path = path.Join(hs.Roots[0], p.ModuleRoot, p.Module) + ".js"
	}
	what := fmt.Sprintf("%s names the handler %s, but %s finds no module %q in %s (%s)", analyze.CmdSource(t), analyze.QuoteJSON(hs.Arg.Value), hs.ClientLabel(), p.Module, strings.Join(hs.Roots[:min(len(hs.Roots), 4)], ", "), hs.RootsWhy)
	msg := what + fmt.Sprintf(". Init fails while loading the handler, and every invoke reports %s.", handlerSymptom(t, hs, p))
	if hs.Lang == "python" {
		if h := analyze.PythonHidden(t, hs, p.Module); h != nil {
			msg += fmt.Sprintf(" A copy is at %s, which does not count: %s.", h.Path, h.Why)
			ev = append(ev, fmt.Sprintf("%s exists, but python does not search there under Lambda: %s", h.Path, h.Why))
		}
	}

	// Did you mean: a file of that name elsewhere.
	stem := path.Base(strings.ReplaceAll(p.Module, ".", "/"))
	if hs.Lang != "python" {
		stem = path.Base(p.Module)
	}
	var cands []analyze.NamedFile
	for _, ext := range map[string][]string{"python": {".py"}, "nodejs": {".js", ".mjs", ".cjs"}, "ruby": {".rb"}}[hs.Lang] {
		nf, err := analyze.FindFiles(ctx, t.FS, stem+ext, nil)
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
		if ext := path.Ext(best); hs.Lang == "nodejs" && (ext == ".mjs" || ext == ".cjs") && strings.TrimSuffix(best, ext) == path.Join(hs.Roots[0], p.ModuleRoot, p.Module) {
			if m := analyze.NodeRICMajor(t); m == 1 || m == 2 {
				msg += fmt.Sprintf(" aws-lambda-ric %d.x loads only %s and %s.js (lib/utils/UserFunction.js); .mjs and .cjs files are tried from 3.0.", m, strings.TrimSuffix(best, ext), strings.TrimSuffix(best, ext))
				fix = "upgrade the client (npm install aws-lambda-ric@3), which loads .mjs and .cjs handlers, or build the handler as " + path.Base(strings.TrimSuffix(best, ext)) + ".js (CommonJS)"
			}
		}
	}
	if fix == "" {
		wd := hs.Roots[0]
		fix = fmt.Sprintf("COPY %s%s %s/ (the file that defines %s), or change %s to name a module that exists", p.Module, analyze.SourceExt(hs.Lang), wd, p.Func, analyze.CmdSource(t))
		if hs.Lang == "python" && strings.Contains(p.Module, ".") || strings.Contains(p.Module, "/") {
			fix = fmt.Sprintf("COPY the package that holds %s into %s, or change %s to name a module that exists", p.Module, wd, analyze.CmdSource(t))
		}
	}
	f.Message = msg
	f.Evidence = ev
	f.Fix = fix
	return []Finding{f}, nil
}

// handlerFixFor proposes a handler naming the file found at best, when it
// lies under a searched root, or a WORKDIR/COPY otherwise.
func handlerFixFor(t *analyze.Target, hs analyze.HandlerSpec, p analyze.ParsedHandler, best string) string {
	noExt := strings.TrimSuffix(best, path.Ext(best))
	for _, root := range hs.Roots {
		rel, ok := strings.CutPrefix(noExt, strings.TrimSuffix(root, "/")+"/")
		if !ok || root == "/" {
			continue
		}
		h := rel + "." + p.Func
		if hs.Lang == "ruby" {
			parts := analyze.RubySplit(hs.Arg.Value)
			h = rel + "." + strings.Join(parts[1:], ".")
		}
		return analyze.DockerfileExec(analyze.CmdSource(t), []string{h})
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
func (c handlerNotFound) checkFunction(t *analyze.Target, hs analyze.HandlerSpec, p analyze.ParsedHandler, found string) ([]Finding, error) {
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
	if hs.Lang == "nodejs" {
		if fs, done := c.checkNodeExport(t, hs, p, src); done {
			return fs, nil
		}
	}
	if ext := path.Ext(src); !(hs.Lang == "python" && ext == ".py" || hs.Lang == "nodejs" && (ext == ".js" || ext == ".mjs" || ext == ".cjs" || ext == ".ts" || ext == ".mts" || ext == ".cts") || hs.Lang == "ruby" && ext == ".rb") {
		return nil, nil
	}
	b, err := analyze.ReadBounded(t.FS, src, analyze.MaxSourceRead)
	if err != nil || len(b) == analyze.MaxSourceRead {
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
	if hs.Lang == "python" {
		return c.checkPythonName(t, hs, p, found, src, text, r)
	}
	dynamic := map[string][]string{
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
	f.Layer = layerRef(t, r.Entry.Layer)
	ev := hs.Evidence(t)
	ev = append(ev, fmt.Sprintf("module file %s: %s", src, t.Describe(r.Entry)))
	ev = append(ev, fmt.Sprintf("the name %q appears nowhere in %s (%d bytes)", name, src, len(b)))
	symptom := map[string]string{
		"python": fmt.Sprintf(`"Runtime.HandlerNotFound: Handler '%s' missing on module '%s'"`, p.Func, p.Module),
		"nodejs": fmt.Sprintf(`"Runtime.HandlerNotFound: %s is undefined or not exported"`, hs.Arg.Value),
		"ruby":   fmt.Sprintf(`a NoMethodError for %s (reported as a critical handler error)`, p.Func),
	}[hs.Lang]
	f.Message = fmt.Sprintf("%s names the function %q in %s, but that name appears nowhere in %s. If it is really missing, every invoke fails with %s. Unconfirmed: this is a text search, so a function defined or exported indirectly would be missed.", analyze.CmdSource(t), name, analyze.QuoteJSON(hs.Arg.Value), src, symptom)
	if g := analyze.GuessFunction(text, hs.Lang); g != "" {
		h := strings.TrimSuffix(hs.Arg.Value, p.Func) + g
		f.Fix = analyze.DockerfileExec(analyze.CmdSource(t), []string{h}) + fmt.Sprintf(" (%s defines %s)", src, g)
	} else {
		f.Fix = fmt.Sprintf("define %s in %s, or name a function it defines in %s", name, src, analyze.CmdSource(t))
	}
	f.Evidence = ev
	return []Finding{f}, nil
}

// checkNodeExport reports a handler module that certainly does not export
// the handler's first name: an ES module whose static exports (esbuild's
// parse) lack it, or a CommonJS module that never touches module.exports.
// done is false when the parse cannot tell, and the textual search
// decides.
func (c handlerNotFound) checkNodeExport(t *analyze.Target, hs analyze.HandlerSpec, p analyze.ParsedHandler, src string) ([]Finding, bool) {
	m, err := analyze.ReadJSModule(t, src)
	if err != nil || !m.Known {
		return nil, false
	}
	name := strings.SplitN(p.Func, ".", 2)[0]
	if m.ESM && m.HasExport(name) {
		return nil, true
	}
	// aws-lambda-ric 4 (and, unconfirmed, the managed runtimes) look in
	// the default export when the namespace lacks the name; 2.x and 3.x
	// (UserFunction.js _resolveHandler) do not.
	major := analyze.NodeRICMajor(t)
	if m.ESM && m.HasExport("default") && (hs.Base || major == 0 || major >= 4) {
		return nil, false
	}
	f, ev := handlerModuleFinding(c.Meta(), t, hs, src)
	var what string
	switch {
	case m.ESM:
		how := "its extension is .mjs"
		if m.TypeModule != "" {
			how = fmt.Sprintf(`%s says "type": "module"`, m.TypeModule)
		}
		exports := "nothing"
		if len(m.Exports) > 0 {
			exports = strings.Join(m.Exports, ", ")
		}
		ev = append(ev, fmt.Sprintf("Node.js loads %s as an ES module (%s); esbuild's parse lists its exports: %s", src, how, exports))
		what = fmt.Sprintf("%s is an ES module that does not export %q (it exports %s)", src, name, exports)
		if m.HasExport("default") {
			ev = append(ev, fmt.Sprintf("aws-lambda-ric %d.x looks the name up on the module namespace only, not in the default export (UserFunction.js _resolveHandler)", major))
		}
	default:
		ev = append(ev, fmt.Sprintf("Node.js loads %s as CommonJS; esbuild's parse finds no import/export and no use of module, exports or top-level this, so module.exports stays {}", src))
		what = fmt.Sprintf("%s never assigns module.exports or exports, so it exports nothing", src)
	}
	f.Evidence = ev
	f.Message = fmt.Sprintf(`%s names %s, but %s. The module loads, then the client finds no %q on it, so init fails with "Runtime.HandlerNotFound: %s is undefined or not exported".`, analyze.CmdSource(t), analyze.QuoteJSON(hs.Arg.Value), what, name, hs.Arg.Value)
	f.Fix = fmt.Sprintf("export the function from %s (export const %s = async (event) => {…}, or exports.%s = … in CommonJS)", src, name, name)
	for _, e := range m.Exports {
		if e != "default" && strings.Contains(strings.ToLower(e), "handler") || len(m.Exports) == 1 && e != "default" {
			h := strings.TrimSuffix(hs.Arg.Value, p.Func) + e
			f.Fix = analyze.DockerfileExec(analyze.CmdSource(t), []string{h}) + fmt.Sprintf(" (%s exports %s), or ", src, e) + f.Fix
			break
		}
	}
	return []Finding{f}, true
}

// checkPythonName reports a handler function the module certainly lacks:
// its name occurs nowhere at module level (analyze.PyNameScope), so after
// the import getattr(module, name) fails. A package whose directory holds
// a submodule of that name, or a module with constructs that create
// attributes at run time, is not judged.
func (c handlerNotFound) checkPythonName(t *analyze.Target, hs analyze.HandlerSpec, p analyze.ParsedHandler, found, src, text string, r imagefs.Resolution) ([]Finding, error) {
	name := p.Func
	if src != found && analyze.PythonModuleAt(t.FS, path.Join(found, name)) != "" {
		return nil, nil // pkg.sub: a submodule, an attribute once imported
	}
	atModule, nested, dynamic := analyze.PyNameScope(text, name)
	if atModule || dynamic != "" {
		return nil, nil
	}
	f := NewFinding(c.Meta(), "")
	f.Path = src
	f.Layer = layerRef(t, r.Entry.Layer)
	f.Source = t.Argv().ConfigField("Cmd")
	ev := hs.Evidence(t)
	ev = append(ev, fmt.Sprintf("module file %s: %s", src, t.Describe(r.Entry)))
	where := fmt.Sprintf("the name %q occurs nowhere in %s", name, src)
	if len(nested) > 0 {
		ls := make([]string, 0, len(nested))
		for _, n := range nested[:min(len(nested), 5)] {
			ls = append(ls, fmt.Sprint(n))
		}
		where = fmt.Sprintf("%s defines no %q at module level: the name occurs only inside function or class bodies (line %s), which are not attributes of the module", src, name, strings.Join(ls, ", "))
	}
	ev = append(ev, where+fmt.Sprintf(" (%d bytes read; no star import, __getattr__, globals(), setattr(), exec() or other construct that adds module attributes at run time)", len(text)))
	f.Evidence = ev
	f.Message = fmt.Sprintf(`%s names the function %q in %s, but %s. The module imports, then getattr fails, so init fails with "Runtime.HandlerNotFound: Handler '%s' missing on module '%s'" (awslambdaric bootstrap.py _get_handler).`, analyze.CmdSource(t), name, analyze.QuoteJSON(hs.Arg.Value), where, name, p.Module)
	if g := analyze.GuessFunction(text, hs.Lang); g != "" && g != name {
		h := strings.TrimSuffix(hs.Arg.Value, p.Func) + g
		f.Fix = analyze.DockerfileExec(analyze.CmdSource(t), []string{h}) + fmt.Sprintf(" (%s defines %s)", src, g)
	} else {
		f.Fix = fmt.Sprintf("define %s at the top level of %s (def %s(event, context): …), or name a function it defines in %s", name, src, name, analyze.CmdSource(t))
	}
	return []Finding{f}, nil
}
