package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// scriptWritesReadOnly is LD212: a start-up shell script (a script file on
// the entrypoint chain, or the string of `sh -c`) writes outside /tmp:
// `mkdir -p /var/task/cache`, `cp x /var/task/`, `echo > /var/task/x`,
// `touch`, `ln -s`, `sed -i`, `chmod`. Lambda's root filesystem is
// read-only except /tmp, so the write fails with EROFS. It is an error
// when the failure stops the start-up (set -e, left of && before the exec,
// the script's last command) and a warning otherwise. Only commands
// certain to run are judged (see LD209); writes that succeed on a
// read-only root (mkdir -p of a directory the image has, rm -f of a
// missing file) and writes through a symlink into /tmp are not reported.
// LD502 covers tools that write under $HOME on their own (npm, hasura).
type scriptWritesReadOnly struct{}

func (scriptWritesReadOnly) Meta() Meta {
	return Meta{
		ID:       "LD212",
		Name:     "script-writes-read-only",
		Title:    "a start-up shell script writes outside /tmp, which is read-only on Lambda",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c scriptWritesReadOnly) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	ch, err := t.CommandChain()
	if ch == nil {
		return nil, err
	}
	var out []Finding
	for _, s := range t.Scripts() {
		if s.ParseErr != nil {
			continue
		}
		seen := map[string]bool{}
		for i := range s.Commands {
			cmd := &s.Commands[i]
			if !cmd.Certain || cmd.Guarded {
				continue
			}
			for _, w := range t.Writes(cmd) {
				if seen[w.Path] {
					continue
				}
				seen[w.Path] = true
				out = append(out, c.finding(t, ch, s, cmd, w))
			}
		}
	}
	return out, nil
}

func (c scriptWritesReadOnly) finding(t *analyze.Target, ch *analyze.Chain, s *analyze.Script, cmd *analyze.ScriptCommand, w analyze.ScriptWrite) Finding {
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
	r := t.FS.Resolve(w.Path)
	state := "does not exist in the image"
	if r.Err == nil && r.Entry != nil {
		state = "exists in the image: " + t.Describe(r.Entry)
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s (%s) %s", w.Path, w.How, state))
	// A redirection error on exec, a special builtin, exits a POSIX shell
	// (POSIX "Consequences of Shell Errors"; dash exits 2, busybox sh 1);
	// bash, not in POSIX mode, goes on.
	execRedirect := cmd.Name.Value == "exec" && !cmd.Exec && (s.Flavour == analyze.FlavourDash || s.Flavour == analyze.FlavourBusybox)
	var effect string
	switch {
	case execRedirect && !cmd.Guarded:
		effect = "a redirection error on exec (a special builtin) makes " + string(s.Flavour) + " exit at once, set -e or not, so Lambda reports \"Runtime exited with error: exit status …\" (errorType Runtime.ExitError)"
	case !cmd.Fatal:
		f.Severity = Warning
		effect = "the script goes on (set -e is not in effect and nothing tests the status), so it starts, but what it meant to write is not there"
	case cmd.ErrExit:
		effect = "set -e is in effect, so the script stops there and Lambda reports \"Runtime exited with error: exit status 1\" (errorType Runtime.ExitError; the status is the failing utility's, usually 1, 2 for a redirection under dash)"
	default:
		effect = "the start-up depends on it (it is left of && before the exec, or the script's last command), so the runtime never starts and Lambda reports \"Runtime exited with error: exit status …\" (errorType Runtime.ExitError)"
	}
	f.Message = fmt.Sprintf("%s line %d writes %s (%s), but Lambda's filesystem is read-only except /tmp: the write fails with \"Read-only file system\" (EROFS); %s. docker run and the emulator give a writable filesystem, which is why it works locally.", s.Origin, cmd.Line, w.Path, w.How, effect)
	f.Fix = ld212Fix(w)
	return f
}

// ld212Fix proposes doing the write at build time or under /tmp.
func ld212Fix(w analyze.ScriptWrite) string {
	tmp := path.Join("/tmp", path.Base(w.Path))
	switch {
	case w.How == "mkdir" || w.How == "install -d":
		return fmt.Sprintf("create it at build time (RUN mkdir -p %s; mkdir -p then succeeds at start-up), or use a directory under /tmp such as %s", w.Path, tmp)
	case strings.HasSuffix(w.How, "redirection") || w.How == "tee" || w.How == "touch":
		return fmt.Sprintf("write under /tmp instead (%s), or link the path there at build time: RUN ln -sf %s %s", tmp, tmp, w.Path)
	case w.How == "chmod" || w.How == "chown" || w.How == "chgrp":
		return fmt.Sprintf("set it at build time (RUN %s ... %s) and drop it from the script", w.How, w.Path)
	}
	return fmt.Sprintf("do it at build time (a RUN line in the Dockerfile), or write under /tmp (%s) at start-up", tmp)
}
