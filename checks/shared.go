package checks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// maxListed is how many paths a grouped finding lists in its evidence.
const maxListed = 10

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// interpSymptom is what a #! interpreter the kernel cannot load gives:
// exec of the script fails with errno.
func interpSymptom(c *analyze.Chain, l *analyze.Link, errno string) string {
	if len(c.Links) > 0 && l.From == c.Links[0].Path {
		return fmt.Sprintf(`the kernel cannot load the #! interpreter of %s, so Lambda cannot start it: "IMAGE Launch error: fork/exec %s: %s" (errorType Runtime.InvalidEntrypoint)`, l.From, c.Links[0].Name, errno)
	}
	return fmt.Sprintf(`the kernel cannot load the #! interpreter of %s, so running that script fails with "%s"`, l.From, errno)
}

// maxCandidates is how many same-name files are listed in the evidence.
const maxCandidates = 5

// handlerContext is analyze.HandlerContext, whose reason for skipping points
// to LD401 when no runtime interface client was recognised.
func handlerContext(t *analyze.Target) (analyze.HandlerSpec, error) {
	hs, err := analyze.HandlerContext(t)
	if errors.Is(err, analyze.ErrNoClient) {
		err = fmt.Errorf("%w (see LD401)", err)
	}
	return hs, err
}

// handlerModuleFinding starts a finding about the handler's module file p:
// its path and layer, the image's Cmd as its source, and the handler's
// evidence followed by the file's description.
func handlerModuleFinding(m Meta, t *analyze.Target, hs analyze.HandlerSpec, p string) (Finding, []string) {
	r := t.FS.Resolve(p)
	f := NewFinding(m, "")
	f.Path = p
	if r.Entry != nil {
		f.Layer = layerRef(t, r.Entry.Layer)
	}
	f.Source = t.Argv().ConfigField("Cmd")
	ev := hs.Evidence(t)
	if r.Entry != nil {
		ev = append(ev, fmt.Sprintf("module file %s: %s", p, t.Describe(r.Entry)))
	}
	return f, ev
}
