//go:build linux

package cmd

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// hostileBootstrap prints ESC sequences, NUL, CR, a bidi override and an
// invalid byte on stdout and stderr, then reports an init error whose
// message clears the screen.
const hostileBootstrap = `#!/bin/sh
printf 'boot \033[2J\033[1;32mALL CHECKS PASSED\n'
printf 'err \000nul \342\200\256rlo \377bad\r\n' >&2
wget -q -O /dev/null --post-data '{"errorMessage":"\u001b[2J\u001b[1;32mALL CHECKS PASSED \u0000","errorType":"Runtime.\u202eBad"}' "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error"
exit 1
`

// TestHostileRunReport boots functions that print and report hostile
// text, and one whose ENTRYPOINT (missing) holds ESC sequences: the
// coloured text report of `lambdoctor run` shows all of it escaped.
func TestHostileRunReport(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	missing := testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Entrypoint: []string{"/var/runtime/" + screenClear},
			WorkingDir: "/var/task",
		},
		Layers: [][]testimage.File{busyboxLayer(t), {testimage.Dir("var", 0), testimage.Dir("var/task", 0)}},
	})
	for _, tt := range []struct {
		name string
		img  v1.Image
		want []string
	}{
		{"function output and init error", shellImage(t, hostileBootstrap, 0o755, "handler() { echo ok; }\n"), []string{
			`boot \x1b[2J\x1b[1;32mALL CHECKS PASSED`,
			`err \x00nul \u202erlo \xffbad`, // the tail drops the line end (CRLF included)
			`Runtime.\u202eBad: \x1b[2J\x1b[1;32mALL CHECKS PASSED \x00`,
		}},
		{"missing entrypoint", missing, []string{`/var/runtime/\x1b[2J\x1b[1;32mALL CHECKS PASSED`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref := writeArchive(t, tt.img)
			s, out, errb := streams(nil)
			s.OutTTY = true // colour on: lambdoctor's own escapes stay
			s.Getwd = func() (string, error) { return t.TempDir(), nil }
			code := Run(context.Background(), []string{"run", ref}, s)
			if code != ExitFindings {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitFindings, out, errb)
			}
			assertTerminalSafe(t, "run report", out.Bytes(), true)
			assertTerminalSafe(t, "stderr", errb.Bytes(), false)
			text := sgr.ReplaceAllString(out.String(), "")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("the report does not show %s:\n%s", w, text)
				}
			}
		})
	}
}
