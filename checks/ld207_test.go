package checks

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// alpineSpec is an Alpine image with extra files in a second layer.
func alpineSpec(cfg v1.Config, extra ...testimage.File) testimage.Spec {
	if cfg.Env == nil {
		cfg.Env = []string{fixtures.DockerPATH}
	}
	return testimage.Spec{
		Config:    cfg,
		Layers:    [][]testimage.File{alpineLayer(), append([]testimage.File{testimage.Dir("var", 0), testimage.Dir("var/task", 0)}, extra...)},
		CreatedBy: []string{"/bin/sh -c #(nop) ADD file:alpine in / ", "COPY . /var/task # buildkit"},
	}
}

var ld207Cases = []checkCase{
	{
		name: "#!/bin/bash on Alpine",
		kind: catches,
		target: spec(alpineSpec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}},
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/bash\nexec /var/task/bootstrap\n"))),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{`/var/task/entry.sh starts with "#!/bin/bash", but /bin/bash does not exist in this image`, `"IMAGE Launch error: fork/exec /var/task/entry.sh: no such file or directory"`, "the error names the script"},
				[]string{"chain: ENTRYPOINT /var/task/entry.sh -> #! /bin/bash (missing)", `/var/task/entry.sh line 1: "#!/bin/bash"`},
				[]string{"RUN apk add --no-cache bash", "#!/bin/sh"})(t, fs)
			if f := fs[0]; f.Path != "/var/task/entry.sh" || f.Layer == nil || f.Layer.Index != 1 {
				t.Errorf("path %q layer %+v", f.Path, f.Layer)
			}
		},
	},
	{
		name: "#!/usr/bin/env node with no node on the image",
		kind: catches,
		target: spec(alpineSpec(v1.Config{Entrypoint: []string{"/var/task/app"}},
			testimage.Reg("var/task/app", 0o755, "#!/usr/bin/env node\nrequire('./index')\n"))),
		verify: expect(Error,
			[]string{`env finds no "node" on PATH /usr/local/sbin:`, `env: 'node': No such file or directory`, "exit status 127"},
			[]string{"chain: ENTRYPOINT /var/task/app -> #! /usr/bin/env (/bin/busybox) -> env program node (not found on PATH="},
			[]string{"RUN apk add --no-cache node"}),
	},
	{
		name: "#!/usr/bin/env bash -e without -S",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/run.sh"}},
			testimage.Reg("var/task/run.sh", 0o755, "#!/usr/bin/env bash -e\nexec node index.js\n"))),
		verify: expect(Error, []string{`env finds no "bash -e"`, "as ONE argument"}, nil, []string{"#!/usr/bin/env -S bash -e"}),
	},
	{
		name: "node elsewhere than PATH",
		kind: catches,
		target: spec(alpineSpec(v1.Config{Entrypoint: []string{"/var/task/app"}},
			testimage.Reg("var/task/app", 0o755, "#!/usr/bin/env node\n"),
			testimage.Dir("opt", 0), testimage.Dir("opt/node", 0), testimage.Dir("opt/node/bin", 0), testimage.Reg("opt/node/bin/node", 0o755, fixtures.ELFStub))),
		verify: expect(Error, []string{"A file of that name exists at /opt/node/bin/node"}, nil, []string{"ENV PATH=/opt/node/bin:"}),
	},
	{
		name: "dangling interpreter symlink",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/run"}},
			testimage.Reg("var/task/run", 0o755, "#!/usr/local/bin/python\nimport app\n"),
			testimage.Symlink("usr/local/bin/python", "python3.12"))),
		verify: expect(Error, []string{`/usr/local/bin/python is a dangling symlink: /usr/local/bin/python points to "python3.12", and /usr/local/bin/python3.12 does not exist`}, []string{"dangling symlink /usr/local/bin/python"}, nil),
	},
	{
		name: "interpreter the sandbox user cannot execute",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/run"}},
			testimage.Reg("var/task/run", 0o755, "#!/opt/py/bin/python\n"),
			testimage.Dir("opt", 0), testimage.Dir("opt/py", 0), testimage.Dir("opt/py/bin", 0), testimage.Reg("opt/py/bin/python", 0o700, fixtures.ELFStub))),
		verify: expect(Error, []string{"cannot execute the interpreter /opt/py/bin/python", "fork/exec /var/task/run: permission denied"}, nil, []string{"RUN chmod 755 /opt/py/bin/python"}),
	},
	{
		name:   "#!/bin/bash in /var/runtime/bootstrap on an image without bash",
		kind:   catches,
		target: spec(fixtures.AWSBaseSpec()),
		verify: expect(Error, []string{"/var/runtime/bootstrap starts with \"#!/bin/bash\"", "Runtime.ExitError"}, []string{"chain: ENTRYPOINT /lambda-entrypoint.sh -> #! /bin/sh -> bootstrap /var/runtime/bootstrap -> #! /bin/bash (missing)"}, nil),
	},
	{
		name: "ENTRYPOINT script without a #! line",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/start.sh"}},
			testimage.Reg("var/task/start.sh", 0o755, "set -e\nexec node index.js\n"))),
		verify: expect(Error, []string{`a text file with no #! line (it starts "set -e")`, "fork/exec /var/task/start.sh: exec format error"}, nil, []string{"add #!/bin/sh"}),
	},
	{
		name: "a UTF-8 byte-order mark before #!",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/start.sh"}},
			testimage.Reg("var/task/start.sh", 0o755, "\xef\xbb\xbf#!/bin/sh\nexec node index.js\n"))),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{`whose #! line "#!/bin/sh" is preceded by a UTF-8 byte-order mark (the invisible bytes EF BB BF)`, "fork/exec /var/task/start.sh: exec format error"},
				[]string{`/var/task/start.sh starts with the bytes EF BB BF (a UTF-8 byte-order mark), then "#!/bin/sh"`},
				[]string{"without a byte-order mark", `sed -i '1s/^\xEF\xBB\xBF//' /var/task/start.sh`})(t, fs)
			if f := fs[0]; strings.Contains(f.Message, "\ufeff") || strings.Contains(f.Fix, "add #!/bin/sh") {
				t.Errorf("the message shows the mark itself or asks for the #! line the file has: %s / %s", f.Message, f.Fix)
			}
		},
	},
	{
		name: "the fix: the same script without the byte-order mark",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/start.sh"}},
			testimage.Reg("var/task/start.sh", 0o755, "#!/bin/sh\nexec node index.js\n"))),
	},
	{name: "AWS base image", kind: clean, target: spec(fixtures.AWSGoodSpec())},
	{
		name: "#!/usr/bin/env node with node on PATH",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/app"}},
			testimage.Reg("var/task/app", 0o755, "#!/usr/bin/env node\n"))),
	},
	{
		name: "#!/usr/bin/env -S bash -e",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/app"}},
			testimage.Reg("var/task/app", 0o755, "#!/usr/bin/env -S bash -e\nexec node index.js\n"))),
	},
	{name: "Ruby RIC binstub", kind: clean, target: func(t *testing.T) *analyze.Target {
		return newTarget(t, fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric"), "amd64")
	}},
	{
		name: "a shell execs a text file without #!: the shell runs it with sh",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
			testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexec /var/task/run\n"),
			testimage.Reg("var/task/run", 0o755, "node index.js\n"))),
	},
	{
		name:   "Alpine #!/bin/sh via busybox",
		kind:   clean,
		target: spec(alpineSpec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}}, testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/sh\nexec /bin/busybox true\n"))),
	},
}
