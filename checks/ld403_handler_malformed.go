package checks

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// handlerMalformed is LD403: the handler string is one the runtime
// interface client rejects before looking for any file — a Python handler
// without a dot, a Node.js handler whose last path element has no dot or
// that contains "..", a Ruby handler that is not FILE.METHOD or
// FILE.CLASS.METHOD — or the client gets no handler at all. The texts are
// those of the clients' source (awslambdaric bootstrap.py and
// lambda_config.py, aws-lambda-ric UserFunction.js and bin/index.mjs,
// aws_lambda_ric lambda_handler.rb and bootstrap.rb).
type handlerMalformed struct{}

func (handlerMalformed) Meta() Meta {
	return Meta{
		ID:       "LD403",
		Name:     "handler-malformed",
		Title:    "the handler string is one the runtime client rejects",
		Severity: Error,
		Category: CategoryRuntime,
	}
}

func (c handlerMalformed) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	hs, err := handlerContext(t)
	if err != nil {
		return nil, err
	}
	a := t.RIC()
	ch := t.Chain()
	f := NewFinding(c.Meta(), "")
	f.Source = t.Argv().ConfigField("Cmd")
	if !hs.Arg.Set {
		if hs.Base {
			return nil, nil // /lambda-entrypoint.sh's argument count is an entrypoint check
		}
		if len(t.Argv().Cmd) > 0 {
			// CMD is set but does not reach the client: a shell-form
			// ENTRYPOINT or a wrapper that drops it (LD204's case).
			return nil, fmt.Errorf("%w: CMD is set but does not reach the client (%s)", ErrSkip, ch.Describe(max(a.Link, 0)))
		}
		if a.Link < 0 || a.Link > 0 && ch.Links[a.Link].From != "" {
			// Started from a script: its arguments were not tracked.
			return nil, fmt.Errorf("%w: the client is started by %s, whose arguments were not followed", ErrSkip, ch.Links[max(a.Link, 0)].From)
		}
		ev := t.Argv().Evidence()
		ev = append(ev, fmt.Sprintf("runtime client: %s, started as %s", hs.Client, ch.Describe(a.Link)))
		symptom := map[string]string{
			"python": `Python stops with "ValueError: Handler not set" (awslambdaric lambda_config.py), so init fails with "Runtime exited with error: exit status 1" (Runtime.ExitError)`,
			"nodejs": `Node.js stops with "Error: No handler specified" (aws-lambda-ric bin/index.mjs), so init fails with "Runtime exited with error: exit status 1" (Runtime.ExitError)`,
			"ruby":   `The client prints "No handler specified, exiting Runtime Interface Client." and exits (aws_lambda_ric bootstrap.rb), so init fails with "Runtime exited without providing a reason" (Runtime.ExitError)`,
		}[hs.Lang]
		f.Message = fmt.Sprintf("%s starts %s without a handler argument: CMD is empty, and the client takes the handler from its first argument. %s.", t.Argv().Source(), hs.ClientLabel(), symptom)
		f.Path = ch.Links[a.Link].Path
		f.Evidence = ev
		f.Fix = analyze.DockerfileExec("CMD", []string{suggestHandler(t, hs, "")})
		return []Finding{f}, nil
	}
	if !hs.Arg.Known {
		return nil, fmt.Errorf("%w: the handler %s is only known at run time", ErrSkip, hs.Arg.Value)
	}
	p, bad, errType := analyze.ParseHandler(hs.Lang, hs.Arg.Value)
	if bad == "" {
		return nil, nil
	}
	ev := hs.Evidence(t)
	ev = ev[:len(ev)-1] // the search roots do not matter here
	rule := map[string]string{
		"python": "awslambdaric splits the handler at its last dot into module and function (handler.rsplit('.', 1)), then imports the module",
		"nodejs": "aws-lambda-ric takes the last path element of the handler and splits it at its first dot into file and exported name (/^([^.]*)\\.(.*)$/), and refuses \"..\"",
		"ruby":   "aws_lambda_ric splits the handler at dots and wants 2 parts (FILE.METHOD) or 3 (FILE.CLASS.METHOD)",
	}[hs.Lang]
	ev = append(ev, "rule: "+rule)
	shown := bad
	if hs.Lang == "ruby" {
		shown = strings.SplitN(bad, ", must be", 2)[0] + ", must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD …"
	}
	var symptom string
	switch errType {
	case "ValueError":
		symptom = fmt.Sprintf(`importlib raises "ValueError: %s", so init fails with errorType ValueError`, bad)
	case "ArgumentError":
		symptom = fmt.Sprintf(`the client raises "%s" (ArgumentError) while loading the handler, so init fails`, shown)
	default:
		symptom = fmt.Sprintf(`init fails with "%s: %s"`, errType, shown)
	}
	if hs.Base {
		symptom += " (the text is the open-source client's; the managed runtime is presumed to match, unconfirmed)"
	}
	f.Message = fmt.Sprintf("%s names the handler %s, which %s rejects: %s. %s.", analyze.CmdSource(t), analyze.QuoteJSON(hs.Arg.Value), hs.ClientLabel(), malformedWhy(hs.Lang, hs.Arg.Value, p, errType), upperFirst(symptom))
	f.Evidence = ev
	f.Path = hs.Roots[0]
	switch {
	case errType == "Runtime.BuiltInModuleConflict":
		mod := strings.SplitN(p.Module, ".", 2)[0]
		f.Fix = fmt.Sprintf("rename the module so it does not shadow Python's built-in %s (e.g. %s.py to %s_handler.py), then %s", mod, mod, mod, analyze.DockerfileExec(analyze.CmdSource(t), []string{mod + "_handler" + strings.TrimPrefix(hs.Arg.Value, mod)}))
	case hs.Lang == "nodejs" && strings.Contains(hs.Arg.Value, ".."):
		abs := path.Join(hs.Roots[0], hs.Arg.Value)
		if strings.HasSuffix(hs.Arg.Value, ".") {
			abs += "."
		}
		f.Fix = analyze.DockerfileExec(analyze.CmdSource(t), []string{abs}) + " (an absolute path instead of \"..\")"
	default:
		f.Fix = analyze.DockerfileExec(analyze.CmdSource(t), []string{suggestHandler(t, hs, hs.Arg.Value)})
	}
	return []Finding{f}, nil
}

// malformedWhy says in words what is wrong with h.
func malformedWhy(lang, h string, p analyze.ParsedHandler, errType string) string {
	switch {
	case h == "":
		return "it is an empty string"
	case errType == "Runtime.BuiltInModuleConflict":
		return fmt.Sprintf("its module %q is compiled into Python itself, so the client refuses it", strings.SplitN(p.Module, ".", 2)[0])
	case errType == "Runtime.HandlerNotFound":
		return "it ends with a dot, so the function name is empty"
	case errType == "ValueError":
		return "it starts with a dot, so the module name is empty"
	case lang == "nodejs" && strings.Contains(h, ".."):
		return `it contains "..", which the Node.js client refuses`
	case lang == "ruby":
		return fmt.Sprintf("it has %d dot-separated part(s), not 2 or 3", len(analyze.RubySplit(h)))
	}
	return "it has no dot between the module and the function name"
}

// suggestHandler proposes a handler: a module file found in the first
// search root and the function it defines, keeping what h already says.
func suggestHandler(t *analyze.Target, hs analyze.HandlerSpec, h string) string {
	ext := analyze.SourceExt(hs.Lang)
	stem := ""
	switch hs.Lang {
	case "python":
		stem = strings.Trim(h, ".")
		if i := strings.LastIndexByte(stem, '.'); i >= 0 {
			stem = stem[:i]
		}
	case "nodejs":
		stem = strings.Trim(analyze.NodeBasename(strings.ReplaceAll(h, "..", "")), ".")
		if i := strings.IndexByte(stem, '.'); i >= 0 {
			stem = stem[:i]
		}
	case "ruby":
		if parts := analyze.RubySplit(h); len(parts) > 0 {
			stem = parts[0]
		}
	}
	files := []string{}
	root := hs.Roots[0]
	if stem != "" {
		files = append(files, path.Join(root, strings.ReplaceAll(stem, ".", "/")+ext))
	}
	for _, n := range []string{"app", "index", "main", "handler", "lambda_function"} {
		files = append(files, path.Join(root, n+ext))
	}
	if hs.Lang == "nodejs" {
		for _, n := range []string{"app", "index", "main", "handler"} {
			files = append(files, path.Join(root, n+".mjs"))
		}
	}
	for _, f := range files {
		b, err := analyze.ReadBounded(t.FS, f, analyze.MaxSourceRead)
		if err != nil {
			continue
		}
		fn := analyze.GuessFunction(string(b), hs.Lang)
		if fn == "" {
			fn = "handler"
		}
		mod := strings.TrimSuffix(strings.TrimPrefix(f, root+"/"), path.Ext(f))
		if hs.Lang == "ruby" && strings.Contains(string(b), "def self.") {
			if ns := rubyNamespace(string(b)); ns != "" {
				return mod + "." + ns + "." + fn
			}
		}
		return mod + "." + fn
	}
	if stem == "" {
		stem = "app"
	}
	return stem + ".handler"
}

// rubyNamespace returns "Module::Class" from the first module and class
// a Ruby file opens.
func rubyNamespace(text string) string {
	var parts []string
	for _, kw := range []string{"module", "class"} {
		if m := regexp.MustCompile(`(?m)^\s*` + kw + `\s+([A-Z]\w*)`).FindStringSubmatch(text); m != nil {
			parts = append(parts, m[1])
		}
	}
	return strings.Join(parts, "::")
}
