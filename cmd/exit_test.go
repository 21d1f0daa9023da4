package cmd

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// brokenWriter is a stdout that refuses every write (a closed pipe, a full
// disk).
type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// A report that cannot be written exits 4, not 2 (usage) as it used to.
func TestWriteFailureExitCode(t *testing.T) {
	good := writeArchive(t, goodImage(t))
	for _, args := range [][]string{
		{"inspect", good},
		{"inspect", "--format", "json", good},
		{"why", rubyLaunchLine},
		{"checks"},
		{"explain", "LD202"},
	} {
		s, _, errb := streams(nil)
		s.Out = brokenWriter{}
		if code := Run(context.Background(), args, s); code != ExitWrite {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitWrite, errb)
		}
		if !strings.Contains(errb.String(), "no space left on device") || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: want one line naming the write error, got %q", args, errb)
		}
	}
}

// Every exit code is distinct and documented, in --help and in
// docs/exit-codes.md.
func TestExitCodesDocumented(t *testing.T) {
	codes := []int{ExitOK, ExitFindings, ExitUsage, ExitLoad, ExitWrite, ExitSandbox, ExitAWS}
	seen := map[int]bool{}
	doc, err := os.ReadFile("../docs/exit-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("exit code %d used twice", c)
		}
		seen[c] = true
		if !strings.Contains(rootLong, "\n  "+strconv.Itoa(c)+"  ") {
			t.Errorf("exit code %d not in lambdoctor --help", c)
		}
		if !strings.Contains(string(doc), "\n| "+strconv.Itoa(c)+" | ") {
			t.Errorf("exit code %d not in docs/exit-codes.md", c)
		}
	}
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK}, {errVerdict, ExitFindings}, {usageError("x"), ExitUsage},
		{loadError(errors.New("x")), ExitLoad}, {writeError(errors.New("x")), ExitWrite},
		{sandboxError(errors.New("x")), ExitSandbox}, {awsError(errors.New("x")), ExitAWS},
		{errors.New("cobra: unknown flag"), ExitUsage},
	} {
		if got, _ := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
