package report

import (
	"cmp"
	"errors"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/lambdoctor/lambdoctor/checks"
)

// The stages below run on a built report, in this order, before any writer
// sees it: ApplyOverrides, then ApplyIgnores. Each keeps the report
// consistent (order, summary); neither removes a finding.

// ApplyOverrides sets the severity of the findings of the checks in sev
// (check ID → severity), and the checks' own severity, then re-sorts the
// findings and recounts the summary.
func ApplyOverrides(r *Report, sev map[string]checks.Severity) {
	if len(sev) == 0 {
		return
	}
	for i := range r.Findings {
		if s, ok := sev[r.Findings[i].ID]; ok {
			r.Findings[i].Severity = s
		}
	}
	for i := range r.Checks {
		if s, ok := sev[r.Checks[i].ID]; ok {
			r.Checks[i].Severity = s
		}
	}
	sortFindings(r.Findings)
	r.Summary = summarize(r.Findings)
}

// Ignore suppresses the findings of one check, optionally only at some
// paths, until it expires.
type Ignore struct {
	// ID of the check.
	ID string
	// Paths are globs over the finding's in-image path: path.Match
	// patterns per segment, "**" for any number of segments, a leading "/"
	// optional. Empty matches every finding of the check.
	Paths []string
	// Reason is copied to the findings it suppresses.
	Reason string
	// Expires is the last day (UTC) the ignore applies; zero for never.
	Expires time.Time
	// DockerfileLine, when not 0, narrows the ignore to the findings
	// located (Location, from --dockerfile) at the Dockerfile instruction
	// that starts on this line: an inline `# lambdoctor ignore=` comment.
	DockerfileLine int
	// By says where the ignore was written, for the findings it
	// suppresses (Finding.SuppressedBy): SuppressedByConfig,
	// SuppressedByDockerfile or SuppressedByCommandLine.
	By string
}

// Where an ignore was written (Finding.SuppressedBy).
const (
	SuppressedByConfig      = "config"
	SuppressedByDockerfile  = "dockerfile"
	SuppressedByCommandLine = "command-line"
)

// Expired reports whether ig no longer applies at now: its expires day
// (UTC) is over.
func (ig Ignore) Expired(now time.Time) bool {
	return !ig.Expires.IsZero() && !now.UTC().Before(ig.Expires.AddDate(0, 0, 1))
}

// Matches reports whether ig suppresses f.
func (ig Ignore) Matches(f Finding) bool {
	if f.ID != ig.ID {
		return false
	}
	if ig.DockerfileLine != 0 && (f.Location == nil || f.Location.Line != ig.DockerfileLine) {
		return false
	}
	if len(ig.Paths) == 0 {
		return true
	}
	for _, g := range ig.Paths {
		if MatchPath(g, f.Path) {
			return true
		}
	}
	return false
}

// ApplyIgnores marks the findings an ignore in ig matches as suppressed,
// with the first matching ignore's reason, and recounts the summary.
// Expired ignores suppress nothing and are returned in expired; ignores
// that are not expired and matched no finding are returned in unused.
// Both keep ig's order.
func ApplyIgnores(r *Report, ig []Ignore, now time.Time) (unused, expired []Ignore) {
	for _, ign := range ig {
		if ign.Expired(now) {
			expired = append(expired, ign)
			continue
		}
		used := false
		for i := range r.Findings {
			f := &r.Findings[i]
			if !ign.Matches(*f) {
				continue
			}
			used = true
			if !f.Suppressed {
				f.Suppressed, f.SuppressionReason, f.SuppressedBy = true, ign.Reason, ign.By
			}
		}
		if !used {
			unused = append(unused, ign)
		}
	}
	r.Summary = summarize(r.Findings)
	return unused, expired
}

// ValidGlob checks the syntax of a path glob as MatchPath reads it:
// path.Match patterns per segment, and "**" as a whole segment. A glob
// that fails it would match nothing.
func ValidGlob(g string) error {
	if strings.TrimSpace(g) == "" {
		return errors.New("empty glob")
	}
	for _, seg := range strings.Split(strings.Trim(g, "/"), "/") {
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return errors.New(`"**" must be a whole path segment, as in /var/task/**/*.so`)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return err
		}
	}
	return nil
}

// MatchPath reports whether the in-image path p matches glob g. Both are
// read as absolute; "**" matches zero or more whole segments, other
// segments follow path.Match. A malformed glob matches nothing.
func MatchPath(g, p string) bool {
	if p == "" {
		return false
	}
	return matchSegs(splitPath(g), splitPath(path.Clean("/"+p)))
}

func splitPath(s string) []string {
	s = strings.Trim(s, "/")
	if s == "" {
		return nil
	}
	return strings.Split(s, "/")
}

func matchSegs(g, p []string) bool {
	for len(g) > 0 {
		if g[0] == "**" {
			for len(g) > 0 && g[0] == "**" {
				g = g[1:]
			}
			if len(g) == 0 {
				return true
			}
			for i := range len(p) + 1 {
				if matchSegs(g, p[i:]) {
					return true
				}
			}
			return false
		}
		if len(p) == 0 {
			return false
		}
		if ok, err := path.Match(g[0], p[0]); err != nil || !ok {
			return false
		}
		g, p = g[1:], p[1:]
	}
	return len(p) == 0
}

// sortFindings orders findings most severe first, then by check ID, then
// by path.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Path, b.Path),
		)
	})
}

// summarize counts findings by severity; suppressed ones apart.
func summarize(fs []Finding) Summary {
	var s Summary
	for _, f := range fs {
		if f.Suppressed {
			s.Suppressed++
			continue
		}
		switch f.Severity {
		case checks.Error:
			s.Error++
		case checks.Warning:
			s.Warning++
		case checks.Info:
			s.Info++
		}
	}
	return s
}
