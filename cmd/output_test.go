package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// junitCounts is the top of a JUnit document.
type junitCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitCounts {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitCounts
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s does not parse as XML: %v\n%s", path, err, b)
	}
	return doc
}

type sarifResults struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Rules []struct{ ID, HelpURI string } `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			Level     string `json:"level"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI string } `json:"artifactLocation"`
				} `json:"physicalLocation"`
			} `json:"locations"`
		} `json:"results"`
	} `json:"runs"`
}

func readSARIF(t *testing.T, b []byte) sarifResults {
	t.Helper()
	var doc sarifResults
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("SARIF does not parse: %v\n%s", err, b)
	}
	return doc
}

func TestInspectOutputs(t *testing.T) {
	bad := writeArchive(t, rubySeedImage(t))
	dir := t.TempDir()
	sarifPath := filepath.Join(dir, "lambdoctor.sarif")
	junitPath := filepath.Join(dir, "reports", "lambdoctor.xml")
	if err := os.Mkdir(filepath.Dir(junitPath), 0o755); err != nil {
		t.Fatal(err)
	}
	ghPath := filepath.Join(dir, "annotations.txt")
	// An old report is replaced, not appended to.
	if err := os.WriteFile(sarifPath, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}

	s, out, errb := streams(nil)
	code := Run(context.Background(), []string{"inspect", bad,
		"--output", "sarif=" + sarifPath, "--output", "junit=" + junitPath, "--output", "github=" + ghPath}, s)
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, ExitFindings, errb)
	}
	// stdout keeps the default text report.
	if !strings.Contains(out.String(), "entrypoint-not-found") || strings.HasPrefix(out.String(), "{") {
		t.Errorf("stdout is not the text report:\n%s", out)
	}

	b, err := os.ReadFile(sarifPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := readSARIF(t, b)
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 {
		t.Fatalf("sarif = %s", b)
	}
	var found bool
	for _, r := range doc.Runs[0].Results {
		if r.RuleID == "LD202" && r.Level == "error" && r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "usr/local/bin/aws_lambda_ric" {
			found = true
		}
	}
	if !found {
		t.Errorf("no LD202 error at usr/local/bin/aws_lambda_ric in %s", b)
	}
	if n := len(doc.Runs[0].Tool.Driver.Rules); n < 20 {
		t.Errorf("%d rules; want one per check of the catalogue", n)
	}

	ju := readJUnit(t, junitPath)
	if ju.Failures == 0 || ju.Tests != len(ju.Suites[0].Cases) || ju.Tests < 20 {
		t.Errorf("junit counts = %+v", ju)
	}
	var failed []string
	for _, c := range ju.Suites[0].Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name)
		}
	}
	if !strings.Contains(strings.Join(failed, ","), "LD202 entrypoint-not-found") {
		t.Errorf("failing test cases %q lack LD202", failed)
	}

	gh, err := os.ReadFile(ghPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gh), "::error title=LD202 entrypoint-not-found::") {
		t.Errorf("github annotations:\n%s", gh)
	}

	// Written atomically: no temporary files left, readable modes.
	for _, d := range []string{dir, filepath.Dir(junitPath)} {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("temporary file %s left behind", e.Name())
			}
		}
	}
	if fi, err := os.Stat(sarifPath); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("sarif file mode = %v, %v; want 0644", fi.Mode(), err)
	}
}

func TestInspectOutputStdout(t *testing.T) {
	good := writeArchive(t, goodImage(t))
	bad := writeArchive(t, rubySeedImage(t))
	t.Run("--format sarif", func(t *testing.T) {
		s, out, errb := streams(nil)
		if code := Run(context.Background(), []string{"inspect", "--format", "sarif", good}, s); code != ExitOK {
			t.Fatalf("exit %d\nstderr: %s", code, errb)
		}
		doc := readSARIF(t, out.Bytes())
		if len(doc.Runs) != 1 || len(doc.Runs[0].Tool.Driver.Rules) < 20 {
			t.Fatalf("SARIF = %s", out)
		}
		for _, r := range doc.Runs[0].Results {
			if r.Level == "error" {
				t.Errorf("the good image has an error result: %+v", r)
			}
		}
	})
	t.Run("--output json=- takes stdout", func(t *testing.T) {
		s, out, errb := streams(nil)
		if code := Run(context.Background(), []string{"inspect", "--output", "json=-", bad}, s); code != ExitFindings {
			t.Fatalf("exit %d\nstderr: %s", code, errb)
		}
		var v map[string]any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("stdout is not only the JSON report: %v\n%s", err, out)
		}
	})
	t.Run("--format junit with --output junit=-", func(t *testing.T) {
		s, out, errb := streams(nil)
		if code := Run(context.Background(), []string{"inspect", "--format", "junit", "--output", "junit=-", bad}, s); code != ExitFindings {
			t.Fatalf("exit %d\nstderr: %s", code, errb)
		}
		if n := strings.Count(out.String(), "<testsuites"); n != 1 {
			t.Errorf("stdout holds %d JUnit documents, want 1", n)
		}
	})
	t.Run("junit follows --fail-on", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "junit.xml")
		s, _, errb := streams(nil)
		if code := Run(context.Background(), []string{"inspect", "--fail-on", "none", "--output", "junit=" + p, bad}, s); code != ExitOK {
			t.Fatalf("exit %d\nstderr: %s", code, errb)
		}
		if ju := readJUnit(t, p); ju.Failures != 0 {
			t.Errorf("--fail-on none: %d failures, want 0", ju.Failures)
		}
	})
	t.Run("files are never coloured", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "report.txt")
		s, out, errb := streams(nil)
		s.OutTTY = true
		if code := Run(context.Background(), []string{"inspect", "--output", "text=" + p, bad}, s); code != ExitFindings {
			t.Fatalf("exit %d\nstderr: %s", code, errb)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "\x1b[") || strings.Contains(string(b), "\x1b[") {
			t.Errorf("want colour on the terminal only; stdout coloured %v, file coloured %v",
				strings.Contains(out.String(), "\x1b["), strings.Contains(string(b), "\x1b["))
		}
	})
	t.Run("load failures reach the files", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "junit.xml")
		s, _, _ := streams(nil)
		if code := Run(context.Background(), []string{"inspect", "--output", "junit=" + p, good, "docker-archive:/nonexistent/x.tar"}, s); code != ExitLoad {
			t.Fatalf("exit %d, want %d", code, ExitLoad)
		}
		if ju := readJUnit(t, p); len(ju.Suites) != 2 || ju.Errors != 1 {
			t.Errorf("junit = %+v, want two suites, one load error", ju)
		}
	})
}

func TestInspectOutputUsageErrors(t *testing.T) {
	dir := t.TempDir()
	// The image does not exist: a run that got as far as loading it would
	// exit 3. Outputs are validated first, so these exit 2.
	missing := filepath.Join(dir, "missing.tar")
	out := filepath.Join(dir, "out")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"--output", "xml=" + out}, `unknown format "xml"`},
		{"no =", []string{"--output", "sarif"}, "want FORMAT=PATH"},
		{"no path", []string{"--output", "sarif="}, "want FORMAT=PATH"},
		{"no format", []string{"--output", "=" + out}, "want FORMAT=PATH"},
		{"missing directory", []string{"--output", "sarif=" + filepath.Join(dir, "nope", "x.sarif")}, "nope"},
		{"path is a directory", []string{"--output", "sarif=" + dir}, "is a directory"},
		{"same file twice", []string{"--output", "sarif=" + out, "--output", "junit=" + out}, "same file"},
		{"two outputs to stdout", []string{"--output", "sarif=-", "--output", "junit=-"}, "both write to stdout"},
		{"--format and --output to stdout", []string{"--format", "json", "--output", "sarif=-"}, "both write to stdout"},
		{"bad --format", []string{"--format", "xml"}, `unknown --format "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, stdout, errb := streams(nil)
			code := Run(context.Background(), append([]string{"inspect", missing}, tt.args...), s)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, ExitUsage, errb)
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr %q, want it to mention %q", errb, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("a usage error wrote a report:\n%s", stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a usage error created an output file")
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.sarif")
	if err := os.WriteFile(p, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := writeFileAtomic(p, func(w io.Writer) error {
		io.WriteString(w, "half a rep")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, []byte("previous")) {
		t.Errorf("a failed write changed the file to %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
	if err := writeFileAtomic(p, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("file = %q, want new", b)
	}
}

// TestTextWidth: the text report wraps only on a terminal, to COLUMNS when
// the shell exports it, else to the terminal's width.
func TestTextWidth(t *testing.T) {
	env := map[string]string{}
	s := &IOStreams{OutTTY: true, OutWidth: 120, Getenv: func(k string) string { return env[k] }}
	if w := s.TextWidth(); w != 120 {
		t.Errorf("terminal of 120 columns: width %d", w)
	}
	env["COLUMNS"] = "80"
	if w := s.TextWidth(); w != 80 {
		t.Errorf("COLUMNS=80: width %d", w)
	}
	s.OutTTY = false
	if w := s.TextWidth(); w != 0 {
		t.Errorf("a pipe: width %d, want no wrapping", w)
	}
}
