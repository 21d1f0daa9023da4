package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// noEntrypoint is LD201: the image has neither ENTRYPOINT nor CMD, so
// there is no documented command for Lambda to start.
type noEntrypoint struct{}

func (noEntrypoint) Meta() Meta {
	return Meta{
		ID:       "LD201",
		Name:     "no-entrypoint",
		Title:    "image has neither ENTRYPOINT nor CMD",
		Severity: Error,
		Category: CategoryEntrypoint,
	}
}

func (c noEntrypoint) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	argv := t.Argv()
	if !argv.Empty() {
		return nil, nil
	}
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	ev := argv.Evidence()[:2]
	fallback := ""
	for _, p := range analyze.EmulatorBootstraps() {
		r := t.FS.Resolve(p)
		// The emulator takes the first path that exists and is not a
		// directory (os.Stat, following symlinks).
		if r.Err == nil && r.Entry != nil && !r.Entry.IsDir() {
			ev = append(ev, fmt.Sprintf("%s: %s", analyze.FormatChain(r), t.Describe(r.Entry)))
			if fallback == "" {
				fallback = p
			}
			continue
		}
		if r.Err == nil && r.Entry != nil {
			ev = append(ev, analyze.FormatChain(r)+" (a directory, skipped)")
			continue
		}
		ev = append(ev, analyze.FormatChain(r))
	}
	// An AWS base image whose ENTRYPOINT was reset: its own entry script
	// is the fix, since it passes the handler on.
	baseFix := ""
	if r := t.FS.Resolve("/lambda-entrypoint.sh"); r.Err == nil && r.Entry != nil && !r.Entry.IsDir() {
		ev = append(ev, fmt.Sprintf("%s: %s (an AWS base image's entrypoint)", analyze.FormatChain(r), t.Describe(r.Entry)))
		baseFix = analyze.DockerfileExec("ENTRYPOINT", []string{"/lambda-entrypoint.sh"}) + ` and CMD ["<module>.<handler>"] (exactly one element)`
	}

	list := strings.Join(analyze.EmulatorBootstraps(), ", ")
	f := NewFinding(c.Meta(), "")
	if fallback != "" {
		f.Severity = Warning
		f.Path = fallback
		f.Message = fmt.Sprintf("the image config has neither ENTRYPOINT nor CMD. Started without a command, the Runtime Interface Emulator falls back to the first of %s that exists, here %s, so it may start locally; that fallback is not documented for Lambda itself (unconfirmed), where the function may fail to start with Runtime.InvalidEntrypoint.", list, fallback)
		f.Fix = analyze.DockerfileExec("ENTRYPOINT", []string{fallback})
		if r := t.FS.Resolve(fallback); r.Entry != nil {
			f.Layer = layerRef(t, r.Entry.Layer)
		}
	} else {
		f.Message = fmt.Sprintf("the image config has neither ENTRYPOINT nor CMD, so Lambda has no command to start, and none of the emulator's fallbacks (%s) exists either. Lambda's behaviour for such an image is not documented; expect the function to fail to start with Runtime.InvalidEntrypoint (older emulator versions log \"Couldn't find valid bootstrap(s): [%s]\"). A FROM scratch final stage or an ENTRYPOINT [] reset often loses the command.", list, strings.Join(analyze.EmulatorBootstraps(), " "))
		f.Fix = `ENTRYPOINT ["/path/to/your/runtime"] (the absolute path of your runtime interface client or bootstrap binary)`
	}
	if baseFix != "" {
		f.Fix = baseFix
	}
	f.Source = argv.ConfigField("Entrypoint")
	f.Evidence = ev
	return []Finding{f}, nil
}
