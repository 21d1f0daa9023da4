package checks

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
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

// maxCandidates is how many same-name files are listed in the evidence.
const maxCandidates = 5

func (c entrypointNotFound) Run(ctx context.Context, t *Target) ([]Finding, error) {
	cfg := t.Config()
	argv := t.Argv()
	if argv.Empty() {
		return nil, nil // LD201's case
	}
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	name := argv.Name()
	l := LookupExec(t.FS, cfg, name, argv.WorkingDir)
	if l.Found() {
		return nil, nil
	}

	f := NewFinding(c.Meta(), "")
	ev := argv.Evidence()
	src := argv.Source()
	var what, symptom string
	quoted := QuoteJSON(name)

	// broken is the symlink whose target is missing, if any, and
	// brokenRes the resolution of that target; loop is set for a loop.
	var broken *imagefs.Hop
	var brokenRes imagefs.Resolution
	loop := false

	switch l.Method {
	case LookupPATH:
		where := "from the image's ENV"
		if !l.PATHFromImage {
			where = "the image sets no PATH, so this default is assumed; which PATH Lambda uses then is unconfirmed"
		}
		ev = append(ev, fmt.Sprintf("PATH=%s (%s)", l.PATH, where))
		var tried []string
		for _, cand := range l.Tried {
			tried = append(tried, cand.Path)
			r := cand.Resolution
			switch h, tr, ok := DanglingLink(t.FS, r); {
			case ok:
				ev = append(ev, FormatChain(r))
				if broken == nil {
					broken, brokenRes = &h, tr
				}
			case r.Err == nil && r.Entry != nil:
				// A directory where the command was looked for.
				ev = append(ev, FormatChain(r)+" ("+KindString(r.Entry)+", skipped)")
			case errors.Is(r.Err, imagefs.ErrLoop):
				ev = append(ev, FormatChain(r))
			}
		}
		ev = append(ev, "searched "+strings.Join(tried, ", ")+": none is a file")
		for _, d := range l.SkippedDirs {
			ev = append(ev, fmt.Sprintf("PATH entry %s not searched: it is relative, and Go's os/exec refuses matches in relative PATH entries", QuoteJSON(d)))
		}
		what = fmt.Sprintf("%s runs %s, which is in no directory of PATH (%s)", src, quoted, l.PATH)
		symptom = fmt.Sprintf("Lambda cannot start the function and reports \"Couldn't find valid bootstrap(s): [%s]\" (errorType Runtime.InvalidEntrypoint)", name)
	default:
		r := l.Resolution()
		target := r.Requested
		if l.Method == LookupWorkdir {
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
			ev = append(ev, FormatChain(r))
		}
		errno := "no such file or directory"
		switch h, tr, dangling := DanglingLink(t.FS, r); {
		case name == "":
			what = fmt.Sprintf("the first element of %s is an empty string", src)
		case errors.Is(r.Err, imagefs.ErrLoop):
			errno = "too many levels of symbolic links"
			what += ", a symlink loop"
			loop = true
			if len(r.Chain) > 0 {
				f.Path = r.Chain[0].Path
				f.Layer = t.LayerRef(r.Chain[0].Layer)
			}
		case errors.Is(r.Err, imagefs.ErrNotDir):
			errno = "not a directory"
			kind := "file"
			if e, ok := t.FS.Lookup(r.Final); ok {
				kind = KindString(e)
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
			missing = linkDest(*broken)
		}
		what += fmt.Sprintf(": %s points to %s, and %s does not exist", broken.Path, QuoteJSON(broken.Target), missing)
		f.Path = broken.Path
		f.Layer = t.LayerRef(broken.Layer)
		ev = append(ev, fmt.Sprintf("dangling symlink %s -> %s added in %s", broken.Path, QuoteJSON(broken.Target), t.LayerLabel(broken.Layer)))
	}

	// Did you mean: files of the same name elsewhere in the image.
	pathValue, _ := SearchPath(cfg)
	pathDirs := strings.Split(pathValue, ":")
	exclude := make([]string, 0, len(l.Tried))
	for _, cand := range l.Tried {
		exclude = append(exclude, cand.Path)
	}
	var found []NamedFile
	if base := path.Base(name); name != "" && base != "/" && base != "." {
		var err error
		found, err = FindFiles(ctx, t.FS, base, pathDirs, exclude...)
		if err != nil {
			return nil, err
		}
	}
	if len(found) == 0 && broken != nil {
		// Look for the file the dangling link meant.
		var err error
		found, err = FindFiles(ctx, t.FS, path.Base(missing), pathDirs, exclude...)
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
			line = "found " + FormatChain(nf.Resolution)
		}
		line += ": " + t.Describe(nf.Resolution.Entry)
		if nf.OnPath {
			line += ", in a PATH directory"
		}
		ev = append(ev, line)
	}

	msg := what + ". " + symptom + "."
	switch {
	case len(found) == 1:
		msg += fmt.Sprintf(" A file of that name exists at %s.", found[0].Path)
	case len(found) > 1:
		msg += fmt.Sprintf(" Files of that name exist at %s and %d other place(s); the first is the likeliest.", found[0].Path, len(found)-1)
	case name != "":
		msg += fmt.Sprintf(" No file named %s exists anywhere in the image.", path.Base(name))
	}

	switch {
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
	return []Finding{f}, nil
}
