package checks

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// entrypointNotFound is LD202: argv[0] (the first element of ENTRYPOINT,
// or of CMD without ENTRYPOINT) does not resolve to a file in the image: it
// is missing, a dangling symlink, a symlink loop, or not on PATH. It
// searches the image for files of the same name to propose the real path.
type entrypointNotFound struct{}

func (entrypointNotFound) Meta() Meta {
	return Meta{
		ID:       "LD202",
		Name:     "entrypoint-not-found",
		Title:    "entrypoint does not exist in the image",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c entrypointNotFound) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	cfg := t.Config()
	argv := t.Argv()
	if argv.Empty() {
		return nil, nil // LD201's case
	}
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	name := argv.Name()
	l := analyze.LookupExec(t.FS, cfg, name, argv.WorkingDir)
	if l.Found() {
		return c.missingExecTargets(ctx, t)
	}

	f := NewFinding(c.Meta(), "")
	ev := argv.Evidence()
	src := argv.Source()
	var what, symptom string
	quoted := analyze.QuoteJSON(name)

	// broken is the symlink whose target is missing, if any, and
	// brokenRes the resolution of that target; loop is set for a loop.
	var broken *imagefs.Hop
	var brokenRes imagefs.Resolution
	loop := false

	switch l.Method {
	case analyze.LookupPATH:
		where := "from the image's ENV"
		if !l.PATHFromImage {
			where = "the image sets no PATH, so Lambda's documented default is assumed, the PATH lambdoctor run gives the function; which PATH Lambda's launcher searches is unconfirmed, and docker run searches Docker's default " + lambda.DockerDefaultPATH + " instead"
		}
		ev = append(ev, fmt.Sprintf("PATH=%s (%s)", l.PATH, where))
		var tried []string
		for _, cand := range l.Tried {
			tried = append(tried, cand.Path)
			r := cand.Resolution
			switch h, tr, ok := analyze.DanglingLink(t.FS, r); {
			case ok:
				ev = append(ev, analyze.FormatChain(r))
				if broken == nil {
					broken, brokenRes = &h, tr
				}
			case r.Err == nil && r.Entry != nil:
				// A directory where the command was looked for.
				ev = append(ev, analyze.FormatChain(r)+" ("+analyze.KindString(r.Entry)+", skipped)")
			case errors.Is(r.Err, imagefs.ErrLoop):
				ev = append(ev, analyze.FormatChain(r))
			}
		}
		ev = append(ev, "searched "+strings.Join(tried, ", ")+": none is a file")
		for _, d := range l.SkippedDirs {
			ev = append(ev, fmt.Sprintf("PATH entry %s not searched: it is relative, and Go's os/exec refuses matches in relative PATH entries", analyze.QuoteJSON(d)))
		}
		what = fmt.Sprintf("%s runs %s, which is in no directory of PATH (%s)", src, quoted, l.PATH)
		symptom = fmt.Sprintf("Lambda cannot start the function and reports \"Couldn't find valid bootstrap(s): [%s]\" (errorType Runtime.InvalidEntrypoint)", name)
	default:
		r := l.Resolution()
		target := r.Requested
		if l.Method == analyze.LookupWorkdir {
			wd := "WORKDIR " + argv.WorkingDir
			if !argv.WorkingDirSet {
				wd = "the working directory / (WORKDIR is unset)"
			}
			what = fmt.Sprintf("%s runs %s, which resolves against %s to %s", src, quoted, wd, target)
		} else {
			what = fmt.Sprintf("%s runs %s", src, target)
		}
		f.Path = target
		if name != "" {
			ev = append(ev, analyze.FormatChain(r))
		}
		errno := "no such file or directory"
		switch h, tr, dangling := analyze.DanglingLink(t.FS, r); {
		case name == "":
			what = fmt.Sprintf("the first element of %s is an empty string", src)
		case errors.Is(r.Err, imagefs.ErrLoop):
			errno = "too many levels of symbolic links"
			what += ", a symlink loop"
			loop = true
			if len(r.Chain) > 0 {
				f.Path = r.Chain[0].Path
				f.Layer = layerRef(t, r.Chain[0].Layer)
			}
		case errors.Is(r.Err, imagefs.ErrNotDir):
			errno = "not a directory"
			kind := "file"
			if e, ok := t.FS.Lookup(r.Final); ok {
				kind = analyze.KindString(e)
			}
			what += fmt.Sprintf(", whose path goes through %s, a %s, as if it were a directory", r.Final, kind)
		case dangling:
			broken, brokenRes = &h, tr
			what += ", a dangling symlink"
		default:
			what += ", which does not exist in this image"
		}
		switch {
		case name == "":
			symptom = "Lambda cannot start the function (errorType Runtime.InvalidEntrypoint)"
		case errno == "no such file or directory":
			symptom = fmt.Sprintf("Lambda cannot start the function: \"IMAGE Launch error: fork/exec %s: %s\" (errorType Runtime.InvalidEntrypoint); older runtimes and the emulator report \"Couldn't find valid bootstrap(s): [%s]\"", name, errno, name)
		default:
			symptom = fmt.Sprintf("Lambda cannot start the function: \"IMAGE Launch error: fork/exec %s: %s\" (errorType Runtime.InvalidEntrypoint; the text is inferred from the errno)", name, errno)
		}
	}

	// missing is the path the dangling link leads to.
	missing := ""
	if broken != nil {
		missing = brokenRes.Final
		if missing == "" {
			missing = analyze.LinkDest(*broken)
		}
		what += fmt.Sprintf(": %s points to %s, and %s does not exist", broken.Path, analyze.QuoteJSON(broken.Target), missing)
		f.Path = broken.Path
		f.Layer = layerRef(t, broken.Layer)
		ev = append(ev, fmt.Sprintf("dangling symlink %s -> %s added in %s", broken.Path, analyze.QuoteJSON(broken.Target), t.LayerLabel(broken.Layer)))
	}

	// Did you mean: files of the same name elsewhere in the image.
	pathValue, _ := analyze.SearchPath(cfg)
	pathDirs := strings.Split(pathValue, ":")
	exclude := make([]string, 0, len(l.Tried))
	for _, cand := range l.Tried {
		exclude = append(exclude, cand.Path)
	}
	var found []analyze.NamedFile
	if base := path.Base(name); name != "" && base != "/" && base != "." {
		var err error
		found, err = analyze.FindFiles(ctx, t.FS, base, pathDirs, exclude...)
		if err != nil {
			return nil, err
		}
	}
	if len(found) == 0 && broken != nil {
		// Look for the file the dangling link meant.
		var err error
		found, err = analyze.FindFiles(ctx, t.FS, path.Base(missing), pathDirs, exclude...)
		if err != nil {
			return nil, err
		}
	}
	for i, nf := range found {
		if i == maxCandidates {
			ev = append(ev, fmt.Sprintf("… and %d more files named %s", len(found)-maxCandidates, path.Base(nf.Path)))
			break
		}
		line := "found " + nf.Path
		if len(nf.Resolution.Chain) > 0 {
			line = "found " + analyze.FormatChain(nf.Resolution)
		}
		line += ": " + t.Describe(nf.Resolution.Entry)
		if nf.OnPath {
			line += ", in a PATH directory"
		}
		ev = append(ev, line)
	}

	// The seed's first Dockerfile: CMD ["function.handler"] and no
	// ENTRYPOINT, so Lambda runs the handler string as the program.
	handler, runtime := false, ""
	if len(argv.Entrypoint) == 0 && l.Method == analyze.LookupPATH && len(found) == 0 && looksLikeHandler(name) {
		handler = true
		runtime = handlerRuntime(t)
		what += fmt.Sprintf(". %s looks like a handler string (file.function), not a program: without an ENTRYPOINT, Lambda executes CMD itself, so the handler became argv[0] instead of an argument to your runtime (the emulator hides this when it is started as aws-lambda-rie /path/to/bootstrap %s)", quoted, name)
		if runtime != "" {
			ev = append(ev, "runtime in the image: "+runtime)
		}
	}

	msg := what + ". " + symptom + "."
	switch {
	case handler:
	case len(found) == 1:
		msg += fmt.Sprintf(" A file of that name exists at %s.", found[0].Path)
	case len(found) > 1:
		msg += fmt.Sprintf(" Files of that name exist at %s and %d other place(s); the first is the likeliest.", found[0].Path, len(found)-1)
	case name != "":
		msg += fmt.Sprintf(" No file named %s exists anywhere in the image.", path.Base(name))
	}

	switch {
	case handler && runtime != "":
		f.Fix = analyze.DockerfileExec("ENTRYPOINT", []string{runtime}) + fmt.Sprintf(" (keep %s: the runtime receives the handler as its argument)", analyze.DockerfileExec("CMD", argv.Cmd))
	case handler:
		f.Fix = analyze.DockerfileExec("ENTRYPOINT", []string{"/absolute/path/to/your/bootstrap"}) + fmt.Sprintf(" (your runtime interface client or bootstrap; keep %s as its argument)", analyze.DockerfileExec("CMD", argv.Cmd))
	case len(found) > 0:
		best := found[0].Path
		f.Fix = argv.FixArg0(best)
		for _, kv := range cfg.Env {
			k, v, ok := strings.Cut(kv, "=")
			if ok && k != "PATH" && strings.HasPrefix(v, "/") && v != "/" && strings.HasPrefix(best, strings.TrimSuffix(v, "/")+"/") {
				ev = append(ev, fmt.Sprintf("ENV %s=%s (the found file is under it)", k, v))
			}
		}
	case loop:
		f.Fix = fmt.Sprintf("point %s at a real file (RUN ln -sf /path/to/real/file %s), or name the real file: %s", f.Path, f.Path, argv.FixArg0("/path/to/real/file"))
	case broken != nil:
		f.Fix = fmt.Sprintf("install the missing %s, or point the link at a file that exists: RUN ln -sf /path/to/real/file %s; or %s", missing, broken.Path, argv.FixArg0("/path/to/real/file"))
	case name == "":
		f.Fix = argv.FixArg0("/absolute/path/to/your/runtime")
	default:
		f.Fix = fmt.Sprintf("install or COPY %s into the image, then name it by absolute path: %s", path.Base(name), argv.FixArg0("/absolute/path/to/"+path.Base(name)))
	}
	f.Message = msg
	f.Evidence = ev
	if f.Layer == nil {
		// Nothing in the image is to blame: the name itself is.
		f.Source = argv.Arg0Field()
	}
	return []Finding{f}, nil
}

// looksLikeHandler reports whether a bare argv[0] reads as a Lambda
// handler string (app.handler, index.runMigrations,
// app.App::Handler.process) rather than a program name: dotted
// identifiers, the last part not a file extension.
func looksLikeHandler(name string) bool {
	if strings.ContainsAny(name, "/ ") || !strings.Contains(name, ".") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r == '.' || r == ':' || r == '$' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".sh", ".bash", ".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".pl", ".php", ".jar", ".bin", ".exe", ".so", ".dll", ".x86_64", ".aarch64":
		return false
	}
	return true
}

// handlerRuntime is the program that should take the handler as its
// argument: the AWS base images' entry script, a bootstrap where the
// emulator looks for one, or an installed Ruby client binstub; "" when
// none is in the image.
func handlerRuntime(t *analyze.Target) string {
	for _, p := range append([]string{"/lambda-entrypoint.sh"}, analyze.EmulatorBootstraps()...) {
		if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
			return p
		}
	}
	for _, ic := range t.RIC().InstalledOf(analyze.ClientRuby) {
		return ic.Path
	}
	return ""
}

// missingExecTargets reports the programs that scripts on the entrypoint
// chain exec but that the image does not have: the script starts, then its
// last exec line fails ("exec: /var/task/bootstrap-real: not found", exit
// status 127). The AWS base images' missing /var/runtime/bootstrap is
// LD401's; the emulator, which only local runs use, is not reported.
func (c entrypointNotFound) missingExecTargets(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	ch := t.Chain()
	var out []Finding
	for i := range ch.Links {
		l := &ch.Links[i]
		if l.Role != analyze.RoleExecTarget && l.Role != analyze.RoleShellCommand || l.Kind != analyze.LinkMissing || l.Name == "" {
			continue
		}
		base := path.Base(l.Name)
		if strings.HasPrefix(base, "aws-lambda-rie") {
			continue
		}
		script := l.From
		if l.Role == analyze.RoleShellCommand {
			script = ch.Origin(i)
		} else if scriptTests(t, script, l.Name) {
			continue // the script checks for the file before it execs it
		}
		f := NewFinding(c.Meta(), "")
		ev := analyze.ChainEvidence(t, ch, i)
		target, where := l.Name, ""
		if l.Lookup.Method == analyze.LookupPATH {
			where = fmt.Sprintf(", which is in no directory of PATH (%s)", l.Lookup.PATH)
			f.Path = script
		} else {
			target = l.Lookup.Resolution().Requested
			if target == "" {
				target = l.Name
			}
			where = ", which does not exist in this image"
			f.Path = target
		}
		if h, tr, ok := analyze.DanglingLink(t.FS, l.Lookup.Resolution()); ok {
			missing := tr.Final
			if missing == "" {
				missing = analyze.LinkDest(h)
			}
			where = fmt.Sprintf(", a dangling symlink: %s points to %s, and %s does not exist", h.Path, analyze.QuoteJSON(h.Target), missing)
			f.Path = h.Path
		}
		if e, ok := t.FS.Lookup(l.From); ok && l.From != "" {
			f.Layer = layerRef(t, e.Layer)
		}
		pathValue, _ := analyze.SearchPath(t.Config())
		found, err := analyze.FindFiles(ctx, t.FS, base, strings.Split(pathValue, ":"), target)
		if err != nil {
			return nil, err
		}
		for j, nf := range found {
			if j == maxCandidates {
				break
			}
			ev = append(ev, "found "+nf.Path+": "+t.Describe(nf.Resolution.Entry))
		}
		msg := fmt.Sprintf("%s runs, but its last exec line starts %s%s. The script itself starts, then the exec fails (dash and busybox sh say \"exec: %s: not found\", bash \"%s: No such file or directory\") with exit status 127, so Lambda reports \"Runtime exited with error: exit status 127\" (errorType Runtime.ExitError).", script, analyze.QuoteJSON(l.Name), where, l.Name, l.Name)
		if l.Role == analyze.RoleShellCommand {
			src := ch.Links[0].Role
			f.Source = t.Argv().Arg0Field()
			if f.Path == script {
				f.Path = ""
			}
			ev = append(ev, fmt.Sprintf("%s runs the shell command %s", analyze.QuoteJSON(ch.Links[i-1].Name), analyze.QuoteJSON(ld202ShellString(ch.Links[i-1].Args))))
			msg = fmt.Sprintf("%s starts a shell whose command runs %s%s. The shell starts, then that command fails (dash and busybox sh say \"%s: not found\", bash \"%s: No such file or directory\") with exit status 127, so Lambda reports \"Runtime exited with error: exit status 127\" (errorType Runtime.ExitError).", src, analyze.QuoteJSON(l.Name), where, l.Name, l.Name)
		}
		switch {
		case len(found) > 0:
			msg += fmt.Sprintf(" A file of that name exists at %s.", found[0].Path)
			f.Fix = fmt.Sprintf("make the exec line of %s start %s (or put the program at %s)", script, found[0].Path, target)
			if l.Role == analyze.RoleShellCommand {
				f.Fix = fmt.Sprintf("name %s in the shell command of %s (or put the program at %s)", found[0].Path, ch.Links[0].Role, target)
			}
		case l.Role == analyze.RoleShellCommand:
			msg += fmt.Sprintf(" No file named %s exists anywhere in the image.", base)
			f.Fix = fmt.Sprintf("COPY the program to %s (with RUN chmod 755 %s), or fix the shell command of %s", target, target, ch.Links[0].Role)
		default:
			msg += fmt.Sprintf(" No file named %s exists anywhere in the image.", base)
			f.Fix = fmt.Sprintf("COPY the program to %s (with RUN chmod 755 %s), or fix the exec line of %s", target, target, script)
		}
		f.Message = msg
		f.Evidence = ev
		out = append(out, f)
	}
	return out, nil
}

// ld202ShellString is the -c string of a shell's arguments.
func ld202ShellString(args []string) string {
	cmd, _, _, _ := analyze.ShellOptions(args)
	return cmd
}

// scriptTests reports whether the script at p tests for name (-f, -x, -e)
// before exec'ing it, so the exec may be conditional.
func scriptTests(t *analyze.Target, p, name string) bool {
	b, err := analyze.ReadPrefix(t.FS, p, analyze.MaxScriptRead)
	if err != nil {
		return false
	}
	text := string(b)
	for _, op := range []string{"-f ", "-x ", "-e ", "-s "} {
		for _, q := range []string{"", `"`, "'"} {
			if strings.Contains(text, op+q+name) {
				return true
			}
		}
	}
	return false
}
