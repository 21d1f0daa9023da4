package checks

import (
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

var ld402Cases = []checkCase{
	{
		// aws-lambda-ric 2.x never tries .mjs.
		name: "node: index.mjs with aws-lambda-ric 2.1.0",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, editFiles(fixtures.NodeRICSpec("/var/task", "index.handler", testimage.Reg("var/task/index.mjs", 0o644, "export const handler = async () => 1\n")),
				"aws-lambda-ric/package.json", testimage.Reg("var/task/node_modules/aws-lambda-ric/package.json", 0o644, `{"name":"aws-lambda-ric","version":"2.1.0","main":"lib/index.js","bin":{"aws-lambda-ric":"bin/index.js"}}`)), "amd64")
		},
		verify: expect(Error,
			[]string{"Cannot find module 'index'", "aws-lambda-ric 2.x loads only /var/task/index and /var/task/index.js"},
			[]string{"tried /var/task/index, /var/task/index.js,"},
			[]string{"npm install aws-lambda-ric@3"}),
	},
	{
		name: "node: the twin, index.mjs with aws-lambda-ric 3.3.0",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler", testimage.Reg("var/task/index.mjs", 0o644, "export const handler = async () => 1\n")), "amd64")
		},
	},
	{
		name: "node: an ES module that exports main, not handler",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/index.mjs", 0o644, "import { S3Client } from '@aws-sdk/client-s3'\nconst s3 = new S3Client({})\nexport const main = async (event) => ({ statusCode: 200 })\n")), "amd64")
		},
		verify: expect(Error,
			[]string{`CMD names "index.handler", but /var/task/index.mjs is an ES module that does not export "handler" (it exports main)`, `"Runtime.HandlerNotFound: index.handler is undefined or not exported"`},
			[]string{"Node.js loads /var/task/index.mjs as an ES module (its extension is .mjs); esbuild's parse lists its exports: main"},
			[]string{`CMD ["index.main"] (/var/task/index.mjs exports main)`}),
	},
	{
		name: "node: the twin, an ES module that exports handler",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/index.mjs", 0o644, "import { S3Client } from '@aws-sdk/client-s3'\nconst s3 = new S3Client({})\nexport const handler = async (event) => ({ statusCode: 200 })\n")), "amd64")
		},
	},
	{
		// aws-lambda-ric 3.x reads the namespace, not the default export.
		name: "node: type module, export default { handler }, aws-lambda-ric 3.3.0",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/package.json", 0o644, `{"name":"fn","type":"module"}`),
				testimage.Reg("var/task/index.js", 0o644, "const handler = async (event) => ({ statusCode: 200 })\nexport default { handler }\n")), "amd64")
		},
		verify: expect(Error,
			[]string{`/var/task/index.js is an ES module that does not export "handler" (it exports default)`},
			[]string{`Node.js loads /var/task/index.js as an ES module (/var/task/package.json says "type": "module")`, "aws-lambda-ric 3.x looks the name up on the module namespace only"},
			[]string{"export const handler"}),
	},
	{
		// aws-lambda-ric 4 falls back to the default export.
		name: "node: type module, export default { handler }, aws-lambda-ric 4.0.2",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := editFiles(fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/package.json", 0o644, `{"name":"fn","type":"module"}`),
				testimage.Reg("var/task/index.js", 0o644, "const handler = async (event) => ({ statusCode: 200 })\nexport default { handler }\n")),
				"aws-lambda-ric/package.json", testimage.Reg("var/task/node_modules/aws-lambda-ric/package.json", 0o644, `{"name":"aws-lambda-ric","version":"4.0.2","main":"index.mjs","bin":{"aws-lambda-ric":"bin/index.mjs"}}`))
			return newTarget(t, spec, "amd64")
		},
	},
	{
		name: "node: CommonJS file that defines handler but never exports it",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/index.js", 0o644, "const AWS = require('aws-sdk')\nconst handler = async (event) => {\n  return { statusCode: 200 }\n}\n")), "amd64")
		},
		verify: expect(Error,
			[]string{"/var/task/index.js never assigns module.exports or exports, so it exports nothing", "index.handler is undefined or not exported"},
			[]string{"esbuild's parse finds no import/export and no use of module, exports or top-level this"},
			nil),
	},
	{
		name: "node: the twin, CommonJS with exports.handler",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/index.js", 0o644, "const AWS = require('aws-sdk')\nconst handler = async (event) => {\n  return { statusCode: 200 }\n}\nexports.handler = handler\n")), "amd64")
		},
	},
	{
		name: "node: an ES module re-exporting handler with export *",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/index.mjs", 0o644, "export * from './impl.mjs'\n"),
				testimage.Reg("var/task/impl.mjs", 0o644, "export const handler = async () => 1\n")), "amd64")
		},
	},
	{
		name: "node: ES module exporting handler through an export list",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/index.mjs", 0o644, "async function main(event) { return 1 }\nexport { main as handler }\n")), "amd64")
		},
	},
	{
		name: "python: the handler's package installed with pip install --user as root",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PyUserSiteSpec(0o755, "mylib.entry.handler")
			// awslambdaric itself where python looks.
			spec.Layers[0] = append(spec.Layers[0], fixtures.AWSLambdaRICFiles()...)
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{`finds no module "mylib.entry"`, "Unable to import module 'mylib.entry': No module named 'mylib'", "A copy is at /root/.local/lib/python3.12/site-packages/mylib/entry.py, which does not count: it is the user site-packages of HOME=/root"},
			[]string{"/root/.local/lib/python3.12/site-packages/mylib/entry.py exists, but python does not search there under Lambda"},
			nil),
	},
	{
		name: "python: the handler's package in the user site of ENV HOME=/root (mode 0755)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PyUserSiteSpec(0o755, "mylib.entry.handler", "HOME=/root")
			spec.Layers[0] = append(spec.Layers[0], fixtures.AWSLambdaRICFiles()...)
			return newTarget(t, spec, "amd64")
		},
	},
	{
		name: "python RIC: app.py is in a subdirectory of WORKDIR",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "app.handler", testimage.Dir("var/task/src", 0), testimage.Reg("var/task/src/app.py", 0o644, fixtures.PyHandler)), "amd64")
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{`CMD names the handler "app.handler", but the Python runtime interface client (awslambdaric) finds no module "app"`, `Runtime.ImportModuleError: Unable to import module 'app': No module named 'app'`, "A file of that name exists at /var/task/src/app.py"},
				[]string{`handler "app.handler" from CMD[0]`, "searched the working directory, which python -m puts first on sys.path, then PYTHONPATH and site-packages: /var/task, /usr/local/lib/python3.12/site-packages", "tried /var/task/app.py, /var/task/app/", "found /var/task/src/app.py: regular file, mode 0644"},
				[]string{`CMD ["src/app.handler"]`})(t, fs)
			if fs[0].Path != "/var/task/app.py" {
				t.Errorf("path %q", fs[0].Path)
			}
		},
	},
	{
		name: "AWS base image: CMD names lambda_function but the code is app.py",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AWSBaseWith([]string{"lambda_function.lambda_handler"}, testimage.Reg("var/task/app.py", 0o644, fixtures.PyHandler)), "amd64")
		},
		verify: expect(Error,
			[]string{"the AWS Python base image's runtime finds no module \"lambda_function\"", "Unable to import module 'lambda_function'"},
			[]string{`handler "lambda_function.lambda_handler" from CMD[0]`, "LAMBDA_TASK_ROOT"},
			[]string{"COPY lambda_function.py /var/task/"}),
	},
	{
		// A dotted module whose parent is a plain module: Python says the
		// parent is not a package, not that it is missing.
		name: "AWS base image: app.missing_module.handler where app is app.py",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AWSBaseWith([]string{"app.missing_module.handler"}, testimage.Reg("var/task/app.py", 0o644, fixtures.PyHandler)), "amd64")
		},
		verify: expect(Error,
			[]string{`finds no module "app.missing_module"`, "Unable to import module 'app.missing_module': No module named 'app.missing_module'; 'app' is not a package"},
			nil, nil),
	},
	{
		name: "AWS base image: pkg.missing.handler where pkg/ is a package",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AWSBaseWith([]string{"pkg.missing.handler"}, testimage.Dir("var/task/pkg", 0), testimage.Reg("var/task/pkg/__init__.py", 0o644, "")), "amd64")
		},
		verify: expect(Error, []string{"Unable to import module 'pkg.missing': No module named 'pkg.missing'\""}, nil, nil),
	},
	{
		name: "node RIC: the handler file is in dist/",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler", testimage.Dir("var/task/dist", 0), testimage.Reg("var/task/dist/index.js", 0o644, "exports.handler = async () => 1\n")), "amd64")
		},
		verify: expect(Error,
			[]string{`Runtime.ImportModuleError: Error: Cannot find module 'index'`, "the Node.js runtime interface client (aws-lambda-ric) finds no module \"index\""},
			[]string{"tried /var/task/index, /var/task/index.js, /var/task/index.mjs, /var/task/index.cjs", "node_modules/index above /var/task"},
			[]string{`CMD ["dist/index.handler"]`}),
	},
	{
		name: "hasura seed with WORKDIR one level too high",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.HasuraSpec("6.14.18")
			spec.Config.WorkingDir = "/home/sbx_user1051"
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error, []string{"Cannot find module 'index'"}, nil, []string{`CMD ["dist/index.runMigrations"]`}),
	},
	{
		name: "ruby RIC: WORKDIR is not where app.rb is",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric")
			spec.Config.WorkingDir = ""
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{"the Ruby runtime interface client (aws_lambda_ric) finds no module \"app\"", "cannot load such file -- app"},
			[]string{"tried /app.rb, /app.so"},
			[]string{"WORKDIR /var/task"}),
	},
	{
		name: "python: the function is not defined in the module",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, "import json\n\ndef lambda_handler(event, context):\n    return json.dumps(event)\n")), "amd64")
		},
		verify: expect(Error,
			[]string{`CMD names the function "handler" in "app.handler", but the name "handler" occurs nowhere in /var/task/app.py`, "Runtime.HandlerNotFound: Handler 'handler' missing on module 'app'"},
			[]string{`the name "handler" occurs nowhere in /var/task/app.py (78 bytes read; no star import`},
			[]string{`CMD ["app.lambda_handler"] (/var/task/app.py defines lambda_handler)`}),
	},
	{
		name: "python: the twin, with def handler",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, "import json\n\ndef handler(event, context):\n    return json.dumps(event)\n")), "amd64")
		},
	},
	{
		name: "python: handler is a method of a class, not a module attribute",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, "class App:\n    def __init__(self):\n        self.n = 0\n\n    def handler(self, event, context):\n        return self.n\n")), "amd64")
		},
		verify: expect(Error,
			[]string{`/var/task/app.py defines no "handler" at module level: the name occurs only inside function or class bodies (line 5)`},
			nil, nil),
	},
	{
		name: "python: the twin, with a module-level alias of the method",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, "class App:\n    def __init__(self):\n        self.n = 0\n\n    def handler(self, event, context):\n        return self.n\n\nhandler = App().handler\n")), "amd64")
		},
	},
	{
		name: "python: handler defined under try/except at module level",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, "try:\n    from fastpath import handler\nexcept ImportError:\n    def handler(event, context):\n        return 1\n")), "amd64")
		},
	},
	{
		name: "python: a module with __getattr__ is not judged",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, "def __getattr__(name):\n    return lambda e, c: name\n")), "amd64")
		},
	},
	{
		// pip install -e of a src layout writes a .pth with the path.
		name: "python: handler module on a path a .pth file adds",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PyRICSpec("/var/task", "myapp.api.handler", testimage.Dir("src", 0), testimage.Dir("src/myapp", 0),
				testimage.Reg("src/myapp/__init__.py", 0o644, ""), testimage.Reg("src/myapp/api.py", 0o644, fixtures.PyHandler))
			spec.Layers[0] = append(spec.Layers[0], testimage.Reg("usr/local/lib/python3.12/site-packages/__editable__.myapp-1.0.pth", 0o644, "/src\n"))
			return newTarget(t, spec, "amd64")
		},
	},
	{
		name: "python: package attribute that is a submodule",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "pkg.handler", testimage.Dir("var/task/pkg", 0), testimage.Reg("var/task/pkg/__init__.py", 0o644, "from . import handler\n"), testimage.Reg("var/task/pkg/handler.py", 0o644, "def run(e, c):\n    return 1\n")), "amd64")
		},
	},
	{
		name:   "AWS base image",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSGoodSpec(), "amd64") },
	},
	{
		name:   "python RIC, handler in WORKDIR",
		kind:   clean,
		target: pythonTarget("/usr/local/bin/python", "-m", "awslambdaric"),
	},
	{
		name:   "hasura seed",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.HasuraSpec("6.14.18"), "amd64") },
	},
	{
		name: "ruby seed with the right ENTRYPOINT",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric"), "amd64")
		},
	},
	{
		name: "python: dotted module in a namespace package, handler built by Mangum",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "src.api.handler", testimage.Dir("var/task/src", 0),
				testimage.Reg("var/task/src/api.py", 0o644, "from fastapi import FastAPI\nfrom mangum import Mangum\napp = FastAPI()\nhandler = Mangum(app)\n")), "amd64")
		},
	},
	{
		name: "python: handler module installed in site-packages",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PyRICSpec("/var/task", "mypkg.entry.handler")
			spec.Layers[0] = append(spec.Layers[0],
				testimage.Dir("usr/local/lib/python3.12/site-packages/mypkg", 0),
				testimage.Reg("usr/local/lib/python3.12/site-packages/mypkg/__init__.py", 0o644, ""),
				testimage.Reg("usr/local/lib/python3.12/site-packages/mypkg/entry.py", 0o644, fixtures.PyHandler))
			return newTarget(t, spec, "amd64")
		},
	},
	{
		name: "node: ES module with export const handler",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "src/index.handler", testimage.Dir("var/task/src", 0),
				testimage.Reg("var/task/src/index.mjs", 0o644, "export const handler = async (event) => ({ statusCode: 200 })\n")), "amd64")
		},
	},
	{
		name: "node: handler module from node_modules",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "mylib.handler", testimage.Dir("var/task/node_modules/mylib", 0),
				testimage.Reg("var/task/node_modules/mylib/index.js", 0o644, "exports.handler = async () => 1\n")), "amd64")
		},
	},
	{
		name: "node: handler re-exported from another file",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler",
				testimage.Reg("var/task/index.js", 0o644, "module.exports = require('./impl')\n"),
				testimage.Reg("var/task/impl.js", 0o644, "exports.handler = async () => 1\n")), "amd64")
		},
	},
}
