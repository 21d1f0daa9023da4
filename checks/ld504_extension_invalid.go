package checks

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
)

// extensionInvalid is LD504: an entry of /opt/extensions that Lambda cannot
// launch (not executable by the sandbox user, a dangling link, a script
// with CRLF line endings or a missing interpreter, a file that is neither a
// script nor a binary), more than 10 extensions (TooManyExtensions), or
// subdirectories, which Lambda skips (info). The ELF architecture of
// extensions is LD301's.
type extensionInvalid struct{}

func (extensionInvalid) Meta() Meta {
	return Meta{
		ID:       "LD504",
		Name:     "extension-invalid",
		Title:    "an extension in /opt/extensions cannot be launched",
		Severity: Error,
		Category: CategoryOf("LD504"),
	}
}

// extensionsDir is where Lambda looks for external extensions.
const extensionsDir = "/opt/extensions"

// maxExtensions is Lambda's limit (the emulator's MaxAgentsAllowed).
const maxExtensions = 10

// launchError is the log line Lambda prints for an extension that fails to
// start (Extension.LaunchError, see the Extensions API:
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html); errType is set for permission errors.
func launchError(name, p, errno, errType string) string {
	if errType != "" {
		return fmt.Sprintf("EXTENSION Name: %s State: LaunchError Events: [] Error Type: %s", name, errType) + fmt.Sprintf("\" with \"Error: fork/exec %s: %s\" (Extension.LaunchError", p, errno)
	}
	return fmt.Sprintf("Error: fork/exec %s: %s\" (Extension.LaunchError", p, errno)
}

func (c extensionInvalid) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	r := t.FS.Resolve(extensionsDir)
	if r.Err != nil || r.Entry == nil || !r.Entry.IsDir() {
		return nil, nil // no extensions
	}
	dir := strings.TrimPrefix(r.Final, "/")
	ents, err := fs.ReadDir(t.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", extensionsDir, err)
	}
	var out []Finding
	var launched, subdirs []*imagefs.Entry
	for _, d := range ents {
		info, err := d.Info()
		if err != nil {
			continue
		}
		e, ok := info.Sys().(*imagefs.Entry)
		if !ok {
			continue
		}
		// The emulator launches every entry that is not a directory
		// (symlinks included, followed by exec).
		if e.IsDir() {
			subdirs = append(subdirs, e)
			continue
		}
		launched = append(launched, e)
	}
	for _, e := range launched {
		if f, ok := c.checkOne(t, e); ok {
			out = append(out, f)
		}
	}
	if n := len(launched); n > maxExtensions {
		var names []string
		for _, e := range launched {
			names = append(names, path.Base(e.Path))
		}
		f := NewFinding(c.Meta(), fmt.Sprintf("%s holds %d extensions (%s); Lambda starts at most %d, and init fails with TooManyExtensions.", extensionsDir, n, strings.Join(names, ", "), maxExtensions))
		f.Path = extensionsDir
		for i, e := range launched {
			if i == 15 {
				f.Evidence = append(f.Evidence, fmt.Sprintf("… and %d more", n-15))
				break
			}
			f.Evidence = append(f.Evidence, e.Path+": "+t.Describe(e))
		}
		f.Fix = fmt.Sprintf("remove extensions you do not need, keeping at most %d: RUN rm /opt/extensions/<name>", maxExtensions)
		out = append(out, f)
	}
	if len(subdirs) > 0 {
		var names []string
		for _, e := range subdirs {
			names = append(names, e.Path)
		}
		sort.Strings(names)
		f := NewFinding(c.Meta(), fmt.Sprintf("%s holds %d subdirectories (%s); Lambda launches only the files directly in %s and skips subdirectories, so nothing in them runs as an extension.", extensionsDir, len(subdirs), strings.Join(names, ", "), extensionsDir))
		f.Severity = Info
		f.Path = subdirs[0].Path
		f.Layer = layerRef(t, subdirs[0].Layer)
		for _, e := range subdirs {
			f.Evidence = append(f.Evidence, e.Path+": "+t.Describe(e))
		}
		f.Fix = "if an extension is meant to run, put its executable directly in /opt/extensions (COPY --chmod=755 my-extension /opt/extensions/my-extension) and its files elsewhere under /opt"
		out = append(out, f)
	}
	return out, nil
}

// checkOne checks that one entry of /opt/extensions can be launched.
func (c extensionInvalid) checkOne(t *analyze.Target, e *imagefs.Entry) (Finding, bool) {
	name := path.Base(e.Path)
	r := t.FS.Resolve(e.Path)
	ev := []string{e.Path + ": " + t.Describe(e)}
	if len(r.Chain) > 0 {
		ev = append(ev, analyze.FormatChain(r))
	}
	fail := func(msg, fix string, layer int) (Finding, bool) {
		f := NewFinding(c.Meta(), msg)
		f.Path = e.Path
		f.Layer = layerRef(t, layer)
		f.Evidence = ev
		f.Fix = fix
		return f, true
	}
	if r.Err != nil || r.Entry == nil {
		return fail(fmt.Sprintf("The extension %s is a symlink that leads nowhere (%s). Lambda cannot start it: \"%s), and init fails.", e.Path, analyze.FormatChain(r), launchError(name, e.Path, "no such file or directory", "")),
			fmt.Sprintf("point the link at the real binary (RUN ln -sf /opt/<dir>/%s %s) or copy the binary there", name, e.Path), e.Layer)
	}
	target := r.Entry
	if target.IsDir() {
		return Finding{}, false // a link to a directory: listed as a file, but exec fails; rare, leave it
	}
	if err := analyze.SandboxAccess(t.FS, r, analyze.PermExec); err != nil {
		ev = append(ev, err.Error())
		layer := target.Layer
		if ae, ok := err.(*analyze.AccessError); ok && ae.Entry != nil {
			layer = ae.Entry.Layer
		}
		return fail(fmt.Sprintf("The extension %s is not executable by the sandbox user Lambda runs it as (uid %d, gid %d): %v. Lambda logs \"%s) and init fails.", e.Path, analyze.SandboxUID, analyze.SandboxGID, err, launchError(name, e.Path, "permission denied", "PermissionDenied")),
			fmt.Sprintf("COPY --chmod=755 %s %s (or RUN chmod 755 %s)", name, e.Path, r.Final), layer)
	}
	head, err := analyze.ReadPrefix(t.FS, r.Final, 512)
	if err != nil {
		return Finding{}, false
	}
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return Finding{}, false // architecture and loader: the ELF checks
	case bytes.HasPrefix(head, []byte("#!")):
		sb := analyze.ParseShebang(head)
		ev = append(ev, "first line: "+analyze.QuoteJSON(sb.Line))
		if sb.CRLF {
			return fail(fmt.Sprintf("The extension %s is a script with Windows (CRLF) line endings: its first line %s makes the kernel look for the interpreter %s, which does not exist. Lambda logs \"%s) and init fails.", e.Path, analyze.QuoteJSON(sb.Line), analyze.QuoteJSON(sb.Interpreter+"\r"), launchError(name, e.Path, "no such file or directory", "")),
				fmt.Sprintf("convert it to LF line endings (RUN sed -i 's/\\r$//' %s, and add \"* text eol=lf\" to .gitattributes)", r.Final), target.Layer)
		}
		interp := sb.Interpreter
		lk := analyze.LiteralLookup(t.FS, interp, "/")
		if !lk.Found() {
			return fail(fmt.Sprintf("The extension %s is a script whose interpreter %s does not exist in the image. Lambda logs \"%s) and init fails.", e.Path, interp, launchError(name, e.Path, "no such file or directory", "")),
				fmt.Sprintf("install %s in the image, or change the first line of %s to an interpreter that exists", path.Base(interp), r.Final), target.Layer)
		}
		if path.Base(interp) == "env" && len(sb.Args) == 1 && !strings.HasPrefix(sb.Args[0], "-") {
			prog := sb.Args[0]
			pl := analyze.LookupExec(t.FS, t.Config(), prog, "/")
			if !pl.Found() && !onLambdaPATH(t.FS, prog) {
				pathValue, _ := analyze.SearchPath(t.Config())
				ev = append(ev, "PATH="+pathValue)
				return fail(fmt.Sprintf("The extension %s is a script run through \"%s %s\", but %s is in no directory of the image's PATH (which extensions are assumed to inherit; unconfirmed) nor of Lambda's documented PATH (/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin). The extension starts and env fails at once (\"env: '%s': No such file or directory\"), so Lambda reports Extension.LaunchError or Extension.ExitError and init fails.", e.Path, interp, prog, analyze.QuoteJSON(prog), prog),
					fmt.Sprintf("install %s, or name its absolute path in the first line of %s (#!/path/to/%s)", prog, r.Final, prog), target.Layer)
			}
		}
		return Finding{}, false
	case target.Size == 0:
		return fail(fmt.Sprintf("The extension %s is an empty file. Lambda cannot execute it: \"%s), and init fails.", e.Path, launchError(name, e.Path, "exec format error", "")),
			fmt.Sprintf("copy the real extension binary to %s, or remove it: RUN rm %s", e.Path, e.Path), target.Layer)
	default:
		return fail(fmt.Sprintf("The extension %s is neither an ELF binary nor a script starting with \"#!\", so the kernel cannot execute it: Lambda logs \"%s) and init fails.", e.Path, launchError(name, e.Path, "exec format error", "")),
			fmt.Sprintf("add an interpreter line (#!/bin/sh) at the top of %s, or copy the real binary there", r.Final), target.Layer)
	}
}

// lambdaPATH is the PATH Lambda documents for the execution environment.
var lambdaPATH = []string{"/var/lang/bin", "/usr/local/bin", "/usr/bin", "/bin", "/opt/bin"}

// onLambdaPATH reports whether prog is a file in a directory of lambdaPATH.
func onLambdaPATH(fsys *imagefs.FS, prog string) bool {
	for _, d := range lambdaPATH {
		if r := fsys.Resolve(path.Join(d, prog)); r.Err == nil && r.Entry != nil && !r.Entry.IsDir() {
			return true
		}
	}
	return false
}
