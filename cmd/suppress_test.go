package cmd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

type suppressedFinding struct {
	ID                string `json:"id"`
	Suppressed        bool   `json:"suppressed"`
	SuppressionReason string `json:"suppressionReason"`
	SuppressedBy      string `json:"suppressedBy"`
	Location          *struct {
		Line int `json:"line"`
	} `json:"location"`
}

type suppressedDoc struct {
	Findings []suppressedFinding `json:"findings"`
	Checks   []struct{ ID, Status, Error string }
	Summary  struct{ Error, Warning, Info, Suppressed int }
}

func decodeSuppressed(t *testing.T, out string) suppressedDoc {
	t.Helper()
	var doc suppressedDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return doc
}

func (d suppressedDoc) find(id string) *suppressedFinding {
	for i := range d.Findings {
		if d.Findings[i].ID == id {
			return &d.Findings[i]
		}
	}
	return nil
}

// inlineDockerfile is modeDockerfile with lambdoctor comments: one on the
// COPY that made the non-executable bootstrap (LD203), an expired one on
// EXPOSE (LD603), and one that matches nothing.
const inlineDockerfile = `FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/bootstrap .

FROM public.ecr.aws/lambda/provided:al2023
# The wrapper chmods it at start.
# lambdoctor ignore=entrypoint-not-executable reason="chmodded by the wrapper (JIRA-1234)"
COPY --from=build /out/bootstrap \
     ${LAMBDA_TASK_ROOT}/bootstrap
# lambdoctor ignore=LD603 reason="for local runs" expires=2020-01-31
EXPOSE 8080
# lambdoctor ignore=LD202 reason=never-matches
ENTRYPOINT ["/var/task/bootstrap"]
`

func TestInspectInlineSuppressions(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	df := writeDockerfile(t, inlineDockerfile)
	s, out, errb := streams(nil)
	code := Run(context.Background(), []string{"inspect", "--format", "json", "--dockerfile", df, img}, s)
	// LD203, the only error, is suppressed: nothing fails.
	if code != ExitOK {
		t.Fatalf("exit %d, want 0; stderr: %s", code, errb)
	}
	doc := decodeSuppressed(t, out.String())
	f := doc.find("LD203")
	if f == nil || !f.Suppressed || f.SuppressionReason != "chmodded by the wrapper (JIRA-1234)" || f.SuppressedBy != "dockerfile" || f.Location == nil || f.Location.Line != 9 {
		t.Errorf("LD203 %+v, want suppressed by the Dockerfile comment, located at line 9", f)
	}
	if f := doc.find("LD603"); f == nil || f.Suppressed {
		t.Errorf("LD603 %+v: its ignore expired, it must be reported", f)
	}
	if doc.Summary.Suppressed != 1 || doc.Summary.Error != 0 {
		t.Errorf("summary %+v", doc.Summary)
	}
	for _, w := range []string{
		"Dockerfile:11: ignore LD603 expired on 2020-01-31; its findings are reported again\n",
		"Dockerfile:13: ignore LD202 matched nothing\n",
	} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, errb)
		}
	}

	// SARIF: a suppression written in the source.
	s, out, errb = streams(nil)
	Run(context.Background(), []string{"inspect", "--format", "sarif", "--dockerfile", df, img}, s)
	if !strings.Contains(out.String(), `"kind": "inSource"`) || !strings.Contains(out.String(), `"justification": "chmodded by the wrapper (JIRA-1234)"`) {
		t.Errorf("SARIF lacks the inSource suppression:\n%s\n%s", out, errb)
	}
	// The text report shows it as suppressed, with its reason.
	s, out, _ = streams(nil)
	Run(context.Background(), []string{"inspect", "--dockerfile", df, img}, s)
	if !strings.Contains(out.String(), "suppressed LD203") || !strings.Contains(out.String(), "chmodded by the wrapper") {
		t.Errorf("text report:\n%s", out)
	}
}

func TestInspectInlineSuppressionErrors(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	for name, tt := range map[string]struct{ src, want string }{
		"unknown check": {"FROM x\n# lambdoctor ignore=LD2O3 reason=x\nRUN true\n", `Dockerfile:2: lambdoctor comment: ignore: unknown check "LD2O3"`},
		"no reason":     {"FROM x\nRUN true\n# lambdoctor ignore=LD203\nCOPY a /a\n", "Dockerfile:3: lambdoctor comment: ignore LD203 needs a reason"},
		"detached":      {"FROM x\n# lambdoctor ignore=LD203 reason=x\n\nCOPY a /a\n", "Dockerfile:2: lambdoctor comment: not directly above an instruction"},
	} {
		t.Run(name, func(t *testing.T) {
			df := writeDockerfile(t, tt.src)
			s, out, errb := streams(nil)
			if code := Run(context.Background(), []string{"inspect", "--dockerfile", df, img}, s); code != ExitUsage {
				t.Fatalf("exit %d, want %d", code, ExitUsage)
			}
			if msg := errb.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tt.want) || out.Len() != 0 {
				t.Errorf("stderr %q, want one line with %q", msg, tt.want)
			}
		})
	}
}

// buildArgDockerfile copies the bootstrap to a directory an ARG names.
const buildArgDockerfile = `ARG TASKDIR=/opt/fn
FROM public.ecr.aws/lambda/provided:al2023
ARG TASKDIR
COPY bootstrap ${TASKDIR:-/srv}/bootstrap
ENTRYPOINT ["/var/task/bootstrap"]
`

func TestInspectBuildArgs(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	df := writeDockerfile(t, buildArgDockerfile)
	located := func(args ...string) (int, string) {
		t.Helper()
		s, out, errb := streams(map[string]string{"FROM_ENV": "/var/task"})
		Run(context.Background(), append([]string{"inspect", "--format", "json", "--dockerfile", df, img}, args...), s)
		f := decodeSuppressed(t, out.String()).find("LD203")
		if f == nil {
			t.Fatalf("no LD203; stderr %s", errb)
		}
		if f.Location == nil {
			return 0, errb.String()
		}
		return f.Location.Line, errb.String()
	}
	// The ARG's default puts the COPY in /opt/fn: not the layer's.
	if line, _ := located(); line != 0 {
		t.Errorf("without --build-arg: located at line %d, want nowhere", line)
	}
	if line, _ := located("--build-arg", "TASKDIR=/var/task"); line != 4 {
		t.Errorf("--build-arg TASKDIR=/var/task: line %d, want 4", line)
	}
	// An empty value: ${TASKDIR:-/srv} is /srv.
	if line, _ := located("--build-arg", "TASKDIR="); line != 0 {
		t.Errorf("--build-arg TASKDIR=: line %d, want nowhere", line)
	}
	// NAME alone takes lambdoctor's environment, as docker build does.
	if line, _ := located("--build-arg", "TASKDIR", "--build-arg", "UNSET_HERE"); line != 0 {
		t.Errorf("--build-arg TASKDIR with TASKDIR unset: line %d, want nowhere (the default)", line)
	}
	line, stderr := located("--build-arg", "TASKDIR=/var/task", "--build-arg", "TYPO=1")
	if line != 4 || !strings.Contains(stderr, "lambdoctor: warning: --build-arg TYPO: ") || !strings.Contains(stderr, "declares no ARG TYPO") {
		t.Errorf("an undeclared build arg: line %d, stderr %q", line, stderr)
	}

	for name, args := range map[string][]string{
		"no --dockerfile": {"inspect", "--build-arg", "A=1", img},
		"no name":         {"inspect", "--dockerfile", df, "--build-arg", "=1", img},
	} {
		s, _, errb := streams(nil)
		if code := Run(context.Background(), args, s); code != ExitUsage || !strings.Contains(errb.String(), "--build-arg") {
			t.Errorf("%s: exit %d, stderr %q", name, code, errb)
		}
	}
}

func TestInspectIgnoreAndDisableFlags(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	s, out, errb := streams(nil)
	code := Run(context.Background(), []string{"inspect", "--format", "json", "--ignore", "entrypoint-not-executable:/var/task/*", "--ignore", "LD603:/nope", "--disable", "LD601", img}, s)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0 (the one error is ignored); stderr %s", code, errb)
	}
	doc := decodeSuppressed(t, out.String())
	if f := doc.find("LD203"); f == nil || !f.Suppressed || f.SuppressedBy != "command-line" || f.SuppressionReason != "ignored on the command line (--ignore entrypoint-not-executable:/var/task/*)" {
		t.Errorf("LD203 %+v, want suppressed by the command line", f)
	}
	if f := doc.find("LD603"); f == nil || f.Suppressed {
		t.Errorf("LD603 %+v: the glob does not match its path", f)
	}
	for _, c := range doc.Checks {
		if c.ID == "LD601" && (c.Status != "skipped" || !strings.Contains(c.Error, "disabled with --disable")) {
			t.Errorf("LD601 %+v, want skipped, disabled with --disable", c)
		}
	}
	if want := "lambdoctor: warning: --ignore LD603:/nope matched nothing\n"; errb.String() != want {
		t.Errorf("stderr %q, want %q", errb, want)
	}

	// With the config file: both apply; the config's reason comes first.
	_, cs, cout, cerr := inRepo(t, "ignore:\n  - id: LD203\n    reason: from the config\ndisable: [LD602]\n", "", nil)
	if code := Run(context.Background(), []string{"inspect", "--format", "json", "--ignore", "LD203", "--disable", "LD601", img}, cs); code != ExitOK {
		t.Fatalf("with a config: exit %d; %s", code, cerr)
	}
	doc = decodeSuppressed(t, cout.String())
	if f := doc.find("LD203"); f == nil || f.SuppressionReason != "from the config" || f.SuppressedBy != "config" {
		t.Errorf("LD203 %+v, want the config's reason", f)
	}
	skipped := map[string]string{}
	for _, c := range doc.Checks {
		if c.Status == "skipped" {
			skipped[c.ID] = c.Error
		}
	}
	if !strings.Contains(skipped["LD601"], "with --disable") || !strings.Contains(skipped["LD602"], ".lambdoctor.yaml") {
		t.Errorf("skipped %v, want LD601 by the flag and LD602 by the config", skipped)
	}
	if cerr.Len() != 0 {
		t.Errorf("both ignores were used; stderr %q", cerr)
	}

	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"unknown ignore":  {[]string{"--ignore", "LD2O3"}, `--ignore LD2O3: unknown check "LD2O3" (did you mean LD203`},
		"unknown disable": {[]string{"--disable", "nope"}, `--disable nope: unknown check "nope"`},
		"bad glob":        {[]string{"--ignore", "LD203:/a**"}, `--ignore LD203:/a**: bad path glob "/a**"`},
	} {
		for _, command := range []string{"inspect", "run", "why"} {
			args := append([]string{command}, tt.args...)
			switch command {
			case "why":
				args = append(args, "Runtime.InvalidEntrypoint")
			default:
				args = append(args, img)
			}
			s, out, errb := streams(nil)
			if code := Run(context.Background(), args, s); code != ExitUsage || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("%s %s: exit %d, stderr %q, stdout %q; want 2 and %q", name, command, code, errb, out, tt.want)
			}
		}
	}
}

// TestWhyImageIgnore: why --image applies --ignore to the causes it names.
func TestWhyImageIgnore(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	s, out, errb := streams(nil)
	Run(context.Background(), []string{"why", "--format", "json", "--image", img, "--ignore", "LD203", "fork/exec /var/task/bootstrap: permission denied"}, s)
	var doc struct {
		Image struct {
			Causes []suppressedFinding `json:"causes"`
		} `json:"image"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errb)
	}
	found := false
	for _, c := range doc.Image.Causes {
		if c.ID == "LD203" {
			found = true
			if !c.Suppressed || c.SuppressedBy != "command-line" {
				t.Errorf("cause %+v, want suppressed by the command line", c)
			}
		}
	}
	if !found {
		t.Errorf("no LD203 cause:\n%s\n%s", out, errb)
	}
}
