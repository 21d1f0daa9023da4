package checks

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// entrypointNotExecutable is LD203: a program of the entrypoint chain
// (argv[0], or what a script execs or env runs) exists but the sandbox user
// (uid 993, gid 990; Lambda ignores USER) cannot start it: it is not a
// regular file, lacks an execute bit the sandbox user gets, sits below a
// directory it cannot search, or is a script it cannot read. #!
// interpreters are LD207's; a missing argv[0] is LD202's.
type entrypointNotExecutable struct{}

func (entrypointNotExecutable) Meta() Meta {
	return Meta{
		ID:       "LD203",
		Name:     "entrypoint-not-executable",
		Title:    "the sandbox user cannot execute the entrypoint",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c entrypointNotExecutable) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	ch, err := t.CommandChain()
	if ch == nil {
		return nil, err
	}
	var out []Finding
	for i := range ch.Links {
		l := &ch.Links[i]
		if l.Entry == nil || l.Role == analyze.RoleInterpreter {
			continue
		}
		if f, ok := c.link(t, ch, i); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

func (c entrypointNotExecutable) link(t *analyze.Target, ch *analyze.Chain, i int) (Finding, bool) {
	l := &ch.Links[i]
	r := l.Lookup.Resolution()
	f := NewFinding(c.Meta(), "")
	f.Path = l.Path
	f.Layer = layerRef(t, l.Entry.Layer)
	f.Evidence = analyze.ChainEvidence(t, ch, i)
	origin := ch.Origin(i)
	var what, errno, fix string
	errno = "permission denied"
	var ae *analyze.AccessError
	switch err := analyze.SandboxAccess(t.FS, r, analyze.PermExec); {
	case !l.Entry.IsRegular():
		what = fmt.Sprintf("%s runs %s, which is a %s, not a program", origin, l.Name, analyze.KindString(l.Entry))
		if l.Path != l.Name {
			what += " (" + l.Path + ")"
		}
		fix = fmt.Sprintf("name the program file, not the %s: %s", analyze.KindString(l.Entry), fixFor(t, ch, i, path.Join(l.Path, "bootstrap")))
	case errors.As(err, &ae) && ae.Entry != nil && ae.Entry.IsDir():
		what = fmt.Sprintf("%s runs %s, but the sandbox user cannot search the directory %s on the way (mode %s, owner %d:%d)", origin, l.Name, ae.Path, analyze.ModeString(ae.Entry), ae.Entry.UID, ae.Entry.GID)
		f.Path = ae.Path
		f.Layer = layerRef(t, ae.Entry.Layer)
		f.Evidence = append(f.Evidence, ae.Path+": "+t.Describe(ae.Entry))
		fix = fmt.Sprintf("RUN chmod o+rx %s (or create it with mode 755)", ae.Path)
	case err != nil:
		what = fmt.Sprintf("%s runs %s, which the sandbox user cannot execute: mode %s, owner %d:%d, so uid %d/gid %d gets no execute bit", origin, l.Path, analyze.ModeString(l.Entry), l.Entry.UID, l.Entry.GID, analyze.SandboxUID, analyze.SandboxGID)
		fix = fmt.Sprintf("RUN chmod 755 %s (or COPY --chmod=755 …)", l.Path)
	case l.Kind == analyze.LinkScript && !analyze.SandboxCan(l.Entry, analyze.PermRead):
		what = fmt.Sprintf("%s runs the script %s, which the sandbox user may execute but cannot read (mode %s, owner %d:%d): its interpreter %s must open it to run it", origin, l.Path, analyze.ModeString(l.Entry), l.Entry.UID, l.Entry.GID, l.Shebang.Interpreter)
		fix = fmt.Sprintf("RUN chmod 755 %s (or COPY --chmod=755 …)", l.Path)
		symptom := fmt.Sprintf("The interpreter fails with \"%s: Permission denied\" and exits, and Lambda reports \"Runtime exited with error: exit status …\" (errorType Runtime.ExitError; the exact text depends on the interpreter)", l.Lookup.Path())
		f.Message = what + ". Lambda runs functions as a sandbox user (uid 993, gid 990), not root, and ignores USER. " + symptom + "."
		f.Fix = fix
		return f, true
	default:
		return Finding{}, false
	}
	var symptom string
	switch {
	case i == 0 && l.Lookup.Method == analyze.LookupPATH && l.Entry.IsRegular() && l.Entry.Mode.Perm()&0o111 == 0:
		symptom = fmt.Sprintf("Go's exec.LookPath skips a file without execute bits, so Lambda reports \"Couldn't find valid bootstrap(s): [%s]\" (errorType Runtime.InvalidEntrypoint)", l.Name)
	case i == 0:
		symptom = fmt.Sprintf("Lambda cannot start the function: \"IMAGE Launch error: fork/exec %s: %s\" (errorType Runtime.InvalidEntrypoint)", l.Name, errno)
	default:
		symptom = fmt.Sprintf("The exec fails with \"%s: Permission denied\" (exit status 126), and Lambda reports \"Runtime exited with error: exit status 126\" (errorType Runtime.ExitError; the exact shell wording varies)", l.Name)
	}
	f.Message = what + ". Lambda runs functions as a sandbox user (uid 993, gid 990), not root, and ignores USER; a local docker run as root does not show this. " + symptom + "."
	f.Fix = fix
	return f, true
}

// fixFor is the Dockerfile line that makes link i name p instead: argv[0]
// is fixed in the config; later links in the file that names them.
func fixFor(t *analyze.Target, ch *analyze.Chain, i int, p string) string {
	if i == 0 {
		return t.Argv().FixArg0(p)
	}
	return fmt.Sprintf("change %s to run %s", ch.Origin(i), p)
}
