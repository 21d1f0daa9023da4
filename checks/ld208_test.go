package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

var ld208Cases = []checkCase{
	{
		name: "ENTRYPOINT script checked out with CRLF",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}},
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/sh\r\nexec node index.js\r\n"))),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{`its first line is "#!/bin/sh\r"`, `the kernel looks for an interpreter named "/bin/sh\r"`, `fork/exec /var/task/entry.sh: no such file or directory`, "/bin/sh^M: bad interpreter"},
				[]string{`/var/task/entry.sh line 1: "#!/bin/sh\r" (ends in \r\n)`},
				[]string{`RUN sed -i 's/\r$//' /var/task/entry.sh`, "eol=lf"})(t, fs)
			if f := fs[0]; f.Path != "/var/task/entry.sh" || f.Layer == nil {
				t.Errorf("path %q layer %+v", f.Path, f.Layer)
			}
		},
	},
	{
		name: "#!/usr/bin/env bash with CRLF, exec'd by the entry script",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
			testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexec /var/task/start.sh\n"),
			testimage.Reg("var/task/start.sh", 0o755, "#!/usr/bin/env bash\r\nexec node index.js\r\n"))),
		verify: expect(Error, []string{`env: 'bash\r': No such file or directory`, "the exec line of /entry.sh", "Runtime.ExitError"}, nil, []string{"/var/task/start.sh"}),
	},
	{
		name: "#!/bin/sh -e with CRLF",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}},
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/sh -e\r\nexec node index.js\r\n"))),
		verify: expect(Error, []string{`/bin/sh gets the argument "-e\r"`}, nil, nil),
	},
	{name: "AWS base image", kind: clean, target: spec(fixtures.AWSGoodSpec())},
	{
		name: "LF #! line (CRLF elsewhere is not this check's)",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}},
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/sh\nexec node index.js\r\n"))),
	},
	{
		name: "CRLF script that is not on the chain",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node", "index.js"}},
			testimage.Reg("var/task/tool.sh", 0o755, "#!/bin/sh\r\necho\r\n"))),
	},
}
