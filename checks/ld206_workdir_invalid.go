package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
)

// workdirInvalid is LD206: the working directory (WORKDIR, or the
// function's ImageConfig.WorkingDirectory) is not absolute, does not exist
// in the image, is not a directory, or cannot be searched by the sandbox
// user. Docker creates a missing WORKDIR at run time; Lambda does not.
type workdirInvalid struct{}

func (workdirInvalid) Meta() Meta {
	return Meta{
		ID:       "LD206",
		Name:     "workdir-invalid",
		Title:    "working directory is not a usable absolute directory",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c workdirInvalid) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	argv := t.Argv()
	if !argv.WorkingDirSet {
		return nil, nil // unset: Lambda uses "/"
	}
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	wd := argv.WorkingDir
	src := "WORKDIR"
	fixLine := "WORKDIR /var/task"
	if argv.Overrides.WorkingDirectory != "" {
		src = "the function's ImageConfig.WorkingDirectory"
		fixLine = "set ImageConfig.WorkingDirectory to /var/task (or the directory that holds your code)"
	}
	f := NewFinding(c.Meta(), "")
	f.Source = argv.ConfigField("WorkingDir")
	f.Evidence = argv.Evidence()
	const base = "Lambda cannot start the function (errorType Runtime.InvalidWorkingDir)"
	if !strings.HasPrefix(wd, "/") {
		f.Message = fmt.Sprintf("%s is %s, a relative path. %s: \"the working directory '%s' is invalid, it needs to be an absolute path\" (text from the Runtime Interface Emulator's source).", src, analyze.QuoteJSON(wd), base, wd)
		f.Fix = fixLine
		return []Finding{f}, nil
	}
	r := t.FS.Resolve(wd)
	f.Path = wd
	if len(r.Chain) > 0 || r.Err != nil {
		f.Evidence = append(f.Evidence, analyze.FormatChain(r))
	}
	switch {
	case errors.Is(r.Err, imagefs.ErrNotDir) || r.Err == nil && !r.Entry.IsDir():
		at := r.Final
		if e, ok := t.FS.Lookup(at); ok {
			f.Evidence = append(f.Evidence, at+": "+t.Describe(e))
			f.Layer = layerRef(t, e.Layer)
		}
		f.Message = fmt.Sprintf("%s is %s, but %s is not a directory in this image. %s; the exact error text for this case is unconfirmed (the emulator's chdir would fail with \"not a directory\").", src, wd, at, base)
		f.Fix = fmt.Sprintf("%s, and keep files out of that path (RUN mkdir -p <dir>)", fixLine)
	case r.Err != nil:
		f.Message = fmt.Sprintf("%s is %s, which does not exist in this image (Docker creates a missing working directory when it starts a container; Lambda does not). %s: \"the working directory doesn't exist: %s\" (text from the Runtime Interface Emulator's source).", src, wd, base, wd)
		if h, _, ok := analyze.DanglingLink(t.FS, r); ok {
			f.Message = strings.TrimSuffix(f.Message, ".") + fmt.Sprintf("; %s is a dangling symlink to %s.", h.Path, analyze.QuoteJSON(h.Target))
			f.Layer = layerRef(t, h.Layer)
		}
		if src == "WORKDIR" {
			f.Fix = fmt.Sprintf("RUN mkdir -p %s", wd)
		} else {
			f.Fix = fmt.Sprintf("create it in the image (RUN mkdir -p %s) or %s", wd, fixLine)
		}
	default:
		ae := analyze.SandboxTraversal(t.FS, r)
		if ae == nil && !analyze.SandboxCan(r.Entry, analyze.PermExec) {
			ae = &analyze.AccessError{Path: r.Final, Entry: r.Entry, Need: analyze.PermExec}
		}
		if ae == nil {
			return nil, nil
		}
		f.Path = ae.Path
		f.Layer = layerRef(t, ae.Entry.Layer)
		f.Source = "" // the directory's mode, not WORKDIR, is the cause
		f.Evidence = append(f.Evidence, ae.Path+": "+t.Describe(ae.Entry))
		f.Message = fmt.Sprintf("%s is %s, but the sandbox user (uid %d, gid %d; Lambda ignores USER) cannot search %s (mode %s, owner %d:%d), so it cannot change into it. %s; the exact error text for this case is unconfirmed (chdir fails with \"permission denied\").", src, wd, analyze.SandboxUID, analyze.SandboxGID, ae.Path, analyze.ModeString(ae.Entry), ae.Entry.UID, ae.Entry.GID, base)
		f.Fix = fmt.Sprintf("RUN chmod o+rx %s", ae.Path)
	}
	return []Finding{f}, nil
}
