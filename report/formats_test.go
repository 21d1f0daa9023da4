package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/checks"
)

// suppressed is broken() with its warning suppressed by an ignore entry,
// as the suppression stage leaves it.
func suppressed() *Report {
	r := broken()
	for i := range r.Findings {
		if r.Findings[i].ID == "LD203" {
			r.Findings[i].Suppressed = true
			r.Findings[i].SuppressionReason = "bootstrap is chmodded at start by the wrapper (JIRA-1234)"
			r.Findings[i].SuppressedBy = SuppressedByConfig
		}
	}
	return r
}

// TestSARIFSuppressionKind: a suppression written in the Dockerfile is
// "inSource", one written elsewhere "external" (SARIF 2.1.0 §3.35.2).
func TestSARIFSuppressionKind(t *testing.T) {
	for by, want := range map[string]string{SuppressedByDockerfile: "inSource", SuppressedByConfig: "external", SuppressedByCommandLine: "external"} {
		r := suppressed()
		for i := range r.Findings {
			if r.Findings[i].Suppressed {
				r.Findings[i].SuppressedBy = by
			}
		}
		doc, _ := parseSARIF(t, []*Report{r})
		n := 0
		for _, res := range doc.Runs[0].Results {
			for _, s := range res.Suppressions {
				n++
				if s.Kind != want {
					t.Errorf("suppressed by %s: kind %q, want %q", by, s.Kind, want)
				}
			}
		}
		if n != 1 {
			t.Errorf("suppressed by %s: %d suppressions, want 1", by, n)
		}
	}
}

// catalogued is a report from real catalogue entries: categories, titles
// and docs pages as the runner leaves them.
func catalogued() *Report {
	entry := checks.MustLookup("LD202").Meta()
	ca := checks.MustLookup("LD601").Meta()
	f := finding(entry, `ENTRYPOINT "/usr/local/bin/aws_lambda_ric" does not exist in the image`)
	f.Path = "/usr/local/bin/aws_lambda_ric"
	f.Fix = `ENTRYPOINT ["/usr/local/bundle/bin/aws_lambda_ric"]`
	img := brokenImage()
	img.Ref = "fn.tar"
	return New(tool, img, []checks.Result{
		{Meta: checks.MustLookup("LD101").Meta(), Status: checks.StatusPassed},
		{Meta: entry, Status: checks.StatusFailed, Findings: []checks.Finding{f}},
		{Meta: ca, Status: checks.StatusSkipped, Err: "no TLS client in the image"},
	})
}

func TestFormatGolden(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		reports []*Report
		opts    Options
	}{
		{"sarif", "sarif", []*Report{broken()}, Options{}},
		{"sarif_catalogue", "sarif", []*Report{catalogued()}, Options{}},
		{"sarif_suppressed", "sarif", []*Report{suppressed()}, Options{}},
		{"sarif_multi", "sarif", []*Report{broken(), loadFailure(), clean()}, Options{}},
		{"junit", "junit", []*Report{broken()}, Options{FailOn: checks.Error}},
		{"junit_fail_on_info", "junit", []*Report{broken()}, Options{FailOn: checks.Info}},
		{"junit_catalogue", "junit", []*Report{catalogued()}, Options{FailOn: checks.Error}},
		{"junit_suppressed", "junit", []*Report{suppressed()}, Options{FailOn: checks.Warning}},
		{"junit_multi", "junit", []*Report{broken(), loadFailure(), checkError(), clean()}, Options{FailOn: checks.Error}},
		{"github", "github", []*Report{broken()}, Options{}},
		{"github_suppressed", "github", []*Report{suppressed()}, Options{}},
		{"github_multi", "github", []*Report{broken(), loadFailure(), checkError(), clean()}, Options{}},
		// The text report on an 80-column terminal: prose wrapped under the
		// label column, URLs and paths whole.
		{"text_80", "text", []*Report{broken(), catalogued()}, Options{Width: 80}},
		// One line a finding.
		{"text_compact", "text", []*Report{broken(), suppressed()}, Options{Compact: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, tt.reports, tt.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}

// sarifDoc is the part of a SARIF log the tests read.
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string `json:"name"`
				Rules []struct {
					ID                   string `json:"id"`
					Name                 string `json:"name"`
					ShortDescription     struct{ Text string }
					HelpURI              string `json:"helpUri"`
					DefaultConfiguration struct{ Level string }
					Properties           struct{ Tags []string }
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		AutomationDetails  *struct{ ID string } `json:"automationDetails"`
		OriginalURIBaseIDs map[string]struct {
			URI string `json:"uri"`
		} `json:"originalUriBaseIds"`
		Invocations []struct {
			ExecutionSuccessful        bool `json:"executionSuccessful"`
			ToolExecutionNotifications []struct {
				Level   string
				Message struct{ Text string }
			} `json:"toolExecutionNotifications"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct{ Text string }
			Locations []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
				} `json:"physicalLocation"`
				LogicalLocations []struct{ Name, Kind string } `json:"logicalLocations"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Suppressions        []struct {
				Kind          string `json:"kind"`
				Justification string `json:"justification"`
			} `json:"suppressions"`
		} `json:"results"`
	} `json:"runs"`
}

func parseSARIF(t *testing.T, reports []*Report) (sarifDoc, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", reports, Options{}); err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(buf.Bytes(), &top); err != nil {
		t.Fatalf("SARIF is not JSON: %v\n%s", err, buf.Bytes())
	}
	for _, k := range []string{"$schema", "version", "runs"} {
		if _, ok := top[k]; !ok {
			t.Errorf("missing top-level key %q", k)
		}
	}
	var doc sarifDoc
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc, buf.Bytes()
}

func TestSARIFStructure(t *testing.T) {
	reports := []*Report{suppressed(), loadFailure(), catalogued()}
	doc, raw := parseSARIF(t, reports)
	if doc.Version != "2.1.0" || doc.Schema != "https://json.schemastore.org/sarif-2.1.0.json" {
		t.Errorf("version %q, $schema %q", doc.Version, doc.Schema)
	}
	if len(doc.Runs) != len(reports) {
		t.Fatalf("%d runs, want one per image (%d)", len(doc.Runs), len(reports))
	}
	categories := map[string]bool{}
	for i, run := range doc.Runs {
		r := reports[i]
		if run.Tool.Driver.Name != "lambdoctor" {
			t.Errorf("run %d: driver %q", i, run.Tool.Driver.Name)
		}
		if run.AutomationDetails == nil || categories[run.AutomationDetails.ID] {
			t.Errorf("run %d: several runs need distinct automationDetails.id, got %+v", i, run.AutomationDetails)
		} else {
			categories[run.AutomationDetails.ID] = true
		}
		if _, ok := run.OriginalURIBaseIDs["IMAGEROOT"]; !ok {
			t.Errorf("run %d: IMAGEROOT not declared in originalUriBaseIds", i)
		}
		if len(run.Invocations) != 1 || run.Invocations[0].ExecutionSuccessful != (r.Error == nil) {
			t.Errorf("run %d: invocations %+v", i, run.Invocations)
		}
		if len(run.Tool.Driver.Rules) != len(r.Checks) {
			t.Errorf("run %d: %d rules, want one per check run (%d)", i, len(run.Tool.Driver.Rules), len(r.Checks))
		}
		for j, rule := range run.Tool.Driver.Rules {
			if rule.ID != r.Checks[j].ID || rule.Name != r.Checks[j].Name || rule.HelpURI == "" || rule.ShortDescription.Text == "" {
				t.Errorf("run %d rule %d = %+v, want check %+v with a helpUri", i, j, rule, r.Checks[j])
			}
			if want := sarifLevel(r.Checks[j].Severity); rule.DefaultConfiguration.Level != want {
				t.Errorf("rule %s: level %q, want %q", rule.ID, rule.DefaultConfiguration.Level, want)
			}
		}
		if len(run.Results) != len(r.Findings) {
			t.Fatalf("run %d: %d results, want %d (suppressed findings included)", i, len(run.Results), len(r.Findings))
		}
		for j, res := range run.Results {
			f := r.Findings[j]
			if res.RuleIndex < 0 || res.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID || res.RuleID != f.ID {
				t.Errorf("result %s: ruleIndex %d does not point at its rule", res.RuleID, res.RuleIndex)
			}
			if res.Level != sarifLevel(f.Severity) || !strings.HasPrefix(res.Message.Text, f.Message) {
				t.Errorf("result %s: level %q message %q", res.RuleID, res.Level, res.Message.Text)
			}
			if f.Fix != "" && !strings.Contains(res.Message.Text, f.Fix) {
				t.Errorf("result %s: message lacks the fix: %q", res.RuleID, res.Message.Text)
			}
			// Code scanning rejects a whole file when one result has no
			// physical location with a URI.
			if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation == nil || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
				t.Errorf("result %s: no physical location", res.RuleID)
				continue
			}
			loc := res.Locations[0].PhysicalLocation.ArtifactLocation
			if loc.URIBaseID != "IMAGEROOT" || strings.HasPrefix(loc.URI, "/") {
				t.Errorf("result %s: location %+v, want a relative path under IMAGEROOT", res.RuleID, loc)
			}
			if f.Path != "" && "/"+loc.URI != f.Path {
				t.Errorf("result %s: uri %q for path %q", res.RuleID, loc.URI, f.Path)
			}
			if f.Layer != nil && len(res.Locations[0].LogicalLocations) != 2 {
				t.Errorf("result %s: want the image and the layer as logical locations: %+v", res.RuleID, res.Locations[0].LogicalLocations)
			}
			if fp := res.PartialFingerprints["lambdoctor/v1"]; len(fp) != 32 {
				t.Errorf("result %s: partialFingerprints %v", res.RuleID, res.PartialFingerprints)
			}
			if f.Suppressed {
				if len(res.Suppressions) != 1 || res.Suppressions[0].Kind != "external" || res.Suppressions[0].Justification != f.SuppressionReason {
					t.Errorf("result %s: suppressions %+v", res.RuleID, res.Suppressions)
				}
			} else if len(res.Suppressions) != 0 {
				t.Errorf("result %s: unsuppressed finding carries suppressions", res.RuleID)
			}
		}
	}
	// The check that could not run is a tool notification, not a result.
	if n := doc.Runs[0].Invocations[0].ToolExecutionNotifications; len(n) != 1 || !strings.Contains(n[0].Message.Text, "LD301") {
		t.Errorf("check error notifications = %+v", n)
	}
	if n := doc.Runs[1].Invocations[0].ToolExecutionNotifications; len(n) != 1 || n[0].Level != "error" {
		t.Errorf("load failure notifications = %+v", n)
	}
	if rules := doc.Runs[2].Tool.Driver.Rules; rules[1].HelpURI != checks.MustLookup("LD202").Meta().DocsURL() || len(rules[1].Properties.Tags) != 1 || rules[1].Properties.Tags[0] != "entrypoint" {
		t.Errorf("catalogue rule = %+v", rules[1])
	}
	if bytes.Contains(raw, []byte(`\u003e`)) || bytes.Contains(raw, []byte(`\u0026`)) {
		t.Error("SARIF escapes HTML characters; shell lines should stay readable")
	}

	// One image: no automationDetails, so the upload's category decides.
	single, _ := parseSARIF(t, []*Report{broken()})
	if single.Runs[0].AutomationDetails != nil {
		t.Errorf("single run carries automationDetails %+v", single.Runs[0].AutomationDetails)
	}
}

func TestSARIFLocationURI(t *testing.T) {
	tests := []struct{ path, uri string }{
		{"/var/task/app.py", "var/task/app.py"},
		{"/var/task/my handler.py", "var/task/my%20handler.py"},
		{"/opt/100%/x#y?z", "opt/100%25/x%23y%3Fz"},
		{"", "."},
	}
	for _, tt := range tests {
		loc := sarifLocationFor("fn.tar", Finding{Path: tt.path})
		if got := loc.PhysicalLocation.ArtifactLocation.URI; got != tt.uri {
			t.Errorf("path %q: uri %q, want %q", tt.path, got, tt.uri)
		}
	}
}

func TestSARIFFingerprints(t *testing.T) {
	a := fingerprint("LD202", "/usr/local/bin/x", "fn:latest")
	if a != fingerprint("LD202", "/usr/local/bin/x", "fn:latest") {
		t.Error("fingerprint is not stable")
	}
	for _, other := range [][3]string{
		{"LD203", "/usr/local/bin/x", "fn:latest"},
		{"LD202", "/usr/local/bin/y", "fn:latest"},
		{"LD202", "/usr/local/bin/x", "fn:dev"},
		{"LD202", "/usr/local/bin/xfn:latest", ""},
	} {
		if fingerprint(other[0], other[1], other[2]) == a {
			t.Errorf("fingerprint%q collides with the original", other)
		}
	}
	// A rebuilt image (new digests, same paths) keeps its fingerprints.
	r1, r2 := broken(), broken()
	r2.Findings[0].Layer.Digest = digest('7')
	r2.Image.Digest = digest('8')
	d1, _ := parseSARIF(t, []*Report{r1})
	d2, _ := parseSARIF(t, []*Report{r2})
	for i := range d1.Runs[0].Results {
		if fmt.Sprint(d1.Runs[0].Results[i].PartialFingerprints) != fmt.Sprint(d2.Runs[0].Results[i].PartialFingerprints) {
			t.Errorf("result %d: fingerprint changed with the digests", i)
		}
	}
}

// junitDoc reads the JUnit XML back with encoding/xml.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			ClassName string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(t *testing.T, reports []*Report, failOn checks.Severity) junitDoc {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "junit", reports, Options{FailOn: failOn}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration:\n%s", buf.Bytes())
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, buf.Bytes())
	}
	// Counts add up: each suite's attributes count its test cases, and the
	// document's count its suites.
	var tests, failures, errs, skipped int
	for _, s := range doc.Suites {
		var f, e, sk int
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				f++
			case c.Error != nil:
				e++
			case c.Skipped != nil:
				sk++
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != f || s.Errors != e || s.Skipped != sk {
			t.Errorf("suite %q: tests=%d failures=%d errors=%d skipped=%d, counted %d/%d/%d/%d",
				s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases), f, e, sk)
		}
		tests, failures, errs, skipped = tests+s.Tests, failures+s.Failures, errs+s.Errors, skipped+s.Skipped
	}
	if doc.Tests != tests || doc.Failures != failures || doc.Errors != errs {
		t.Errorf("testsuites: %d/%d/%d, suites add up to %d/%d/%d",
			doc.Tests, doc.Failures, doc.Errors, tests, failures, errs)
	}
	// junit-10.xsd allows no skipped count on <testsuites>.
	if doc.Skipped != 0 {
		t.Errorf("testsuites carries skipped=%d (suites skip %d)", doc.Skipped, skipped)
	}
	return doc
}

func TestJUnitCounts(t *testing.T) {
	// broken(): LD101 passed, LD202 error finding, LD203 warning finding,
	// LD301 could not run, LD150 info finding, LD401 skipped.
	tests := []struct {
		name     string
		reports  []*Report
		failOn   checks.Severity
		failures []string // failing test cases, by name
		tests    int
		errors   int
		skipped  int
	}{
		{"fail on error", []*Report{broken()}, checks.Error, []string{"LD202 entrypoint-not-found"}, 6, 1, 1},
		{"fail on warning", []*Report{broken()}, checks.Warning, []string{"LD202 entrypoint-not-found", "LD203 entrypoint-not-executable"}, 6, 1, 1},
		{"fail on info", []*Report{broken()}, checks.Info, []string{"LD202 entrypoint-not-found", "LD203 entrypoint-not-executable", "LD150 runs-as-root"}, 6, 1, 1},
		{"fail on none", []*Report{broken()}, 0, nil, 6, 1, 1},
		{"suppressed never fails", []*Report{suppressed()}, checks.Warning, []string{"LD202 entrypoint-not-found"}, 6, 1, 1},
		{"load failure", []*Report{loadFailure()}, checks.Error, nil, 1, 1, 0},
		{"several", []*Report{broken(), loadFailure(), clean()}, checks.Error, []string{"LD202 entrypoint-not-found"}, 9, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := parseJUnit(t, tt.reports, tt.failOn)
			if len(doc.Suites) != len(tt.reports) {
				t.Fatalf("%d suites, want one per image", len(doc.Suites))
			}
			var failed []string
			for i, s := range doc.Suites {
				if s.Name != tt.reports[i].Image.Ref {
					t.Errorf("suite name %q, want the image ref %q", s.Name, tt.reports[i].Image.Ref)
				}
				for _, c := range s.Cases {
					if c.Failure != nil {
						failed = append(failed, c.Name)
						if c.Failure.Message == "" || c.Failure.Type == "" || !strings.Contains(c.Failure.Text, "fix:") {
							t.Errorf("%s: failure %+v lacks message, type or findings", c.Name, c.Failure)
						}
					}
				}
			}
			if fmt.Sprint(failed) != fmt.Sprint(tt.failures) {
				t.Errorf("failing cases %q, want %q", failed, tt.failures)
			}
			skipped := 0
			for _, s := range doc.Suites {
				skipped += s.Skipped
			}
			if doc.Tests != tt.tests || doc.Errors != tt.errors || skipped != tt.skipped {
				t.Errorf("tests=%d errors=%d, suites skip %d; want %d/%d/%d", doc.Tests, doc.Errors, skipped, tt.tests, tt.errors, tt.skipped)
			}
		})
	}

	// A finding below the threshold is not lost: it is in <system-out>.
	doc := parseJUnit(t, []*Report{suppressed()}, checks.Error)
	var out string
	for _, c := range doc.Suites[0].Cases {
		if c.Name == "LD203 entrypoint-not-executable" {
			out = c.SystemOut
			if c.Failure != nil {
				t.Error("a suppressed finding failed its test case")
			}
		}
		if c.ClassName == "" || !strings.HasPrefix(c.ClassName, "lambdoctor") {
			t.Errorf("classname %q", c.ClassName)
		}
	}
	if !strings.Contains(out, "/var/task/bootstrap") || !strings.Contains(out, "suppressed: bootstrap is chmodded") {
		t.Errorf("LD203 system-out = %q, want the finding marked suppressed", out)
	}
}

func TestGitHubEscaping(t *testing.T) {
	tests := []struct{ in, data, prop string }{
		{"plain", "plain", "plain"},
		{"100% done", "100%25 done", "100%25 done"},
		{"a\nb\r\nc", "a%0Ab%0D%0Ac", "a%0Ab%0D%0Ac"},
		{"k: v, w", "k: v, w", "k%3A v%2C w"},
		{"%0A literal", "%250A literal", "%250A literal"},
	}
	for _, tt := range tests {
		if got := githubEscapeData(tt.in); got != tt.data {
			t.Errorf("githubEscapeData(%q) = %q, want %q", tt.in, got, tt.data)
		}
		if got := githubEscapeProperty(tt.in); got != tt.prop {
			t.Errorf("githubEscapeProperty(%q) = %q, want %q", tt.in, got, tt.prop)
		}
	}
}

func TestGitHubOneLinePerFinding(t *testing.T) {
	r := broken()
	r.Findings[0].Message = "line one\nline two: 100%"
	var buf bytes.Buffer
	if err := Write(&buf, "github", []*Report{r, loadFailure()}, Options{}); err != nil {
		t.Fatal(err)
	}
	var commands, summaries int
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "::error title=") || strings.HasPrefix(line, "::warning title=") || strings.HasPrefix(line, "::notice title="):
			commands++
			if _, _, ok := strings.Cut(strings.TrimPrefix(line, "::"), "::"); !ok {
				t.Errorf("malformed command %q", line)
			}
		case strings.HasPrefix(line, "lambdoctor: "):
			summaries++
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	// 3 findings + 1 check that could not run + 1 load failure.
	if commands != 5 || summaries != 2 {
		t.Errorf("%d commands and %d summary lines, want 5 and 2:\n%s", commands, summaries, buf.String())
	}
	if !strings.Contains(buf.String(), "::error title=LD202 entrypoint-not-found::line one%0Aline two: 100%25%0A") {
		t.Errorf("first annotation not escaped as expected:\n%s", buf.String())
	}
}

// TestSARIFRulesDescribed: every rule of a run carries what GitHub code
// scanning requires of a rule (its GH2012: a fullDescription) and the help
// it shows with an alert, from the check's docs page.
func TestSARIFRulesDescribed(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", []*Report{catalogued()}, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID              string `json:"id"`
						FullDescription *struct {
							Text string `json:"text"`
						} `json:"fullDescription"`
						Help *struct {
							Text     string `json:"text"`
							Markdown string `json:"markdown"`
						} `json:"help"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, run := range doc.Runs {
		for _, r := range run.Tool.Driver.Rules {
			rules++
			if r.FullDescription == nil || len(r.FullDescription.Text) < 40 {
				t.Errorf("%s: no fullDescription", r.ID)
			}
			if r.Help == nil || !strings.HasPrefix(r.Help.Markdown, "# "+r.ID) || r.Help.Text == "" {
				t.Errorf("%s: no help from its docs page", r.ID)
			}
		}
	}
	if rules == 0 {
		t.Fatal("no rules in the SARIF runs")
	}
}
