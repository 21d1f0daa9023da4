package checks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// ricPyLayer is a python:3.12-style interpreter layer with an empty
// site-packages and /bin/sh.
func ricPyLayer() []testimage.File {
	return []testimage.File{
		testimage.Dir("bin", 0),
		testimage.Reg("bin/sh", 0o755, elf),
		testimage.Dir("usr", 0),
		testimage.Dir("usr/bin", 0),
		testimage.Reg("usr/bin/env", 0o755, elf),
		testimage.Dir("usr/local", 0),
		testimage.Dir("usr/local/bin", 0),
		testimage.Reg("usr/local/bin/python3.12", 0o755, elf),
		testimage.Symlink("usr/local/bin/python3", "python3.12"),
		testimage.Symlink("usr/local/bin/python", "python3"),
		testimage.Dir("usr/local/lib", 0),
		testimage.Dir("usr/local/lib/python3.12", 0),
		testimage.Dir("usr/local/lib/python3.12/site-packages", 0),
	}
}

// ricPySpec is a python image with app files in WORKDIR /var/task.
func ricPySpec(cfg v1.Config, app ...testimage.File) testimage.Spec {
	if cfg.Env == nil {
		cfg.Env = []string{dockerPATH}
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/var/task"
	}
	return testimage.Spec{
		Config:    cfg,
		Layers:    [][]testimage.File{ricPyLayer(), append([]testimage.File{testimage.Dir("var", 0), testimage.Dir("var/task", 0)}, app...)},
		CreatedBy: []string{"/bin/sh -c #(nop) ADD file:python in / ", "COPY . /var/task # buildkit"},
	}
}

// awslambdaricFiles installs awslambdaric into site-packages.
func awslambdaricFiles() []testimage.File {
	sp := "usr/local/lib/python3.12/site-packages/"
	return []testimage.File{
		testimage.Dir(sp+"awslambdaric", 0),
		testimage.Reg(sp+"awslambdaric/__init__.py", 0o644, ""),
		testimage.Reg(sp+"awslambdaric/__main__.py", 0o644, "from . import bootstrap\n"),
	}
}

const flaskApp = "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/')\ndef index():\n    return 'hi'\n\nif __name__ == '__main__':\n    app.run(host='0.0.0.0', port=8080)\n"

// npmFiles is node's bundled npm (version v) with npx linked on PATH.
func npmFiles(v string) []testimage.File {
	return []testimage.File{
		testimage.Dir("usr/local/lib", 0),
		testimage.Dir("usr/local/lib/node_modules", 0),
		testimage.Dir("usr/local/lib/node_modules/npm", 0),
		testimage.Reg("usr/local/lib/node_modules/npm/package.json", 0o644, `{"name":"npm","version":"`+v+`"}`),
		testimage.Dir("usr/local/lib/node_modules/npm/bin", 0),
		testimage.Reg("usr/local/lib/node_modules/npm/bin/npx-cli.js", 0o755, "#!/usr/bin/env node\nrequire('../lib/cli.js')(process)\n"),
		testimage.Reg("usr/local/lib/node_modules/npm/bin/npm-cli.js", 0o755, "#!/usr/bin/env node\nrequire('../lib/cli.js')(process)\n"),
		testimage.Symlink("usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js"),
		testimage.Symlink("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"),
	}
}

// nodeRICFiles installs aws-lambda-ric under dir/node_modules.
func nodeRICFiles(dir string) []testimage.File {
	nm := dir + "/node_modules"
	return []testimage.File{
		testimage.Dir(nm, 0),
		testimage.Dir(nm+"/aws-lambda-ric", 0),
		testimage.Reg(nm+"/aws-lambda-ric/package.json", 0o644, `{"name":"aws-lambda-ric","version":"3.3.0","bin":{"aws-lambda-ric":"bin/index.mjs"}}`),
		testimage.Dir(nm+"/aws-lambda-ric/bin", 0),
		testimage.Reg(nm+"/aws-lambda-ric/bin/index.mjs", 0o755, "#!/usr/bin/env node\nimport { run } from \"../dist/index.mjs\"\n"),
		testimage.Dir(nm+"/.bin", 0),
		testimage.Symlink(nm+"/.bin/aws-lambda-ric", "../aws-lambda-ric/bin/index.mjs"),
	}
}

// hasuraSpec is the seed: node:14-style image, WORKDIR
// /home/sbx_user1051/dist, ENTRYPOINT ["/usr/local/bin/npx",
// "aws-lambda-ric"], aws-lambda-ric installed in /home/sbx_user1051.
func hasuraSpec(npmVersion string, env ...string) testimage.Spec {
	files := append(npmFiles(npmVersion),
		testimage.Dir("home", 0),
		testimage.Dir("home/sbx_user1051", 0),
		testimage.Dir("home/sbx_user1051/dist", 0),
		testimage.Reg("home/sbx_user1051/package.json", 0o644, `{"name":"migrations","dependencies":{"aws-lambda-ric":"^2.0.0"}}`),
		testimage.Reg("home/sbx_user1051/dist/index.js", 0o644, "exports.runMigrations = async (event) => { return 'ok' }\n"),
	)
	files = append(files, nodeRICFiles("home/sbx_user1051")...)
	spec := simpleSpec(v1.Config{
		Env:        append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/home/sbx_user1051/hasura-cli"}, env...),
		Entrypoint: []string{"/usr/local/bin/npx", "aws-lambda-ric"},
		Cmd:        []string{"index.runMigrations"},
		WorkingDir: "/home/sbx_user1051/dist",
	}, files...)
	return spec
}

// goBinary compiles a tiny Go program (importing nothing) and returns its
// bytes; the test is skipped when no Go toolchain is available.
func goBinary(t *testing.T, src string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("compiles a Go program")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/server\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", "server", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRuntimeClient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		spec      testimage.Spec
		client    string
		lang      string
		handler   string
		undecided string // substring of the reason the analysis gives up
	}{
		{name: "AWS base image", spec: awsGoodSpec(), client: ClientAWSBase, lang: "python", handler: "app.handler"},
		{name: "python -m awslambdaric in WORKDIR", spec: pythonSpec(pythonConfig("/usr/local/bin/python", "-m", "awslambdaric")), client: ClientPython, lang: "python", handler: "app.handler"},
		{name: "ruby binstub", spec: rubySpec("/usr/local/bundle/bin/aws_lambda_ric"), client: ClientRuby, lang: "ruby", handler: "app.App::Handler.process"},
		{name: "hasura seed: npx aws-lambda-ric", spec: hasuraSpec("6.14.18"), client: ClientNode, lang: "nodejs", handler: "index.runMigrations"},
		{
			name: "node bin/index.mjs",
			spec: simpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node", "/var/task/node_modules/aws-lambda-ric/bin/index.mjs"}, Cmd: []string{"app.handler"}, WorkingDir: "/var/task"},
				append(nodeRICFiles("var/task"), testimage.Reg("var/task/app.js", 0o644, "exports.handler = async () => 1\n"))...),
			client: ClientNode, lang: "nodejs", handler: "app.handler",
		},
		{
			name: "node_modules/.bin/aws-lambda-ric as ENTRYPOINT",
			spec: simpleSpec(v1.Config{Entrypoint: []string{"/var/task/node_modules/.bin/aws-lambda-ric"}, Cmd: []string{"app.handler"}, WorkingDir: "/var/task"},
				append(nodeRICFiles("var/task"), testimage.Reg("var/task/app.js", 0o644, "exports.handler = async () => 1\n"))...),
			client: ClientNode, lang: "nodejs", handler: "app.handler",
		},
		{
			name: "java RIC",
			spec: simpleSpec(v1.Config{Entrypoint: []string{"/usr/bin/java", "-cp", "./*", javaRICClass}, Cmd: []string{"example.App::sayHello"}, WorkingDir: "/var/task"},
				testimage.Reg("usr/bin/java", 0o755, elf)),
			client: ClientJava, lang: "java", handler: "example.App::sayHello",
		},
		{
			name: "custom shell bootstrap polling the Runtime API (seed)",
			spec: simpleSpec(v1.Config{Entrypoint: []string{"/var/runtime/bootstrap"}, Cmd: []string{"function.handler"}},
				testimage.Dir("var/runtime", 0),
				testimage.Reg("var/runtime/bootstrap", 0o755, "#!/bin/sh\nset -euo pipefail\nsource $LAMBDA_TASK_ROOT/\"$(echo $_HANDLER | cut -d. -f1).sh\"\nwhile true\ndo\n  EVENT_DATA=$(curl -sS -LD \"$HEADERS\" -X GET \"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next\")\ndone\n")),
			client: ClientCustom, lang: "shell",
		},
		{
			name: "web adapter with node server.js",
			spec: simpleSpec(v1.Config{Cmd: []string{"node", "index.js"}, WorkingDir: "/var/task"},
				testimage.Reg("var/task/index.js", 0o644, "require('http').createServer((q, s) => s.end('hi')).listen(8080)\n"),
				testimage.Dir("opt", 0), testimage.Dir("opt/extensions", 0), testimage.Reg("opt/extensions/lambda-adapter", 0o755, elf)),
			client: ClientWebAdapter,
		},
		{
			name: "python app.py",
			spec: ricPySpec(v1.Config{Entrypoint: []string{"python", "app.py"}}, testimage.Reg("var/task/app.py", 0o644, flaskApp)),
		},
		{
			name: "RIE wrapper script passing \"$@\" (RIC README)",
			spec: func() testimage.Spec {
				spec := pyRICSpec("/var/task", "", testimage.Reg("var/task/app.py", 0o644, pyHandler),
					testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nif [ -z \"${AWS_LAMBDA_RUNTIME_API}\" ]; then\n  exec /usr/local/bin/aws-lambda-rie /usr/local/bin/python -m awslambdaric \"$@\"\nelse\n  exec /usr/local/bin/python -m awslambdaric \"$@\"\nfi\n"))
				spec.Config.Entrypoint = []string{"/entry.sh"}
				spec.Config.Cmd = []string{"app.handler"}
				return spec
			}(),
			client: ClientPython, lang: "python", handler: "app.handler",
		},
		{
			name: "uvicorn console script",
			spec: func() testimage.Spec {
				spec := ricPySpec(v1.Config{Cmd: []string{"uvicorn", "main:app", "--host", "0.0.0.0"}}, testimage.Reg("var/task/main.py", 0o644, "from fastapi import FastAPI\napp = FastAPI()\n"))
				spec.Layers[0] = append(spec.Layers[0], testimage.Reg("usr/local/bin/uvicorn", 0o755, "#!/usr/local/bin/python3.12\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom uvicorn.main import main\nif __name__ == '__main__':\n    sys.exit(main())\n"))
				return spec
			}(),
		},
		{
			name: "console script of a package that runs awslambdaric",
			spec: func() testimage.Spec {
				sp := "usr/local/lib/python3.12/site-packages/"
				spec := ricPySpec(v1.Config{Cmd: []string{"myfn", "app.handler"}})
				spec.Layers[0] = append(spec.Layers[0], awslambdaricFiles()...)
				spec.Layers[0] = append(spec.Layers[0],
					testimage.Reg("usr/local/bin/myfn", 0o755, "#!/usr/local/bin/python3.12\nimport sys\nfrom myfn.cli import main\nsys.exit(main())\n"),
					testimage.Dir(sp+"myfn", 0), testimage.Reg(sp+"myfn/__init__.py", 0o644, ""),
					testimage.Reg(sp+"myfn/cli.py", 0o644, "from awslambdaric.__main__ import main as ric\n\ndef main():\n    ric(['x', 'app.handler'])\n"))
				return spec
			}(),
			client: ClientPython, lang: "python",
		},
		{
			name: "web adapter under another name",
			spec: simpleSpec(v1.Config{Cmd: []string{"node", "index.js"}, WorkingDir: "/var/task"},
				testimage.Reg("var/task/index.js", 0o644, "require('http').createServer((q, s) => s.end('hi')).listen(8080)\n"),
				testimage.Dir("opt", 0), testimage.Dir("opt/extensions", 0), testimage.Reg("opt/extensions/aws-lambda-web-adapter", 0o755, elf)),
			client: ClientWebAdapter,
		},
		{
			name:      "UPX-packed binary",
			spec:      simpleSpec(v1.Config{Entrypoint: []string{"/app"}}, testimage.Reg("app", 0o755, elf+"\x00UPX!\x00")),
			undecided: "is packed",
		},
		{
			name: "wrapper exec of a variable",
			spec: simpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
				testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexec $APP_CMD\n")),
			undecided: "only known at run time",
		},
		{
			name: "java -jar",
			spec: simpleSpec(v1.Config{Entrypoint: []string{"/usr/bin/java", "-jar", "/app.jar"}},
				testimage.Reg("usr/bin/java", 0o755, elf), testimage.Reg("app.jar", 0o644, "PK")),
			undecided: "not inspected",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, tc.spec, "amd64")
			a := tg.ric()
			got := tg.RuntimeClient()
			if got.Name != tc.client || got.Language != tc.lang {
				t.Fatalf("client %q/%q, want %q/%q (undecided %q, missing %q, why %q, chain %s)", got.Name, got.Language, tc.client, tc.lang, a.Undecided, a.Missing, a.Why, chainSummary(tg.Chain()))
			}
			if tc.handler != "" && (!a.Handler.Set || a.Handler.Value != tc.handler) {
				t.Errorf("handler %+v, want %q", a.Handler, tc.handler)
			}
			if !strings.Contains(a.Undecided, tc.undecided) || (tc.undecided == "" && a.Undecided != "") {
				t.Errorf("undecided %q, want %q", a.Undecided, tc.undecided)
			}
			if got.Name != "" && len(got.Evidence) == 0 {
				t.Errorf("no evidence")
			}
		})
	}
}

// TestLD401Undecided: when the chain cannot be followed, LD401 is skipped,
// never failed.
func TestLD401Undecided(t *testing.T) {
	for name, spec := range map[string]testimage.Spec{
		"exec of a variable": simpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
			testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexec $APP_CMD\n")),
		"script without exec": simpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
			testimage.Reg("entry.sh", 0o755, "#!/bin/sh\ncd /var/task\npython app.py\n")),
		"tini starting a binary given as an argument": simpleSpec(v1.Config{Entrypoint: []string{"/usr/bin/tini", "--"}, Cmd: []string{"/var/task/run.sh"}},
			testimage.Reg("usr/bin/tini", 0o755, elf), testimage.Reg("var/task/run.sh", 0o755, "#!/bin/sh\nexec \"$@\"\n")),
		"missing entrypoint": simpleSpec(v1.Config{Entrypoint: []string{"/nope"}}),
	} {
		t.Run(name, func(t *testing.T) {
			res := runOne(context.Background(), MustLookup("LD401"), newTarget(t, spec, "amd64"))
			if res.Status != StatusSkipped {
				t.Fatalf("status %s (%s), want skipped; findings %+v", res.Status, res.Err, res.Findings)
			}
		})
	}
}

func TestBinaryClientGo(t *testing.T) {
	bin := goBinary(t, "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n")
	spec := simpleSpec(v1.Config{Entrypoint: []string{"/server"}}, testimage.Reg("server", 0o755, bin))
	tg := newTarget(t, spec, "amd64")
	a := tg.ric()
	if a.Client.Name != "" || a.Lang != "go" {
		t.Fatalf("client %+v lang %q undecided %q", a.Client, a.Lang, a.Undecided)
	}
	res := runOne(context.Background(), MustLookup("LD401"), tg)
	if res.Status != StatusFailed || !strings.Contains(res.Findings[0].Message, "Go binary /server") || !strings.Contains(res.Findings[0].Fix, "lambda.Start") {
		t.Fatalf("%s %s %+v", res.Status, res.Err, res.Findings)
	}
	// The same binary reading AWS_LAMBDA_RUNTIME_API is a custom client.
	bin = goBinary(t, "package main\n\nimport (\n\t\"net/http\"\n\t\"os\"\n)\n\nfunc main() { http.Get(\"http://\" + os.Getenv(\"AWS_LAMBDA_RUNTIME_API\") + \"/2018-06-01/runtime/invocation/next\") }\n")
	tg = newTarget(t, simpleSpec(v1.Config{Entrypoint: []string{"/server"}}, testimage.Reg("server", 0o755, bin)), "amd64")
	if got := tg.RuntimeClient(); got.Name != ClientCustom || got.Language != "go" {
		t.Fatalf("client %+v", got)
	}
}

// TestLD403ShellFormSkipped: a shell-form ENTRYPOINT drops CMD; that is
// LD204's finding, not a missing handler.
func TestLD403ShellFormSkipped(t *testing.T) {
	spec := pyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, pyHandler))
	spec.Config.Entrypoint = []string{"/bin/sh", "-c", "/usr/local/bin/python -m awslambdaric"}
	tg := newTarget(t, spec, "amd64")
	if got := tg.RuntimeClient(); got.Name != ClientPython {
		t.Fatalf("client %+v (chain %s)", got, chainSummary(tg.Chain()))
	}
	res := runOne(context.Background(), MustLookup("LD403"), tg)
	if res.Status != StatusSkipped || !strings.Contains(res.Err, "CMD is set but does not reach the client") {
		t.Fatalf("status %s (%s), findings %+v", res.Status, res.Err, res.Findings)
	}
}
