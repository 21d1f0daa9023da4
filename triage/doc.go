package triage

import (
	"fmt"
	"io"
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/report"
)

// Doc is the triage as `lambdoctor why` prints it; its JSON form is
// documented in docs/json.md.
type Doc struct {
	SchemaVersion int         `json:"schemaVersion"`
	Tool          report.Tool `json:"tool"`
	// Lines is the number of non-blank lines read.
	Lines        int        `json:"lines"`
	Unrecognised int        `json:"unrecognised"`
	Matches      []DocMatch `json:"matches"`
	// Checks detect the causes of the failure lines (benign lines excluded).
	Checks []DocCheck `json:"checks"`
	Image  *DocImage  `json:"image,omitempty"`
}

// DocMatch is one recognised line and what it means.
type DocMatch struct {
	Line        int      `json:"line"`
	Text        string   `json:"text"`
	Count       int      `json:"count"`
	Pattern     string   `json:"pattern"`
	Failure     string   `json:"failure"`
	Explanation string   `json:"explanation"`
	Benign      bool     `json:"benign"`
	Subject     string   `json:"subject,omitempty"`
	Checks      []string `json:"checks"`
}

// DocCheck is a check that detects the cause of a failure line.
type DocCheck struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
	Docs  string `json:"docs"`
}

// DocImage is how the checks the log points at ended on --image.
type DocImage struct {
	Ref string `json:"ref"`
	// Checks is how each check the log points at ended on the image.
	Checks []report.CheckResult `json:"checks"`
	// Causes are those checks' findings: the cause in this image.
	Causes []report.Finding    `json:"causes"`
	Error  *report.LoadFailure `json:"error,omitempty"`
}

// NewDoc is the document of a triage, without an image.
func NewDoc(tool report.Tool, res *Result) *Doc {
	doc := &Doc{
		SchemaVersion: 1,
		Tool:          tool,
		Lines:         res.Lines,
		Unrecognised:  res.Unrecognised,
		Matches:       []DocMatch{},
		Checks:        []DocCheck{},
	}
	for _, m := range res.Matches {
		doc.Matches = append(doc.Matches, DocMatch{
			Line: m.Line, Text: m.Text, Count: m.Count,
			Pattern: m.Pattern.Key, Failure: m.Pattern.Failure, Explanation: m.Pattern.Explanation,
			Benign: m.Pattern.Benign, Subject: m.Subject,
			Checks: append([]string{}, m.Pattern.Checks...),
		})
	}
	for _, id := range res.Checks() {
		if c, ok := checks.Lookup(id); ok {
			m := c.Meta()
			doc.Checks = append(doc.Checks, DocCheck{m.ID, m.Name, m.Title, m.DocsURL()})
		}
	}
	return doc
}

// maxShown bounds how much of a log line the text output repeats.
const maxShown = 240

// WriteText writes the document for people; every string from the log or
// the image goes through termsafe.
func WriteText(w io.Writer, doc *Doc) error {
	var b strings.Builder
	names := map[string]string{}
	for _, c := range checks.All() {
		names[c.Meta().ID] = c.Meta().Name
	}
	// The log's lines, and what is read from them, are the function's
	// output: every such string goes through termsafe.
	for _, m := range doc.Matches {
		fmt.Fprintf(&b, "line %d: %s\n", m.Line, termsafe.Line(termsafe.Clip(m.Text, maxShown)))
		if m.Count > 1 {
			fmt.Fprintf(&b, "  (%d times)\n", m.Count)
		}
		failure := m.Failure
		if m.Subject != "" {
			failure += " (" + m.Subject + ")"
		}
		failure, explanation := termsafe.Text(failure), termsafe.Text(m.Explanation)
		if m.Benign {
			fmt.Fprintf(&b, "  benign  %s\n  why     %s\n\n", failure, explanation)
			continue
		}
		fmt.Fprintf(&b, "  means   %s\n  why     %s\n", failure, explanation)
		if len(m.Checks) == 0 {
			fmt.Fprintf(&b, "  checks  none: no check can see this in an image\n\n")
			continue
		}
		labels := make([]string, 0, len(m.Checks))
		for _, id := range m.Checks {
			labels = append(labels, id+" "+names[id])
		}
		fmt.Fprintf(&b, "  checks  %s\n  more    lambdoctor explain %s\n\n", strings.Join(labels, ", "), m.Checks[0])
	}
	switch {
	case doc.Lines == 0:
		b.WriteString("The log is empty.\n")
	case len(doc.Matches) == 0:
		fmt.Fprintf(&b, "No line recognised (%d read). Look for the errorType or an IMAGE Launch error line in the function's log group.\n", doc.Lines)
	case doc.Unrecognised > 0:
		fmt.Fprintf(&b, "%d %s not recognised.\n", doc.Unrecognised, plural(doc.Unrecognised, "line", "lines"))
	}
	if doc.Image == nil && len(doc.Checks) > 0 {
		ids := make([]string, 0, len(doc.Checks))
		for _, c := range doc.Checks {
			ids = append(ids, c.ID)
		}
		fmt.Fprintf(&b, "To find the cause in your image: lambdoctor why --image IMAGE (runs %s), or lambdoctor inspect IMAGE.\n", strings.Join(ids, ", "))
	}
	if doc.Image != nil {
		writeImage(&b, doc)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeImage(b *strings.Builder, doc *Doc) {
	wi := doc.Image
	fmt.Fprintf(b, "\nImage %s:\n", termsafe.Line(wi.Ref))
	switch {
	case wi.Error != nil:
		fmt.Fprintf(b, "  could not be inspected (%s): %s\n", termsafe.Line(wi.Error.Kind), termsafe.Text(wi.Error.Message))
		return
	case len(wi.Checks) == 0:
		b.WriteString("  nothing to run: no recognised failure line points at a check.\n")
		return
	}
	causes := 0
	for _, f := range wi.Causes {
		if f.Suppressed {
			fmt.Fprintf(b, "  ignored by the config: %s %s: %s (reason: %s)\n", termsafe.Line(f.ID), termsafe.Line(f.Name), termsafe.Text(f.Message), termsafe.Text(f.SuppressionReason))
			continue
		}
		causes++
		fmt.Fprintf(b, "  the cause in this image: %s %s (%s): %s\n", termsafe.Line(f.ID), termsafe.Line(f.Name), f.Severity, termsafe.Text(f.Message))
		if f.Path != "" {
			loc := termsafe.Line(f.Path)
			if f.Layer != nil {
				loc += fmt.Sprintf(" (layer %d", f.Layer.Index)
				if f.Layer.CreatedBy != "" {
					loc += ": " + termsafe.Line(f.Layer.CreatedBy)
				}
				loc += ")"
			}
			fmt.Fprintf(b, "    path  %s\n", loc)
		}
		if f.Fix != "" {
			fmt.Fprintf(b, "    fix   %s\n", termsafe.Text(f.Fix))
		}
	}
	var passed, other []string
	for _, c := range wi.Checks {
		switch checks.Status(c.Status) {
		case checks.StatusPassed:
			passed = append(passed, c.ID)
		case checks.StatusSkipped, checks.StatusError:
			other = append(other, fmt.Sprintf("%s %s (%s)", termsafe.Line(c.ID), termsafe.Line(c.Status), termsafe.Text(c.Error)))
		}
	}
	if causes == 0 {
		b.WriteString("  none of the checks the log points at found a problem in this image: the cause may lie\n" +
			"  outside it (the function's Architectures, ImageConfig or environment), or be a case\n" +
			"  lambdoctor does not check.\n")
	}
	if len(passed) > 0 {
		fmt.Fprintf(b, "  passed: %s\n", termsafe.Line(strings.Join(passed, ", ")))
	}
	for _, o := range other {
		fmt.Fprintf(b, "  %s\n", o)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
