package checks

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// ld209Runtime is a custom runtime's bootstrap in the shape the Lambda
// Developer Guide's shell-runtime tutorial gives: it needs curl.
const ld209Runtime = `#!/bin/sh
set -eu
. "$LAMBDA_TASK_ROOT/function.sh"
while true
do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$(handler "$EVENT_DATA")
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE"
done
`

// ld209Spec is a Debian-like image with the shell runtime; extra adds
// files (the fix).
func ld209Spec(entry []string, script string, extra ...testimage.File) testimage.Spec {
	files := []testimage.File{
		testimage.Reg("var/task/bootstrap", 0o755, script),
		testimage.Reg("var/task/function.sh", 0o644, "handler () { echo \"$1\"; }\n"),
		testimage.Reg("usr/bin/mktemp", 0o755, fixtures.ELFStub),
		testimage.Reg("usr/bin/grep", 0o755, fixtures.ELFStub),
		testimage.Reg("usr/bin/tr", 0o755, fixtures.ELFStub),
		testimage.Reg("usr/bin/cut", 0o755, fixtures.ELFStub),
		testimage.Reg("usr/bin/apt-get", 0o755, fixtures.ELFStub),
	}
	return fixtures.SimpleSpec(v1.Config{Entrypoint: entry, Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}, append(files, extra...)...)
}

var ld209Cases = []checkCase{
	{
		name:   "shell runtime needs curl, the image has none",
		kind:   catches,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, ld209Runtime)),
		verify: expect(Error,
			[]string{`/var/task/bootstrap line 7 runs "curl", which the image does not have: no directory of PATH /usr/local/bin:/usr/bin:/bin holds curl`, `"/var/task/bootstrap: 7: curl: not found"`, "set -e is in effect", "exit status 127"},
			[]string{`/var/task/bootstrap line 7: "EVENT_DATA=$(curl`, "searched /usr/local/bin/curl, /usr/bin/curl, /bin/curl: none exists", "PATH=/usr/local/bin:/usr/bin:/bin (from the image's ENV)", "run by /bin/dash (dash)"},
			[]string{"RUN apt-get update && apt-get install -y --no-install-recommends curl"}),
	},
	{
		name:   "sh -c string runs jq before the exec",
		kind:   catches,
		target: spec(ld209Spec([]string{"/bin/sh", "-c", `jq -r .region /var/task/config.json > /tmp/region && exec /var/task/bootstrap`}, "#!/bin/sh\nexec node /var/task/index.js\n")),
		verify: expect(Error,
			[]string{`the sh -c string of ENTRYPOINT line 1 runs "jq"`, "left of && before the exec"},
			[]string{`the sh -c string of ENTRYPOINT line 1: "jq -r .region`},
			[]string{"jq"}),
	},
	{
		name:   "a command the script does not depend on: a warning",
		kind:   catches,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, "#!/bin/bash\naws s3 cp s3://b/k /tmp/k\nexec node /var/task/index.js\n")),
		verify: expect(Warning,
			[]string{`/var/task/bootstrap line 2 runs "aws"`, `"/var/task/bootstrap: line 2: aws: command not found"`, "the script goes on"},
			[]string{"run by /bin/bash (bash)"}, nil),
	},
	{
		name:   "sh runs a script file that execs a missing program",
		kind:   catches,
		target: spec(ld209Spec([]string{"/bin/sh", "/var/task/start.sh"}, "#!/bin/sh\n", testimage.Reg("var/task/start.sh", 0o644, "cd /var/task\nexec python3 -m awslambdaric app.handler\n"))),
		verify: expect(Error, []string{`/var/task/start.sh line 2 runs "python3"`, "its last command"}, []string{"run by /bin/dash (dash)"}, nil),
	},
	{
		name:   "the fix: python3 installed",
		kind:   clean,
		target: spec(ld209Spec([]string{"/bin/sh", "/var/task/start.sh"}, "#!/bin/sh\n", testimage.Reg("var/task/start.sh", 0o644, "cd /var/task\nexec python3 -m awslambdaric app.handler\n"), testimage.Reg("usr/bin/python3", 0o755, fixtures.ELFStub))),
	},
	{
		name: "the Developer Guide's tutorial bootstrap (sources the handler file by $_HANDLER) without curl",
		kind: catches,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, `#!/bin/sh
set -euo pipefail
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"
while true
do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")
  curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
`)),
		verify: expect(Error, []string{`/var/task/bootstrap line 7 runs "curl"`, "in the script's event loop", "set -e is in effect"}, nil, nil),
	},
	{
		name:   "a function defined in a file sourced by a partly known path",
		kind:   clean,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, "#!/bin/sh\nset -e\n. \"$LAMBDA_TASK_ROOT/$(echo $_HANDLER | cut -d. -f1).sh\"\nhandler init\nexec node index.js\n")),
	},
	{
		name:   "a partly known source path that names no file: nothing is judged",
		kind:   clean,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, "#!/bin/sh\nset -e\n. \"/opt/lib/$(echo $_HANDLER | cut -d. -f1).sh\"\nsetup_things\nexec node index.js\n")),
	},
	{
		name:   "the fix: the same runtime with curl installed",
		kind:   clean,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, ld209Runtime, testimage.Reg("usr/bin/curl", 0o755, fixtures.ELFStub))),
	},
	{
		name:   "the fix: the sh -c string with jq installed",
		kind:   clean,
		target: spec(ld209Spec([]string{"/bin/sh", "-c", `jq -r .region /var/task/config.json > /tmp/region && exec /var/task/bootstrap`}, "#!/bin/sh\nexec node /var/task/index.js\n", testimage.Reg("usr/bin/jq", 0o755, fixtures.ELFStub))),
	},
	{
		name: "guarded, conditional and builtin commands",
		kind: clean,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, `#!/bin/bash
set -e
log() { printf '%s\n' "$*" >&2; }
log starting
if command -v aws >/dev/null 2>&1; then aws sts get-caller-identity; fi
which jq >/dev/null && jq . /var/task/x.json
python3 --version || true
if [ "$DEBUG" = 1 ]; then strace -f node; fi
case "$MODE" in debug) gdb node ;; esac
[ -x /opt/extra ] && /opt/extra
declare -a xs=(1 2); local_var=$(echo hi)
exec node /var/task/index.js
`)),
	},
	{
		name:   "a script that sources a file only known at run time",
		kind:   clean,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, "#!/bin/sh\nset -e\n. \"$HANDLER_LIB\"\nsetup_things\nexec node index.js\n")),
	},
	{
		name:   "PATH set by the script to a run-time value",
		kind:   clean,
		target: spec(ld209Spec([]string{"/var/task/bootstrap"}, "#!/bin/sh\nset -e\nexport PATH=\"$EXTRA:$PATH\"\nmytool --init\nexec node index.js\n")),
	},
	{name: "AWS base image", kind: clean, target: spec(fixtures.AWSGoodSpec())},
}
