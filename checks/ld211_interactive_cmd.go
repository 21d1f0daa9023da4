package checks

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// interactiveCmd is LD211: the image has no ENTRYPOINT and its CMD starts
// an interactive shell or REPL with nothing to run (["bash"], ["python3"],
// ["node"], ["irb"], ["jshell"], ["php", "-a"]): the CMD the official base
// images set for `docker run -it`. Lambda runs that CMD as the function's
// process, which reads commands from its standard input, never polls the
// Runtime API, and exits (or waits) instead. The image history says where
// the CMD was set: a base image's CMD is kept unless the Dockerfile sets
// its own.
type interactiveCmd struct{}

func (interactiveCmd) Meta() Meta {
	return Meta{
		ID:       "LD211",
		Name:     "interactive-cmd",
		Title:    "CMD starts an interactive shell or REPL (often inherited from the base image) and there is no ENTRYPOINT",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

// ld211REPL matches the basename of programs that, started with no
// script, read commands from standard input.
var ld211REPL = regexp.MustCompile(`^(bash|sh|dash|ash|zsh|ksh|mksh|fish|python|python[23](\.[0-9]+)?|node|nodejs|irb|ruby|jshell|php|iex|erl|ghci|pwsh|lua|perl|deno|R)$`)

// ld211Interactive reports whether argv starts a REPL with nothing to run:
// the program alone, or with options that make it interactive.
func ld211Interactive(argv []string) bool {
	if len(argv) == 0 || !ld211REPL.MatchString(path.Base(argv[0])) {
		return false
	}
	for _, a := range argv[1:] {
		switch a {
		case "-i", "-l", "--login", "-a", "--interactive", "-q", "--quiet":
		default:
			return false
		}
	}
	return true
}

func (c interactiveCmd) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	argv := t.Argv()
	if len(argv.Entrypoint) > 0 || !ld211Interactive(argv.Cmd) || argv.Overrides.Command != nil {
		return nil, nil
	}
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	lk := analyze.LookupExec(t.FS, t.Config(), argv.Cmd[0], argv.WorkingDir)
	if !lk.Found() {
		return nil, nil // LD202's
	}
	f := NewFinding(c.Meta(), "")
	f.Source = argv.ConfigField("Cmd")
	f.Evidence = argv.Evidence()
	f.Evidence = append(f.Evidence, lk.Path()+": "+t.Describe(lk.Resolution().Entry))
	cmdText := analyze.DockerfileExec("CMD", argv.Cmd)
	origin := fmt.Sprintf("%s is the image's command and there is no ENTRYPOINT", cmdText)
	if idx, total, line, ok := ld211CmdHistory(t); ok {
		later := total - idx - 1
		f.Evidence = append(f.Evidence, fmt.Sprintf("config.history[%d] of %d: %s", idx, total, analyze.QuoteJSON(line)))
		if later > 0 {
			origin = fmt.Sprintf("%s was set by history entry %d of %d (%s), and none of the %d later entries (your Dockerfile's, after FROM) sets CMD or ENTRYPOINT, so it is the base image's CMD, inherited", cmdText, idx+1, total, analyze.QuoteJSON(line), later)
		} else {
			origin = fmt.Sprintf("%s was set by the image's last history entry (%s), and there is no ENTRYPOINT", cmdText, analyze.QuoteJSON(line))
		}
	} else {
		f.Evidence = append(f.Evidence, "config.history records no CMD instruction, so where the CMD was set is unknown")
	}
	prog := path.Base(argv.Cmd[0])
	f.Message = fmt.Sprintf("%s: Lambda starts %s as the function's process, an interactive shell/REPL with nothing to run. It reads commands from its standard input and never polls the Runtime API: with standard input at end of file (as the Runtime Interface Emulator starts it, from /dev/null) it exits at once with status 0, and Lambda reports \"Runtime exited without providing a reason\" (errorType Runtime.ExitError); Lambda does not document the function's standard input, and if it stayed open the process would wait until the init timeout (Sandbox.Timedout) instead.", origin, analyze.QuoteJSON(prog))
	f.Fix = "set the command your function needs, e.g. " + ld211FixFor(t, prog)
	return []Finding{f}, nil
}

// ld211CmdHistory finds the last history entry that sets CMD (or
// ENTRYPOINT): its index, the number of entries, the instruction.
func ld211CmdHistory(t *analyze.Target) (idx, total int, line string, ok bool) {
	if t.Image == nil || t.Image.Config == nil {
		return 0, 0, "", false
	}
	hs := t.Image.Config.History
	idx = -1
	for i, h := range hs {
		cb := analyze.CreatedBy(h.CreatedBy)
		if strings.HasPrefix(cb, "CMD ") || strings.HasPrefix(cb, "ENTRYPOINT ") {
			idx, line = i, cb
		}
	}
	if idx < 0 {
		return 0, 0, "", false
	}
	return idx, len(hs), line, true
}

// ld211FixFor proposes an ENTRYPOINT for the runtime in the image.
func ld211FixFor(t *analyze.Target, prog string) string {
	switch {
	case strings.HasPrefix(prog, "python"):
		return analyze.DockerfileExec("ENTRYPOINT", []string{prog, "-m", "awslambdaric"}) + " with " + analyze.DockerfileExec("CMD", []string{"app.handler"}) + " (pip install awslambdaric)"
	case prog == "node" || prog == "nodejs":
		return analyze.DockerfileExec("ENTRYPOINT", []string{"/var/task/node_modules/.bin/aws-lambda-ric"}) + " with " + analyze.DockerfileExec("CMD", []string{"index.handler"}) + " (npm install aws-lambda-ric in /var/task)"
	case prog == "ruby" || prog == "irb":
		return analyze.DockerfileExec("ENTRYPOINT", []string{"aws_lambda_ric"}) + " with " + analyze.DockerfileExec("CMD", []string{"app.App::Handler.process"}) + " (gem install aws_lambda_ric)"
	}
	return analyze.DockerfileExec("ENTRYPOINT", []string{"/var/task/bootstrap"}) + " (your runtime: a runtime interface client, or a program that polls the Runtime API)"
}
