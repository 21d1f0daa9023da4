package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	rubyLaunchLine  = `{"errorMessage": "RequestId: 5e1c Error: fork/exec /usr/local/bin/aws_lambda_ric: no such file or directory", "errorType": "Runtime.InvalidEntrypoint"}`
	benignAgentLine = `level=warning msg="Cannot list external agents" error="open /opt/extensions: no such file or directory"`
)

func TestWhyInputs(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "lambda.log")
	log := "START RequestId: 1\n" + benignAgentLine + "\nRuntime exited with error: exit status 127\nEND RequestId: 1\n"
	if err := os.WriteFile(logFile, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  []string
	}{
		{"args are joined", []string{"why", "Runtime", "exited", "with", "error:", "exit", "status", "142"}, "", ExitOK,
			[]string{"line 1: Runtime exited with error: exit status 142", "/lambda-entrypoint.sh did not get exactly one argument", "LD205 handler-arg-count", "lambdoctor explain LD205"}},
		{"file", []string{"why", "--file", logFile}, "", ExitOK,
			[]string{"line 2: " + benignAgentLine, "  benign  no extensions", "line 3: Runtime exited with error: exit status 127", "LD304 elf-library-missing", "2 lines not recognised.", "lambdoctor why --image IMAGE (runs LD207, LD303, LD304)"}},
		{"stdin", []string{"why"}, log, ExitOK,
			[]string{"line 3: Runtime exited with error: exit status 127", "2 lines not recognised."}},
		{"file - is stdin", []string{"why", "--file", "-"}, rubyLaunchLine + "\n" + rubyLaunchLine + "\n", ExitOK,
			[]string{"(2 times)", "no such file or directory (/usr/local/bin/aws_lambda_ric)", "LD202 entrypoint-not-found"}},
		{"only benign", []string{"why", benignAgentLine}, "", ExitOK, []string{"benign"}},
		{"nothing recognised", []string{"why", "hello", "world"}, "", ExitFindings, []string{"No line recognised (1 read)"}},
		{"empty stdin", []string{"why"}, "", ExitFindings, []string{"The log is empty."}},
		{"args and file", []string{"why", "--file", logFile, "x509"}, "", ExitUsage, nil},
		{"missing file", []string{"why", "--file", filepath.Join(t.TempDir(), "nope.log")}, "", ExitUsage, nil},
		{"bad format", []string{"why", "--format", "sarif", "x"}, "", ExitUsage, nil},
		{"bad arch", []string{"why", "--arch", "sparc", "x"}, "", ExitUsage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := streams(nil)
			s.In = strings.NewReader(tt.stdin)
			if code := Run(context.Background(), tt.args, s); code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errb)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.code == ExitUsage && errb.Len() == 0 {
				t.Errorf("usage error without a message")
			}
		})
	}
}

type whyJSON struct {
	SchemaVersion int
	Lines         int
	Unrecognised  int
	Matches       []struct {
		Line                   int
		Text, Pattern, Subject string
		Failure, Explanation   string
		Count                  int
		Benign                 bool
		Checks                 []string
	}
	Checks []struct{ ID, Name, Docs string }
	Image  *struct {
		Ref    string
		Checks []struct{ ID, Status string }
		Causes []struct {
			ID, Name, Path, Fix string
			Layer               *struct{ Index int }
			Suppressed          bool
			SuppressionReason   string
		}
		Error *struct{ Kind string }
	}
}

func TestWhyJSON(t *testing.T) {
	s, out, errb := streams(nil)
	s.In = strings.NewReader(rubyLaunchLine + "\n" + benignAgentLine + "\nsomething else\n")
	if code := Run(context.Background(), []string{"why", "--format", "json"}, s); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var doc whyJSON
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, out)
	}
	if doc.SchemaVersion != 1 || doc.Lines != 3 || doc.Unrecognised != 1 || len(doc.Matches) != 2 || doc.Image != nil {
		t.Fatalf("document wrong: %+v", doc)
	}
	m := doc.Matches[0]
	if m.Line != 1 || m.Pattern != "exec-not-found" || m.Subject != "/usr/local/bin/aws_lambda_ric" || m.Benign || len(m.Checks) == 0 || m.Checks[0] != "LD202" {
		t.Errorf("first match %+v", m)
	}
	if b := doc.Matches[1]; !b.Benign || b.Checks == nil || len(b.Checks) != 0 {
		t.Errorf("benign match %+v (checks must be [] not null)", b)
	}
	var ids []string
	for _, c := range doc.Checks {
		ids = append(ids, c.ID)
		if c.Name == "" || !strings.HasSuffix(c.Docs, c.ID+".md") {
			t.Errorf("incomplete check %+v", c)
		}
	}
	if strings.Join(ids, ",") != "LD202,LD207,LD208,LD303" {
		t.Errorf("checks %v", ids)
	}

	// Nothing recognised: lists are [] and the exit code says so.
	s, out, _ = streams(nil)
	if code := Run(context.Background(), []string{"why", "--format", "json", "hello"}, s); code != ExitFindings {
		t.Fatalf("exit %d, want %d", code, ExitFindings)
	}
	if !strings.Contains(out.String(), `"matches": []`) || !strings.Contains(out.String(), `"checks": []`) {
		t.Errorf("empty lists not []:\n%s", out)
	}
}

// The seed story: the Ruby runtime client's binstub is not where ENTRYPOINT
// says. The pasted launch error points at LD202 (among others); run on the
// image, LD202 names the cause and the real path.
func TestWhyImageNamesTheCause(t *testing.T) {
	bad := writeArchive(t, rubySeedImage(t))
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"why", "--image", bad, rubyLaunchLine}, s); code != ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, errb, out)
	}
	for _, w := range []string{
		"Image " + bad + ":",
		"the cause in this image: LD202 entrypoint-not-found (error): ",
		"path  /usr/local/bin/aws_lambda_ric",
		"fix   ",
		"/usr/local/bundle/bin/aws_lambda_ric",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}

	s, out, errb = streams(nil)
	if code := Run(context.Background(), []string{"why", "--format", "json", "--image", bad, rubyLaunchLine}, s); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var doc whyJSON
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Image == nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	// Only the checks the log points at ran.
	var ran []string
	for _, c := range doc.Image.Checks {
		ran = append(ran, c.ID)
	}
	if strings.Join(ran, ",") != "LD202,LD207,LD208,LD303" {
		t.Errorf("ran %v, want LD202,LD207,LD208,LD303", ran)
	}
	if len(doc.Image.Causes) == 0 || doc.Image.Causes[0].ID != "LD202" || doc.Image.Causes[0].Path != "/usr/local/bin/aws_lambda_ric" {
		t.Errorf("causes %+v", doc.Image.Causes)
	}
}

func TestWhyImageArchitecture(t *testing.T) {
	good := writeArchive(t, goodImage(t))
	line := "IMAGE\tLaunch error: fork/exec /var/runtime/bootstrap: exec format error\tEntrypoint: [/var/runtime/bootstrap]\tCmd: [function.handler]\tWorkingDir: [/var/task]"
	// The function runs arm64, the image is amd64: LD102 is the cause.
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"why", "--image", good, "--arch", "arm64", line}, s); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.Contains(out.String(), "the cause in this image: LD102 platform-mismatch") {
		t.Errorf("want LD102 named as the cause:\n%s", out)
	}
	// Same image, matching architecture: nothing in the image explains it.
	s, out, errb = streams(nil)
	if code := Run(context.Background(), []string{"why", "--image", good, line}, s); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if strings.Contains(out.String(), "the cause in this image") || !strings.Contains(out.String(), "none of the checks the log points at found a problem") {
		t.Errorf("want no cause found:\n%s", out)
	}
	if !strings.Contains(out.String(), "passed: LD102") {
		t.Errorf("want the passed checks listed:\n%s", out)
	}
}

func TestWhyImageEdgeCases(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.tar")
	s, out, _ := streams(nil)
	if code := Run(context.Background(), []string{"why", "--image", missing, rubyLaunchLine}, s); code != ExitLoad {
		t.Fatalf("missing image: exit %d, want %d\n%s", code, ExitLoad, out)
	}
	if !strings.Contains(out.String(), "could not be inspected (not-found)") || !strings.Contains(out.String(), "LD202 entrypoint-not-found") {
		t.Errorf("want the triage and the load failure:\n%s", out)
	}
	// Only benign lines: no check to run, so the image is not even loaded.
	s, out, _ = streams(nil)
	if code := Run(context.Background(), []string{"why", "--image", missing, benignAgentLine}, s); code != ExitOK {
		t.Fatalf("benign only: exit %d\n%s", code, out)
	}
	if !strings.Contains(out.String(), "nothing to run") {
		t.Errorf("want 'nothing to run':\n%s", out)
	}
}

// why --image applies .lambdoctor.yaml as inspect does: its arch (unless
// --arch is given), disabled checks, severity overrides and ignores. It
// used to run the checks without reading the file at all.
func TestWhyImageAppliesConfig(t *testing.T) {
	bad := writeArchive(t, rubySeedImage(t))
	good := writeArchive(t, goodImage(t))
	formatLine := "IMAGE\tLaunch error: fork/exec /var/runtime/bootstrap: exec format error\tEntrypoint: [/var/runtime/bootstrap]\tCmd: [function.handler]\tWorkingDir: [/var/task]"

	whyIn := func(t *testing.T, config string, args ...string) (int, whyJSON, string) {
		t.Helper()
		_, s, out, errb := inRepo(t, config, "", nil)
		code := Run(context.Background(), append([]string{"why", "--format", "json"}, args...), s)
		var doc whyJSON
		if err := json.Unmarshal([]byte(out.String()), &doc); err != nil || doc.Image == nil {
			t.Fatalf("exit %d, JSON: %v\n%s\n%s", code, err, out, errb)
		}
		return code, doc, errb.String()
	}
	status := func(doc whyJSON, id string) string {
		for _, c := range doc.Image.Checks {
			if c.ID == id {
				return c.Status
			}
		}
		return ""
	}

	t.Run("arch", func(t *testing.T) {
		_, doc, _ := whyIn(t, "arch: arm64\n", "--image", good, formatLine)
		if status(doc, "LD102") != "failed" {
			t.Errorf("arch arm64 from the file: LD102 %q, want failed", status(doc, "LD102"))
		}
		_, doc, _ = whyIn(t, "arch: arm64\n", "--image", good, "--arch", "amd64", formatLine)
		if status(doc, "LD102") != "passed" {
			t.Errorf("--arch amd64 beats the file: LD102 %q, want passed", status(doc, "LD102"))
		}
	})
	t.Run("disable", func(t *testing.T) {
		_, doc, _ := whyIn(t, "disable: [entrypoint-not-found]\n", "--image", bad, rubyLaunchLine)
		if status(doc, "LD202") != "skipped" {
			t.Errorf("LD202 %q, want skipped", status(doc, "LD202"))
		}
		for _, c := range doc.Image.Causes {
			if c.ID == "LD202" {
				t.Errorf("a disabled check named a cause: %+v", c)
			}
		}
	})
	t.Run("severity", func(t *testing.T) {
		_, s, out, errb := inRepo(t, "severity:\n  LD202: warning\n", "", nil)
		if code := Run(context.Background(), []string{"why", "--image", bad, rubyLaunchLine}, s); code != ExitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errb)
		}
		if !strings.Contains(out.String(), "the cause in this image: LD202 entrypoint-not-found (warning)") {
			t.Errorf("want LD202 at the file's severity:\n%s", out)
		}
	})
	t.Run("ignore", func(t *testing.T) {
		config := "ignore:\n  - id: LD202\n    reason: the RIC is installed at deploy time\n  - id: LD601\n    reason: old\n    expires: 2020-01-01\n"
		_, doc, errs := whyIn(t, config, "--image", bad, rubyLaunchLine)
		var suppressed bool
		for _, c := range doc.Image.Causes {
			if c.ID == "LD202" {
				suppressed = c.Suppressed && c.SuppressionReason == "the RIC is installed at deploy time"
			}
		}
		if !suppressed {
			t.Errorf("LD202 not suppressed with the ignore's reason: %+v", doc.Image.Causes)
		}
		// The expired ignore is reported; the one for a check the log does
		// not point at is not called unused.
		if !strings.Contains(errs, "ignore LD601 expired on 2020-01-01") || strings.Contains(errs, "matched nothing") {
			t.Errorf("stderr:\n%s", errs)
		}
		_, s, out, errb := inRepo(t, config, "", nil)
		if code := Run(context.Background(), []string{"why", "--image", bad, rubyLaunchLine}, s); code != ExitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errb)
		}
		if strings.Contains(out.String(), "the cause in this image: LD202") || !strings.Contains(out.String(), "ignored by the config: LD202 entrypoint-not-found") {
			t.Errorf("want LD202 shown as ignored:\n%s", out)
		}
	})
	t.Run("a broken config does not stop a triage without --image", func(t *testing.T) {
		_, s, out, errb := inRepo(t, "arhc: arm64\n", "", nil)
		if code := Run(context.Background(), []string{"why", rubyLaunchLine}, s); code != ExitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errb)
		}
		_, s, out, errb = inRepo(t, "arhc: arm64\n", "", nil)
		if code := Run(context.Background(), []string{"why", "--image", bad, rubyLaunchLine}, s); code != ExitUsage || !strings.Contains(errb.String(), `unknown key "arhc"`) {
			t.Fatalf("exit %d, want %d with the config error\n%s%s", code, ExitUsage, out, errb)
		}
	})
}
