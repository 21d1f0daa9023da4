package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// busyboxAppletMissing is LD210: a program the start-up runs is a link to
// busybox (a symlink or a hard link named bash, curl, ...) but that busybox
// was built without the applet of that name. Busybox picks its applet by
// the basename of argv[0], and fails with "applet not found" when its
// applet table lacks it. The table is read from the binary; when it cannot
// be found, nothing is reported.
type busyboxAppletMissing struct{}

func (busyboxAppletMissing) Meta() Meta {
	return Meta{
		ID:       "LD210",
		Name:     "busybox-applet-missing",
		Title:    "a start-up program is busybox built without that applet",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c busyboxAppletMissing) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	ch, err := t.CommandChain()
	if ch == nil {
		return nil, err
	}
	var out []Finding
	seen := map[string]bool{}
	for i := range ch.Links {
		l := &ch.Links[i]
		if l.Entry == nil || l.Kind != analyze.LinkELF {
			continue
		}
		applet, n, missing := t.BusyboxMissingApplet(l.Name, l.Path)
		if !missing || seen[l.Path+"\x00"+applet] {
			continue
		}
		seen[l.Path+"\x00"+applet] = true
		out = append(out, c.chainFinding(t, ch, i, applet, n))
	}
	for _, s := range t.Scripts() {
		if s.ParseErr != nil {
			continue
		}
		for j := range s.Commands {
			cmd := &s.Commands[j]
			if !cmd.Certain || cmd.Guarded || cmd.Name.Value == "" {
				continue
			}
			lk := t.LookupCommand(s, cmd)
			if !lk.Judged || !lk.Found || lk.Builtin {
				continue
			}
			r := t.FS.Resolve(lk.Path)
			if r.Entry == nil || r.Final == "" {
				continue
			}
			applet, n, missing := t.BusyboxMissingApplet(cmd.Name.Value, r.Final)
			if !missing || seen[r.Final+"\x00"+applet] {
				continue
			}
			seen[r.Final+"\x00"+applet] = true
			out = append(out, c.scriptFinding(t, ch, s, cmd, lk.Path, r.Final, applet, n))
		}
	}
	return out, nil
}

// ld210Effect is what busybox does and what Lambda then reports.
func ld210Effect(applet string) string {
	return fmt.Sprintf("busybox picks the program it acts as by the name it was started as (%s), finds no such applet in its table, prints \"%s: applet not found\" and exits 127, so Lambda reports \"Runtime exited with error: exit status 127\" (errorType Runtime.ExitError)", analyze.QuoteJSON(applet), applet)
}

// ld210Fix installs the real program, or for a shell, uses busybox's sh.
func ld210Fix(t *analyze.Target, applet, link, script string) string {
	fix := fmt.Sprintf("install a real %s and replace the link %s", applet, link)
	if h := analyze.PackageHint(t.FS, applet); h != "" {
		fix = fmt.Sprintf("RUN rm %s && %s (the package may be named differently)", link, strings.TrimPrefix(h, "RUN "))
	}
	if analyze.Shells[applet] && script != "" {
		fix += fmt.Sprintf(", or use #!/bin/sh in %s if it needs no %s features", script, applet)
	}
	return fix
}

func (c busyboxAppletMissing) chainFinding(t *analyze.Target, ch *analyze.Chain, i int, applet string, n int) Finding {
	l := &ch.Links[i]
	f := NewFinding(c.Meta(), "")
	f.Evidence = analyze.ChainEvidence(t, ch, i)
	f.Evidence = append(f.Evidence, fmt.Sprintf("%s is busybox; its applet table lists %d applets, none named %s", l.Path, n, analyze.QuoteJSON(applet)))
	link := l.Lookup.Path()
	if link == "" {
		link = l.Name
	}
	how := "is busybox"
	if r := l.Lookup.Resolution(); len(r.Chain) > 0 {
		how = "is a symlink to busybox (" + analyze.FormatChain(r) + ")"
	} else if l.Path != link {
		how = "resolves to busybox at " + l.Path
	}
	script := ""
	if l.Role == analyze.RoleInterpreter && i > 0 {
		sl := &ch.Links[i-1]
		script = sl.Path
		f.Path = sl.Path
		if sl.Entry != nil {
			f.Layer = layerRef(t, sl.Entry.Layer)
		}
		f.Message = fmt.Sprintf("%s starts with %s, and %s %s, built without a %s applet: the kernel starts it with argv[0] %s, and %s.", sl.Path, analyze.QuoteJSON(sl.Shebang.Line), link, how, applet, analyze.QuoteJSON(l.Name), ld210Effect(applet))
	} else {
		f.Path = link
		f.Layer = layerRef(t, l.Entry.Layer)
		f.Message = fmt.Sprintf("%s runs %s, which %s, built without a %s applet: %s.", ch.Origin(i), analyze.QuoteJSON(l.Name), how, applet, ld210Effect(applet))
	}
	f.Fix = ld210Fix(t, applet, link, script)
	return f
}

func (c busyboxAppletMissing) scriptFinding(t *analyze.Target, ch *analyze.Chain, s *analyze.Script, cmd *analyze.ScriptCommand, found, final, applet string, n int) Finding {
	f := NewFinding(c.Meta(), "")
	f.Path = found
	if e, ok := t.FS.Lookup(found); ok {
		f.Layer = layerRef(t, e.Layer)
	}
	f.Evidence = analyze.ChainEvidence(t, ch, s.Link)
	f.Evidence = append(f.Evidence,
		fmt.Sprintf("%s line %d: %s", s.Origin, cmd.Line, analyze.QuoteJSON(cmd.Text)),
		analyze.FormatChain(t.FS.Resolve(found)),
		fmt.Sprintf("%s is busybox; its applet table lists %d applets, none named %s", final, n, analyze.QuoteJSON(applet)))
	sev := "the script goes on without it (a warning: what needed it fails later)"
	if !cmd.Fatal {
		f.Severity = Warning
	} else {
		sev = "the start-up depends on it"
	}
	f.Message = fmt.Sprintf("%s line %d runs %s, found at %s, which resolves to busybox (%s) built without a %s applet: %s; %s.", s.Origin, cmd.Line, analyze.QuoteJSON(cmd.Name.Value), found, final, applet, ld210Effect(applet), sev)
	f.Fix = ld210Fix(t, path.Base(applet), found, "")
	return f
}
