package cmd

import (
	"context"
	"strings"
	"testing"
)

// TestShortV: -v is --verbose, as with Go's tools (go build -v, go test
// -v): inspect -v lists the checks that passed, as --verbose does; the
// version stays --version (no shorthand) and the version command, and -v
// where it means nothing says so.
func TestShortV(t *testing.T) {
	tar := writeArchive(t, goodImage(t))
	run := func(args ...string) (int, string, string) {
		s, out, errb := streams(nil)
		return Run(context.Background(), args, s), out.String(), errb.String()
	}

	_, long, _ := run("inspect", "--fail-on", "none", "--verbose", tar)
	code, short, errs := run("inspect", "--fail-on", "none", "-v", tar)
	_, plain, _ := run("inspect", "--fail-on", "none", tar)
	if code != ExitOK || short != long || short == plain {
		t.Errorf("inspect -v: exit %d, same as --verbose %v, same as without %v\nstderr: %s", code, short == long, short == plain, errs)
	}

	code, out, errs := run("--version")
	if code != ExitOK || out != "lambdoctor "+Version()+"\n" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	for _, args := range [][]string{{"-v"}, {"version", "-v"}} {
		code, out, errs := run(args...)
		if code != ExitUsage || out != "" || !strings.Contains(errs, "-v is --verbose (inspect's), not --version: the version is 'lambdoctor --version' or 'lambdoctor version'") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}
