package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requirePreCommit returns the pre-commit framework's command, skipping
// when it is not installed unless LAMBDOCTOR_REQUIRE_PRECOMMIT=1 (CI,
// whose set-up installs Debian's pre-commit package).
func requirePreCommit(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("pre-commit")
	if err != nil {
		if os.Getenv("LAMBDOCTOR_REQUIRE_PRECOMMIT") == "1" {
			t.Fatal("pre-commit not found and LAMBDOCTOR_REQUIRE_PRECOMMIT=1 (apt-get install pre-commit; scripts/setup.sh does)")
		}
		t.Skip("pre-commit not found (apt-get install pre-commit)")
	}
	return p
}

// TestPreCommitTryRepo runs this repository's .pre-commit-hooks.yaml with
// the installed pre-commit (Debian 12 ships 3.0.4, which predates the
// pre-push stage name): `pre-commit try-repo` clones the repository (with
// any uncommitted changes), builds the hook with language golang, and runs
// it at the push stage in a user's repository. A good image passes with
// the one-line summary; a broken one fails with the report.
func TestPreCommitTryRepo(t *testing.T) {
	requireGit(t)
	preCommit := requirePreCommit(t)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	// The hook's build shares this machine's Go caches (pre-commit sets
	// only GOPATH), so it needs no download of the modules again.
	env := append(gitEnv(t, t.TempDir()),
		"PRE_COMMIT_HOME="+t.TempDir(),
		"GOCACHE="+goEnv("GOCACHE"),
		"GOMODCACHE="+goEnv("GOMODCACHE"),
		"GOPROXY="+goEnv("GOPROXY"),
		"GOFLAGS=",
	)
	work := newRepo(t, env)
	data, err := os.ReadFile(writeArchive(t, goodImage(t)))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "fn.tar"), string(data))
	writeFile(t, filepath.Join(work, ".lambdoctor.yaml"), "images:\n  - fn.tar\n")

	version := mustRun(t, env, work, preCommit, "--version")
	if code, out := runIn(t, env, work, preCommit, "validate-manifest", filepath.Join(repo, ".pre-commit-hooks.yaml")); code != 0 {
		t.Fatalf("%s: pre-commit validate-manifest: exit %d\n%s", strings.TrimSpace(version), code, out)
	}
	// "push" is the stage name every pre-commit version accepts.
	args := []string{"try-repo", repo, "lambdoctor", "--hook-stage", "push", "--all-files", "--verbose"}
	code, out := runIn(t, env, work, preCommit, args...)
	if code != 0 || !strings.Contains(out, "Passed") || !strings.Contains(out, "lambdoctor: 1 image") {
		t.Fatalf("%s: pre-commit try-repo with a good image: exit %d, want 0 and the one-line summary\n%s", strings.TrimSpace(version), code, out)
	}
	t.Logf("%s: %s", strings.TrimSpace(version), lineWith(out, "lambdoctor: 1 image"))

	bad, err := os.ReadFile(writeArchive(t, rubySeedImage(t)))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "fn.tar"), string(bad))
	code, out = runIn(t, env, work, preCommit, args...)
	if code == 0 || !strings.Contains(out, "Failed") || !strings.Contains(out, "LD202") || !strings.Contains(out, "blocked by the findings above") {
		t.Fatalf("pre-commit try-repo with a broken image: exit %d, want a failure with the report\n%s", code, out)
	}
}

// lineWith returns the first line of s containing sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
