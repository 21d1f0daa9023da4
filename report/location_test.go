package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// located is broken() as inspect --dockerfile leaves it: the entrypoint
// finding on the ENTRYPOINT line, the mode finding on a multi-line RUN.
func located() *Report {
	r := broken()
	for i := range r.Findings {
		switch r.Findings[i].ID {
		case "LD202":
			r.Findings[i].Location = &SourceLocation{File: "fn/Dockerfile", Line: 12, EndLine: 12, Instruction: `ENTRYPOINT ["/usr/local/bin/aws_lambda_ric"]`}
		case "LD203":
			r.Findings[i].Location = &SourceLocation{File: "fn/Dockerfile", Line: 7, EndLine: 9, Instruction: "RUN chmod 0644 /var/task/bootstrap && bundle config set --local deployment true && bundle install"}
		}
	}
	return r
}

func TestLocationGolden(t *testing.T) {
	for _, format := range []string{"text", "json", "sarif", "github"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, format, []*Report{located()}, Options{}); err != nil {
				t.Fatal(err)
			}
			golden(t, format+"_located", buf.Bytes())
		})
	}
}

// TestSARIFDockerfileLocationFirst: code scanning annotates the first
// location, so the Dockerfile's comes before the in-image one.
func TestSARIFDockerfileLocationFirst(t *testing.T) {
	doc, _ := parseSARIF(t, []*Report{located()})
	var raw struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
						Region *struct {
							StartLine, EndLine int
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	_, b := parseSARIF(t, []*Report{located()})
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string][3]int{"LD202": {12, 12, 2}, "LD203": {7, 9, 2}, "LD150": {0, 0, 1}}
	for _, res := range raw.Runs[0].Results {
		w := want[res.RuleID]
		if len(res.Locations) != w[2] {
			t.Errorf("%s: %d locations, want %d", res.RuleID, len(res.Locations), w[2])
			continue
		}
		first := res.Locations[0].PhysicalLocation
		if w[0] == 0 {
			// The whole file, as line 1 (code scanning requires a line).
			if first.Region == nil || first.Region.StartLine != 1 || first.Region.EndLine != 0 || first.ArtifactLocation.URIBaseID != sarifImageRoot {
				t.Errorf("%s: first location %+v, want the in-image one", res.RuleID, first)
			}
			continue
		}
		if first.ArtifactLocation.URI != "fn/Dockerfile" || first.ArtifactLocation.URIBaseID != "" || first.Region == nil ||
			first.Region.StartLine != w[0] || first.Region.EndLine != w[1] {
			t.Errorf("%s: first location %+v region %+v, want fn/Dockerfile %d-%d", res.RuleID, first.ArtifactLocation, first.Region, w[0], w[1])
		}
		if res.Locations[1].PhysicalLocation.ArtifactLocation.URIBaseID != sarifImageRoot {
			t.Errorf("%s: second location should be in the image", res.RuleID)
		}
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("%d runs", len(doc.Runs))
	}
}

func TestGitHubDockerfileProperties(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, "github", []*Report{located()}, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"::error file=fn/Dockerfile,line=12,endLine=12,title=LD202 entrypoint-not-found::",
		"::warning file=fn/Dockerfile,line=7,endLine=9,title=LD203 entrypoint-not-executable::",
		"::notice title=LD150 runs-as-root::",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
