package deploy

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const (
	cdkA = "4a575666d1c2c6412590d2a56f328e040a81ad1ef59aeee31ae9b393d9073d01"
	cdkB = "9bd0ac3d2ae5be5c8f4b2d6f4b4fd0a2c1b5e8f2b7a3d9c4e1f6a8b0c2d4e6f8"
)

func read(t *testing.T, path string, opts Options) map[string]Function {
	t.Helper()
	fns, err := Read(path, opts)
	if err != nil {
		t.Fatalf("Read(%s): %v", path, err)
	}
	out := map[string]Function{}
	for _, fn := range fns {
		out[fn.ID] = fn
	}
	return out
}

func wantFn(t *testing.T, got Function, want Function) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("function %s:\n got %#v\nwant %#v", want.ID, got, want)
	}
}

func TestDeploySAM(t *testing.T) {
	dir := filepath.Join("testdata", "sam")
	tmpl := filepath.Join(dir, "template.yaml")
	fns := read(t, tmpl, Options{})
	if len(fns) != 2 {
		t.Fatalf("want the two image functions (not the zip one), got %d: %v", len(fns), fns)
	}
	wantFn(t, fns["HelloWorldFunction"], Function{
		ID: "HelloWorldFunction", Tool: "sam", Source: tmpl,
		Image:        "docker:helloworldfunction:python3.12-v1",
		ImageConfig:  ImageConfig{Command: []string{"app.handler"}},
		Architecture: "x86_64",
		// Globals' LOG_LEVEL merged with the function's variables;
		// ${AWS::StackName} and ${AWS::Region} from samconfig.toml.
		Environment:        map[string]string{"LOG_LEVEL": "info", "TABLE_NAME": "sam-app-table-eu-west-1"},
		MemoryMB:           512, // !Ref MemoryParam, overridden in samconfig.toml
		TimeoutSeconds:     30,  // !If [IsProd, ...] with Stage=prod
		EphemeralStorageMB: 1024,
		Dockerfile:         filepath.Join(dir, "hello_world", "Dockerfile"),
		DockerContext:      filepath.Join(dir, "hello_world"),
		Repository:         "123456789012.dkr.ecr.eu-west-1.amazonaws.com/samapp7427b055/helloworldfunction19d43fc4repo",
		Unresolved:         []string{"Environment.Variables.BUCKET: !Ref DataBucket (a resource, known once created)"},
	})
	wantFn(t, fns["WorkerFunction"], Function{
		ID: "WorkerFunction", Name: "sam-app-worker", Tool: "sam", Source: tmpl,
		Image:          "docker:workerfunction:latest",
		ImageConfig:    ImageConfig{Command: []string{"worker_main.handler"}}, // long-form Fn::If and Fn::Sub
		Environment:    map[string]string{"LOG_LEVEL": "debug"},
		MemoryMB:       512,
		TimeoutSeconds: 3,
		Dockerfile:     filepath.Join(dir, "worker", "Dockerfile"),
		DockerContext:  filepath.Join(dir, "worker"),
		Repository:     "123456789012.dkr.ecr.eu-west-1.amazonaws.com/samapp7427b055/workerfunctionrepo",
	})
}

// Without samconfig.toml the parameters keep their defaults: Stage=dev
// turns the conditions the other way, and the pseudo parameters that
// depend on the region are unknown.
func TestDeploySAMWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", "sam", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := filepath.Join(dir, "template.yml")
	if err := os.WriteFile(tmpl, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fns := read(t, dir, Options{}) // discovered in the directory
	hw, w := fns["HelloWorldFunction"], fns["WorkerFunction"]
	if hw.TimeoutSeconds != 10 || hw.MemoryMB != 256 {
		t.Errorf("HelloWorldFunction timeout %d memory %d, want the defaults' 10 and 256", hw.TimeoutSeconds, hw.MemoryMB)
	}
	if _, ok := hw.Environment["TABLE_NAME"]; ok || len(hw.Unresolved) != 2 || !strings.Contains(strings.Join(hw.Unresolved, "\n"), "${AWS::StackName}") {
		t.Errorf("TABLE_NAME should be unresolved without a stack name and region: env %v, unresolved %q", hw.Environment, hw.Unresolved)
	}
	if !slices.Equal(w.ImageConfig.Command, []string{"app.handler"}) || w.Name != "" {
		t.Errorf("WorkerFunction command %q name %q, want [app.handler] and no name (AWS::StackName unknown)", w.ImageConfig.Command, w.Name)
	}
}

func TestDeployCDK(t *testing.T) {
	dir := filepath.Join("testdata", "cdk", "cdk.out")
	tmpl := filepath.Join(dir, "LambdaStack.template.json")
	for _, p := range []string{dir, filepath.Join(dir, "manifest.json"), filepath.Join("testdata", "cdk")} {
		fns := read(t, p, Options{})
		const repo = "cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}"
		wantFn(t, fns["ApiFunctionCE271BD4"], Function{
			ID: "ApiFunctionCE271BD4", Tool: "cdk", Source: tmpl,
			Image:        "docker:cdkasset-" + cdkA + ":latest",
			ImageConfig:  ImageConfig{Command: []string{"app.handler"}},
			Architecture: "x86_64", Environment: map[string]string{"POWERTOOLS_SERVICE_NAME": "api"},
			MemoryMB: 1024, TimeoutSeconds: 30,
			Dockerfile:    filepath.Join(dir, "asset."+cdkA, "Dockerfile"),
			DockerContext: filepath.Join(dir, "asset."+cdkA),
			Repository:    repo,
		})
		wantFn(t, fns["WorkerFunction6D0B9A5E"], Function{
			ID: "WorkerFunction6D0B9A5E", Tool: "cdk", Source: tmpl,
			Image:              "docker:cdkasset-" + cdkB + ":latest",
			ImageConfig:        ImageConfig{Command: []string{"missing.handler"}, WorkingDirectory: "/var/task"},
			EphemeralStorageMB: 2048,
			Dockerfile:         filepath.Join(dir, "asset."+cdkB, "Dockerfile.worker"),
			DockerContext:      filepath.Join(dir, "asset."+cdkB),
			Repository:         repo,
		})
	}
}

func TestDeployServerless(t *testing.T) {
	dir := filepath.Join("testdata", "serverless")
	path := filepath.Join(dir, "serverless.yml")
	env := map[string]string{}
	fns := read(t, path, Options{Getenv: func(k string) string { return env[k] }})
	if len(fns) != 2 {
		t.Fatalf("want the two image functions, got %v", fns)
	}
	wantFn(t, fns["api"], Function{
		ID: "api", Name: "orders-prod-api", Tool: "serverless", Source: path,
		Image:        "docker:serverless-orders-prod:api",
		ImageConfig:  ImageConfig{Command: []string{"app.handler"}},
		Architecture: "x86_64",
		Environment:  map[string]string{"LOG_LEVEL": "info", "STAGE": "prod"},
		MemoryMB:     512, TimeoutSeconds: 29,
		Dockerfile:    filepath.Join(dir, "api", "Dockerfile"),
		DockerContext: filepath.Join(dir, "api"),
		Repository:    "serverless-orders-prod",
		Unresolved:    []string{"environment.QUEUE_URL: ${ssm:/orders/queue-url} (known at deploy time)"},
	})
	w := fns["worker"]
	if !slices.Equal(w.ImageConfig.Command, []string{"missing.handler"}) || w.ImageConfig.WorkingDirectory != "/var/task" ||
		w.MemoryMB != 1024 || w.TimeoutSeconds != 10 || w.EphemeralStorageMB != 2048 || w.Environment["LOG_LEVEL"] != "debug" ||
		w.Dockerfile != filepath.Join(dir, "worker", "Dockerfile.worker") || w.Image != "docker:serverless-orders-prod:worker" {
		t.Errorf("worker: %#v", w)
	}
}

func TestDeployServerlessVariables(t *testing.T) {
	doc := map[string]any{"custom": map[string]any{"n": 3, "name": "x-${sls:stage}"}}
	sv := &slsVars{doc: doc, stage: "qa", region: "eu-north-1", getenv: func(k string) string {
		if k == "HOME_REGION" {
			return "eu-west-3"
		}
		return ""
	}}
	for in, want := range map[string]any{
		"${self:custom.n}":                  3,
		"a-${self:custom.name}":             "a-x-qa",
		"${env:HOME_REGION}":                "eu-west-3",
		"${env:NOPE, 'us-east-1'}":          "us-east-1",
		"${opt:region, ${env:HOME_REGION}}": "eu-west-3",
		"q-${aws:region}":                   "q-eu-north-1",
	} {
		got, err := sv.resolve(in)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"${env:NOPE}", "${self:custom.missing}", "${file(./x.yml)}", "${cf:stack.output}", "${aws:accountId}"} {
		if _, err := sv.resolve(in); err == nil {
			t.Errorf("%s resolved; want unresolved", in)
		}
	}
}

func TestDeployTerraform(t *testing.T) {
	path := filepath.Join("testdata", "terraform", "plan.json")
	fns := read(t, path, Options{})
	if len(fns) != 2 {
		t.Fatalf("want the two image functions (not the zip one), got %v", fns)
	}
	wantFn(t, fns["aws_lambda_function.api"], Function{
		ID: "aws_lambda_function.api", Name: "orders-api", Tool: "terraform", Source: path,
		Image:        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-api:v1",
		ImageConfig:  ImageConfig{Command: []string{"app.handler"}},
		Architecture: "x86_64", Environment: map[string]string{"LOG_LEVEL": "info"},
		MemoryMB: 512, TimeoutSeconds: 30, EphemeralStorageMB: 1024,
	})
	wantFn(t, fns["module.worker.aws_lambda_function.this"], Function{
		ID: "module.worker.aws_lambda_function.this", Name: "orders-worker", Tool: "terraform", Source: path,
		Image:        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-worker:v1",
		ImageConfig:  ImageConfig{Command: []string{"missing.handler"}, WorkingDirectory: "/var/task"},
		Architecture: "x86_64", MemoryMB: 1024, TimeoutSeconds: 3, EphemeralStorageMB: 512,
	})

	unknown := read(t, filepath.Join("testdata", "terraform", "plan-unknown.json"), Options{})
	p := unknown["aws_lambda_function.pending"]
	if p.Image != "" || !slices.Equal(p.Unresolved, []string{"environment.variables.QUEUE_URL: known after apply", "image_uri: known after apply"}) {
		t.Errorf("pending: image %q unresolved %q; want no image, and image_uri and QUEUE_URL unresolved", p.Image, p.Unresolved)
	}
}

func TestDeployIntrinsics(t *testing.T) {
	tmpl, err := decodeYAMLTemplate([]byte(`
Parameters:
  Env: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "a, b"}
  NoDefault: {Type: String}
  FromSSM: {Type: "AWS::SSM::Parameter::Value<String>", Default: /x}
Mappings:
  Sizes: {dev: {mem: 256}}
Conditions:
  IsDev: !Equals [!Ref Env, dev]
  NotDev: !Not [!Condition IsDev]
  Both: !And [!Condition IsDev, {"Fn::Equals": ["x", "x"]}]
  Unknown: !Equals [!Ref NoDefault, x]
Resources:
  R: {Type: AWS::S3::Bucket}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := newCFNContext(tmpl, map[string]string{}, "cn-north-1", "st")
	cases := []struct {
		expr string
		want any
	}{
		{`!Sub "${Env}-${AWS::Region}-${AWS::Partition}-${AWS::URLSuffix}-${!Literal}"`, "dev-cn-north-1-aws-cn-amazonaws.com.cn-${Literal}"},
		{`!Sub ["${A}/${AWS::StackName}", {A: !Ref Env}]`, "dev/st"},
		{`!If [NotDev, a, b]`, "b"},
		{`!If [Both, a, b]`, "a"},
		{`!Join ["-", [!Ref Env, x]]`, "dev-x"},
		{`!Select [1, !Ref Names]`, "b"},
		{`!Select [0, !Split [",", "p,q"]]`, "p"},
		{`!FindInMap [Sizes, !Ref Env, mem]`, 256},
		{`{"Fn::Sub": "${Env}"}`, "dev"},
	}
	for _, tc := range cases {
		v, err := parseExpr(t, tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.resolve(v)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, %v; want %#v", tc.expr, got, err, tc.want)
		}
	}
	for expr, want := range map[string]string{
		`!GetAtt R.Arn`:         "!GetAtt R.Arn",
		`!Ref R`:                "!Ref R (a resource, known once created)",
		`!Ref NoDefault`:        "!Ref NoDefault (a parameter without a default or an override)",
		`!Ref FromSSM`:          "!Ref FromSSM (an SSM parameter, read at deploy time)",
		`!Ref AWS::AccountId`:   "!Ref AWS::AccountId (a pseudo parameter known at deploy time)",
		`!If [Unknown, a, b]`:   "condition Unknown (!Ref NoDefault (a parameter without a default or an override))",
		`!Sub "${R.Arn}"`:       `!Sub "${R.Arn}" (${R.Arn}: !GetAtt R.Arn)`,
		`!ImportValue shared-x`: `!ImportValue "shared-x"`,
	} {
		v, err := parseExpr(t, expr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.resolve(v)
		u, ok := err.(*unresolved)
		if !ok || u.expr != want {
			t.Errorf("%s: error %v, want unresolved %q", expr, err, want)
		}
	}
	v, _ := parseExpr(t, `!Ref Nope`)
	if _, err := c.resolve(v); err == nil || strings.Contains(err.Error(), "known") {
		t.Errorf("!Ref to an undeclared name: %v, want a template error", err)
	}
}

func parseExpr(t *testing.T, expr string) (any, error) {
	t.Helper()
	m, err := decodeYAMLTemplate([]byte("v: " + expr))
	if err != nil {
		return nil, err
	}
	return m["v"], nil
}

func TestDeployOverridesSyntax(t *testing.T) {
	got, err := parseOverrides(`Stage="prod" Name='a b' ParameterKey=K,ParameterValue=V Plain=x`)
	want := map[string]string{"Stage": "prod", "Name": "a b", "K": "V", "Plain": "x"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if _, err := parseOverrides(`Stage="prod`); err == nil {
		t.Error("an unclosed quote parsed")
	}
}

func TestDeployErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, tc := range map[string]struct{ file, body, want string }{
		"not yaml":        {"template.yaml", "a: [", "template.yaml"},
		"no condition":    {"t4.yaml", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      PackageType: Image\n      ImageUri: x\n      Timeout: !If [Nope, 1, 2]\n", "F: Timeout: condition Nope is not in Conditions"},
		"undeclared ref":  {"t5.yaml", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      PackageType: Image\n      ImageUri: !Ref Nope\n", "ImageUri: !Ref Nope: no parameter or resource has this name"},
		"no resources":    {"t.yaml", "Description: x\n", "no Resources section"},
		"two arches":      {"t2.yaml", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      PackageType: Image\n      Architectures: [x86_64, arm64]\n", "list of one"},
		"bad arch":        {"t3.yaml", "Resources:\n  F:\n    Type: AWS::Lambda::Function\n    Properties:\n      PackageType: Image\n      Code: {ImageUri: x}\n      Architectures: [sparc]\n", `"sparc" is not x86_64 or arm64`},
		"unknown image":   {"serverless.yml", "service: s\nfunctions:\n  f:\n    image: nope\n", "provider.ecr.images does not define"},
		"not a plan":      {"x.txt", "", "not a deployment definition"},
		"bad samconfig":   {"samconfig.toml", "[default.deploy.parameters]\nparameter_overrides = 'A=\"x'\n", "unclosed"},
		"empty directory": {"", "", "no deployment definition found"},
	} {
		t.Run(name, func(t *testing.T) {
			p := dir
			if tc.file != "" {
				p = write(tc.file, tc.body)
			}
			if name == "bad samconfig" {
				p = write("template.yaml", "Resources: {}\n")
			}
			if name == "empty directory" {
				p = t.TempDir()
			}
			_, err := Read(p, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			os.Remove(filepath.Join(dir, "samconfig.toml"))
		})
	}
}

// A stage's stacks live in a nested assembly (cdk:cloud-assembly) whose
// directory holds its own manifest, templates and assets.
func TestDeployCDKNestedAssembly(t *testing.T) {
	root := t.TempDir()
	nested := filepath.Join(root, "assembly-Prod")
	if err := os.CopyFS(nested, os.DirFS(filepath.Join("testdata", "cdk", "cdk.out"))); err != nil {
		t.Fatal(err)
	}
	manifest := `{"version": "36.0.0", "artifacts": {
  "assembly-Prod": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Prod", "displayName": "Prod"}},
  "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}}`
	if err := os.WriteFile(filepath.Join(root, "manifest.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	fns := read(t, root, Options{})
	api := fns["ApiFunctionCE271BD4"]
	if len(fns) != 2 || api.Image != "docker:cdkasset-"+cdkA+":latest" || api.Dockerfile != filepath.Join(nested, "asset."+cdkA, "Dockerfile") {
		t.Errorf("nested assembly: %v", fns)
	}
}

// A CloudFormation template in JSON, read on its own: without the asset
// manifest, the ImageUri built from the account and region stays unknown.
func TestDeployCloudFormationJSON(t *testing.T) {
	path := filepath.Join("testdata", "cdk", "cdk.out", "LambdaStack.template.json")
	fns := read(t, path, Options{})
	api := fns["ApiFunctionCE271BD4"]
	if api.Tool != "cloudformation" || api.Image != "" || len(api.Unresolved) != 1 || !strings.HasPrefix(api.Unresolved[0], "ImageUri: !Sub ") ||
		!strings.Contains(api.Unresolved[0], "${AWS::AccountId}: !Ref AWS::AccountId (a pseudo parameter known at deploy time)") {
		t.Errorf("ApiFunction: %#v", api)
	}
	if !slices.Equal(api.ImageConfig.Command, []string{"app.handler"}) || api.MemoryMB != 1024 {
		t.Errorf("ApiFunction's properties: %#v", api)
	}
}

// terraform show -json of a state: values.root_module, no
// resource_changes.
func TestDeployTerraformState(t *testing.T) {
	state := `{"format_version": "1.0", "terraform_version": "1.9.5", "values": {"root_module": {"child_modules": [{"address": "module.fn", "resources": [
  {"address": "module.fn.aws_lambda_function.this", "mode": "managed", "type": "aws_lambda_function", "name": "this", "values": {
    "function_name": "fn", "package_type": "Image", "image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "architectures": ["arm64"], "image_config": [{"command": null, "entry_point": ["/bin/app"], "working_directory": ""}],
    "environment": [], "memory_size": 2048, "timeout": 900, "ephemeral_storage": [{"size": 10240}]}},
  {"address": "data.aws_lambda_function.other", "mode": "data", "type": "aws_lambda_function", "name": "other", "values": {"package_type": "Image", "image_uri": "x"}}]}]}}}`
	p := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(p, []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	fns := read(t, p, Options{})
	wantFn(t, fns["module.fn.aws_lambda_function.this"], Function{
		ID: "module.fn.aws_lambda_function.this", Name: "fn", Tool: "terraform", Source: p,
		Image:        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		ImageConfig:  ImageConfig{EntryPoint: []string{"/bin/app"}},
		Architecture: "arm64", MemoryMB: 2048, TimeoutSeconds: 900, EphemeralStorageMB: 10240,
	})
	if len(fns) != 1 {
		t.Errorf("a data source was read as a function: %v", fns)
	}
}
