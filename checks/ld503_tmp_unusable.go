package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
)

// tmpUnusable is LD503: /tmp, the only writable place in a Lambda
// function, is odd in the image: a file or a symlink, a directory without
// the usual 1777 mode, missing, or holding files that Lambda's /tmp mount
// would hide.
//
// Lambda mounts its own writable /tmp (512 MB to 10,240 MB). What it does
// with the image's /tmp (mount over a file or a link, create a missing
// mount point, keep the image's mode, hide its content) is unconfirmed; the
// findings say so and stay at warning or info.
type tmpUnusable struct{}

func (tmpUnusable) Meta() Meta {
	return Meta{
		ID:       "LD503",
		Name:     "tmp-unusable",
		Title:    "/tmp is missing, not a plain directory, not world-writable, or holds files",
		Severity: Warning,
		Category: CategoryOf("LD503"),
	}
}

// maxTmpExamples is how many files under /tmp are listed.
const maxTmpExamples = 10

func (c tmpUnusable) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	e, ok := t.FS.Lookup("/tmp")
	if !ok {
		f := NewFinding(c.Meta(), "The image has no /tmp. Lambda mounts a writable /tmp for the function and presumably creates the mount point (unconfirmed); but running the image elsewhere (docker run --read-only, the Runtime Interface Emulator) gives code that writes temporary files \"No such file or directory\" errors.")
		f.Severity = Info
		f.Path = "/tmp"
		f.Evidence = []string{"/tmp: missing"}
		f.Fix = "create it: RUN mkdir -p -m 1777 /tmp (in an image without a shell: COPY --from=build --chmod=1777 /tmp /tmp)"
		return []Finding{f}, nil
	}
	var out []Finding
	switch {
	case e.IsSymlink():
		r := t.FS.Resolve("/tmp")
		where := "a directory that exists"
		switch {
		case r.Err != nil:
			where = "nothing (a dangling link)"
		case r.Entry != nil && !r.Entry.IsDir():
			where = "a " + analyze.KindString(r.Entry)
		}
		f := NewFinding(c.Meta(), fmt.Sprintf("/tmp is a symlink to %s, which leads to %s. Lambda mounts its writable /tmp there; whether it mounts over the link's target or fails is unconfirmed, and a function whose writes land on the read-only image fails with \"Read-only file system\" (EROFS).", analyze.QuoteJSON(e.Linkname), where))
		f.Path, f.Layer = "/tmp", layerRef(t, e.Layer)
		f.Evidence = []string{"/tmp: " + t.Describe(e) + ", -> " + analyze.QuoteJSON(e.Linkname), analyze.FormatChain(r)}
		f.Fix = "make /tmp a real directory: RUN rm /tmp && mkdir -m 1777 /tmp"
		out = append(out, f)
		return out, nil
	case !e.IsDir():
		f := NewFinding(c.Meta(), fmt.Sprintf("/tmp is a %s, not a directory. Lambda mounts its writable /tmp there; mounting a directory over a file fails in container runtimes, so the function may not start or may have no writable /tmp (what Lambda does is unconfirmed).", analyze.KindString(e)))
		f.Path, f.Layer = "/tmp", layerRef(t, e.Layer)
		f.Evidence = []string{"/tmp: " + t.Describe(e)}
		f.Fix = "make /tmp a directory: RUN rm -f /tmp && mkdir -m 1777 /tmp"
		out = append(out, f)
		return out, nil
	}

	// A directory: mode, then content.
	if m := e.Mode; m.Perm()&0o002 == 0 || m&fs.ModeSticky == 0 {
		var problem string
		sev := Warning
		switch {
		case m.Perm()&0o002 == 0:
			problem = fmt.Sprintf("is not writable by other users (mode %s), so the sandbox user (uid %d) could not create files there if the mount kept this mode", analyze.ModeString(e), analyze.SandboxUID)
		default:
			problem = fmt.Sprintf("is world-writable without the sticky bit (mode %s)", analyze.ModeString(e))
			sev = Info
		}
		f := NewFinding(c.Meta(), fmt.Sprintf("/tmp %s; the usual mode is 1777. Lambda mounts its own writable /tmp over it, which probably sets its own mode (unconfirmed); locally, under docker run --user %d, writes to /tmp fail with \"Permission denied\".", problem, analyze.SandboxUID))
		f.Path, f.Layer = "/tmp", layerRef(t, e.Layer)
		f.Evidence = []string{"/tmp: " + t.Describe(e)}
		f.Severity = sev
		f.Fix = "RUN chmod 1777 /tmp"
		out = append(out, f)
	}

	var files []*imagefs.Entry
	n := 0
	err := fs.WalkDir(t.FS, "tmp", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "tmp" {
			return nil
		}
		n++
		if len(files) < maxTmpExamples {
			if info, err := d.Info(); err == nil {
				if ent, ok := info.Sys().(*imagefs.Entry); ok {
					files = append(files, ent)
				}
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing /tmp: %w", err)
	}
	if n > 0 {
		var names []string
		for _, ent := range files {
			names = append(names, ent.Path)
		}
		f := NewFinding(c.Meta(), fmt.Sprintf("The image has %d entries under /tmp (%s%s). Lambda mounts an empty writable /tmp at runtime, which would hide them (unconfirmed: no source says so), so code expecting these files there could fail with \"No such file or directory\".", n, strings.Join(names, ", "), tmpEllipsis(n, len(names))))
		f.Severity = Info
		f.Path = files[0].Path
		f.Layer = layerRef(t, files[0].Layer)
		for _, ent := range files {
			f.Evidence = append(f.Evidence, ent.Path+": "+t.Describe(ent))
		}
		if n > len(files) {
			f.Evidence = append(f.Evidence, fmt.Sprintf("… and %d more", n-len(files)))
		}
		f.Fix = "keep files the function needs outside /tmp (COPY model.bin /opt/model/), and delete build leftovers in the RUN that makes them (RUN … && rm -rf /tmp/*)"
		out = append(out, f)
	}
	return out, nil
}

// tmpEllipsis returns ", …" when fewer than n items were named.
func tmpEllipsis(n, shown int) string {
	if n > shown {
		return ", …"
	}
	return ""
}
