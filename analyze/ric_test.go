package analyze

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

func TestRuntimeClient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		spec      testimage.Spec
		client    string
		lang      string
		handler   string
		undecided string // substring of the reason the analysis gives up
	}{
		{name: "AWS base image", spec: fixtures.AWSGoodSpec(), client: ClientAWSBase, lang: "python", handler: "app.handler"},
		{name: "python -m awslambdaric in WORKDIR", spec: fixtures.PythonSpec(fixtures.PythonConfig("/usr/local/bin/python", "-m", "awslambdaric")), client: ClientPython, lang: "python", handler: "app.handler"},
		{name: "ruby binstub", spec: fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric"), client: ClientRuby, lang: "ruby", handler: "app.App::Handler.process"},
		{name: "hasura seed: npx aws-lambda-ric", spec: fixtures.HasuraSpec("6.14.18"), client: ClientNode, lang: "nodejs", handler: "index.runMigrations"},
		{
			name: "node bin/index.mjs",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node", "/var/task/node_modules/aws-lambda-ric/bin/index.mjs"}, Cmd: []string{"app.handler"}, WorkingDir: "/var/task"},
				append(fixtures.NodeRICFiles("var/task"), testimage.Reg("var/task/app.js", 0o644, "exports.handler = async () => 1\n"))...),
			client: ClientNode, lang: "nodejs", handler: "app.handler",
		},
		{
			name: "node_modules/.bin/aws-lambda-ric as ENTRYPOINT",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/node_modules/.bin/aws-lambda-ric"}, Cmd: []string{"app.handler"}, WorkingDir: "/var/task"},
				append(fixtures.NodeRICFiles("var/task"), testimage.Reg("var/task/app.js", 0o644, "exports.handler = async () => 1\n"))...),
			client: ClientNode, lang: "nodejs", handler: "app.handler",
		},
		{
			name: "java RIC",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/bin/java", "-cp", "./*", javaRICClass}, Cmd: []string{"example.App::sayHello"}, WorkingDir: "/var/task"},
				testimage.Reg("usr/bin/java", 0o755, fixtures.ELFStub),
				testimage.Reg("var/task/aws-lambda-java-runtime-interface-client-2.6.0.jar", 0o644, fixtures.Jar(fixtures.JavaRICClass))),
			client: ClientJava, lang: "java", handler: "example.App::sayHello",
		},
		{
			name: "custom shell bootstrap polling the Runtime API (seed)",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/runtime/bootstrap"}, Cmd: []string{"function.handler"}},
				testimage.Dir("var/runtime", 0),
				testimage.Reg("var/runtime/bootstrap", 0o755, "#!/bin/sh\nset -euo pipefail\nsource $LAMBDA_TASK_ROOT/\"$(echo $_HANDLER | cut -d. -f1).sh\"\nwhile true\ndo\n  EVENT_DATA=$(curl -sS -LD \"$HEADERS\" -X GET \"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next\")\ndone\n")),
			client: ClientCustom, lang: "shell",
		},
		{
			name: "web adapter with node server.js",
			spec: fixtures.SimpleSpec(v1.Config{Cmd: []string{"node", "index.js"}, WorkingDir: "/var/task"},
				testimage.Reg("var/task/index.js", 0o644, "require('http').createServer((q, s) => s.end('hi')).listen(8080)\n"),
				testimage.Dir("opt", 0), testimage.Dir("opt/extensions", 0), testimage.Reg("opt/extensions/lambda-adapter", 0o755, fixtures.ELFStub)),
			client: ClientWebAdapter,
		},
		{
			name: "python app.py",
			spec: fixtures.RICPySpec(v1.Config{Entrypoint: []string{"python", "app.py"}}, testimage.Reg("var/task/app.py", 0o644, fixtures.FlaskApp)),
		},
		{
			name: "RIE wrapper script passing \"$@\" (RIC README)",
			spec: func() testimage.Spec {
				spec := fixtures.PyRICSpec("/var/task", "", testimage.Reg("var/task/app.py", 0o644, fixtures.PyHandler),
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
				spec := fixtures.RICPySpec(v1.Config{Cmd: []string{"uvicorn", "main:app", "--host", "0.0.0.0"}}, testimage.Reg("var/task/main.py", 0o644, "from fastapi import FastAPI\napp = FastAPI()\n"))
				spec.Layers[0] = append(spec.Layers[0], testimage.Reg("usr/local/bin/uvicorn", 0o755, "#!/usr/local/bin/python3.12\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom uvicorn.main import main\nif __name__ == '__main__':\n    sys.exit(main())\n"))
				return spec
			}(),
		},
		{
			name: "console script of a package that runs awslambdaric",
			spec: func() testimage.Spec {
				sp := "usr/local/lib/python3.12/site-packages/"
				spec := fixtures.RICPySpec(v1.Config{Cmd: []string{"myfn", "app.handler"}})
				spec.Layers[0] = append(spec.Layers[0], fixtures.AWSLambdaRICFiles()...)
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
			spec: fixtures.SimpleSpec(v1.Config{Cmd: []string{"node", "index.js"}, WorkingDir: "/var/task"},
				testimage.Reg("var/task/index.js", 0o644, "require('http').createServer((q, s) => s.end('hi')).listen(8080)\n"),
				testimage.Dir("opt", 0), testimage.Dir("opt/extensions", 0), testimage.Reg("opt/extensions/aws-lambda-web-adapter", 0o755, fixtures.ELFStub)),
			client: ClientWebAdapter,
		},
		{
			name:      "UPX-packed binary",
			spec:      fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/app"}}, testimage.Reg("app", 0o755, fixtures.ELFStub+"\x00UPX!\x00")),
			undecided: "is packed",
		},
		{
			name: "wrapper exec of a variable",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
				testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexec $APP_CMD\n")),
			undecided: "only known at run time",
		},
		{
			name: "java -jar",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/bin/java", "-jar", "/app.jar"}},
				testimage.Reg("usr/bin/java", 0o755, fixtures.ELFStub), testimage.Reg("app.jar", 0o644, "PK")),
			undecided: "not inspected",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, tc.spec, "amd64")
			a := tg.RIC()
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
