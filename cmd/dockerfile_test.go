package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// The Dockerfile that "built" modeImage: a Go build stage, then the
// bootstrap copied in without its execute bit.
const modeDockerfile = `FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/bootstrap .

FROM public.ecr.aws/lambda/provided:al2023
COPY --from=build /out/bootstrap \
     ${LAMBDA_TASK_ROOT}/bootstrap
EXPOSE 8080
ENTRYPOINT ["/var/task/bootstrap"]
`

// modeImage: the bootstrap is not executable (LD203, found through its
// layer) and EXPOSE is set (LD603, found through the config field).
func modeImage(t *testing.T) v1.Image {
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Entrypoint:   []string{"/var/task/bootstrap"},
			WorkingDir:   "/var/task",
			Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LAMBDA_TASK_ROOT=/var/task"},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		},
		Layers: [][]testimage.File{
			{testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, "\x7fELF"), testimage.Dir("tmp", 0o1777), testimage.Dir("var/task", 0)},
			{testimage.Reg("var/task/bootstrap", 0o644, "#!/bin/sh\necho ok\n")},
		},
		CreatedBy: []string{"ADD file:0123abcd in / ", "COPY /out/bootstrap /var/task/bootstrap # buildkit"},
	})
}

func writeDockerfile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type located struct {
	ID       string `json:"id"`
	Location *struct {
		File        string `json:"file"`
		Line        int    `json:"line"`
		EndLine     int    `json:"endLine"`
		Instruction string `json:"instruction"`
	} `json:"location"`
}

func TestInspectDockerfileJSON(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	df := writeDockerfile(t, modeDockerfile)
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"inspect", "--format", "json", "--dockerfile", df, img}, s); code != ExitFindings {
		t.Fatalf("exit %d; stderr: %s", code, errb)
	}
	var doc struct{ Findings []located }
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][3]any{
		"LD203": {7, 8, "COPY --from=build /out/bootstrap ${LAMBDA_TASK_ROOT}/bootstrap"},
		"LD603": {9, 9, "EXPOSE 8080"},
	}
	seen := map[string]bool{}
	for _, f := range doc.Findings {
		w, ok := want[f.ID]
		if !ok {
			continue
		}
		seen[f.ID] = true
		l := f.Location
		if l == nil {
			t.Errorf("%s: no location", f.ID)
			continue
		}
		if l.Line != w[0] || l.EndLine != w[1] || l.Instruction != w[2] || filepath.Base(l.File) != "Dockerfile" || filepath.IsAbs(l.File) && !strings.HasSuffix(l.File, "/Dockerfile") {
			t.Errorf("%s: location %+v, want lines %v-%v %q", f.ID, *l, w[0], w[1], w[2])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("findings %+v, want %v", doc.Findings, want)
	}
}

func TestInspectDockerfileSARIF(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	df := writeDockerfile(t, modeDockerfile)
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"inspect", "--format", "sarif", "--dockerfile", df, img}, s); code != ExitFindings {
		t.Fatalf("exit %d; stderr: %s", code, errb)
	}
	var doc struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           *struct{ StartLine, EndLine int }
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range doc.Runs[0].Results {
		if r.RuleID != "LD203" {
			continue
		}
		found = true
		p := r.Locations[0].PhysicalLocation
		if !strings.HasSuffix(p.ArtifactLocation.URI, "Dockerfile") || p.Region == nil || p.Region.StartLine != 7 || p.Region.EndLine != 8 {
			t.Errorf("first location %+v region %+v, want the Dockerfile, lines 7-8", p.ArtifactLocation, p.Region)
		}
	}
	if !found {
		t.Errorf("no LD203 result:\n%s", out)
	}
}

func TestInspectDockerfileText(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	df := writeDockerfile(t, modeDockerfile)
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"inspect", "--dockerfile", df, img}, s); code != ExitFindings {
		t.Fatalf("exit %d; stderr: %s", code, errb)
	}
	if !strings.Contains(out.String(), "Dockerfile:9 EXPOSE 8080") {
		t.Errorf("no dockerfile line in:\n%s", out)
	}
}

func TestInspectDockerfileErrors(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	dir := t.TempDir()
	bad := writeDockerfile(t, "FROM alpine\nRUN <<EOF\necho never ends\n")
	for name, tt := range map[string]struct{ path, want string }{
		"missing":     {filepath.Join(dir, "nope", "Dockerfile"), "no such file"},
		"unparsable":  {bad, "unterminated heredoc"},
		"a directory": {dir, "--dockerfile"},
	} {
		t.Run(name, func(t *testing.T) {
			s, out, errb := streams(nil)
			if code := Run(context.Background(), []string{"inspect", "--dockerfile", tt.path, img}, s); code != ExitUsage {
				t.Fatalf("exit %d, want %d", code, ExitUsage)
			}
			msg := errb.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tt.want) || out.Len() != 0 {
				t.Errorf("stderr %q (want one line with %q), stdout %q", msg, tt.want, out)
			}
		})
	}
}
