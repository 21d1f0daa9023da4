package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// shebangCRLF is LD208: a script of the entrypoint chain has Windows (CRLF)
// line endings on its #! line. The kernel reads the line up to "\n", so the
// "\r" becomes part of the interpreter's name (or of its argument).
type shebangCRLF struct{}

func (shebangCRLF) Meta() Meta {
	return Meta{
		ID:       "LD208",
		Name:     "shebang-crlf",
		Title:    "script has CRLF line endings on its #! line",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c shebangCRLF) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	ch, err := t.CommandChain()
	if ch == nil {
		return nil, err
	}
	var out []Finding
	for i := range ch.Links {
		l := &ch.Links[i]
		if l.Kind != analyze.LinkScript || l.Shebang == nil || !l.Shebang.CRLF {
			continue
		}
		out = append(out, c.finding(t, ch, i))
	}
	return out, nil
}

func (c shebangCRLF) finding(t *analyze.Target, ch *analyze.Chain, i int) Finding {
	l := &ch.Links[i]
	sb := l.Shebang
	f := NewFinding(c.Meta(), "")
	f.Path = l.Path
	f.Layer = layerRef(t, l.Entry.Layer)
	f.Evidence = analyze.ChainEvidence(t, ch, i)
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s line 1: %s (ends in \\r\\n)", l.Path, analyze.QuoteJSON(sb.Line)))
	var effect, seen string
	switch {
	case len(sb.Args) == 0:
		effect = fmt.Sprintf("the kernel looks for an interpreter named %s, which does not exist", analyze.QuoteJSON(sb.Interpreter+"\r"))
		seen = fmt.Sprintf("%s^M: bad interpreter: No such file or directory", sb.Interpreter)
	case path.Base(sb.Interpreter) == "env" && !strings.HasPrefix(sb.Args[0], "-"):
		effect = fmt.Sprintf("env is asked to run %s, which does not exist", analyze.QuoteJSON(sb.Args[0]+"\r"))
		seen = fmt.Sprintf("env: '%s\\r': No such file or directory", sb.Args[0])
	default:
		effect = fmt.Sprintf("%s gets the argument %s, with a carriage return at its end", sb.Interpreter, analyze.QuoteJSON(sb.Args[0]+"\r"))
		seen = "an invalid-option error from the interpreter (e.g. dash: \"Illegal option -\"; the wording varies)"
	}
	var symptom string
	if i == 0 && len(sb.Args) == 0 {
		symptom = fmt.Sprintf("Lambda cannot start the function: \"IMAGE Launch error: fork/exec %s: no such file or directory\" (errorType Runtime.InvalidEntrypoint), although the file exists; from a shell the error reads \"%s\"", l.Name, seen)
	} else {
		symptom = fmt.Sprintf("The start fails with \"%s\" and Lambda reports \"Runtime exited with error: exit status …\" (errorType Runtime.ExitError)", seen)
	}
	f.Message = fmt.Sprintf("%s (run by %s) has Windows line endings: its first line is %s, so %s. %s. Checkouts on Windows (git core.autocrlf) commonly cause this.", l.Path, ch.Origin(i), analyze.QuoteJSON(sb.Line), effect, symptom)
	f.Fix = fmt.Sprintf(`RUN sed -i 's/\r$//' %s (and add "*.sh text eol=lf" to .gitattributes)`, l.Path)
	return f
}
