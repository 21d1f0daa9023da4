package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// dashBashism is LD213: a start-up script run by dash (Debian's and
// Ubuntu's /bin/sh) uses what only bash has: `set -o pipefail` (dash
// 0.5.12 prints "set: Illegal option -o pipefail" and, set being a special
// builtin, exits at once with status 2), or a bash builtin such as
// `source` or `declare` ("source: not found", exit 127). The dash binary
// in the image is read: an option or builtin whose name it holds is taken
// as supported, so a newer dash is never blamed.
type dashBashism struct{}

func (dashBashism) Meta() Meta {
	return Meta{
		ID:       "LD213",
		Name:     "dash-bashism",
		Title:    "a start-up script run by dash uses a bash-only option or builtin",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

// ld213BashBuiltins are bash builtins POSIX does not require, checked
// against the dash binary.
var ld213BashBuiltins = map[string]bool{"source": true, "declare": true, "typeset": true, "shopt": true, "pushd": true, "popd": true, "mapfile": true, "readarray": true, "let": true}

func (c dashBashism) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	ch, err := t.CommandChain()
	if ch == nil {
		return nil, err
	}
	var out []Finding
	for _, s := range t.Scripts() {
		if s.ParseErr != nil || s.Flavour != analyze.FlavourDash {
			continue
		}
		syn, synOK := analyze.FirstDashSyntaxError(s.Text)
		if synOK {
			out = append(out, c.syntaxError(t, ch, s, syn))
		}
		if !ld213Readable(t, s.Shell) {
			continue
		}
		for i := range s.Commands {
			cmd := &s.Commands[i]
			if !cmd.Certain || cmd.Guarded || !cmd.Name.Known {
				continue
			}
			stop := false
			name := cmd.Name.Value
			switch {
			case name == "set" && ld213Pipefail(cmd.Args):
				if has, ok := t.ShellHasToken(s.Shell, "pipefail"); ok && !has {
					if synOK && cmd.Line < syn.Line {
						out = out[:len(out)-1] // dash exits here, before it parses that
					}
					out = append(out, c.pipefail(t, ch, s, cmd))
					stop = true // dash exits here: nothing after it runs
				}
			case ld213BashBuiltins[name] && !s.Functions[name]:
				if has, ok := t.ShellHasToken(s.Shell, name); !ok || has {
					continue
				}
				if ld213OnPath(t, cmd) {
					continue
				}
				out = append(out, c.builtin(t, ch, s, cmd))
			}
			if stop {
				break
			}
		}
	}
	return out, nil
}

// ld213Readable reports whether the dash binary's names can be read: it
// must hold an option name (errexit) and a builtin name (local) that every
// dash has, or an absent name proves nothing.
func ld213Readable(t *analyze.Target, p string) bool {
	opt, ok1 := t.ShellHasToken(p, "errexit")
	bi, ok2 := t.ShellHasToken(p, "local")
	return ok1 && ok2 && opt && bi
}

// ld213Pipefail reports whether set's arguments turn pipefail on (-o
// pipefail, -euo pipefail, -opipefail).
func ld213Pipefail(args []analyze.ScriptWord) bool {
	for i, a := range args {
		v := a.Value
		if v == "-opipefail" {
			return true
		}
		if strings.HasPrefix(v, "-") && !strings.HasPrefix(v, "--") && strings.HasSuffix(v, "o") && i+1 < len(args) && args[i+1].Value == "pipefail" {
			return true
		}
	}
	return false
}

// ld213OnPath reports whether a program of the builtin's name is on the
// script's PATH (dash would then run it).
func ld213OnPath(t *analyze.Target, cmd *analyze.ScriptCommand) bool {
	if !cmd.PATHKnown {
		return true
	}
	for _, dir := range strings.Split(cmd.PATH, ":") {
		if !strings.HasPrefix(dir, "/") {
			return true
		}
		if r := t.FS.Resolve(dir + "/" + cmd.Name.Value); r.Err == nil && r.Entry != nil && !r.Entry.IsDir() {
			return true
		}
	}
	return false
}

func (c dashBashism) base(t *analyze.Target, ch *analyze.Chain, s *analyze.Script, cmd *analyze.ScriptCommand) Finding {
	f := NewFinding(c.Meta(), "")
	f.Path = s.Path
	if e, ok := t.FS.Lookup(s.Path); ok && s.Path != "" {
		f.Layer = layerRef(t, e.Layer)
	}
	f.Evidence = analyze.ChainEvidence(t, ch, s.Link)
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s line %d: %s", s.Origin, cmd.Line, analyze.QuoteJSON(cmd.Text)))
	return f
}

// ld213Fix proposes bash, or the POSIX form.
func ld213Fix(s *analyze.Script, posix string) string {
	where := s.Origin
	if s.Path != "" {
		return fmt.Sprintf("start %s with #!/bin/bash (bash is needed in the image), or %s", where, posix)
	}
	return fmt.Sprintf("run the string with bash (ENTRYPOINT [\"/bin/bash\", \"-c\", ...]), or %s", posix)
}

func (c dashBashism) pipefail(t *analyze.Target, ch *analyze.Chain, s *analyze.Script, cmd *analyze.ScriptCommand) Finding {
	f := c.base(t, ch, s, cmd)
	f.Evidence = append(f.Evidence, fmt.Sprintf("run by %s, dash; its binary holds no option named \"pipefail\"", s.Shell))
	f.Message = fmt.Sprintf("%s line %d runs %s, but the script is run by dash (%s), which has no pipefail option: it prints \"set: Illegal option -o pipefail\", and since set is a special builtin, dash exits at once with status 2, set -e or not. Lambda reports \"Runtime exited with error: exit status 2\" (errorType Runtime.ExitError). Under bash (Amazon Linux's /bin/sh) the same script works.", s.Origin, cmd.Line, analyze.QuoteJSON(cmd.Text), s.Shell)
	f.Fix = ld213Fix(s, "drop pipefail from the set line")
	return f
}

func (c dashBashism) builtin(t *analyze.Target, ch *analyze.Chain, s *analyze.Script, cmd *analyze.ScriptCommand) Finding {
	name := cmd.Name.Value
	f := c.base(t, ch, s, cmd)
	f.Evidence = append(f.Evidence, fmt.Sprintf("run by %s, dash; its binary holds no builtin named %s, and no directory of PATH %s has a program of that name", s.Shell, analyze.QuoteJSON(name), cmd.PATH))
	var effect string
	switch {
	case !cmd.Fatal:
		f.Severity = Warning
		effect = "the script goes on without it (set -e is not in effect)"
		if name == "source" {
			effect += ", so whatever the sourced file defines is missing later"
		}
	case cmd.ErrExit:
		effect = "set -e is in effect, so the script stops there and Lambda reports \"Runtime exited with error: exit status 127\" (errorType Runtime.ExitError)"
	default:
		effect = "the start-up depends on it, so the runtime never starts and Lambda reports \"Runtime exited with error: exit status 127\" (errorType Runtime.ExitError)"
	}
	f.Message = fmt.Sprintf("%s line %d runs %s, a bash builtin, but the script is run by dash (%s), which does not have it: dash prints \"%s: %d: %s: not found\" and the command exits 127; %s.", s.Origin, cmd.Line, analyze.QuoteJSON(name), s.Shell, s.Origin, cmd.Line, name, effect)
	posix := "use the POSIX form"
	switch name {
	case "source":
		posix = "use the POSIX form: . FILE"
	case "declare", "typeset":
		posix = "use plain assignments (NAME=value) or export"
	case "let":
		posix = "use $(( ... )) arithmetic"
	}
	f.Fix = ld213Fix(s, posix)
	return f
}

func (c dashBashism) syntaxError(t *analyze.Target, ch *analyze.Chain, s *analyze.Script, syn analyze.DashSyntax) Finding {
	f := NewFinding(c.Meta(), "")
	f.Path = s.Path
	if e, ok := t.FS.Lookup(s.Path); ok && s.Path != "" {
		f.Layer = layerRef(t, e.Layer)
	}
	f.Evidence = analyze.ChainEvidence(t, ch, s.Link)
	line := ""
	if ls := strings.Split(s.Text, "\n"); syn.Line >= 1 && syn.Line <= len(ls) {
		line = strings.TrimSpace(strings.TrimSuffix(ls[syn.Line-1], "\r"))
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s line %d: %s", s.Origin, syn.Line, analyze.QuoteJSON(line)), fmt.Sprintf("run by %s, dash", s.Shell))
	f.Message = fmt.Sprintf("%s line %d holds %s, which is bash syntax, but the script is run by dash (%s): dash reads a script one top-level command at a time and cannot parse the one holding it, so when it gets there it prints \"Syntax error: ...\" and exits with status 2, even if that code is in a branch that would not run or a function never called. Lambda reports \"Runtime exited with error: exit status 2\" (errorType Runtime.ExitError).", s.Origin, syn.Line, syn.What, s.Shell)
	f.Fix = ld213Fix(s, "rewrite it in POSIX sh")
	return f
}
