package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// nginxSpec is a plain nginx image: CMD ["nginx", "-g", "daemon off;"].
func nginxSpec(extra ...testimage.File) testimage.Spec {
	return fixtures.SimpleSpec(v1.Config{
		Entrypoint: []string{"/docker-entrypoint.sh"},
		Cmd:        []string{"nginx", "-g", "daemon off;"},
	}, append([]testimage.File{
		testimage.Reg("docker-entrypoint.sh", 0o755, "#!/bin/sh\nset -e\nif [ -z \"${NGINX_ENTRYPOINT_QUIET_LOGS:-}\" ]; then\n  exec 3>&1\nfi\nexec \"$@\"\n"),
		testimage.Dir("usr/sbin", 0),
		testimage.Reg("usr/sbin/nginx", 0o755, fixtures.ELFStub+"nginx version: nginx/1.27.0"),
	}, extra...)...)
}

var ld401Cases = []checkCase{
	{
		// npm install -g with NPM_CONFIG_PREFIX=/root/.npm-global, as root.
		name: "node runs an aws-lambda-ric installed under /root (mode 0700)",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, npmGlobalSpec(0o700), "amd64")
		},
		verify: expect(Error,
			[]string{"The entrypoint runs /usr/local/bin/node on the aws-lambda-ric script /root/.npm-global/lib/node_modules/aws-lambda-ric/bin/index.mjs, which Lambda's user cannot read: the sandbox user (uid 993, gid 990) has no search (execute) permission on directory /root", "Runtime exited with error: exit status 1"},
			nil, []string{"RUN npm install --prefix /var/task aws-lambda-ric"}),
	},
	{
		name:   "the twin: the same prefix with /root mode 0755",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, npmGlobalSpec(0o755), "amd64") },
	},
	{
		// The function jar built without its runtime dependencies.
		name: "java: the client's main class is on no class path entry",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.JavaSpec(testimage.Reg("function/app.jar", 0o644, fixtures.Jar("example/Handler.class"))), "amd64")
		},
		verify: expect(Error,
			[]string{"The entrypoint runs /usr/bin/java with the main class com.amazonaws.services.lambda.runtime.api.client.AWSLambda, but no entry of its class path (/function/*) holds that class", "Error: Could not find or load main class com.amazonaws.services.lambda.runtime.api.client.AWSLambda"},
			[]string{"class path searched: /function/app.jar (1 entries)"},
			[]string{"aws-lambda-java-runtime-interface-client"}),
	},
	{
		name: "java: the twin, with the client's jar in /function",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.JavaSpec(testimage.Reg("function/app.jar", 0o644, fixtures.Jar("example/Handler.class")),
				testimage.Reg("function/aws-lambda-java-runtime-interface-client-2.6.0.jar", 0o644, fixtures.Jar(fixtures.JavaRICClass))), "amd64")
		},
	},
	{
		// A manifest Class-Path extends the class path: not judged.
		name: "java: a jar whose manifest extends the class path",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.JavaSpec(testimage.Reg("function/app.jar", 0o644, fixtures.Jar("example/Handler.class", "META-INF/MANIFEST.MF=Manifest-Version: 1.0\nClass-Path: lib/ric.jar\n"))), "amd64")
		},
	},
	{
		// pip install --user as root: Lambda's python has another HOME.
		name: "python -m awslambdaric installed with pip install --user as root",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyUserSiteSpec(0o755, "app.handler"), "amd64")
		},
		verify: expect(Error,
			[]string{"awslambdaric is installed only at /root/.local/lib/python3.12/site-packages, where python does not look under Lambda", "No module named awslambdaric", "it is the user site-packages of HOME=/root (pip install --user)", "the image sets no ENV HOME, so under Lambda HOME is /home/sbx_user1051 (observed, not documented)"},
			[]string{"looked for awslambdaric in /var/task, /usr/local/lib/python3.12/site-packages", "awslambdaric is at /root/.local/lib/python3.12/site-packages/awslambdaric, where python does not look under Lambda"},
			[]string{"RUN /usr/local/bin/python -m pip install --target /var/task awslambdaric", "not pip install --user"}),
	},
	{
		// ENV HOME=/root points python at the user site, but /root is 0700.
		name: "pip install --user as root with ENV HOME=/root, /root mode 0700",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyUserSiteSpec(0o700, "app.handler", "HOME=/root"), "amd64")
		},
		verify: expect(Error,
			[]string{"awslambdaric is installed only at /root/.local/lib/python3.12/site-packages", "python cannot list it under Lambda: the sandbox user (uid 993, gid 990) has no search (execute) permission on directory /root (mode 0700, owner 0:0)"},
			nil, nil),
	},
	{
		// The twin of both: ENV HOME=/root and a /root Lambda's user can
		// search, so python adds the user site.
		name: "pip install --user as root with ENV HOME=/root and /root mode 0755",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyUserSiteSpec(0o755, "app.handler", "HOME=/root"), "amd64")
		},
	},
	{
		name: "pip install --user with ENV PYTHONUSERBASE=/root/.local, /root mode 0755",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyUserSiteSpec(0o755, "app.handler", "PYTHONUSERBASE=/root/.local"), "amd64")
		},
	},
	{
		name: "python app.py: a Flask script, no client",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RICPySpec(v1.Config{Entrypoint: []string{"python", "app.py"}}, testimage.Reg("var/task/app.py", 0o644, fixtures.FlaskApp)), "amd64")
		},
		verify: expect(Error,
			[]string{"Nothing the image starts implements the Lambda Runtime API", "/usr/local/bin/python3.12 running /var/task/app.py", "python -m awslambdaric", "Runtime exited without providing a reason", "Runtime.ExitError", "times out"},
			[]string{`config.Entrypoint=["python", "app.py"]`, "scanned 1 python file(s) in /var/task (app.py)", "no /opt/extensions/lambda-adapter in the image", "/var/task/app.py: regular file, mode 0644, owner 0:0, from layer 1 (COPY . /var/task)"},
			[]string{`RUN /usr/local/bin/python -m pip install --target /var/task awslambdaric`, `ENTRYPOINT ["/usr/local/bin/python", "-m", "awslambdaric"]`, `CMD ["app.handler"]`, analyze.WebAdapterCopy}),
	},
	{
		name: "node server.js without the web adapter",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"node", "server.js"}, WorkingDir: "/var/task"},
				testimage.Reg("var/task/server.js", 0o644, "const express = require('express')\nconst app = express()\napp.get('/', (q, s) => s.send('hi'))\napp.listen(3000)\n"),
				testimage.Reg("var/task/package.json", 0o644, `{"dependencies":{"express":"^4"}}`)), "amd64")
		},
		verify: expect(Error,
			[]string{"/usr/local/bin/node running /var/task/server.js", "aws-lambda-ric"},
			[]string{"scanned 2 nodejs file(s) in /var/task (server.js, package.json)"},
			[]string{`RUN npm install --prefix /var/task aws-lambda-ric`, `ENTRYPOINT ["/usr/local/bin/node", "/var/task/node_modules/aws-lambda-ric/bin/index.mjs"]`, `CMD ["server.handler"]`, analyze.WebAdapterCopy}),
	},
	{
		name:   "plain nginx image",
		kind:   catches,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, nginxSpec(), "amd64") },
		verify: expect(Error,
			[]string{"the binary /usr/sbin/nginx, which does not mention the Runtime API"},
			[]string{"entrypoint chain: ENTRYPOINT /docker-entrypoint.sh -> #! /bin/sh (/bin/dash) -> exec target nginx (/usr/sbin/nginx)", "/usr/sbin/nginx (47 bytes) contains neither"},
			[]string{analyze.WebAdapterCopy}),
	},
	{
		name: "FastAPI served by uvicorn, no web adapter",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.RICPySpec(v1.Config{Cmd: []string{"uvicorn", "main:app", "--host", "0.0.0.0"}}, testimage.Reg("var/task/main.py", 0o644, "from fastapi import FastAPI\napp = FastAPI()\n"))
			spec.Layers[0] = append(spec.Layers[0], testimage.Reg("usr/local/bin/uvicorn", 0o755, "#!/usr/local/bin/python3.12\nimport sys\nfrom uvicorn.main import main\nsys.exit(main())\n"))
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{"running /usr/local/bin/uvicorn"},
			[]string{"/usr/local/bin/uvicorn is the command-line entry of uvicorn, a web server, which never polls the Runtime API"},
			[]string{"add the Lambda Web Adapter: " + analyze.WebAdapterCopy}),
	},
	{
		name: "python -m awslambdaric without the package",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RICPySpec(v1.Config{Entrypoint: []string{"/usr/local/bin/python", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}},
				testimage.Reg("var/task/app.py", 0o644, "def handler(e, c):\n    return 1\n")), "amd64")
		},
		verify: expect(Error,
			[]string{"The entrypoint runs /usr/local/bin/python -m awslambdaric, but there is no awslambdaric package in the directories that python searches", "No module named awslambdaric", "exit status 1", "unconfirmed"},
			[]string{"looked for awslambdaric in /var/task, /usr/local/lib/python3.12/site-packages"},
			[]string{"RUN /usr/local/bin/python -m pip install --target /var/task awslambdaric"}),
	},
	{
		name: "awslambdaric installed for another python",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.RICPySpec(v1.Config{Entrypoint: []string{"/usr/local/bin/python", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}},
				testimage.Reg("var/task/app.py", 0o644, "def handler(e, c):\n    return 1\n"),
				testimage.Dir("usr/lib", 0), testimage.Dir("usr/lib/python3.11", 0), testimage.Dir("usr/lib/python3.11/site-packages", 0),
				testimage.Dir("usr/lib/python3.11/site-packages/awslambdaric", 0), testimage.Reg("usr/lib/python3.11/site-packages/awslambdaric/__init__.py", 0o644, ""))
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{"A copy is installed at /usr/lib/python3.11/site-packages/awslambdaric"},
			[]string{"python-awslambdaric found at /usr/lib/python3.11/site-packages/awslambdaric (layer 1 (COPY . /var/task))"},
			[]string{"RUN /usr/local/bin/python -m pip install --target /var/task awslambdaric"}),
	},
	{
		name: "provided base image without /var/runtime/bootstrap",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AWSGoodSpec()
			var files []testimage.File
			for _, f := range spec.Layers[0] {
				if f.Path != "var/runtime/bootstrap" && f.Path != "var/lang/bin/python3.12" && f.Path != "var/lang/bin/python3" {
					files = append(files, f)
				}
			}
			spec.Layers[0] = files
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{"/lambda-entrypoint.sh runs /var/runtime/bootstrap, which does not exist in this image", "exit status 127", "inferred"},
			[]string{"entrypoint chain: ENTRYPOINT /lambda-entrypoint.sh"},
			[]string{"COPY bootstrap /var/runtime/bootstrap"}),
	},
	{
		name: "npx aws-lambda-ric with nothing installed",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/npx", "aws-lambda-ric"}, Cmd: []string{"index.handler"}, WorkingDir: "/var/task"},
				append(fixtures.NPMFiles("10.8.2"), testimage.Reg("var/task/index.js", 0o644, "exports.handler = async () => 1\n"))...), "amd64")
		},
		verify: expect(Error,
			[]string{"The entrypoint runs npx aws-lambda-ric, but no aws-lambda-ric is installed where npx looks", "EROFS", "exit status 226"},
			[]string{"entrypoint chain: ENTRYPOINT /usr/local/bin/npx (/usr/local/lib/node_modules/npm/bin/npx-cli.js)"},
			[]string{`RUN npm install --prefix /var/task aws-lambda-ric, then ENTRYPOINT ["/usr/local/bin/node", "/var/task/node_modules/aws-lambda-ric/bin/index.mjs"]`}),
	},
	{
		name:   "AWS base image",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSGoodSpec(), "amd64") },
	},
	{
		name:   "python RIC as its README says",
		kind:   clean,
		target: pythonTarget("/usr/local/bin/python", "-m", "awslambdaric"),
	},
	{
		name: "Ruby RIC at the path gem install used (seed, fixed)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric"), "amd64")
		},
	},
	{
		name:   "hasura seed: npx runs the installed aws-lambda-ric",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.HasuraSpec("6.14.18"), "amd64") },
	},
	{
		name: "custom shell bootstrap polling the Runtime API (seed)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/runtime/bootstrap"}, Cmd: []string{"function.handler"}},
				testimage.Dir("var/runtime", 0),
				testimage.Reg("var/runtime/bootstrap", 0o755, "#!/bin/sh\nwhile true\ndo\n  EVENT_DATA=$(curl -sS -X GET \"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next\")\ndone\n")), "amd64")
		},
	},
	{
		name: "nginx with the Lambda Web Adapter",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, nginxSpec(testimage.Dir("opt", 0), testimage.Dir("opt/extensions", 0), testimage.Reg("opt/extensions/lambda-adapter", 0o755, fixtures.ELFStub)), "amd64")
		},
	},
	{
		name: "python script that imports awslambdaric itself",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RICPySpec(v1.Config{Entrypoint: []string{"python", "main.py"}},
				testimage.Reg("var/task/main.py", 0o644, "import sys\nfrom runner import start\nstart()\n"),
				testimage.Reg("var/task/runner.py", 0o644, "from awslambdaric import bootstrap\n\ndef start():\n    bootstrap.run('app.handler', None)\n")), "amd64")
		},
	},
}

// npmGlobalSpec installs aws-lambda-ric under NPM_CONFIG_PREFIX=/root/.npm-global
// (/root with mode rootMode) and runs its script with node.
func npmGlobalSpec(rootMode int64) testimage.Spec {
	const nm = "root/.npm-global/lib/node_modules"
	files := []testimage.File{testimage.Dir("root", rootMode), testimage.Dir("root/.npm-global", 0), testimage.Dir("root/.npm-global/lib", 0)}
	for _, f := range fixtures.NodeRICFiles("root/.npm-global/lib") {
		if f.Path != nm { // NodeRICFiles makes the node_modules directory
			files = append(files, f)
		} else {
			files = append(files, testimage.Dir(nm, 0))
		}
	}
	files = append(files, testimage.Reg("var/task/index.js", 0o644, "exports.handler = async () => 1\n"))
	return fixtures.SimpleSpec(v1.Config{
		Env:        []string{fixtures.DockerPATH, "NPM_CONFIG_PREFIX=/root/.npm-global"},
		Entrypoint: []string{"/usr/local/bin/node", "/root/.npm-global/lib/node_modules/aws-lambda-ric/bin/index.mjs"},
		Cmd:        []string{"index.handler"},
		WorkingDir: "/var/task",
	}, files...)
}
