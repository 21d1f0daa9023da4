package checks

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// Status is how a check ended on one image.
type Status string

// Check statuses. They are not severities: a check that failed to decide
// ends in StatusError, whatever its findings would have been.
const (
	StatusPassed  Status = "passed"  // ran, found nothing
	StatusFailed  Status = "failed"  // ran, returned findings
	StatusError   Status = "error"   // returned an error or panicked
	StatusSkipped Status = "skipped" // did not apply (disabled, or nothing to look at)
)

// Result is one check's outcome on one image.
type Result struct {
	Meta     Meta
	Status   Status
	Findings []Finding
	// Err says why the check ended in StatusError or StatusSkipped.
	Err string
}

// ErrSkip, returned (possibly wrapped) by a check, marks it as not applicable
// to this image rather than failed. It is the error the image analysis
// returns for a fact the image does not have (no filesystem, no command),
// so a check can return that error as it is.
var ErrSkip = analyze.ErrNotApplicable

// Run runs every check on t, in the order given, and never aborts: a check's
// error or panic becomes its Result's status.
func Run(ctx context.Context, list []Check, t *analyze.Target) []Result {
	results := make([]Result, 0, len(list))
	for _, c := range list {
		results = append(results, runOne(ctx, c, t))
	}
	return results
}

func runOne(ctx context.Context, c Check, t *analyze.Target) (res Result) {
	m := c.Meta()
	res.Meta = m
	defer func() {
		if r := recover(); r != nil {
			res.Status = StatusError
			res.Findings = nil
			res.Err = fmt.Sprintf("internal error (please report it): %v\n%s", r, debug.Stack())
		}
	}()
	if err := ctx.Err(); err != nil {
		res.Status, res.Err = StatusSkipped, err.Error()
		return res
	}
	fs, err := c.Run(ctx, t)
	switch {
	case errors.Is(err, ErrSkip):
		// "check does not apply: <reason>" reads as just the reason.
		res.Status, res.Err = StatusSkipped, strings.TrimPrefix(err.Error(), ErrSkip.Error()+": ")
		return res
	case err != nil:
		res.Status, res.Err = StatusError, err.Error()
		return res
	}
	for i := range fs {
		fill(&fs[i], m)
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
	res.Findings = fs
	if len(fs) > 0 {
		res.Status = StatusFailed
	} else {
		res.Status = StatusPassed
	}
	return res
}

// fill completes the fields a check may leave to its Meta.
func fill(f *Finding, m Meta) {
	if f.ID == "" {
		f.ID = m.ID
	}
	if f.Name == "" {
		f.Name = m.Name
	}
	if f.Severity == 0 {
		f.Severity = m.Severity
	}
	if f.Title == "" {
		f.Title = m.Title
	}
	if f.Docs == "" {
		f.Docs = m.DocsURL()
	}
}
