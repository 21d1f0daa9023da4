//go:build linux

package cmd

import (
	"context"
	"encoding/json"
	pathpkg "path"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// An image with no ENV PATH and a bare ENTRYPOINT ["bootstrap"]: where
// Lambda finds the program depends on the PATH it searches. Docker's
// default PATH holds /usr/sbin but not /opt/bin; the PATH Lambda documents
// for the function's environment (lambda.DefaultPATH) holds /opt/bin but
// not /usr/sbin. inspect (lambda.SearchPATH) and run (the sandbox looks
// argv[0] up on the environment's PATH) must come to the same verdict:
// once they used the two different PATHs and disagreed.
func TestInspectAndRunAgreeOnTheDefaultPATH(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	bin := goFunction(t, runtime.GOARCH)

	for _, tt := range []struct {
		name, dir string
		found     bool
	}{
		{"only on Docker's default PATH", "usr/sbin", false},
		{"only on Lambda's default PATH", "opt/bin", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assertPATHs(t, "/"+tt.dir, tt.found)
			img := bareEntrypointImage(t, tt.dir, bin)

			// inspect
			s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
			s.Getwd = func() (string, error) { return t.TempDir(), nil }
			inspectCode := Run(context.Background(), []string{"inspect", "--format", "json", writeArchive(t, img)}, s)
			var rep struct {
				Checks []struct{ ID, Status string }
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("inspect: exit %d, %v\n%s\n%s", inspectCode, err, out, errb)
			}
			ld202 := ""
			for _, c := range rep.Checks {
				if c.ID == "LD202" {
					ld202 = c.Status
				}
			}

			// run
			r := runImage(t, context.Background(), img, "--event", writeEvent(t, `{"name":"x"}`))
			run := r.doc.Run

			if tt.found {
				if ld202 != "passed" {
					t.Errorf("inspect: LD202 %q, want passed (bootstrap is on the PATH Lambda searches)", ld202)
				}
				if run.Result != emulate.ResultSuccess {
					t.Errorf("run: result %q, want success; error %+v, diagnosis %+v\nstderr: %s", run.Result, run.Error, run.Diagnosis, r.stderr)
				}
				var resp struct{ Greeting string }
				if json.Unmarshal(run.Response, &resp) != nil || resp.Greeting != "hello x" {
					t.Errorf("run: response %s, want the function's greeting", run.Response)
				}
			} else {
				if ld202 != "failed" {
					t.Errorf("inspect: LD202 %q, want failed (bootstrap is not on the PATH Lambda searches)", ld202)
				}
				if run.Result != emulate.ResultStartFailed || len(run.Diagnosis) == 0 || run.Diagnosis[0].Key != "exec-not-found" {
					t.Errorf("run: result %q, diagnosis %+v; want start-failed, exec-not-found", run.Result, run.Diagnosis)
				}
			}
			if inspectCode != r.code {
				t.Errorf("inspect exits %d, run exits %d: they disagree about the image", inspectCode, r.code)
			}
		})
	}
}

// assertPATHs checks the premise: dir is on exactly one of the two PATHs.
func assertPATHs(t *testing.T, dir string, onLambdas bool) {
	t.Helper()
	on := func(path string) bool {
		for _, d := range strings.Split(path, ":") {
			if d == dir || d == dir+"/" {
				return true
			}
		}
		return false
	}
	if on(lambda.DefaultPATH) != onLambdas || on(lambda.DockerDefaultPATH) == onLambdas {
		t.Fatalf("%s: on Lambda's PATH %v, on Docker's %v; the test needs it on exactly one", dir, on(lambda.DefaultPATH), on(lambda.DockerDefaultPATH))
	}
}

// bareEntrypointImage is the aws-lambda-go function installed as
// /DIR/bootstrap, with ENTRYPOINT ["bootstrap"] and no ENV at all.
func bareEntrypointImage(t *testing.T, dir string, bin []byte) v1.Image {
	t.Helper()
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{Entrypoint: []string{"bootstrap"}, WorkingDir: "/var/task"},
		Layers: [][]testimage.File{{
			testimage.Dir("etc", 0), testimage.Dir("etc/ssl", 0), testimage.Dir("etc/ssl/certs", 0),
			testimage.Reg("etc/ssl/certs/ca-certificates.crt", 0o644, caBundle),
			testimage.Dir("tmp", 0o1777),
			testimage.Dir("var", 0), testimage.Dir("var/task", 0),
			testimage.Dir(pathpkg.Dir(dir), 0), testimage.Dir(dir, 0),
			testimage.Reg(dir+"/bootstrap", 0o755, string(bin)),
		}},
	})
}
