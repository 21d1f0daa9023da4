package checks

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// ld213Dash is a dash binary as the token reader sees it: its option and
// builtin names as NUL-terminated strings (no pipefail, no source).
var ld213Dash = fixtures.ELFStub + "\x00errexit\x00noglob\x00ignoreeof\x00interactive\x00monitor\x00noexec\x00stdin\x00xtrace\x00verbose\x00vi\x00emacs\x00noclobber\x00allexport\x00notify\x00nounset\x00nolog\x00debug\x00local\x00command\x00"

// ld213Spec is a Debian-like image whose /bin/sh is the given dash, with
// /var/task/entry.sh (script) as ENTRYPOINT.
func ld213Spec(dash, script string, extra ...testimage.File) testimage.Spec {
	spec := fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}}, append([]testimage.File{testimage.Reg("var/task/entry.sh", 0o755, script), testimage.Reg("var/task/env.sh", 0o644, "export STAGE=prod\n")}, extra...)...)
	base := append([]testimage.File{}, spec.Layers[0]...)
	for i, f := range base {
		if f.Path == "bin/dash" {
			base[i] = testimage.Reg("bin/dash", 0o755, dash)
		}
	}
	spec.Layers[0] = base
	return spec
}

var ld213Cases = []checkCase{
	{
		name:   "set -euo pipefail in a #!/bin/sh script on Debian (dash)",
		kind:   catches,
		target: spec(ld213Spec(ld213Dash, "#!/bin/sh\nset -euo pipefail\nxs=(never parsed)\nexec node /var/task/index.js\n")),
		verify: expect(Error,
			[]string{`/var/task/entry.sh line 2 runs "set -euo pipefail", but the script is run by dash (/bin/dash), which has no pipefail option`, `"set: Illegal option -o pipefail"`, "exits at once with status 2"},
			[]string{`run by /bin/dash, dash; its binary holds no option named "pipefail"`},
			[]string{"#!/bin/bash", "drop pipefail"}),
	},
	{
		name:   "the fix: #!/bin/bash",
		kind:   clean,
		target: spec(ld213Spec(ld213Dash, "#!/bin/bash\nset -euo pipefail\nexec node /var/task/index.js\n")),
	},
	{
		name:   "a dash that has pipefail",
		kind:   clean,
		target: spec(ld213Spec(ld213Dash+"pipefail\x00", "#!/bin/sh\nset -euo pipefail\nexec node /var/task/index.js\n")),
	},
	{
		name:   "source under dash with set -e",
		kind:   catches,
		target: spec(ld213Spec(ld213Dash, "#!/bin/sh\nset -e\nsource /var/task/env.sh\nexec node /var/task/index.js\n")),
		verify: expect(Error, []string{`runs "source", a bash builtin`, `"/var/task/entry.sh: 3: source: not found"`, "set -e is in effect"}, nil, []string{". FILE"}),
	},
	{
		name:   "the fix: . instead of source",
		kind:   clean,
		target: spec(ld213Spec(ld213Dash, "#!/bin/sh\nset -e\n. /var/task/env.sh\nexec node /var/task/index.js\n")),
	},
	{
		name:   "a dash binary that cannot be read as ELF: nothing is said",
		kind:   clean,
		target: spec(ld213Spec("not an elf", "#!/bin/sh\nset -euo pipefail\nexec node /var/task/index.js\n")),
	},
	{
		name:   "a dash binary whose names cannot be read (no errexit, no local): nothing is said",
		kind:   clean,
		target: spec(ld213Spec(fixtures.ELFStub+"\x00packed\x00", "#!/bin/sh\nset -euo pipefail\nexec node /var/task/index.js\n")),
	},
	{
		name:   "an array in an if branch of a #!/bin/sh script run by dash",
		kind:   catches,
		target: spec(ld213Spec(ld213Dash, "#!/bin/sh\nif [ -n \"$DEBUG\" ]; then\n  ARGS=(--inspect)\nfi\nexec node /var/task/index.js\n")),
		verify: expect(Error, []string{"/var/task/entry.sh line 3 holds an array assignment, which is bash syntax", "Syntax error", "status 2"}, []string{`/var/task/entry.sh line 3: "ARGS=(--inspect)"`}, []string{"#!/bin/bash"}),
	},
	{
		name:   "the fix: the same script under #!/bin/bash",
		kind:   clean,
		target: spec(ld213Spec(ld213Dash, "#!/bin/bash\nif [ -n \"$DEBUG\" ]; then\n  ARGS=(--inspect)\nfi\nexec node /var/task/index.js\n")),
	},
	{
		name:   "bash syntax after an exec dash never gets past",
		kind:   clean,
		target: spec(ld213Spec(ld213Dash, "#!/bin/sh\nif [ -z \"$AWS_LAMBDA_RUNTIME_API\" ]; then\n  exec /usr/local/bin/aws-lambda-rie node index.js\nelse\n  exec node index.js\nfi\nfunction unused {\n  cat <<< x\n}\n")),
	},
	{name: "AWS base image", kind: clean, target: spec(fixtures.AWSGoodSpec())},
}
