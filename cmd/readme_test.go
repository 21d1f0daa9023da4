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
	const cmdLine = "$ lambdoctor inspect testdata/images/broken-entrypoint.tar\n"
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	start := strings.Index(doc, cmdLine)
	if start < 0 {
		t.Fatalf("README.md has no %q block", strings.TrimSpace(cmdLine))
	}
	start += len(cmdLine)
	end := strings.Index(doc[start:], "```")
	if end < 0 {
		t.Fatal("README.md: the sample block is not closed")
	}
	end += start

	s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	// From the repository root, as the README shows it.
	wd, _ := os.Getwd()
	if err := os.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	code := Run(context.Background(), []string{"inspect", "--no-cache", "testdata/images/broken-entrypoint.tar"}, s)
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d: %s", code, ExitFindings, errb.String())
	}
	got := out.String()
	if got == doc[start:end] {
		return
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(doc[:start]+got+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's sample report is stale (go test ./cmd -run TestREADMESample -update rewrites it); the command prints:\n%s", got)
}
