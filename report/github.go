package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
)

// githubWriter writes GitHub Actions workflow commands: one annotation per
// finding (::error, ::warning or ::notice), titled with the check's ID and
// name, and a plain summary line per image.
// https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
type githubWriter struct{}

func newGitHubWriter(Options) writer { return githubWriter{} }

func (githubWriter) write(w io.Writer, reports []*Report) error {
	var b strings.Builder
	for _, r := range reports {
		githubReport(&b, forTerminal(r))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing github report: %w", err)
	}
	return nil
}

func githubReport(b *strings.Builder, r *Report) {
	ref := r.Image.Ref
	if r.Error != nil {
		githubCommand(b, "error", fmt.Sprintf("lambdoctor: cannot inspect %s", ref), r.Error.Message)
		fmt.Fprintf(b, "lambdoctor: %s: not inspected (%s)\n", ref, r.Error.Kind)
		return
	}
	suppressed := 0
	for _, f := range r.Findings {
		if f.Suppressed {
			suppressed++
			continue
		}
		props := ""
		if l := f.Location; l != nil {
			// The annotation lands on the Dockerfile line.
			props = fmt.Sprintf("file=%s,line=%d,endLine=%d,", githubEscapeProperty(l.File), l.Line, max(l.EndLine, l.Line))
		}
		githubCommandAt(b, githubLevel(f.Severity), props, f.ID+" "+f.Name, githubMessage(ref, f))
	}
	broken := 0
	for _, c := range r.Checks {
		if c.Status == string(checks.StatusError) {
			broken++
			githubCommand(b, "warning", c.ID+" "+c.Name+" could not run", ref+": "+c.Error)
		}
	}
	s := r.Summary
	summary := fmt.Sprintf("lambdoctor: %s: %s, %s, %s",
		ref, plural(s.Error, "error", "errors"), plural(s.Warning, "warning", "warnings"), plural(s.Info, "info", "info"))
	if suppressed > 0 {
		summary += fmt.Sprintf(" (%d suppressed)", suppressed)
	}
	summary += fmt.Sprintf("; %s run", plural(len(r.Checks), "check", "checks"))
	if broken > 0 {
		summary += fmt.Sprintf(", %d could not run", broken)
	}
	b.WriteString(summary + "\n")
}

func githubLevel(s checks.Severity) string {
	switch s {
	case checks.Error:
		return "error"
	case checks.Warning:
		return "warning"
	}
	return "notice"
}

// githubMessage is the annotation body: what is wrong, where in the image,
// the fix and the docs page, one per line.
func githubMessage(ref string, f Finding) string {
	lines := []string{f.Message}
	where := "image " + ref
	if f.Path != "" {
		where += ", " + f.Path
	}
	if l := f.Layer; l != nil {
		where += fmt.Sprintf(", layer #%d", l.Index)
		if cb := strings.TrimSpace(l.CreatedBy); cb != "" {
			where += ": " + cb
		}
	}
	lines = append(lines, where)
	if f.Fix != "" {
		lines = append(lines, "Fix: "+f.Fix)
	}
	if f.Docs != "" {
		lines = append(lines, "Docs: "+f.Docs)
	}
	return strings.Join(lines, "\n")
}

// githubCommand writes one workflow command line.
func githubCommand(b *strings.Builder, level, title, msg string) {
	githubCommandAt(b, level, "", title, msg)
}

// githubCommandAt writes one workflow command line whose properties start
// with props (escaped, each followed by a comma).
func githubCommandAt(b *strings.Builder, level, props, title, msg string) {
	fmt.Fprintf(b, "::%s %stitle=%s::%s\n", level, props, githubEscapeProperty(title), githubEscapeData(msg))
}

// githubEscapeData escapes a command's message as the Actions toolkit does
// (@actions/core escapeData).
func githubEscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// githubEscapeProperty escapes a command property's value as the Actions
// toolkit does (@actions/core escapeProperty).
func githubEscapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
