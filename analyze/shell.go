package analyze

import (
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/lambdoctor/lambdoctor/lambda"
)

// This file reads the shell scripts the entrypoint chain runs (a script
// file whose #! names a shell, or the string of `sh -c`) the way the shell
// does: parsed by a real shell parser (mvdan.cc/sh), then walked in order,
// tracking what is certain to run at start-up. Variables come from the
// image's ENV, the variables Lambda sets to fixed values (LAMBDA_TASK_ROOT,
// LAMBDA_RUNTIME_DIR; PATH when the image sets none) and the script's own
// assignments. Whatever depends on a value only known at run time is
// marked unknown, and the checks say nothing about it.

// ShellFlavour is the shell that runs a script.
type ShellFlavour string

// Shell flavours.
const (
	FlavourBash    ShellFlavour = "bash"
	FlavourDash    ShellFlavour = "dash"
	FlavourBusybox ShellFlavour = "busybox"
	FlavourOther   ShellFlavour = "sh"
)

// ScriptWord is a word of a command after expansion.
type ScriptWord struct {
	Raw   string // as written
	Value string // expanded
	Known bool   // Value is what the shell computes
}

// ScriptRedirect is an output redirection (>, >>, &>, >|, <>).
type ScriptRedirect struct {
	Op     string
	Target ScriptWord
}

// ScriptCommand is one simple command of a script, in source order.
type ScriptCommand struct {
	// Line is the 1-based line in the script text; Text that line,
	// trimmed.
	Line int
	Text string
	// Name is the command name ("" for a statement that only redirects or
	// assigns); Args its arguments.
	Name ScriptWord
	Args []ScriptWord
	// Redirects are the output redirections of the command (or of the
	// compound command it is in, on that command's line).
	Redirects []ScriptRedirect
	// Exec: the command is `exec name ...` (Name is exec's operand).
	Exec bool
	// Certain: it runs whenever the script runs up to there (not in an if
	// branch, a case item, a for loop, a loop that may not run, a
	// function nobody calls, after an unconditional exec or exit).
	Certain bool
	// Guarded: its failure is tested (an if/while condition, the left of
	// ||, after !), so a failure is expected and handled.
	Guarded bool
	// Fatal: a failure stops the start-up: set -e is in effect, the
	// command is left of && before the exec, or it is the script's last
	// command.
	Fatal bool
	// Loop: it is in the body of a `while true` loop (a runtime's event
	// loop runs at every invoke).
	Loop bool
	// ErrExit: set -e is in effect.
	ErrExit bool
	// PATH is the script's PATH at this command; PATHKnown false when the
	// script changes it to something only known at run time.
	PATH      string
	PATHKnown bool
	// Dir is the working directory, "" when it is only known at run time.
	Dir string
	// Func names the function whose body holds the command, "" at top level.
	Func string
	// Top: the command is a statement of the script's top level (or of an
	// && / || list there), not in a pipeline, subshell or compound command.
	Top bool
}

// Script is one shell script on the entrypoint chain.
type Script struct {
	// Link is the index in the chain of the script (a script file) or of
	// the shell (for sh -c).
	Link int
	// Path is the script file, "" for a -c string.
	Path string
	// Operand: the script is a file given to the shell as its operand (sh
	// /var/task/start.sh); the entrypoint chain does not follow its exec
	// line, so its commands are judged here, exec included.
	Operand bool
	// Origin says where the text comes from, for messages:
	// "/var/task/bootstrap" or `the sh -c string of ENTRYPOINT`.
	Origin string
	// Shell is the resolved path of the shell that runs it, Flavour its kind.
	Shell   string
	Flavour ShellFlavour
	// Text is the script's text.
	Text string
	// ParseErr is set when the text does not parse; Commands is then empty.
	ParseErr error
	// Commands in source order (function bodies where they are called).
	Commands []ScriptCommand
	// Functions and aliases the script (or a file it sources) defines.
	Functions map[string]bool
	// Tested are the command names the script tests for (command -v X,
	// which X, type X, hash X, [ -x .../X ]).
	Tested map[string]bool
	// Opaque says why command names cannot be judged in this script (it
	// sources a file that cannot be read, uses eval to define names); ""
	// otherwise.
	Opaque string
	// Applets are the applets of the busybox that runs the script (nil
	// unless Flavour is busybox and its applet list was found).
	Applets map[string]bool
}

// Scripts returns the shell scripts of the entrypoint chain, computed once.
func (t *Target) Scripts() []*Script {
	return t.facts.scripts.get(func() []*Script { return buildScripts(t) })
}

// ShellBuiltins is the union of the builtins and reserved words of bash,
// dash and busybox ash: a name in it never needs a file. The union is on
// purpose: a bash-only builtin under dash is another failure
// ("source: not found"), not a missing program. Sources: bash(1) "SHELL
// BUILTIN COMMANDS"; dash(1) "Builtins"; busybox shell/ash.c builtintab.
var ShellBuiltins = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`. : [ [[ ]] { } ! alias bg bind break builtin caller cd chdir command compgen complete compopt
		continue declare dirs disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill
		let local logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend
		test times trap true type typeset ulimit umask unalias unset wait
		if then else elif fi case esac for select while until do done in function time coproc`) {
		m[w] = true
	}
	return m
}()

// LambdaScriptEnv is the image's ENV followed by the variables Lambda sets
// to fixed, documented values, which win over the image's.
func LambdaScriptEnv(imageEnv []string) []string {
	return append(append([]string{}, imageEnv...), "LAMBDA_TASK_ROOT="+lambda.TaskRoot, "LAMBDA_RUNTIME_DIR="+lambda.RuntimeDir)
}

// scriptEnv is the environment a chain script starts with: the image's ENV,
// PATH defaulted as Lambda does, and the variables Lambda sets to fixed,
// documented values.
func scriptEnv(imageEnv []string) map[string]string {
	vars := map[string]string{}
	for _, kv := range imageEnv {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	if _, ok := vars["PATH"]; !ok {
		vars["PATH"] = lambda.DefaultPATH
	}
	vars["LAMBDA_TASK_ROOT"] = lambda.TaskRoot
	vars["LAMBDA_RUNTIME_DIR"] = lambda.RuntimeDir
	return vars
}

// ShellOptions reads the options of a shell's argv (after argv[0]): the
// -c command string (ok false when there is none), whether -e is set, and
// the script file operand when there is no -c.
func ShellOptions(args []string) (command string, hasC, errexit bool, file string) {
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" {
			i++
			break
		}
		if a == "-o" || a == "+o" {
			if i+1 < len(args) && args[i+1] == "errexit" {
				errexit = a == "-o"
			}
			i++
			continue
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') || strings.HasPrefix(a, "--") {
			if strings.HasPrefix(a, "--") {
				continue // bash long options (--norc, --login)
			}
			break
		}
		for _, r := range a[1:] {
			switch r {
			case 'c':
				hasC = a[0] == '-'
			case 'e':
				errexit = a[0] == '-'
			}
		}
	}
	if i < len(args) {
		if hasC {
			return args[i], true, errexit, ""
		}
		return "", false, errexit, args[i]
	}
	return "", false, errexit, ""
}

// ParseScript parses shell text: bash syntax for bash, POSIX otherwise
// (falling back to bash syntax, a superset, when POSIX parsing fails).
func ParseScript(text string, fl ShellFlavour) (*syntax.File, error) {
	lang := syntax.LangPOSIX
	if fl == FlavourBash {
		lang = syntax.LangBash
	}
	f, err := syntax.NewParser(syntax.Variant(lang)).Parse(strings.NewReader(text), "")
	if err != nil && lang != syntax.LangBash {
		if f2, err2 := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(text), ""); err2 == nil {
			return f2, nil
		}
	}
	return f, err
}

// ScriptReader reads files a script sources; nil means none can be read.
type ScriptReader func(abs string) (string, bool)

// DirLister lists the names in a directory of the image; nil means none
// can be listed.
type DirLister func(abs string) ([]string, bool)

// AnalyzeScript walks a parsed script and returns its commands, the
// functions it defines and the names it tests for. env is the
// environment it starts with, dir its working directory, errexit whether
// it starts with -e.
func AnalyzeScript(s *Script, f *syntax.File, env map[string]string, dir string, errexit bool, read ScriptReader, list DirLister) {
	w := &scriptWalker{s: s, vars: env, dir: dir, errexit: errexit, read: read, list: list, funcs: map[string]*syntax.FuncDecl{}, lines: strings.Split(s.Text, "\n")}
	if s.Functions == nil {
		s.Functions = map[string]bool{}
	}
	if s.Tested == nil {
		s.Tested = map[string]bool{}
	}
	w.collectDecls(f, 0)
	w.stmts(f.Stmts, walkCtx{certain: true, top: true})
	// The last certain top-level command decides the script's exit status.
	for i := len(s.Commands) - 1; i >= 0; i-- {
		c := &s.Commands[i]
		if c.Func == "" && c.Certain && c.Top && c.Name.Value != "" {
			if !c.Guarded {
				c.Fatal = true
			}
			break
		}
	}
}

// walkCtx is what the walker knows about the statement being visited.
type walkCtx struct {
	certain  bool // runs whenever the script gets there
	top      bool // at the script's top level (not in a compound command)
	guarded  bool // failure is tested
	nonFatal bool // failure does not stop the script even with set -e
	andExec  bool // left of && whose right side holds an exec
	loop     bool // inside a while-true body
	sub      bool // in a subshell, pipeline or command substitution
	fn       string
	depth    int
}

type scriptWalker struct {
	s       *Script
	vars    map[string]string // known variable values
	dir     string            // "" when unknown
	errexit bool
	stopped bool // after an unconditional exec/exit at top level
	read    ScriptReader
	list    DirLister
	funcs   map[string]*syntax.FuncDecl
	lines   []string
	calling map[string]bool
}

// collectDecls records the functions and aliases defined anywhere in f,
// and the names it tests for, before the walk: the walk then never takes
// a function for a missing program.
func (w *scriptWalker) collectDecls(f *syntax.File, depth int) {
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.FuncDecl:
			if n.Name != nil {
				w.s.Functions[n.Name.Value] = true
				if _, ok := w.funcs[n.Name.Value]; !ok {
					w.funcs[n.Name.Value] = n
				}
			}
		case *syntax.CallExpr:
			if len(n.Args) == 0 {
				return true
			}
			name := n.Args[0].Lit()
			args := make([]string, 0, len(n.Args)-1)
			for _, a := range n.Args[1:] {
				v, _ := expandWord(a, nil)
				args = append(args, v)
			}
			w.tested(name, args)
			switch name {
			case "alias":
				for _, a := range args {
					if k, _, ok := strings.Cut(a, "="); ok {
						w.s.Functions[k] = true
					}
				}
			case "eval":
				w.s.Opaque = "it runs eval, which may define commands"
			case ".", "source":
				w.source(n, depth)
			}
		case *syntax.TestClause:
			syntax.Walk(n.X, func(m syntax.Node) bool {
				if u, ok := m.(*syntax.UnaryTest); ok {
					if wd, ok := u.X.(*syntax.Word); ok {
						v, _ := expandWord(wd, nil)
						w.s.Tested[path.Base(v)] = true
					}
				}
				return true
			})
		}
		return true
	})
}

// tested records names a command tests for.
func (w *scriptWalker) tested(name string, args []string) {
	switch name {
	case "command", "which", "type", "hash", "whereis":
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				w.s.Tested[a] = true
			}
		}
	case "test", "[":
		for i, a := range args {
			if (a == "-x" || a == "-f" || a == "-e" || a == "-s" || a == "-L" || a == "-h") && i+1 < len(args) {
				w.s.Tested[path.Base(args[i+1])] = true
				w.s.Tested[args[i+1]] = true
			}
		}
	}
}

// source reads a sourced file for its function definitions; a file that
// cannot be read makes the script opaque.
func (w *scriptWalker) source(n *syntax.CallExpr, depth int) {
	if len(n.Args) < 2 {
		return
	}
	p, ok := expandWord(n.Args[1], w.vars)
	if ok && !strings.HasPrefix(p, "/") && w.dir != "" && strings.Contains(p, "/") {
		p = path.Join(w.dir, p)
	}
	if !ok && w.list != nil && depth <= 3 {
		// A path only partly known (". $LAMBDA_TASK_ROOT/$(...).sh"): the
		// functions of every file it may name count as defined.
		if files, ok := w.candidates(n.Args[1]); ok {
			for _, fp := range files {
				if text, ok := w.read(fp); ok && LooksText([]byte(text)) {
					if f, err := ParseScript(text, w.s.Flavour); err == nil {
						w.collectDecls(f, depth+1)
					}
				}
			}
			return
		}
	}
	if !ok || !strings.HasPrefix(p, "/") || w.read == nil || depth > 3 {
		w.s.Opaque = "it sources " + n.Args[1].Lit() + rawWord(n.Args[1]) + ", which is only known at run time"
		return
	}
	text, ok := w.read(p)
	if !ok {
		w.s.Opaque = "it sources " + p + ", which could not be read"
		return
	}
	f, err := ParseScript(text, w.s.Flavour)
	if err != nil {
		w.s.Opaque = "it sources " + p + ", which does not parse"
		return
	}
	w.collectDecls(f, depth+1)
}

// maxSourceCandidates bounds the files a partly known source path may
// name; more, and the script is opaque.
const maxSourceCandidates = 32

// candidates lists the files a partly known path may name: the unknown
// parts become *, which must stay within the last path element.
func (w *scriptWalker) candidates(wd *syntax.Word) ([]string, bool) {
	var b strings.Builder
	patternParts(&b, wd.Parts, w.vars)
	pat := b.String()
	if !strings.HasPrefix(pat, "/") {
		if w.dir == "" {
			return nil, false
		}
		pat = path.Join(w.dir, pat)
	}
	dir, base := path.Dir(pat), path.Base(pat)
	if strings.ContainsAny(dir, "*?[") {
		return nil, false
	}
	names, ok := w.list(dir)
	if !ok {
		return nil, false
	}
	var out []string
	for _, n := range names {
		if m, err := path.Match(base, n); err == nil && m {
			out = append(out, path.Join(dir, n))
		}
	}
	if len(out) == 0 || len(out) > maxSourceCandidates {
		return nil, false
	}
	return out, true
}

// patternParts writes a word with its unknown parts as *.
func patternParts(b *strings.Builder, parts []syntax.WordPart, vars map[string]string) {
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(p.Value, false))
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			patternParts(b, p.Parts, vars)
		case *syntax.ParamExp:
			if v, ok := paramValue(p, vars); ok {
				b.WriteString(v)
			} else {
				b.WriteString("*")
			}
		default:
			b.WriteString("*")
		}
	}
}

func rawWord(wd *syntax.Word) string {
	if wd.Lit() != "" {
		return ""
	}
	var b strings.Builder
	syntax.NewPrinter().Print(&b, wd)
	return b.String()
}

func (w *scriptWalker) stmts(ss []*syntax.Stmt, c walkCtx) {
	for _, s := range ss {
		if w.stopped {
			return
		}
		w.stmt(s, c)
	}
}

func (w *scriptWalker) stmt(s *syntax.Stmt, c walkCtx) {
	if s.Negated {
		c.guarded = true
	}
	if s.Background {
		c.nonFatal = true
	}
	var redirs []ScriptRedirect
	for _, r := range s.Redirs {
		if rd, ok := w.redirect(r); ok {
			redirs = append(redirs, rd)
		}
	}
	switch cmd := s.Cmd.(type) {
	case *syntax.CallExpr:
		w.call(s, cmd, redirs, c)
		return
	case *syntax.DeclClause:
		for _, a := range cmd.Args {
			w.assign(a, c)
		}
	case *syntax.BinaryCmd:
		switch cmd.Op {
		case syntax.AndStmt:
			// The left of && is tested: its failure skips the right side,
			// which matters only when the right side holds the exec.
			l := c
			l.nonFatal = true
			l.andExec = c.andExec || hasExec(cmd.Y)
			l.guarded = c.guarded || !l.andExec
			w.stmt(cmd.X, l)
			r := c
			w.stmt(cmd.Y, r)
		case syntax.OrStmt:
			l := c
			l.guarded = true
			w.stmt(cmd.X, l)
			r := c
			r.certain = false
			w.stmt(cmd.Y, r)
		default: // pipes
			l := c
			l.nonFatal, l.sub = true, true
			w.sub(func() { w.stmt(cmd.X, l) })
			r := c
			r.sub = true
			w.sub(func() { w.stmt(cmd.Y, r) })
		}
	case *syntax.IfClause:
		w.ifClause(cmd, c)
	case *syntax.WhileClause:
		cond := c
		cond.guarded, cond.top = true, false
		w.stmts(cmd.Cond, cond)
		body := c
		body.top = false
		body.certain = c.certain && !cmd.Until && alwaysTrue(cmd.Cond)
		body.loop = body.certain
		w.unsure(func() { w.stmts(cmd.Do, body) })
		if body.certain && !c.sub && !hasCall(cmd.Do, "break") {
			// An endless loop (a runtime's event loop): what follows it
			// never runs.
			w.stopped = true
		}
	case *syntax.ForClause:
		body := c
		body.top, body.certain = false, false
		w.unsure(func() { w.stmts(cmd.Do, body) })
	case *syntax.CaseClause:
		body := c
		body.top, body.certain = false, false
		w.unsure(func() {
			for _, it := range cmd.Items {
				w.stmts(it.Stmts, body)
			}
		})
	case *syntax.Block:
		b := c
		b.top = false
		w.stmts(cmd.Stmts, b)
	case *syntax.Subshell:
		b := c
		b.top, b.sub = false, true
		w.sub(func() { w.stmts(cmd.Stmts, b) })
	case *syntax.TimeClause:
		if cmd.Stmt != nil {
			w.stmt(cmd.Stmt, c)
		}
	}
	if len(redirs) > 0 {
		w.record(ScriptCommand{Redirects: redirs}, s, c)
	}
}

// unsure runs f for code that may or may not run: variables it assigns
// become unknown afterwards, and an exec in it does not stop the walk.
func (w *scriptWalker) unsure(f func()) {
	before := make(map[string]string, len(w.vars))
	for k, v := range w.vars {
		before[k] = v
	}
	dir, errexit := w.dir, w.errexit
	f()
	for k, v := range w.vars {
		if bv, ok := before[k]; !ok || bv != v {
			delete(w.vars, k)
		}
	}
	if w.dir != dir {
		w.dir = ""
	}
	// An option changed in a branch is unknown afterwards; assume the
	// weaker one (no set -e), so failures are not called fatal.
	w.errexit = errexit && w.errexit
	w.stopped = false
}

// sub runs f in a subshell: nothing it changes outlives it.
func (w *scriptWalker) sub(f func()) {
	vars := make(map[string]string, len(w.vars))
	for k, v := range w.vars {
		vars[k] = v
	}
	dir, errexit, stopped := w.dir, w.errexit, w.stopped
	f()
	w.vars, w.dir, w.errexit, w.stopped = vars, dir, errexit, stopped
}

func (w *scriptWalker) ifClause(ic *syntax.IfClause, c walkCtx) {
	cond := c
	cond.guarded, cond.top = true, false
	w.stmts(ic.Cond, cond)
	branch := c
	branch.top, branch.certain = false, false
	w.unsure(func() { w.stmts(ic.Then, branch) })
	for e := ic.Else; e != nil; e = e.Else {
		ec := branch
		ec.guarded = true
		w.unsure(func() { w.stmts(e.Cond, ec) })
		w.unsure(func() { w.stmts(e.Then, branch) })
	}
}

// alwaysTrue reports whether a loop condition is `true` or `:`.
func alwaysTrue(cond []*syntax.Stmt) bool {
	if len(cond) != 1 || cond[0].Negated {
		return false
	}
	ce, ok := cond[0].Cmd.(*syntax.CallExpr)
	if !ok || len(ce.Args) != 1 {
		return false
	}
	n := ce.Args[0].Lit()
	return n == "true" || n == ":"
}

// hasCall reports whether the statements hold a command named name.
func hasCall(ss []*syntax.Stmt, name string) bool {
	found := false
	for _, s := range ss {
		syntax.Walk(s, func(n syntax.Node) bool {
			if ce, ok := n.(*syntax.CallExpr); ok && len(ce.Args) > 0 && ce.Args[0].Lit() == name {
				found = true
			}
			return !found
		})
	}
	return found
}

// hasExec reports whether s holds an exec command.
func hasExec(s *syntax.Stmt) bool {
	found := false
	syntax.Walk(s, func(n syntax.Node) bool {
		if ce, ok := n.(*syntax.CallExpr); ok && len(ce.Args) > 0 && ce.Args[0].Lit() == "exec" {
			found = true
		}
		return !found
	})
	return found
}

func (w *scriptWalker) redirect(r *syntax.Redirect) (ScriptRedirect, bool) {
	var op string
	switch r.Op {
	case syntax.RdrOut:
		op = ">"
	case syntax.AppOut:
		op = ">>"
	case syntax.RdrClob:
		op = ">|"
	case syntax.RdrAll:
		op = "&>"
	case syntax.AppAll:
		op = "&>>"
	case syntax.RdrInOut:
		op = "<>"
	default:
		return ScriptRedirect{}, false
	}
	if r.Word == nil {
		return ScriptRedirect{}, false
	}
	if r.N != nil {
		op = r.N.Value + op
	}
	v, ok := expandWord(r.Word, w.vars)
	return ScriptRedirect{Op: op, Target: ScriptWord{Raw: printWord(r.Word), Value: v, Known: ok}}, true
}

func printWord(wd *syntax.Word) string {
	var b strings.Builder
	syntax.NewPrinter().Print(&b, wd)
	return b.String()
}

// assign applies NAME=value.
func (w *scriptWalker) assign(a *syntax.Assign, c walkCtx) {
	if a.Name == nil {
		return
	}
	w.substs(a.Value, c)
	if a.Naked {
		return // export NAME: the value does not change
	}
	name := a.Name.Value
	v, ok := "", true
	if a.Value != nil {
		v, ok = expandWord(a.Value, w.vars)
	}
	if a.Append || a.Array != nil || a.Index != nil {
		ok = false
	}
	if ok && c.certain {
		w.vars[name] = v
		return
	}
	if old, had := w.vars[name]; !ok || !had || old != v {
		delete(w.vars, name)
	}
}

// substs walks the command substitutions of a word: they run before the
// command (and for an assignment, their status is the command's).
func (w *scriptWalker) substs(wd *syntax.Word, c walkCtx) {
	if wd == nil {
		return
	}
	syntax.Walk(wd, func(n syntax.Node) bool {
		if cs, ok := n.(*syntax.CmdSubst); ok {
			sc := c
			sc.top, sc.sub = false, true
			w.sub(func() { w.stmts(cs.Stmts, sc) })
			return false
		}
		return true
	})
}

func (w *scriptWalker) call(s *syntax.Stmt, ce *syntax.CallExpr, redirs []ScriptRedirect, c walkCtx) {
	if len(ce.Args) == 0 {
		for _, a := range ce.Assigns {
			w.assign(a, c)
		}
		if len(redirs) > 0 {
			w.record(ScriptCommand{Redirects: redirs}, s, c)
		}
		return
	}
	for _, a := range ce.Assigns {
		w.substs(a.Value, c)
	}
	for _, a := range ce.Args {
		w.substs(a, c)
	}
	words := make([]ScriptWord, len(ce.Args))
	for i, a := range ce.Args {
		v, ok := expandWord(a, w.vars)
		words[i] = ScriptWord{Raw: printWord(a), Value: v, Known: ok}
	}
	pathVal, pathKnown := w.vars["PATH"]
	for _, a := range ce.Assigns {
		if a.Name != nil && a.Name.Value == "PATH" {
			pathVal, pathKnown = expandWord(a.Value, w.vars)
		}
	}
	cmd := ScriptCommand{Name: words[0], Args: words[1:], Redirects: redirs, PATH: pathVal, PATHKnown: pathKnown}
	name := words[0].Value
	if !words[0].Known {
		name = ""
	}
	switch name {
	case "exec":
		ops := execOperands(words[1:])
		if len(ops) == 0 {
			// exec >log 2>&1: redirects the shell itself.
			w.record(cmd, s, c)
			return
		}
		cmd.Exec = true
		cmd.Name, cmd.Args = ops[0], ops[1:]
		w.record(cmd, s, c)
		if c.certain && !c.sub {
			w.stopped = true
		}
		return
	case "exit":
		w.record(cmd, s, c)
		if c.certain && !c.sub {
			w.stopped = true
		}
		return
	case "set":
		if c.certain && !c.sub {
			w.setOptions(words[1:])
		}
	case "cd":
		if c.certain && !c.sub {
			w.cd(words[1:])
		}
	case "export", "readonly", "local":
		for _, a := range words[1:] {
			if k, v, ok := strings.Cut(a.Value, "="); ok && a.Known && c.certain {
				w.vars[k] = v
			} else if ok {
				delete(w.vars, k)
			}
		}
	}
	w.record(cmd, s, c)
	if fd := w.funcs[name]; fd != nil && c.depth < 4 && !w.calling[name] {
		if w.calling == nil {
			w.calling = map[string]bool{}
		}
		w.calling[name] = true
		fc := c
		fc.top, fc.fn, fc.depth = false, name, c.depth+1
		w.stmt(fd.Body, fc)
		delete(w.calling, name)
	}
}

// execOperands drops exec's options (-c, -l, -a name).
func execOperands(ws []ScriptWord) []ScriptWord {
	for len(ws) > 0 {
		switch ws[0].Value {
		case "-c", "-l", "-cl", "-lc", "--":
			ws = ws[1:]
			continue
		case "-a":
			if len(ws) > 1 {
				ws = ws[2:]
				continue
			}
		}
		break
	}
	return ws
}

func (w *scriptWalker) setOptions(args []ScriptWord) {
	for i := 0; i < len(args); i++ {
		a := args[i].Value
		switch {
		case a == "-o" || a == "+o":
			if i+1 < len(args) && args[i+1].Value == "errexit" {
				w.errexit = a == "-o"
			}
			i++
		case a == "--" || a == "-":
			return
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			if strings.ContainsRune(a[1:], 'e') {
				w.errexit = a[0] == '-'
			}
		default:
			return // set -- args / set args
		}
	}
}

func (w *scriptWalker) cd(args []ScriptWord) {
	for len(args) > 0 && (args[0].Value == "-P" || args[0].Value == "-L" || args[0].Value == "--") {
		args = args[1:]
	}
	if len(args) == 0 || !args[0].Known || args[0].Value == "-" || w.dir == "" && !strings.HasPrefix(args[0].Value, "/") {
		w.dir = ""
		return
	}
	d := args[0].Value
	if !strings.HasPrefix(d, "/") {
		d = path.Join(w.dir, d)
	}
	w.dir = path.Clean(d)
}

// record appends a command with what the context says about it.
func (w *scriptWalker) record(cmd ScriptCommand, s *syntax.Stmt, c walkCtx) {
	cmd.Line = int(s.Pos().Line())
	if cmd.Line >= 1 && cmd.Line <= len(w.lines) {
		cmd.Text = strings.TrimSpace(strings.TrimSuffix(w.lines[cmd.Line-1], "\r"))
	}
	cmd.Certain = c.certain
	cmd.Guarded = c.guarded
	cmd.ErrExit = w.errexit
	cmd.Fatal = !c.guarded && (c.andExec || w.errexit && !c.nonFatal)
	cmd.Loop = c.loop
	cmd.Dir = w.dir
	cmd.Func = c.fn
	cmd.Top = c.top && !c.sub
	if cmd.PATH == "" && cmd.Name.Value != "" {
		cmd.PATH, cmd.PATHKnown = w.vars["PATH"]
	}
	w.s.Commands = append(w.s.Commands, cmd)
}

// expandWord expands a word as the shell would when every part is known:
// quotes removed, $NAME and ${NAME} from vars. ok is false when the value
// is only known at run time (an unknown variable, a command or arithmetic
// substitution, a glob, a tilde, an unquoted variable that would be split).
func expandWord(wd *syntax.Word, vars map[string]string) (string, bool) {
	if wd == nil {
		return "", true
	}
	var b strings.Builder
	ok := expandParts(&b, wd.Parts, vars, false)
	if len(wd.Parts) > 0 {
		if lit, isLit := wd.Parts[0].(*syntax.Lit); isLit && strings.HasPrefix(lit.Value, "~") {
			ok = false // the home directory, unknown on Lambda
		}
	}
	return b.String(), ok
}

func expandParts(b *strings.Builder, parts []syntax.WordPart, vars map[string]string, quoted bool) bool {
	ok := true
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.Lit:
			v := p.Value
			if !quoted && isGlob(v) {
				ok = false
			}
			b.WriteString(unescape(v, quoted))
		case *syntax.SglQuoted:
			if p.Dollar {
				ok = false
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			if p.Dollar || !expandParts(b, p.Parts, vars, true) {
				ok = false
			}
		case *syntax.ParamExp:
			v, known := paramValue(p, vars)
			if !known || !quoted && (v == "" || strings.ContainsAny(v, " \t\n*?[")) {
				ok = false
			}
			b.WriteString(v)
		default:
			ok = false
		}
	}
	return ok
}

// isGlob reports whether an unquoted literal holds a pattern: * or ?, or
// a [ closed by a later ].
func isGlob(v string) bool {
	if strings.ContainsAny(v, "*?") {
		return true
	}
	i := strings.IndexByte(v, '[')
	return i >= 0 && strings.IndexByte(v[i+1:], ']') > 0
}

// paramValue is the value of a simple $NAME / ${NAME}, or of
// ${NAME:-word} / ${NAME-word} when NAME is known and not empty.
func paramValue(p *syntax.ParamExp, vars map[string]string) (string, bool) {
	if p.Param == nil || p.Excl || p.Length || p.Index != nil || p.Slice != nil || p.Repl != nil || p.Names != 0 || p.NestedParam != nil {
		return "$?", false
	}
	v, ok := vars[p.Param.Value]
	if p.Exp != nil {
		switch p.Exp.Op {
		case syntax.DefaultUnsetOrNull, syntax.DefaultUnset:
			if ok && v != "" {
				return v, true
			}
		}
		return "$?", false
	}
	if !ok {
		return "$" + p.Param.Value, false
	}
	return v, true
}

// unescape removes the backslashes of an unquoted literal (or, quoted,
// those before $ ` " \).
func unescape(s string, quoted bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (!quoted || strings.IndexByte("$`\"\\", s[i+1]) >= 0) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
