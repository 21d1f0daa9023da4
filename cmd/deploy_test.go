package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/imagefs/source"
)

const (
	cdkAssetA = "4a575666d1c2c6412590d2a56f328e040a81ad1ef59aeee31ae9b393d9073d01"
	cdkAssetB = "9bd0ac3d2ae5be5c8f4b2d6f4b4fd0a2c1b5e8f2b7a3d9c4e1f6a8b0c2d4e6f8"
)

// deployImages are the two images the deployment testdata deploy: the
// AWS Python base image with app.py (def handler), its CMD naming a
// module the image lacks (hello.handler) or the one it has (app.handler).
type deployImages struct{ missing, present string }

func newDeployImages(t *testing.T) deployImages {
	return deployImages{
		missing: writeArchive(t, awsPythonImage("hello.handler")),
		present: writeArchive(t, awsPythonImage("app.handler")),
	}
}

// fakeLoad loads the archive a deployment reference stands for; any other
// reference is not found.
func fakeLoad(refs map[string]string) func(context.Context, string, source.Options) (*source.Image, error) {
	return func(ctx context.Context, ref string, o source.Options) (*source.Image, error) {
		p, ok := refs[ref]
		if !ok {
			return nil, fmt.Errorf("no image %q in this test", ref)
		}
		return source.Load(ctx, "docker-archive:"+p, o)
	}
}

// deployDoc is the JSON document of several reports, with the function.
type deployDoc struct {
	Reports []deployReport `json:"reports"`
}

type deployReport struct {
	seedReport
	Image struct {
		Name string `json:"name"`
	} `json:"image"`
	Error    *struct{ Kind, Message string } `json:"error"`
	Function *struct {
		ID, Name, Tool, Source, Image, Architecture, Dockerfile string
		ImageConfig                                             struct {
			EntryPoint, Command []string
			WorkingDirectory    string
		}
		MemoryMB, TimeoutSeconds, EphemeralStorageMB int
		Environment, Reserved, Unresolved            []string
	} `json:"function"`
}

// inspectDeploy runs `lambdoctor inspect ARGS` with images loaded through
// load, and returns the exit code, stdout and stderr.
func inspectDeploy(t *testing.T, load map[string]string, args ...string) (int, string, string) {
	t.Helper()
	s, out, errb := streams(nil)
	c := newInspectCmd(s, func(ctx context.Context, o *inspectOptions, refs []string) error {
		o.load = fakeLoad(load)
		return runInspect(ctx, s, o, refs)
	})
	c.SetArgs(args)
	c.SetOut(out)
	c.SetErr(errb)
	c.SilenceErrors, c.SilenceUsage = true, true
	code, msg := exitCode(c.ExecuteContext(context.Background()))
	if msg != nil {
		printErr(errb, msg)
	}
	return code, out.String(), errb.String()
}

// parseDeployDoc reads the JSON of one report, or of several.
func parseDeployDoc(t *testing.T, out, errb string) deployDoc {
	t.Helper()
	var doc deployDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("JSON does not parse: %v\nstdout:\n%s\nstderr:\n%s", err, out, errb)
	}
	if doc.Reports == nil {
		var r deployReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		doc.Reports = []deployReport{r}
	}
	return doc
}

func hasFinding(rep seedReport, name string) bool {
	for _, f := range rep.Findings {
		if f.Name == name && f.Severity == "error" {
			return true
		}
	}
	return false
}

// Each tool's testdata deploys two functions: one whose ImageConfig
// Command names the handler the image has while the image's CMD names a
// missing one (the override makes it pass), and the reverse (the
// override makes it fail). Inspected with --deploy, each is judged by its
// override; inspected alone, each image gets the opposite verdict.
func TestDeployInspectTools(t *testing.T) {
	im := newDeployImages(t)
	tests := []struct {
		tool, path string
		load       map[string]string
		// good passes only because of its override, bad fails only
		// because of its own.
		good, bad      string
		goodArch       string
		goodMem, goodT int
		goodDockerfile string
	}{
		{
			tool: "sam", path: "../deploy/testdata/sam/template.yaml",
			load: map[string]string{"docker:helloworldfunction:python3.12-v1": im.missing, "docker:workerfunction:latest": im.present},
			good: "HelloWorldFunction", bad: "WorkerFunction", goodArch: "x86_64", goodMem: 512, goodT: 30,
			goodDockerfile: "../deploy/testdata/sam/hello_world/Dockerfile",
		},
		{
			tool: "cdk", path: "../deploy/testdata/cdk/cdk.out",
			load: map[string]string{"docker:cdkasset-" + cdkAssetA + ":latest": im.missing, "docker:cdkasset-" + cdkAssetB + ":latest": im.present},
			good: "ApiFunctionCE271BD4", bad: "WorkerFunction6D0B9A5E", goodArch: "x86_64", goodMem: 1024, goodT: 30,
			goodDockerfile: "../deploy/testdata/cdk/cdk.out/asset." + cdkAssetA + "/Dockerfile",
		},
		{
			tool: "serverless", path: "../deploy/testdata/serverless/serverless.yml",
			load: map[string]string{"docker:serverless-orders-prod:api": im.missing, "docker:serverless-orders-prod:worker": im.present},
			good: "api", bad: "worker", goodArch: "x86_64", goodMem: 512, goodT: 29,
			goodDockerfile: "../deploy/testdata/serverless/api/Dockerfile",
		},
		{
			tool: "terraform", path: "../deploy/testdata/terraform/plan.json",
			load: map[string]string{
				"123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-api:v1":    im.missing,
				"123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-worker:v1": im.present,
			},
			good: "aws_lambda_function.api", bad: "module.worker.aws_lambda_function.this", goodArch: "x86_64", goodMem: 512, goodT: 30,
		},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			code, out, errb := inspectDeploy(t, tt.load, "--deploy", tt.path, "--format", "json")
			if code != ExitFindings {
				t.Errorf("exit %d, want %d (the worst of the functions)\nstderr:\n%s", code, ExitFindings, errb)
			}
			doc := parseDeployDoc(t, out, errb)
			if len(doc.Reports) != 2 {
				t.Fatalf("want one report per image function, got %d:\n%s", len(doc.Reports), out)
			}
			seen := map[string]bool{}
			for _, r := range doc.Reports {
				fn := r.Function
				if fn == nil {
					t.Fatalf("a report without its function:\n%s", out)
				}
				seen[fn.ID] = true
				if r.Image.Name != fn.ID || fn.Tool != tt.tool {
					t.Errorf("report named %q, tool %q; want the function's ID %q and tool %q", r.Image.Name, fn.Tool, fn.ID, tt.tool)
				}
				for _, ch := range r.Checks {
					if ch.Status == "error" {
						t.Errorf("%s: check %s ended in error: %s", fn.ID, ch.ID, ch.Error)
					}
				}
				switch fn.ID {
				case tt.good:
					if hasFinding(r.seedReport, "handler-not-found") {
						t.Errorf("%s: its ImageConfig Command %q names app.handler, which the image has; got handler-not-found", fn.ID, fn.ImageConfig.Command)
					}
					if fn.Architecture != tt.goodArch || fn.MemoryMB != tt.goodMem || fn.TimeoutSeconds != tt.goodT || !slices.Equal(fn.ImageConfig.Command, []string{"app.handler"}) {
						t.Errorf("%s: applied configuration %+v", fn.ID, fn)
					}
					if fn.Dockerfile != tt.goodDockerfile {
						t.Errorf("%s: dockerfile %q, want %q", fn.ID, fn.Dockerfile, tt.goodDockerfile)
					}
				case tt.bad:
					want(t, r.seedReport, "handler-not-found", "error", "", []string{"ImageConfig.Command names the handler"}, nil)
				default:
					t.Errorf("unexpected function %s", fn.ID)
				}
			}
			if !seen[tt.good] || !seen[tt.bad] {
				t.Errorf("functions %v, want %s and %s", seen, tt.good, tt.bad)
			}

			// Alone, the images get the opposite verdicts.
			alone, code := inspectSeed(t, awsPythonImage("hello.handler"))
			if code != ExitFindings || !hasFinding(alone, "handler-not-found") {
				t.Errorf("the image %s deploys, alone: exit %d, want handler-not-found", tt.good, code)
			}
			alone, code = inspectSeed(t, awsPythonImage("app.handler"))
			if code != ExitOK || hasFinding(alone, "handler-not-found") {
				t.Errorf("the image %s deploys, alone: exit %d, want it clean", tt.bad, code)
			}
		})
	}
}

// One function with --function-id; the text report has a header per
// function naming it and its applied configuration.
func TestDeployInspectFunctionIDText(t *testing.T) {
	im := newDeployImages(t)
	load := map[string]string{"docker:workerfunction:latest": im.present}
	code, out, errb := inspectDeploy(t, load, "--deploy", "../deploy/testdata/sam", "--function-id", "WorkerFunction", "--no-color")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitFindings, out, errb)
	}
	for _, s := range []string{
		"function WorkerFunction (sam-app-worker) · sam ../deploy/testdata/sam/template.yaml",
		`cmd ["worker_main.handler"] · x86_64 · 512 MB · 3 s · /tmp 512 MB`,
		"env       LOG_LEVEL",
		"handler-not-found",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("text report lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "HelloWorldFunction") {
		t.Errorf("--function-id WorkerFunction also reported HelloWorldFunction:\n%s", out)
	}

	// IMAGE replaces the image of the one function selected, and flags
	// given win over the definition.
	code, out, errb = inspectDeploy(t, map[string]string{"other:image": im.present},
		"--deploy", "../deploy/testdata/sam", "--function-id", "WorkerFunction", "--cmd", "app.handler", "--format", "json", "other:image")
	doc := parseDeployDoc(t, out, errb)
	if code != ExitOK || len(doc.Reports) != 1 || doc.Reports[0].Function.Image != "other:image" || hasFinding(doc.Reports[0].seedReport, "handler-not-found") {
		t.Errorf("IMAGE and --cmd over the definition: exit %d\n%s%s", code, out, errb)
	}
}

// Without IMAGE or --deploy, a SAM project in the working directory is
// read; the findings caused by the image map to its Dockerfile's lines.
func TestDeployInspectDiscoveryMapsDockerfile(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"template.yaml": `AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      MemorySize: 1024
    Metadata:
      Dockerfile: Dockerfile
      DockerContext: ./hello_world
      DockerTag: python3.12-v1
`,
		"hello_world/Dockerfile": "FROM public.ecr.aws/lambda/python:3.12\n\nCOPY app.py ./\n\nCMD [\"hello.handler\"]\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	im := newDeployImages(t)
	sam, err := filepath.Abs("../deploy/testdata/sam")
	if err != nil {
		t.Fatal(err)
	}

	// The SAM testdata project, whose template overrides CMD: every image
	// function is judged with its override.
	t.Chdir(sam)
	code, out, errb := inspectDeploy(t, map[string]string{"docker:helloworldfunction:python3.12-v1": im.missing, "docker:workerfunction:latest": im.present}, "--format", "json")
	doc := parseDeployDoc(t, out, errb)
	if code != ExitFindings || len(doc.Reports) != 2 || doc.Reports[0].Function.ID != "HelloWorldFunction" || hasFinding(doc.Reports[0].seedReport, "handler-not-found") ||
		doc.Reports[1].Function.ID != "WorkerFunction" || !hasFinding(doc.Reports[1].seedReport, "handler-not-found") || doc.Reports[0].Function.Source != "template.yaml" {
		t.Errorf("inspect in the SAM project: exit %d\n%s\n%s", code, out, errb)
	}

	t.Chdir(dir)
	code, out, errb = inspectDeploy(t, map[string]string{"docker:helloworldfunction:python3.12-v1": im.missing}, "--format", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitFindings, out, errb)
	}
	if !strings.Contains(errb, "template.yaml (found in the working directory)") {
		t.Errorf("stderr does not say which definition was found:\n%s", errb)
	}
	var rep struct {
		Findings []struct {
			Name     string
			Location *struct {
				File string
				Line int
			}
		}
		Function *struct{ ID string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Function == nil || rep.Function.ID != "HelloWorldFunction" {
		t.Fatalf("want HelloWorldFunction's report:\n%s", out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Name == "handler-not-found" {
			found = true
			if f.Location == nil || !strings.HasSuffix(f.Location.File, "hello_world/Dockerfile") || f.Location.Line != 5 {
				t.Errorf("handler-not-found location %+v, want hello_world/Dockerfile line 5 (CMD)", f.Location)
			}
		}
	}
	if !found {
		t.Errorf("no handler-not-found:\n%s", out)
	}
}

// A reserved variable in the function's environment fails the deploy:
// an LD602 error; the others reach the checks as the image's ENV would.
func TestDeployInspectReservedEnv(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "template.yaml")
	body := `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:v1
      Environment:
        Variables:
          AWS_REGION: eu-west-1
          LOG_LEVEL: debug
`
	if err := os.WriteFile(tmpl, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	im := newDeployImages(t)
	code, out, errb := inspectDeploy(t, map[string]string{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:v1": im.present}, "--deploy", tmpl, "--format", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitFindings, out, errb)
	}
	doc := parseDeployDoc(t, out, errb)
	r := doc.Reports[0]
	want(t, r.seedReport, "reserved-env-override", "error", "", []string{"AWS_REGION", "InvalidParameterValueException"}, []string{"remove AWS_REGION"})
	if !slices.Equal(r.Function.Reserved, []string{"AWS_REGION"}) || !slices.Equal(r.Function.Environment, []string{"AWS_REGION", "LOG_LEVEL"}) {
		t.Errorf("function environment %q reserved %q", r.Function.Environment, r.Function.Reserved)
	}
}

func TestDeployInspectErrors(t *testing.T) {
	im := newDeployImages(t)
	load := map[string]string{"docker:workerfunction:latest": im.present}
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"unknown function", []string{"--deploy", "../deploy/testdata/sam", "--function-id", "Nope"}, ExitUsage, "defines no such image function (it defines HelloWorldFunction, WorkerFunction)"},
		{"IMAGE for two functions", []string{"--deploy", "../deploy/testdata/sam", "x.tar"}, ExitUsage, "select it with --function-id"},
		{"missing definition", []string{"--deploy", "../deploy/testdata/nope.yaml"}, ExitUsage, "--deploy: reading the deployment definition"},
		{"function-id without deploy", []string{"--function-id", "X", "x.tar"}, ExitUsage, "--function-id selects a function of --deploy PATH"},
		{"no image functions", []string{"--deploy", "../deploy/testdata/terraform/plan.json", "--function-id", "module.worker.aws_lambda_function.cron"}, ExitUsage, "no such image function"},
		{"image known after apply", []string{"--deploy", "../deploy/testdata/terraform/plan-unknown.json"}, ExitLoad, ""},
		{"a function's image missing", []string{"--deploy", "../deploy/testdata/sam"}, ExitLoad, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errb := inspectDeploy(t, load, tt.args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.want, out, errb)
			}
			if tt.msg != "" && !strings.Contains(errb, tt.msg) {
				t.Errorf("stderr lacks %q:\n%s", tt.msg, errb)
			}
			if strings.Contains(out+errb, "goroutine ") {
				t.Errorf("a stack trace:\n%s%s", out, errb)
			}
		})
	}
	code, out, errb := inspectDeploy(t, nil, "--deploy", "../deploy/testdata/terraform/plan-unknown.json", "--format", "json")
	doc := parseDeployDoc(t, out, errb)
	if code != ExitLoad || len(doc.Reports) != 1 || doc.Reports[0].Error == nil || doc.Reports[0].Error.Kind != "unresolved" ||
		!strings.Contains(doc.Reports[0].Error.Message, "image_uri: known after apply") || len(doc.Reports[0].Function.Unresolved) != 2 {
		t.Errorf("a function whose image is known after apply: exit %d\n%s", code, out)
	}
}

// run --deploy takes memory, timeout, /tmp size, environment, ImageConfig
// and architecture from the function; the flags given win.
func TestDeployRunSettings(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o *runOptions, ref string)
	}{
		{"from the definition", []string{"--deploy", "../deploy/testdata/cdk/cdk.out", "--function-id", "WorkerFunction6D0B9A5E"}, func(t *testing.T, o *runOptions, ref string) {
			if ref != "docker:cdkasset-"+cdkAssetB+":latest" || o.command != `["missing.handler"]` || o.workdir != "/var/task" || o.tmpSizeMB != 2048 || o.memoryMB != 128 || o.timeout != 3*time.Second {
				t.Errorf("ref %q, options %+v", ref, o)
			}
		}},
		{"flags win", []string{"--deploy", "../deploy/testdata/serverless/serverless.yml", "--function-id", "worker", "--memory", "256", "--cmd", "app.handler", "--env", "LOG_LEVEL=warn", "fn.tar"}, func(t *testing.T, o *runOptions, ref string) {
			if ref != "fn.tar" || o.command != "app.handler" || o.memoryMB != 256 || o.timeout != 10*time.Second || o.tmpSizeMB != 2048 || o.arch != "x86_64" {
				t.Errorf("ref %q, options %+v", ref, o)
			}
			if !slices.Equal(o.env, []string{"LOG_LEVEL=debug", "STAGE=prod", "LOG_LEVEL=warn"}) {
				t.Errorf("env %q: want the function's, then --env (which wins)", o.env)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := streams(nil)
			c := newRunCmd(s, func(ctx context.Context, o *runOptions, ref string) error {
				_, ref, err := o.applyDeploy(s, ref)
				if err != nil {
					return err
				}
				if _, err := o.plan(s); err != nil {
					return err
				}
				tt.check(t, o, ref)
				return nil
			})
			c.SetArgs(tt.args)
			c.SilenceErrors, c.SilenceUsage = true, true
			if code, msg := exitCode(c.ExecuteContext(context.Background())); code != ExitOK {
				t.Errorf("exit %d: %v\n%s%s", code, msg, out, errb)
			}
		})
	}
	for name, args := range map[string][]string{
		"no image, no deploy": {},
		"two functions":       {"--deploy", "../deploy/testdata/sam"},
		"image after apply":   {"--deploy", "../deploy/testdata/terraform/plan-unknown.json"},
	} {
		s, _, errb := streams(nil)
		code := Run(context.Background(), append([]string{"run"}, args...), s)
		if code != ExitUsage || strings.Contains(errb.String(), "goroutine ") {
			t.Errorf("run %s: exit %d, want %d\n%s", name, code, ExitUsage, errb)
		}
	}
}
