package analyze

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// chainSummary renders a chain as "role name=path(kind)" items.
func chainSummary(c *Chain) string {
	var parts []string
	for _, l := range c.Links {
		parts = append(parts, l.Role+" "+l.Name+"="+l.Path+"("+l.Kind.String()+")")
	}
	return strings.Join(parts, " | ")
}

func TestChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec testimage.Spec
		want []string // substrings of chainSummary, in order
		n    int      // expected number of links
		end  string   // substring of Chain.End
	}{
		{
			name: "AWS base image",
			spec: fixtures.AWSGoodSpec(),
			want: []string{"ENTRYPOINT /lambda-entrypoint.sh=/lambda-entrypoint.sh(script)", "interpreter /bin/sh=/bin/sh(ELF)", "bootstrap /var/runtime/bootstrap=/var/runtime/bootstrap(script)", "interpreter /bin/bash=/bin/bash(ELF)", "exec target /var/lang/bin/python3.12=/var/lang/bin/python3.12(ELF)"},
			n:    5,
		},
		{
			name: "python RIC through symlinks",
			spec: fixtures.PythonSpec(fixtures.PythonConfig("/usr/local/bin/python", "-m", "awslambdaric")),
			want: []string{"ENTRYPOINT /usr/local/bin/python=/usr/local/bin/python3.12(ELF)"},
			n:    1,
		},
		{
			name: "env node shebang",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/app"}}, testimage.Reg("var/task/app", 0o755, "#!/usr/bin/env node\nconsole.log(1)\n")),
			want: []string{"ENTRYPOINT /var/task/app=/var/task/app(script)", "interpreter /usr/bin/env=/usr/bin/env(ELF)", "env program node=/usr/local/bin/node(ELF)"},
			n:    3,
		},
		{
			name: "env -S with flags",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/app.sh"}}, testimage.Reg("var/task/app.sh", 0o755, "#!/usr/bin/env -S bash -e\nexec node index.js\n")),
			want: []string{"interpreter /usr/bin/env", "env program bash=/bin/bash(ELF)", "exec target node=/usr/local/bin/node(ELF)"},
			n:    4,
		},
		{
			name: "env as argv[0] with assignments",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"env", "-u", "HOME", "NODE_ENV=production", "node", "index.js"}}),
			want: []string{"ENTRYPOINT env=/usr/bin/env(ELF)", "env program node=/usr/local/bin/node(ELF)"},
			n:    2,
		},
		{
			name: "exec \"$@\" passes CMD on",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}, Cmd: []string{"node", "index.js"}}, testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nset -e\n# start\nexec \"$@\"\n")),
			want: []string{"ENTRYPOINT /entry.sh", "interpreter /bin/sh=/bin/dash(ELF)", "exec target node=/usr/local/bin/node(ELF)"},
			n:    3,
		},
		{
			name: "set -- stops the chain",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}, Cmd: []string{"node", "index.js"}}, testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nset -e\nif [ \"${1#-}\" != \"${1}\" ] || [ -z \"$(command -v \"${1}\")\" ]; then\n  set -- node \"$@\"\nfi\nexec \"$@\"\n")),
			n:    2,
			end:  "set --/shift",
		},
		{
			name: "dynamic exec word",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}}, testimage.Reg("entry.sh", 0o755, "#!/bin/bash\nexec $RUNNER --flag\n")),
			n:    2,
			end:  "$RUNNER",
		},
		{
			name: "variables from ENV and the script, one-line if/else",
			spec: fixtures.SimpleSpec(v1.Config{Env: []string{fixtures.DockerPATH, "APP=/var/task"}, Entrypoint: []string{"/entry.sh"}}, testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nBIN=${APP}/bin\nif [ -z \"${AWS_LAMBDA_RUNTIME_API}\" ]; then exec /usr/local/bin/aws-lambda-rie $BIN/server; else exec \"$BIN/server\" --port 8080; fi\n"), testimage.Dir("var/task/bin", 0), testimage.Reg("var/task/bin/server", 0o755, fixtures.ELFStub)),
			want: []string{"exec target /var/task/bin/server=/var/task/bin/server(ELF)"},
			n:    3,
		},
		{
			name: "CRLF shebang is still followed",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}}, testimage.Reg("entry.sh", 0o755, "#!/bin/sh\r\nexec node app.js\r\n")),
			want: []string{"interpreter /bin/sh=/bin/dash(ELF)", "exec target node=/usr/local/bin/node(ELF)"},
			n:    3,
		},
		{
			name: "shell form",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/bin/sh", "-c", "exec node index.js"}}),
			want: []string{"ENTRYPOINT /bin/sh=/bin/dash(ELF)", "shell command node=/usr/local/bin/node(ELF)"},
			n:    2,
		},
		{
			name: "missing argv[0]",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/nope"}}),
			want: []string{"ENTRYPOINT /nope=(missing)"},
			n:    1,
		},
		{
			name: "script without #! stops",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/run"}}, testimage.Reg("var/task/run", 0o755, "echo hi\n")),
			want: []string{"ENTRYPOINT /var/task/run=/var/task/run(other)"},
			n:    1,
		},
		{
			name: "non-executable script is still read",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/run.sh"}}, testimage.Reg("var/task/run.sh", 0o644, "#!/bin/bash\nexec node x.js\n")),
			want: []string{"ENTRYPOINT /var/task/run.sh=/var/task/run.sh(script)", "exec target node"},
			n:    3,
		},
		{
			name: "script execing itself loops once",
			spec: fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/loop.sh"}}, testimage.Reg("loop.sh", 0o755, "#!/bin/sh\nexec /loop.sh\n")),
			n:    3,
			end:  "loops back",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, tc.spec, "amd64")
			c := tg.Chain()
			got := chainSummary(c)
			t.Logf("chain: %s\nend: %s\ndescribe: %s", got, c.End, c.Describe(len(c.Links)-1))
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("chain lacks %q (in order):\n%s", w, got)
					continue
				}
				rest = rest[i+len(w):]
			}
			if tc.n != 0 && len(c.Links) != tc.n {
				t.Errorf("%d links, want %d: %s", len(c.Links), tc.n, got)
			}
			if !strings.Contains(c.End, tc.end) {
				t.Errorf("end %q, want it to contain %q", c.End, tc.end)
			}
			if tg.Chain() != c {
				t.Error("Chain is not memoised")
			}
		})
	}
}

func TestParseShebang(t *testing.T) {
	for _, tc := range []struct {
		in, interp string
		args       []string
		crlf       bool
	}{
		{"#!/bin/sh\n", "/bin/sh", nil, false},
		{"#! /usr/bin/env ruby\n", "/usr/bin/env", []string{"ruby"}, false},
		{"#!/usr/bin/env -S bash -e\n", "/usr/bin/env", []string{"-S bash -e"}, false},
		{"#!/bin/bash\r\n", "/bin/bash", nil, true},
		{"#!/bin/sh -e \r\n", "/bin/sh", []string{"-e"}, true},
		{"#!\t/bin/sh\t-x\n", "/bin/sh", []string{"-x"}, false},
		{"#!/bin/sh", "/bin/sh", nil, false},
	} {
		s := ParseShebang([]byte(tc.in))
		if s.Interpreter != tc.interp || strings.Join(s.Args, "|") != strings.Join(tc.args, "|") || s.CRLF != tc.crlf {
			t.Errorf("parseShebang(%q) = %q %q crlf=%v, want %q %q crlf=%v", tc.in, s.Interpreter, s.Args, s.CRLF, tc.interp, tc.args, tc.crlf)
		}
	}
}
