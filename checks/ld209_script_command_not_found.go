package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// scriptCommandNotFound is LD209: a shell script on the entrypoint chain
// (a script file run by a shell, or the string of `sh -c`) calls a program
// the image does not have. The shell prints "not found" and the command
// exits 127; with set -e, before the exec (&&), or as the script's last
// command, the start-up stops there. Only commands certain to run are
// judged: not in an if branch or case item, not tested first (command -v,
// which, type, [ -x ]), not left of ||. Builtins of bash, dash and busybox
// ash and the script's functions are never looked up.
type scriptCommandNotFound struct{}

func (scriptCommandNotFound) Meta() Meta {
	return Meta{
		ID:       "LD209",
		Name:     "script-command-not-found",
		Title:    "a start-up shell script calls a program the image does not have",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c scriptCommandNotFound) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	ch, err := t.CommandChain()
	if ch == nil {
		return nil, err
	}
	var out []Finding
	for _, s := range t.Scripts() {
		if s.ParseErr != nil || s.Opaque != "" {
			continue
		}
		target := analyze.ShellTarget(s)
		seen := map[string]bool{}
		for i := range s.Commands {
			cmd := &s.Commands[i]
			if !cmd.Certain || cmd.Guarded || cmd.Exec && !s.Operand || cmd.Name.Value == "" || seen[cmd.Name.Value] || s.Tested[cmd.Name.Value] || s.Tested[path.Base(cmd.Name.Value)] {
				continue
			}
			if s.Path == "" && cmd == target {
				continue // the command sh -c ends in is on the chain: LD202's
			}
			lk := t.LookupCommand(s, cmd)
			if !lk.Judged || lk.Found {
				continue
			}
			seen[cmd.Name.Value] = true
			f, err := c.finding(ctx, t, ch, s, cmd, lk)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// ld209NotFound is the shell's message for a missing command.
func ld209NotFound(s *analyze.Script, cmd *analyze.ScriptCommand) string {
	name := cmd.Name.Value
	where := s.Path
	if where == "" {
		where = "sh"
	}
	switch s.Flavour {
	case analyze.FlavourBash:
		return fmt.Sprintf("%s: line %d: %s: command not found", where, cmd.Line, name)
	case analyze.FlavourDash:
		return fmt.Sprintf("%s: %d: %s: not found", where, cmd.Line, name)
	case analyze.FlavourBusybox:
		return fmt.Sprintf("%s: line %d: %s: not found", where, cmd.Line, name)
	}
	return name + ": not found"
}

func (c scriptCommandNotFound) finding(ctx context.Context, t *analyze.Target, ch *analyze.Chain, s *analyze.Script, cmd *analyze.ScriptCommand, lk analyze.CommandLookup) (Finding, error) {
	name := cmd.Name.Value
	f := NewFinding(c.Meta(), "")
	f.Path = s.Path
	if e, ok := t.FS.Lookup(s.Path); ok && s.Path != "" {
		f.Layer = layerRef(t, e.Layer)
	}
	f.Evidence = analyze.ChainEvidence(t, ch, s.Link)
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s line %d: %s", s.Origin, cmd.Line, analyze.QuoteJSON(cmd.Text)))
	if cmd.Func != "" {
		f.Evidence = append(f.Evidence, fmt.Sprintf("in the function %s, which the script calls", cmd.Func))
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("run by %s (%s)", s.Shell, s.Flavour))
	var searched string
	if strings.Contains(name, "/") {
		searched = fmt.Sprintf("%s does not exist in this image", lk.Tried[0])
		f.Evidence = append(f.Evidence, "looked at "+lk.Tried[0]+": missing")
	} else {
		searched = fmt.Sprintf("no directory of PATH %s holds %s", cmd.PATH, name)
		f.Evidence = append(f.Evidence, fmt.Sprintf("PATH=%s (%s)", cmd.PATH, ld209PathOrigin(t, cmd.PATH)))
		f.Evidence = append(f.Evidence, "searched "+strings.Join(lk.Tried, ", ")+": none exists")
	}
	when := "when the script gets there"
	if cmd.Loop {
		when = "in the script's event loop, at its first pass"
	}
	var effect string
	switch {
	case !cmd.Fatal:
		f.Severity = Warning
		effect = "the script goes on (set -e is not in effect and nothing tests the command's status), so it starts, but whatever needed that command's work or output fails later"
	case cmd.ErrExit && !cmd.Guarded:
		effect = "set -e is in effect, so the script stops there with status 127 and Lambda reports \"Runtime exited with error: exit status 127\" (errorType Runtime.ExitError)"
	default:
		effect = "the script's start-up depends on it (it is left of && before the exec, or its last command), so the runtime never starts and Lambda reports \"Runtime exited with error: exit status 127\" (errorType Runtime.ExitError)"
	}
	f.Message = fmt.Sprintf("%s line %d runs %s, which the image does not have: %s. The shell prints \"%s\" and the command exits 127 %s; %s.", s.Origin, cmd.Line, analyze.QuoteJSON(name), searched, ld209NotFound(s, cmd), when, effect)
	pathValue, _ := analyze.SearchPath(t.Config())
	found, err := analyze.FindFiles(ctx, t.FS, path.Base(name), strings.Split(pathValue, ":"), lk.Tried...)
	if err != nil {
		return Finding{}, err
	}
	switch {
	case len(found) > 0:
		f.Message += fmt.Sprintf(" A file of that name exists at %s.", found[0].Path)
		f.Evidence = append(f.Evidence, "found "+found[0].Path+": "+t.Describe(found[0].Resolution.Entry))
		f.Fix = fmt.Sprintf("call it as %s in %s, or add %s to PATH", found[0].Path, s.Origin, path.Dir(found[0].Path))
	default:
		f.Message += fmt.Sprintf(" No file named %s exists anywhere in the image.", path.Base(name))
		f.Fix = fmt.Sprintf("install %s in the image, or remove the call from %s", path.Base(name), s.Origin)
		if h := analyze.PackageHint(t.FS, path.Base(name)); h != "" && !strings.Contains(name, "/") {
			f.Fix = h + " (the package may be named differently) or remove the call from " + s.Origin
		}
	}
	return f, nil
}

// ld209PathOrigin says where the script's PATH comes from.
func ld209PathOrigin(t *analyze.Target, p string) string {
	img, fromImage := analyze.SearchPath(t.Config())
	switch {
	case p != img:
		return "as the script sets it"
	case fromImage:
		return "from the image's ENV"
	}
	return "the image sets no PATH, so the default Lambda documents for the function's environment is assumed"
}
