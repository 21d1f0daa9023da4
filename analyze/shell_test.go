package analyze

import (
	"fmt"
	"strings"
	"testing"
)

// scriptSummary renders the commands of a script as
// "line:name[flags]", flags c (certain), g (guarded), f (fatal), l (loop),
// x (exec), t (top), ? (name unknown).
func scriptSummary(t *testing.T, text string, fl ShellFlavour, errexit bool) (*Script, string) {
	t.Helper()
	s := &Script{Text: text, Flavour: fl}
	f, err := ParseScript(text, fl)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	AnalyzeScript(s, f, scriptEnv([]string{"PATH=/usr/bin:/bin"}), "/var/task", errexit, nil, nil)
	var parts []string
	for _, c := range s.Commands {
		flags := ""
		for _, fl := range []struct {
			on bool
			c  string
		}{{c.Certain, "c"}, {c.Guarded, "g"}, {c.Fatal, "f"}, {c.Loop, "l"}, {c.Exec, "x"}, {c.Top, "t"}, {!c.Name.Known, "?"}} {
			if fl.on {
				flags += fl.c
			}
		}
		name := c.Name.Value
		if name == "" && len(c.Redirects) > 0 {
			name = c.Redirects[0].Op + c.Redirects[0].Target.Value
		}
		parts = append(parts, fmt.Sprintf("%d:%s[%s]", c.Line, name, flags))
	}
	return s, strings.Join(parts, " ")
}

func TestAnalyzeScript(t *testing.T) {
	tests := []struct {
		name, text string
		errexit    bool
		want       string
	}{
		{"runtime loop", `#!/bin/sh
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
`, false, "2:set[cft] 3:echo[c] 3:cut[cf] 3:source[cft] 4:true[cg] 6:mktemp[cfl] 7:curl[cfl] 8:grep[cl] 8:tr[cl] 8:cut[cfl] 9:echo[cl] 9:cut[cfl] 9:[cfl?] 10:curl[cfl]"},
		{"guards and branches", `#!/bin/sh
command -v jq >/dev/null || apk add jq
if [ -n "$X" ]; then aws s3 cp a b; fi
mkdir -p /tmp/x && exec ./bootstrap
`, false, "2:command[cgt] 2:apk[t] 3:[[cg] 3:aws[] 4:mkdir[cft] 4:./bootstrap[cfxt]"},
		{"an endless loop stops the walk", "while :; do handle_event; done\ncleanup_after\n", false, "1::[cg] 1:handle_event[cl]"},
		{"a loop with break does not", "while true; do read_one || break; done\nnext_step\n", false, "1:true[cg] 1:read_one[cgl] 1:break[l] 2:next_step[cft]"},
		{"exec stops", "cd /opt/app\nexec python3 -m app\necho never\n", false, "1:cd[ct] 2:python3[cfxt]"},
		{"function called", "f() { jq . x; }\nf\n", true, "2:f[cft] 1:jq[cf]"},
		{"redirect", "echo hi > /var/task/log\nexec node index.js\n", false, "1:echo[ct] 2:node[cfxt]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := scriptSummary(t, tt.text, FlavourDash, tt.errexit)
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
