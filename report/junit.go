package report

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
)

// JUnit XML as GitLab, Jenkins and most CI test report readers take it:
// one <testsuite> per image, one <testcase> per check run on it, so passes
// count. A check fails its test case when it found something at or above
// the run's --fail-on threshold; lower (and suppressed) findings are kept
// in <system-out>.

type junitSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	// No skipped count: the xunit plugin's junit-10.xsd, which Jenkins
	// validates against, allows it on <testsuite> only.
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is a text element written as CDATA, so the findings read as
// written (quotes, newlines, shell lines) in the file.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// junitWriter writes all reports as one <testsuites> document.
type junitWriter struct {
	failOn checks.Severity
}

func newJUnitWriter(opts Options) writer { return junitWriter{failOn: opts.FailOn} }

func (j junitWriter) write(w io.Writer, reports []*Report) error {
	doc := junitSuites{Name: "lambdoctor", Suites: make([]junitSuite, 0, len(reports))}
	for _, r := range reports {
		s := j.suite(r)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Suites = append(doc.Suites, s)
	}
	doc.xmlSafe()
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("writing junit report: %w", err)
	}
	if _, err := io.WriteString(w, xml.Header+string(out)+"\n"); err != nil {
		return fmt.Errorf("writing junit report: %w", err)
	}
	return nil
}

func (j junitWriter) suite(r *Report) junitSuite {
	s := junitSuite{Name: r.Image.StableName(), Cases: []junitTestCase{}}
	var props []junitProp
	for _, p := range []junitProp{
		{"lambdoctor.version", r.Tool.Version},
		{"image.source", r.Image.Source},
		{"image.digest", r.Image.Digest},
		{"image.platform", r.Image.Platform},
	} {
		if p.Value != "" {
			props = append(props, p)
		}
	}
	if len(props) > 0 {
		s.Properties = &junitProps{Props: props}
	}

	if r.Error != nil {
		s.Cases = append(s.Cases, junitTestCase{
			ClassName: "lambdoctor.image",
			Name:      "load " + r.Image.Ref,
			Error: &junitProblem{
				Message: fmt.Sprintf("cannot inspect %q", r.Image.Ref),
				Type:    cmp.Or(r.Error.Kind, "load"),
				Text:    r.Error.Message,
			},
		})
	}

	byCheck := map[string][]Finding{}
	for _, f := range r.Findings {
		byCheck[f.ID] = append(byCheck[f.ID], f)
	}
	seen := map[string]bool{}
	for _, c := range r.Checks {
		seen[c.ID] = true
		s.Cases = append(s.Cases, j.testCase(c, byCheck[c.ID]))
	}
	// Findings of a check not listed among the checks (a hand-built
	// report) still get a test case, in report order.
	for _, f := range r.Findings {
		if seen[f.ID] {
			continue
		}
		seen[f.ID] = true
		s.Cases = append(s.Cases, j.testCase(CheckResult{
			ID: f.ID, Name: f.Name, Status: string(checks.StatusFailed), Findings: len(byCheck[f.ID]),
			Title: f.Title, Severity: f.Severity, Category: checks.CategoryOf(f.ID),
		}, byCheck[f.ID]))
	}

	for _, tc := range s.Cases {
		s.Tests++
		switch {
		case tc.Failure != nil:
			s.Failures++
		case tc.Error != nil:
			s.Errors++
		case tc.Skipped != nil:
			s.Skipped++
		}
	}
	return s
}

func (j junitWriter) testCase(c CheckResult, findings []Finding) junitTestCase {
	class := "lambdoctor"
	if cat := cmp.Or(c.Category, checks.CategoryOf(c.ID)); cat != "" {
		class += "." + string(cat)
	}
	tc := junitTestCase{ClassName: class, Name: strings.TrimSpace(c.ID + " " + c.Name)}
	switch checks.Status(c.Status) {
	case checks.StatusError:
		tc.Error = &junitProblem{Message: firstLine(c.Error), Type: "check-error", Text: c.Error}
		return tc
	case checks.StatusSkipped:
		tc.Skipped = &junitSkipped{Message: c.Error}
		return tc
	}

	var failing, other []Finding
	for _, f := range findings {
		if !f.Suppressed && j.failOn != 0 && f.Severity >= j.failOn {
			failing = append(failing, f)
		} else {
			other = append(other, f)
		}
	}
	if len(failing) > 0 {
		worst := failing[0].Severity
		for _, f := range failing {
			worst = max(worst, f.Severity)
		}
		msg := firstLine(failing[0].Message)
		if n := len(failing) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
		tc.Failure = &junitProblem{Message: msg, Type: worst.String(), Text: junitFindings(failing)}
	}
	if len(other) > 0 {
		tc.SystemOut = &junitText{Text: junitFindings(other)}
	}
	return tc
}

// junitFindings renders findings as plain text for a failure body or
// <system-out>.
func junitFindings(fs []Finding) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s %s %s: %s\n", f.Severity, f.ID, f.Name, f.Message)
		if f.Suppressed {
			fmt.Fprintf(&b, "  suppressed: %s\n", f.SuppressionReason)
		}
		if f.Path != "" {
			fmt.Fprintf(&b, "  path: %s\n", f.Path)
		}
		if l := f.Layer; l != nil {
			fmt.Fprintf(&b, "  layer: #%d %s", l.Index, l.Digest)
			if l.CreatedBy != "" {
				fmt.Fprintf(&b, " (%s)", strings.TrimSpace(l.CreatedBy))
			}
			b.WriteString("\n")
		}
		for _, e := range f.Evidence {
			fmt.Fprintf(&b, "  evidence: %s\n", e)
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "  fix: %s\n", indent(f.Fix, "       "))
		}
		if f.Docs != "" {
			fmt.Fprintf(&b, "  docs: %s\n", f.Docs)
		}
	}
	return b.String()
}

// xmlSafe escapes, in every string of the document, the characters XML 1.0
// cannot hold (termsafe.XML): encoding/xml writes CDATA as given, so a NUL
// or an ESC from the image would make the file unreadable, and in
// attributes it would replace them with U+FFFD, losing what they were.
// Everything else is left to encoding/xml.
func (d *junitSuites) xmlSafe() {
	for i := range d.Suites {
		s := &d.Suites[i]
		s.Name = termsafe.XML(s.Name)
		if s.Properties != nil {
			for j := range s.Properties.Props {
				p := &s.Properties.Props[j]
				p.Name, p.Value = termsafe.XML(p.Name), termsafe.XML(p.Value)
			}
		}
		for j := range s.Cases {
			tc := &s.Cases[j]
			tc.ClassName, tc.Name = termsafe.XML(tc.ClassName), termsafe.XML(tc.Name)
			for _, p := range []*junitProblem{tc.Failure, tc.Error} {
				if p != nil {
					p.Message, p.Type, p.Text = termsafe.XML(p.Message), termsafe.XML(p.Type), termsafe.XML(p.Text)
				}
			}
			if tc.Skipped != nil {
				tc.Skipped.Message = termsafe.XML(tc.Skipped.Message)
			}
			if tc.SystemOut != nil {
				tc.SystemOut.Text = termsafe.XML(tc.SystemOut.Text)
			}
		}
	}
}
