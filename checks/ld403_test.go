package checks

import (
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

var ld403Cases = []checkCase{
	{
		name: "python handler without a dot",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "app", testimage.Reg("var/task/app.py", 0o644, "def lambda_handler(event, context):\n    return 1\n")), "amd64")
		},
		verify: expect(Error,
			[]string{`CMD names the handler "app", which the Python runtime interface client (awslambdaric) rejects: it has no dot between the module and the function name`, `Runtime.MalformedHandlerName: Bad handler 'app': not enough values to unpack (expected 2, got 1)`},
			[]string{`handler "app" from CMD[0]`, "rule: awslambdaric splits the handler at its last dot"},
			[]string{`CMD ["app.lambda_handler"]`}),
	},
	{
		name: "python RIC without any handler",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.PyRICSpec("/var/task", "", testimage.Reg("var/task/main.py", 0o644, fixtures.PyHandler)), "amd64")
		},
		verify: expect(Error,
			[]string{"ENTRYPOINT starts the Python runtime interface client (awslambdaric) without a handler argument", "ValueError: Handler not set", "exit status 1"},
			[]string{"config.Cmd=(unset)"},
			[]string{`CMD ["main.handler"]`}),
	},
	{
		name: "AWS base image: handler module is a Python built-in",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AWSBaseWith([]string{"sys.handler"}, testimage.Reg("var/task/sys.py", 0o644, fixtures.PyHandler)), "amd64")
		},
		verify: expect(Error,
			[]string{"Runtime.BuiltInModuleConflict: Cannot use built-in module sys as a handler module", "presumed to match, unconfirmed"},
			nil, []string{`rename the module so it does not shadow Python's built-in sys`, `CMD ["sys_handler.handler"]`}),
	},
	{
		name: "node handler without a dot",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index", testimage.Reg("var/task/index.js", 0o644, "exports.lambdaHandler = async () => 1\n")), "amd64")
		},
		verify: expect(Error,
			[]string{`Runtime.MalformedHandlerName: Bad handler`},
			[]string{"rule: aws-lambda-ric takes the last path element"},
			[]string{`CMD ["index.lambdaHandler"]`}),
	},
	{
		name: "node handler with ..",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task/src", "../index.handler", testimage.Reg("var/task/index.js", 0o644, "exports.handler = async () => 1\n")), "amd64")
		},
		verify: expect(Error,
			[]string{`'../index.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`},
			nil, []string{`CMD ["/var/task/index.handler"]`}),
	},
	{
		name: "ruby handler with one part",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric")
			spec.Config.Cmd = []string{"app"}
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{`Invalid handler ["app"], must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD`, "it has 1 dot-separated part(s), not 2 or 3"},
			nil, []string{`CMD ["app.App::Handler.process"]`}),
	},
	{
		name:   "AWS base image",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSGoodSpec(), "amd64") },
	},
	{
		name: "AWS base image without CMD (an entrypoint check's case)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AWSBaseWith(nil, testimage.Reg("var/task/app.py", 0o644, fixtures.PyHandler)), "amd64")
		},
	},
	{
		name:   "python RIC",
		kind:   clean,
		target: pythonTarget("/usr/local/bin/python", "-m", "awslambdaric"),
	},
	{
		name: "node handler with a directory prefix and a nested property",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "src/index.handlers.main", testimage.Dir("var/task/src", 0), testimage.Reg("var/task/src/index.js", 0o644, "exports.handlers = { main: async () => 1 }\n")), "amd64")
		},
	},
	{
		name: "ruby FILE.CLASS.METHOD (seed)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric"), "amd64")
		},
	},
	{
		name:   "hasura seed",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.HasuraSpec("6.14.18"), "amd64") },
	},
}
