package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// shellFormEntrypoint is LD204: ENTRYPOINT is in shell form
// (["/bin/sh", "-c", "cmd"]) while CMD is set. `sh -c STRING a b` runs
// STRING with a as $0 and b as $1, so unless STRING uses $0 the first CMD
// element — the handler — never reaches the program.
type shellFormEntrypoint struct{}

func (shellFormEntrypoint) Meta() Meta {
	return Meta{
		ID:       "LD204",
		Name:     "shell-form-entrypoint",
		Title:    "shell-form ENTRYPOINT ignores CMD (the handler)",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

// shellFormParts returns the command string of a shell-form list
// [<shell>, "-c", STRING, ...].
func shellFormParts(list []string) (shell, script string, ok bool) {
	if len(list) < 3 || !analyze.Shells[path.Base(list[0])] || list[1] != "-c" {
		return "", "", false
	}
	return list[0], list[2], true
}

func (c shellFormEntrypoint) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	argv := t.Argv()
	shell, script, ok := shellFormParts(argv.Entrypoint)
	if !ok || len(argv.Cmd) == 0 {
		return nil, nil
	}
	// sh -c STRING x y: x is $0, y is $1. Extra ENTRYPOINT elements come
	// first.
	params := append(append([]string{}, argv.Entrypoint[3:]...), argv.Cmd...)
	if strings.Contains(script, "$0") || strings.Contains(script, "${0}") {
		return nil, nil
	}
	usesArgs := false
	for _, p := range []string{"$@", "$*", "$1", "${1}", "${@}", "${*}"} {
		if strings.Contains(script, p) {
			usesArgs = true
		}
	}
	f := NewFinding(c.Meta(), "")
	handler := params[0]
	var what string
	if usesArgs {
		what = fmt.Sprintf("ENTRYPOINT is in shell form (%s -c %s) and CMD is %s: the shell takes the first CMD element %s as $0, so \"$@\"/$1 in the command start at the element after it and %s is lost", shell, analyze.QuoteJSON(script), analyze.JSONList(argv.Cmd), analyze.QuoteJSON(handler), analyze.QuoteJSON(handler))
	} else {
		what = fmt.Sprintf("ENTRYPOINT is in shell form (%s -c %s), so the shell runs that string and ignores CMD %s: the handler %s never reaches the program", shell, analyze.QuoteJSON(script), analyze.JSONList(argv.Cmd), analyze.QuoteJSON(handler))
	}
	var symptom string
	switch {
	case strings.Contains(script, "lambda-entrypoint.sh"):
		symptom = "/lambda-entrypoint.sh then prints \"entrypoint requires the handler name to be the first argument\" and exits 142 (\"Runtime exited with error: exit status 142\", Runtime.ExitError)"
	case strings.Contains(script, "awslambdaric"):
		symptom = "the Python runtime interface client finds no handler (\"ValueError: Handler not set\", raised by awslambdaric's bootstrap, github.com/aws/aws-lambda-python-runtime-interface-client) and init fails"
	case strings.Contains(script, "aws-lambda-ric"):
		symptom = "the Node.js runtime interface client fails with \"Error: No handler specified\" and init fails"
	case strings.Contains(script, "aws_lambda_ric"):
		symptom = "the Ruby runtime interface client gets no handler and init fails"
	default:
		symptom = "the program starts without the handler argument; a runtime interface client then fails at init"
	}
	f.Message = what + ". Docker documents that the shell form \"prevents any CMD or run command line arguments from being used\"; " + symptom + "."
	f.Evidence = argv.Evidence()
	f.Evidence = append(f.Evidence, fmt.Sprintf("sh -c %s %s: $0=%s", analyze.QuoteJSON(script), strings.Join(quoteAll(params), " "), analyze.QuoteJSON(handler)))
	f.Fix = "use the exec form: " + execFormFix(script)
	f.Source = argv.ConfigField("Entrypoint")
	return []Finding{f}, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = analyze.QuoteJSON(s)
	}
	return out
}

// execFormFix turns a simple shell command string into an exec-form
// ENTRYPOINT; a string with expansions or several commands gets a
// template.
func execFormFix(script string) string {
	cmds := analyze.ParseShell(script)
	if len(cmds) == 1 {
		ws := cmds[0].Words
		if len(ws) > 0 && ws[0].Raw == "exec" {
			ws = analyze.ExecOperands(ws[1:])
		}
		var words []string
		simple := len(ws) > 0
		for i, w := range ws {
			e := analyze.Expand(w, map[string]string{})
			if e.Param == "@" && i == len(ws)-1 && i > 0 {
				break // the exec form appends CMD where "$@" stood
			}
			if e.Dynamic || e.Param != "" || analyze.IsAssignment(w) || analyze.IsRedirection(w.Raw) {
				simple = false
				break
			}
			words = append(words, e.Lit)
		}
		if simple {
			return analyze.DockerfileExec("ENTRYPOINT", words)
		}
	}
	return `ENTRYPOINT ["/path/to/program", "arg"] (exec form: CMD's elements are appended as arguments)`
}
