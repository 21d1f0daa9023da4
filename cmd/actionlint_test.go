package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// actionlintVersion is the actionlint the tests build from the Go module
// proxy (https://github.com/rhysd/actionlint).
const actionlintVersion = "v1.7.12"

// requireActionlint builds actionlint into a temporary directory and
// returns its path. Without the module proxy (or shellcheck, which
// actionlint runs on every run: script) the test skips, unless
// LAMBDOCTOR_REQUIRE_ACTIONLINT=1, as .ci/run sets.
func requireActionlint(t *testing.T) string {
	t.Helper()
	skip := func(format string, a ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, a...)
		if os.Getenv("LAMBDOCTOR_REQUIRE_ACTIONLINT") == "1" {
			t.Fatal(msg + " (LAMBDOCTOR_REQUIRE_ACTIONLINT=1)")
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		skip("shellcheck not found (apt-get install shellcheck; scripts/setup.sh does)")
	}
	bin := t.TempDir()
	c := exec.Command("go", "install", "github.com/rhysd/actionlint/cmd/actionlint@"+actionlintVersion)
	c.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
	if out, err := c.CombinedOutput(); err != nil {
		skip("building actionlint %s: %v\n%s", actionlintVersion, err, out)
	}
	return filepath.Join(bin, "actionlint")
}

// actionRef matches this action in a workflow's uses:.
var actionRef = regexp.MustCompile(`uses:\s*lambdoctor/lambdoctor@\S+`)

// ciWorkflows returns every GitHub Actions workflow among docs/ci.md's
// YAML blocks (those with on: and jobs:), keyed by a file name that says
// where it came from, with this action referenced as the local action
// "./" so that actionlint checks its inputs against action.yml.
func ciWorkflows(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range codeBlocks(repoFile(t, "docs/ci.md")) {
		if b.lang != "yaml" {
			continue
		}
		var doc map[string]any
		if yaml.Unmarshal([]byte(b.body), &doc) != nil {
			continue
		}
		if _, on := doc["on"]; !on {
			continue
		}
		if _, jobs := doc["jobs"]; !jobs {
			continue
		}
		out[fmt.Sprintf("ci-md-line-%d.yml", b.line)] = actionRef.ReplaceAllString(b.body, "uses: ./")
	}
	return out
}

// actionStepsWorkflow turns action.yml's composite steps into a reusable
// workflow whose inputs are the action's, which actionlint checks like
// any workflow (expressions, contexts, the inputs of the actions it uses,
// and shellcheck on each run: script). actionlint reads action metadata
// only to check the inputs a workflow passes to a local action; it does
// not lint a composite action's steps (rhysd/actionlint#46).
func actionStepsWorkflow(t *testing.T) string {
	t.Helper()
	var a struct {
		Inputs map[string]struct {
			Description string `yaml:"description"`
			Required    bool   `yaml:"required"`
			Default     string `yaml:"default"`
		} `yaml:"inputs"`
		Runs struct {
			Steps []map[string]any `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal([]byte(repoFile(t, "action.yml")), &a); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]any{}
	for k, in := range a.Inputs {
		v := map[string]any{"type": "string", "required": in.Required, "description": in.Description}
		if !in.Required {
			v["default"] = in.Default
		}
		inputs[k] = v
	}
	wf := map[string]any{
		"name": "action.yml steps",
		"on":   map[string]any{"workflow_call": map[string]any{"inputs": inputs}},
		"jobs": map[string]any{
			"action": map[string]any{"runs-on": "ubuntu-latest", "steps": a.Runs.Steps},
		},
	}
	b, err := yaml.Marshal(wf)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lintProject writes the workflows and action.yml into a scratch git
// repository and runs actionlint there; it returns the exit code and
// output.
func lintProject(t *testing.T, actionlint string, workflows map[string]string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	writeFile(t, filepath.Join(dir, "action.yml"), repoFile(t, "action.yml"))
	for name, body := range workflows {
		writeFile(t, filepath.Join(dir, ".github", "workflows", name), body)
	}
	c := exec.Command(actionlint, "-no-color", "-oneline")
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err == nil {
		return 0, string(out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("running actionlint: %v", err)
	return 0, ""
}

// TestActionlint runs actionlint on every workflow of docs/ci.md (with the
// action as a local action, so the inputs they pass are checked against
// action.yml) and on the action's own steps.
func TestActionlint(t *testing.T) {
	requireGit(t)
	actionlint := requireActionlint(t)
	wfs := ciWorkflows(t)
	usesAction := 0
	for _, body := range wfs {
		if strings.Contains(body, "uses: ./") {
			usesAction++
		}
	}
	if len(wfs) < 2 || usesAction == 0 {
		t.Fatalf("docs/ci.md: %d workflows, %d using the action; want the action's and go install's", len(wfs), usesAction)
	}
	wfs["action-steps.yml"] = actionStepsWorkflow(t)
	if code, out := lintProject(t, actionlint, wfs); code != 0 {
		t.Fatalf("actionlint %s: exit %d\n%s", actionlintVersion, code, out)
	}
	t.Logf("actionlint %s: %d workflows of docs/ci.md and action.yml's steps are clean", actionlintVersion, len(wfs)-1)

	// actionlint does read action.yml (a misspelt input and a missing
	// required one are reported) and does run shellcheck (an unquoted
	// expansion is).
	bad := "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./\n        with:\n          upload-sarf: false\n      - run: echo $HOME\n"
	code, out := lintProject(t, actionlint, map[string]string{"bad.yml": bad})
	for _, want := range []string{`input "upload-sarf" is not defined`, `missing input "image"`, "SC2086"} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("actionlint on a workflow with mistakes: exit %d, want 1 and %q\n%s", code, want, out)
		}
	}
}
