package checks

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// shebangInterpreterMissing is LD207: a script of the entrypoint chain
// cannot be run because of its #! line: the interpreter does not exist
// (#!/bin/bash on Alpine), is a dangling symlink, or cannot be executed by
// the sandbox user; the program `#!/usr/bin/env X` names is on no PATH
// directory; or a text file executed directly has no #! line at all.
type shebangInterpreterMissing struct{}

func (shebangInterpreterMissing) Meta() Meta {
	return Meta{
		ID:       "LD207",
		Name:     "shebang-interpreter-missing",
		Title:    "script interpreter (#! line) missing or unusable",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c shebangInterpreterMissing) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	ch, err := t.CommandChain()
	if ch == nil {
		return nil, err
	}
	var out []Finding
	for i := range ch.Links {
		l := &ch.Links[i]
		var f Finding
		var ok bool
		var err error
		switch {
		case l.Role == analyze.RoleInterpreter:
			f, ok, err = c.interpreter(ctx, t, ch, i)
		case l.Role == analyze.RoleEnvProgram && l.Entry == nil:
			f, ok, err = c.envProgram(ctx, t, ch, i)
		case l.Kind == analyze.LinkOther && l.ReadErr == nil && l.DirectExec() && analyze.LooksText(l.Head()):
			f, ok = c.noShebang(t, ch, i)
		}
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// scriptSymptom is what users see when script link s cannot be started.
func scriptSymptom(ch *analyze.Chain, s int, errno string) string {
	sl := &ch.Links[s]
	if s == 0 {
		return fmt.Sprintf("Lambda cannot start the function: \"IMAGE Launch error: fork/exec %s: %s\" (errorType Runtime.InvalidEntrypoint; the error names the script, not the interpreter)", sl.Name, errno)
	}
	return fmt.Sprintf("The exec of %s fails (bash says \"bad interpreter: %s\", the exit status is 126 or 127) and Lambda reports \"Runtime exited with error: exit status …\" (errorType Runtime.ExitError)", sl.Name, errnoTitle(errno))
}

func errnoTitle(e string) string {
	if e == "" {
		return e
	}
	return strings.ToUpper(e[:1]) + e[1:]
}

func (c shebangInterpreterMissing) interpreter(ctx context.Context, t *analyze.Target, ch *analyze.Chain, i int) (Finding, bool, error) {
	l := &ch.Links[i]
	s := i - 1
	sl := &ch.Links[s]
	f := NewFinding(c.Meta(), "")
	f.Path = sl.Path
	f.Layer = layerRef(t, sl.Entry.Layer)
	f.Evidence = analyze.ChainEvidence(t, ch, i)
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s line 1: %s", sl.Path, analyze.QuoteJSON(sl.Shebang.Line)))
	r := l.Lookup.Resolution()
	if l.Entry == nil {
		what := fmt.Sprintf("%s starts with %s, but %s does not exist in this image", sl.Path, analyze.QuoteJSON(sl.Shebang.Line), l.Name)
		if h, tr, ok := analyze.DanglingLink(t.FS, r); ok {
			missing := tr.Final
			if missing == "" {
				missing = analyze.LinkDest(h)
			}
			what = fmt.Sprintf("%s starts with %s, but %s is a dangling symlink: %s points to %s, and %s does not exist", sl.Path, analyze.QuoteJSON(sl.Shebang.Line), l.Name, h.Path, analyze.QuoteJSON(h.Target), missing)
			f.Evidence = append(f.Evidence, fmt.Sprintf("dangling symlink %s -> %s added in %s", h.Path, analyze.QuoteJSON(h.Target), t.LayerLabel(h.Layer)))
		}
		f.Message = what + ". The kernel takes the #! path literally (no PATH search). " + scriptSymptom(ch, s, "no such file or directory") + "."
		f.Fix = c.installFix(ctx, t, sl.Path, l.Name)
		return f, true, nil
	}
	switch err := analyze.SandboxAccess(t.FS, r, analyze.PermExec); {
	case !l.Entry.IsRegular():
		f.Message = fmt.Sprintf("%s starts with %s, but %s is a %s, not a program. %s.", sl.Path, analyze.QuoteJSON(sl.Shebang.Line), l.Name, analyze.KindString(l.Entry), scriptSymptom(ch, s, "permission denied"))
		f.Fix = c.installFix(ctx, t, sl.Path, l.Name)
		return f, true, nil
	case err != nil:
		var ae *analyze.AccessError
		errors.As(err, &ae)
		f.Evidence = append(f.Evidence, l.Path+": "+t.Describe(l.Entry))
		blocker := l.Path
		fix := fmt.Sprintf("RUN chmod 755 %s", l.Path)
		if ae != nil && ae.Entry != nil {
			blocker = fmt.Sprintf("%s (mode %s, owner %d:%d)", ae.Path, analyze.ModeString(ae.Entry), ae.Entry.UID, ae.Entry.GID)
			if ae.Entry.IsDir() {
				fix = fmt.Sprintf("RUN chmod o+rx %s", ae.Path)
			}
		}
		f.Message = fmt.Sprintf("%s starts with %s, but the sandbox user (uid %d, gid %d; Lambda ignores USER) cannot execute the interpreter %s: %s blocks it. %s.", sl.Path, analyze.QuoteJSON(sl.Shebang.Line), analyze.SandboxUID, analyze.SandboxGID, l.Name, blocker, scriptSymptom(ch, s, "permission denied"))
		f.Fix = fix
		return f, true, nil
	case l.Kind == analyze.LinkOther && l.ReadErr == nil && analyze.LooksText(l.Head()):
		f.Evidence = append(f.Evidence, l.Path+": "+t.Describe(l.Entry))
		f.Message = fmt.Sprintf("%s starts with %s, but the interpreter %s is a text file without a #! line, which the kernel cannot run. %s.", sl.Path, analyze.QuoteJSON(sl.Shebang.Line), l.Path, scriptSymptom(ch, s, "exec format error"))
		f.Fix = c.installFix(ctx, t, sl.Path, l.Name)
		return f, true, nil
	}
	return Finding{}, false, nil
}

func (c shebangInterpreterMissing) envProgram(ctx context.Context, t *analyze.Target, ch *analyze.Chain, i int) (Finding, bool, error) {
	l := &ch.Links[i]
	f := NewFinding(c.Meta(), "")
	f.Evidence = analyze.ChainEvidence(t, ch, i)
	lk := l.Lookup
	if lk.Method == analyze.LookupPATH {
		where := "from the image's ENV"
		if !lk.PATHFromImage {
			where = "the image sets no PATH, so Lambda's documented default is assumed, the PATH lambdoctor run gives the function; which PATH Lambda's launcher searches is unconfirmed, and docker run searches Docker's default " + lambda.DockerDefaultPATH + " instead"
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("PATH=%s (%s)", lk.PATH, where))
	}
	viaShebang := i > 0 && ch.Links[i-1].Role == analyze.RoleInterpreter
	var what, symptom string
	name := l.Name
	if viaShebang {
		sl := &ch.Links[i-2]
		f.Path = sl.Path
		f.Layer = layerRef(t, sl.Entry.Layer)
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s line 1: %s", sl.Path, analyze.QuoteJSON(sl.Shebang.Line)))
		what = fmt.Sprintf("%s starts with %s, but env finds no %s", sl.Path, analyze.QuoteJSON(sl.Shebang.Line), analyze.QuoteJSON(name))
	} else {
		f.Path = ch.Links[i-1].Path
		what = fmt.Sprintf("%s runs env, but env finds no %s", ch.Origin(i-1), analyze.QuoteJSON(name))
	}
	if lk.Method == analyze.LookupPATH {
		what += " on PATH " + lk.PATH
	}
	if strings.ContainsAny(name, " \t") {
		what += fmt.Sprintf(": the kernel passes everything after the interpreter as ONE argument, so env looks for a program literally named %s (use env -S to split it)", analyze.QuoteJSON(name))
	}
	symptom = fmt.Sprintf("env prints \"env: '%s': No such file or directory\" and exits 127; Lambda reports \"Runtime exited with error: exit status 127\" (errorType Runtime.ExitError)", name)
	pathValue, _ := analyze.SearchPath(t.Config())
	found, err := analyze.FindFiles(ctx, t.FS, path.Base(strings.Fields(name + " x")[0]), strings.Split(pathValue, ":"))
	if err != nil {
		return Finding{}, false, err
	}
	msg := what + ". " + symptom + "."
	switch {
	case strings.ContainsAny(name, " \t") && viaShebang:
		f.Fix = fmt.Sprintf("#!/usr/bin/env -S %s as the first line of %s", name, f.Path)
	case len(found) > 0:
		msg += fmt.Sprintf(" A file of that name exists at %s.", found[0].Path)
		f.Evidence = append(f.Evidence, "found "+found[0].Path+": "+t.Describe(found[0].Resolution.Entry))
		f.Fix = fmt.Sprintf("ENV PATH=%s:%s (or name it by absolute path: #!%s)", path.Dir(found[0].Path), pathValue, found[0].Path)
	default:
		msg += fmt.Sprintf(" No file named %s exists anywhere in the image.", path.Base(name))
		f.Fix = "install it"
		if h := analyze.PackageHint(t.FS, path.Base(name)); h != "" {
			f.Fix = h + " (the package name may differ)"
		}
	}
	f.Message = msg
	return f, true, nil
}

func (c shebangInterpreterMissing) noShebang(t *analyze.Target, ch *analyze.Chain, i int) (Finding, bool) {
	l := &ch.Links[i]
	if analyze.SandboxAccess(t.FS, l.Lookup.Resolution(), analyze.PermExec) != nil {
		return Finding{}, false // LD203: the kernel refuses it before reading it
	}
	f := NewFinding(c.Meta(), "")
	f.Path = l.Path
	f.Layer = layerRef(t, l.Entry.Layer)
	f.Evidence = analyze.ChainEvidence(t, ch, i)
	first, _, _ := strings.Cut(string(l.Head()), "\n")
	if rest, ok := strings.CutPrefix(first, analyze.UTF8BOM); ok && strings.HasPrefix(rest, "#!") {
		return c.bom(t, ch, i, strings.TrimSuffix(rest, "\r")), true
	}
	what := fmt.Sprintf("%s runs %s, a text file with no #! line (it starts %s)", ch.Origin(i), l.Path, analyze.QuoteJSON(truncate(first, 60)))
	if l.Entry.Size == 0 {
		what = fmt.Sprintf("%s runs %s, an empty file", ch.Origin(i), l.Path)
	}
	var symptom string
	if i == 0 {
		symptom = fmt.Sprintf("Lambda starts it with execve, which has no shell fallback: \"IMAGE Launch error: fork/exec %s: exec format error\" (errorType Runtime.InvalidEntrypoint); a shell would have run it, which is why it may work from a terminal", l.Name)
	} else {
		symptom = scriptSymptom(ch, i-1, "exec format error")
	}
	f.Message = what + ". " + symptom + "."
	f.Fix = fmt.Sprintf("add #!/bin/sh (or the interpreter it needs) as the first line of %s", l.Path)
	return f, true
}

// bom reports a script whose #! line is preceded by a UTF-8 byte-order
// mark, which editors on Windows add: the kernel (binfmt_script) requires
// the file's first two bytes to be "#!", so it sees no #! line at all.
func (c shebangInterpreterMissing) bom(t *analyze.Target, ch *analyze.Chain, i int, line string) Finding {
	l := &ch.Links[i]
	f := NewFinding(c.Meta(), "")
	f.Path = l.Path
	f.Layer = layerRef(t, l.Entry.Layer)
	f.Evidence = analyze.ChainEvidence(t, ch, i)
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s starts with the bytes EF BB BF (a UTF-8 byte-order mark), then %s", l.Path, analyze.QuoteJSON(truncate(line, 60))))
	what := fmt.Sprintf("%s runs %s, whose #! line %s is preceded by a UTF-8 byte-order mark (the invisible bytes EF BB BF): the kernel runs a file as a script only when its first two bytes are \"#!\", so it does not see the #! line", ch.Origin(i), l.Path, analyze.QuoteJSON(truncate(line, 60)))
	var symptom string
	if i == 0 {
		symptom = fmt.Sprintf("Lambda starts it with execve: \"IMAGE Launch error: fork/exec %s: exec format error\" (errorType Runtime.InvalidEntrypoint); a shell would run it with /bin/sh instead, which is why it may work from a terminal", l.Name)
	} else {
		symptom = scriptSymptom(ch, i-1, "exec format error")
	}
	f.Message = what + ". " + symptom + "."
	f.Fix = fmt.Sprintf("save %s as UTF-8 without a byte-order mark, or strip it in the image: RUN sed -i '1s/^\\xEF\\xBB\\xBF//' %s", l.Path, l.Path)
	return f
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// installFix proposes an interpreter that exists, or installing one.
func (c shebangInterpreterMissing) installFix(ctx context.Context, t *analyze.Target, script, interp string) string {
	base := path.Base(interp)
	pathValue, _ := analyze.SearchPath(t.Config())
	found, err := analyze.FindFiles(ctx, t.FS, base, strings.Split(pathValue, ":"), interp)
	if err == nil && len(found) > 0 {
		return fmt.Sprintf("#!%s as the first line of %s (that file exists)", found[0].Path, script)
	}
	alt := ""
	if (base == "bash" || base == "zsh" || base == "ksh") && t.FS.Resolve("/bin/sh").Err == nil {
		alt = fmt.Sprintf(", or use #!/bin/sh in %s if it needs no %s features", script, base)
	}
	if h := analyze.PackageHint(t.FS, base); h != "" {
		return h + alt
	}
	return fmt.Sprintf("install %s in the image%s", interp, alt)
}
