package cmd

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestREADMESample keeps the README's sample report true: the block after
// "$ lambdoctor inspect testdata/images/broken-entrypoint.tar" is what
// that command prints (go test ./cmd -run TestREADMESample -update
// rewrites it).
func TestREADMESample(t *testing.T) {
	s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	// From the repository root, as the README shows it.
	wd, _ := os.Getwd()
	if err := os.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	code := Run(context.Background(), []string{"inspect", "--no-cache", "testdata/images/broken-entrypoint.tar"}, s)
	if err := os.Chdir(wd); err != nil {
		t.Fatal(err)
	}
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d: %s", code, ExitFindings, errb.String())
	}
	checkREADMEBlock(t, "$ lambdoctor inspect testdata/images/broken-entrypoint.tar\n", out.String(), nil)
}

// checkREADMEBlock checks that the README's code block that starts with
// cmdLine holds got after it, up to the closing fence, both seen through
// mask when it is not nil; with -update it rewrites the block instead.
func checkREADMEBlock(t *testing.T, cmdLine, got string, mask func(string) string) {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	start := strings.Index(doc, "```\n"+cmdLine)
	if start < 0 {
		t.Fatalf("README.md has no block starting with %q", strings.TrimSpace(cmdLine))
	}
	start += len("```\n" + cmdLine)
	end := strings.Index(doc[start:], "```")
	if end < 0 {
		t.Fatalf("README.md: the block of %q is not closed", strings.TrimSpace(cmdLine))
	}
	end += start
	if mask == nil {
		mask = func(s string) string { return s }
	}
	if mask(got) == mask(doc[start:end]) {
		return
	}
	if *update {
		if err := os.WriteFile("../README.md", []byte(doc[:start]+got+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's block of %q is stale (go test ./cmd -run %s -update rewrites it); it should read:\n%s", strings.TrimSpace(cmdLine), t.Name(), got)
}
