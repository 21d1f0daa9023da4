package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// handlerArgCount is LD205: the command runs the AWS base images'
// /lambda-entrypoint.sh with other than exactly one argument. The script
// checks `$# -ne 1`, prints "entrypoint requires the handler name to be the
// first argument" and exits 142.
type handlerArgCount struct{}

func (handlerArgCount) Meta() Meta {
	return Meta{
		ID:       "LD205",
		Name:     "handler-arg-count",
		Title:    "/lambda-entrypoint.sh needs exactly one argument, the handler",
		Severity: Error,
		Category: CategoryEntrypoint,
		Needs:    []string{"/lambda-entrypoint.sh"},
	}
}

func (c handlerArgCount) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	ch, err := t.CommandChain()
	if ch == nil {
		return nil, err
	}
	for i := range ch.Links {
		l := &ch.Links[i]
		// A shell command's arguments are LD204's (shell form) business.
		if l.Role == analyze.RoleShellCommand || l.Role == analyze.RoleInterpreter || l.Kind != analyze.LinkScript || l.Path != "/lambda-entrypoint.sh" {
			continue
		}
		text := l.Text()
		if text == nil {
			b, err := analyze.ReadPrefix(t.FS, l.Path, analyze.MaxScriptRead)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", l.Path, err)
			}
			text = b
		}
		if !analyze.IsAWSEntrypointText(text) || !strings.Contains(string(text), "$# -ne 1") && !strings.Contains(string(text), "handler name to be the first argument") {
			continue // a script of the same name that does not check $#
		}
		if len(l.Args) == 1 || l.ArgsUnknown {
			return nil, nil
		}
		return []Finding{c.finding(t, ch, i)}, nil
	}
	return nil, nil
}

func (c handlerArgCount) finding(t *analyze.Target, ch *analyze.Chain, i int) Finding {
	l := &ch.Links[i]
	argv := t.Argv()
	f := NewFinding(c.Meta(), "")
	f.Path = l.Path
	f.Layer = layerRef(t, l.Entry.Layer)
	f.Evidence = analyze.ChainEvidence(t, ch, i)
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s gets %d argument(s): %s", l.Path, len(l.Args), analyze.JSONList(l.Args)))
	var why string
	switch {
	case len(l.Args) == 0 && len(argv.Cmd) == 0:
		why = "CMD is unset, so it gets no argument"
	case len(l.Args) == 0:
		why = "it gets no argument"
	case i == 0 && len(argv.Entrypoint) > 1:
		why = fmt.Sprintf("ENTRYPOINT adds %s before CMD %s, so it gets %d", analyze.JSONList(argv.Entrypoint[1:]), analyze.JSONList(argv.Cmd), len(l.Args))
	default:
		why = fmt.Sprintf("it gets %d: %s", len(l.Args), analyze.JSONList(l.Args))
	}
	f.Message = fmt.Sprintf("%s runs the AWS base image's /lambda-entrypoint.sh, which requires exactly one argument, the handler name; %s. At start it prints \"entrypoint requires the handler name to be the first argument\" and exits 142: Lambda reports \"Runtime exited with error: exit status 142\" (errorType Runtime.ExitError).", ch.Origin(i), why)
	handler := "app.handler"
	for _, a := range l.Args {
		if strings.Contains(a, ".") && !strings.HasPrefix(a, "-") && !strings.Contains(a, "/") {
			handler = a
			break
		}
	}
	if handler == "app.handler" {
		f.Fix = `CMD ["app.handler"] (exactly one element: your handler, e.g. module.function)`
	} else {
		f.Fix = analyze.DockerfileExec("CMD", []string{handler})
	}
	if i == 0 && len(argv.Entrypoint) > 1 {
		f.Fix = `ENTRYPOINT ["/lambda-entrypoint.sh"] and ` + f.Fix
	}
	if argv.Overrides.Command != nil {
		f.Fix += " (or set the function's ImageConfig.Command to that one element)"
	}
	f.Source = argv.ConfigField("Cmd")
	return f
}
