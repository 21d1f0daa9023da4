package report

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// sarifMultitool finds Microsoft's SARIF Multitool: $LAMBDOCTOR_SARIF_MULTITOOL,
// else where scripts/setup.sh installs it (npm's @microsoft/sarif-multitool
// under build/), else "" .
func sarifMultitool() string {
	if p := os.Getenv("LAMBDOCTOR_SARIF_MULTITOOL"); p != "" {
		return p
	}
	p, err := filepath.Abs("../build/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool")
	if err != nil {
		return ""
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// TestSARIFGoldensMultitool validates every SARIF golden (these and the
// command's) with Microsoft's SARIF Multitool and GitHub's rules
// (`validate --rule-kind "Sarif;Gh"`, the checks GitHub code scanning
// documents for uploads). Errors and warnings fail; notes do not: they
// are advice (message ids in place of text, versionControlProvenance,
// which upload-sarif adds) or need the network (SARIF2006 fetches every
// URI). Without the Multitool (linux/amd64 only; scripts/setup.sh
// installs it) the test is skipped, unless LAMBDOCTOR_REQUIRE_VALIDATORS=1.
func TestSARIFGoldensMultitool(t *testing.T) {
	tool := sarifMultitool()
	if tool == "" {
		const why = "the SARIF Multitool is not installed (scripts/setup.sh installs it under build/, on linux/amd64)"
		if os.Getenv("LAMBDOCTOR_REQUIRE_VALIDATORS") == "1" && runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	goldens, _ := filepath.Glob("testdata/sarif*.golden")
	more, _ := filepath.Glob("../cmd/testdata/*sarif*.golden")
	goldens = append(goldens, more...)
	if len(goldens) < 2 {
		t.Fatalf("found only %d SARIF goldens", len(goldens))
	}
	// The Multitool reads files named *.sarif.
	dir := t.TempDir()
	var inputs []string
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(dir, strings.NewReplacer("../", "", "/", "_").Replace(strings.TrimSuffix(g, ".golden"))+".sarif")
		if err := os.WriteFile(in, b, 0o644); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, in)
	}
	// A control the Multitool must fail: a rule without fullDescription
	// (GitHub's GH2012), so that a Multitool that checks nothing cannot pass.
	control := filepath.Join(dir, "control.sarif")
	if err := os.WriteFile(control, controlSARIF(t, goldens[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, control)
	out := filepath.Join(dir, "validation.sarif")
	args := append([]string{"validate", "--rule-kind", "Sarif;Gh", "--output", out}, inputs...)
	cmd := exec.Command(tool, args...)
	// A .NET single-file program: no telemetry, and no ICU needed.
	cmd.Env = append(os.Environ(), "DOTNET_CLI_TELEMETRY_OPTOUT=1", "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1")
	console, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, console)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the Multitool wrote no log: %v\n%s", err, console)
	}
	var log struct {
		Runs []struct {
			Invocations []struct {
				ExecutionSuccessful bool `json:"executionSuccessful"`
			} `json:"invocations"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &log); err != nil || len(log.Runs) == 0 {
		t.Fatalf("reading the Multitool's log: %v\n%s", err, console)
	}
	failed, caught := 0, false
	for _, run := range log.Runs {
		for _, inv := range run.Invocations {
			if !inv.ExecutionSuccessful {
				t.Errorf("the Multitool did not complete")
			}
		}
		for _, r := range run.Results {
			// SARIF's default level is warning.
			if r.Level != "" && r.Level != "error" && r.Level != "warning" {
				continue
			}
			if len(r.Locations) > 0 && strings.HasSuffix(r.Locations[0].PhysicalLocation.ArtifactLocation.URI, "/control.sarif") {
				caught = caught || r.RuleID == "GH2012"
				continue
			}
			failed++
		}
	}
	if !caught {
		t.Errorf("the Multitool did not report the control's rule without fullDescription (GH2012):\n%s", console)
	}
	if failed > 0 {
		var lines []string
		for _, l := range strings.Split(string(console), "\n") {
			if strings.Contains(l, ": error ") || strings.Contains(l, ": warning ") {
				lines = append(lines, l)
			}
		}
		t.Errorf("%d errors and warnings with GitHub's rules:\n%s", failed, strings.Join(lines, "\n"))
	}
}

// controlSARIF is the SARIF golden at path with its first rule's
// fullDescription removed.
func controlSARIF(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	rules := doc["runs"].([]any)[0].(map[string]any)["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)
	rule := rules[0].(map[string]any)
	if _, ok := rule["fullDescription"]; !ok {
		t.Fatalf("%s: the first rule has no fullDescription to remove", path)
	}
	delete(rule, "fullDescription")
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
