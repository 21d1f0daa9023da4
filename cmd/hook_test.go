package cmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/lambdoctor/lambdoctor/sandbox"
)

// gitEnv is an environment for git that ignores the machine's and user's
// configuration and puts bin first on PATH.
func gitEnv(t *testing.T, bin string) []string {
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"NO_COLOR=1",
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	return env
}

// run runs name with args in dir and returns its exit code and combined
// output; it fails the test only when the program cannot be started.
func runIn(t *testing.T, env []string, dir, name string, args ...string) (int, string) {
	t.Helper()
	c := exec.Command(lookPathIn(env, name), args...)
	c.Dir = dir
	c.Env = env
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if err == nil {
		return 0, out.String()
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("running %s %v: %v", name, args, err)
	return 0, ""
}

// lookPathIn finds name on the PATH of env, as the child process would.
func lookPathIn(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if p, ok := strings.CutPrefix(env[i], "PATH="); ok {
			for _, d := range filepath.SplitList(p) {
				if st, err := os.Stat(filepath.Join(d, name)); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
					return filepath.Join(d, name)
				}
			}
			break
		}
	}
	return name
}

func mustRun(t *testing.T, env []string, dir, name string, args ...string) string {
	t.Helper()
	code, out := runIn(t, env, dir, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out)
	}
	return out
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
	binOut  []byte
)

// lambdoctorBin builds the lambdoctor binary once per test process and
// returns the directory holding it.
func lambdoctorBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "lambdoctor-bin-")
		if binErr != nil {
			return
		}
		exe := "lambdoctor"
		if runtime.GOOS == "windows" {
			exe += ".exe"
		}
		c := exec.Command("go", "build", "-o", filepath.Join(binDir, exe), "github.com/lambdoctor/lambdoctor")
		binOut, binErr = c.CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("building lambdoctor: %v\n%s", binErr, binOut)
	}
	return binDir
}

func TestMain(m *testing.M) {
	// The run tests start the sandbox, which re-executes this binary.
	sandbox.MaybeInit()
	adoptOrphans()
	// The layer cache of the tests (and of the binaries they run) is
	// theirs, never the user's.
	cacheDir, err := os.MkdirTemp("", "lambdoctor-test-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("LAMBDOCTOR_CACHE_DIR", cacheDir)
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.RemoveAll(cacheDir)
	os.Exit(code)
}

func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH to build lambdoctor")
	}
}

// newRepo makes a work repository with one commit and a bare remote
// "origin", and returns the work tree.
func newRepo(t *testing.T, env []string) string {
	t.Helper()
	root := t.TempDir()
	remote := filepath.Join(root, "remote.git")
	work := filepath.Join(root, "work")
	mustRun(t, env, root, "git", "init", "-q", "--bare", remote)
	mustRun(t, env, root, "git", "init", "-q", "-b", "main", work)
	writeFile(t, filepath.Join(work, "README"), "hello\n")
	mustRun(t, env, work, "git", "add", ".")
	mustRun(t, env, work, "git", "commit", "-q", "-m", "first")
	mustRun(t, env, work, "git", "remote", "add", "origin", remote)
	return work
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// commit writes .lambdoctor.yaml listing images and commits it.
func commitConfig(t *testing.T, env []string, work string, images ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("images:\n")
	if len(images) == 0 {
		b.Reset()
		b.WriteString("fail-on: error\n")
	}
	for _, img := range images {
		b.WriteString("  - " + img + "\n")
	}
	writeFile(t, filepath.Join(work, ".lambdoctor.yaml"), b.String())
	mustRun(t, env, work, "git", "add", ".lambdoctor.yaml")
	mustRun(t, env, work, "git", "commit", "-q", "--allow-empty", "-m", "images: "+strings.Join(images, " "))
}

func remoteHead(t *testing.T, env []string, work string) string {
	t.Helper()
	code, out := runIn(t, env, work, "git", "--git-dir", filepath.Join(filepath.Dir(work), "remote.git"), "rev-parse", "--verify", "-q", "refs/heads/main")
	if code != 0 {
		return ""
	}
	return strings.TrimSpace(out)
}

// TestPrePushHookBlocksRealPush installs the hook with the real binary and
// pushes to a local bare remote: a broken image blocks the push with the
// bypass hint, a good one lets it through, and so does a config without
// images.
func TestPrePushHookBlocksRealPush(t *testing.T) {
	requireGit(t)
	env := gitEnv(t, lambdoctorBin(t))
	work := newRepo(t, env)
	bad := writeArchive(t, rubySeedImage(t))
	good := writeArchive(t, goodImage(t))

	out := mustRun(t, env, work, "lambdoctor", "hook", "install")
	hook := filepath.Join(work, ".git", "hooks", "pre-push")
	if !strings.Contains(out, hook) || !strings.Contains(out, "no .lambdoctor.yaml") {
		t.Errorf("install output should name %s and note the missing config:\n%s", hook, out)
	}
	st, err := os.Stat(hook)
	if err != nil {
		t.Fatalf("hook not written: %v", err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("hook mode %v, want 0755", st.Mode().Perm())
	}

	// No config: the hook notes it and the push goes through.
	code, out := runIn(t, env, work, "git", "push", "-q", "origin", "main")
	if code != 0 || !strings.Contains(out, "nothing to inspect before push") {
		t.Fatalf("push without a config: exit %d, want 0 and a note\n%s", code, out)
	}

	// A config without images: a note, and the push goes through.
	commitConfig(t, env, work)
	code, out = runIn(t, env, work, "git", "push", "-q", "origin", "main")
	if code != 0 || !strings.Contains(out, "lists no images") {
		t.Fatalf("push with a config without images: exit %d, want 0 and a note\n%s", code, out)
	}

	// A broken image blocks the push.
	commitConfig(t, env, work, bad)
	head := strings.TrimSpace(mustRun(t, env, work, "git", "rev-parse", "HEAD"))
	code, out = runIn(t, env, work, "git", "push", "origin", "main")
	if code == 0 {
		t.Fatalf("push with a broken image went through:\n%s", out)
	}
	for _, want := range []string{"LD202", "push blocked by the findings above", "git push --no-verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("blocked push output lacks %q:\n%s", want, out)
		}
	}
	if got := remoteHead(t, env, work); got == head {
		t.Fatalf("the remote received the blocked commit")
	}

	// The bypass the hint names works.
	if code, out := runIn(t, env, work, "git", "push", "--no-verify", "origin", "main"); code != 0 {
		t.Fatalf("git push --no-verify: exit %d\n%s", code, out)
	}
	if got := remoteHead(t, env, work); got != head {
		t.Fatalf("remote at %s after --no-verify, want %s", got, head)
	}

	// A config error blocks the push (exit 2), naming the problem.
	writeFile(t, filepath.Join(work, ".lambdoctor.yaml"), "images: ["+good+"]\nfail_on: error\n")
	if code, out := runIn(t, env, work, "git", "push", "origin", "main"); code == 0 || !strings.Contains(out, "fail_on") || !strings.Contains(out, "exit 2") {
		t.Fatalf("push with a bad config: exit %d, want blocked naming fail_on and exit 2\n%s", code, out)
	}

	// A good image, named relative to .lambdoctor.yaml, lets the push through.
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "build", "fn.tar"), string(data))
	mustRun(t, env, work, "git", "add", "build/fn.tar")
	commitConfig(t, env, work, "build/fn.tar")
	head = strings.TrimSpace(mustRun(t, env, work, "git", "rev-parse", "HEAD"))
	code, out = runIn(t, env, work, "git", "push", "origin", "main")
	if code != 0 {
		t.Fatalf("push with a good image: exit %d\n%s", code, out)
	}
	// A passing push prints one line, not the report.
	if !regexp.MustCompile(`(?m)^lambdoctor: 1 image (clean|passes fail-on error, with .* 'lambdoctor inspect' shows them\)) \(\d+\.\d s\)$`).MatchString(out) || strings.Contains(out, "LD") {
		t.Errorf("a passing push should print one summary line and no report:\n%s", out)
	}
	if got := remoteHead(t, env, work); got != head {
		t.Fatalf("remote at %s, want %s", got, head)
	}

	// An image that cannot be loaded blocks the push too, saying so, and
	// the hook exits 3 (git itself exits 1 for any hook failure).
	commitConfig(t, env, work, filepath.Join(t.TempDir(), "missing.tar"))
	code, out = runIn(t, env, work, "git", "push", "origin", "main")
	if code == 0 || !strings.Contains(out, "push blocked: could not load an image listed in") || strings.Contains(out, "findings above") || !strings.Contains(out, "git push --no-verify") {
		t.Fatalf("push with a missing image: exit %d, want blocked for the load failure\n%s", code, out)
	}
	if code, out := runIn(t, env, work, hook, "origin", "unused"); code != ExitLoad {
		t.Errorf("the hook with a missing image: exit %d, want %d\n%s", code, ExitLoad, out)
	}
	commitConfig(t, env, work, bad)
	if code, out := runIn(t, env, work, hook, "origin", "unused"); code != ExitFindings || !strings.Contains(out, "findings above") {
		t.Errorf("the hook with a broken image: exit %d, want %d\n%s", code, ExitFindings, out)
	}

	// LAMBDOCTOR names the binary to run.
	noPath := append(slicesWithout(env, "PATH="), "PATH=/usr/bin:/bin", "LAMBDOCTOR="+filepath.Join(lambdoctorBin(t), "lambdoctor"))
	commitConfig(t, noPath, work, good)
	if code, out := runIn(t, noPath, work, "git", "push", "origin", "main"); code != 0 {
		t.Fatalf("push with LAMBDOCTOR set: exit %d\n%s", code, out)
	}
}

// TestHookChainsAndFindsBinary pushes for real through a hook installed
// with --force over a hook that records its arguments and standard input
// (as git-lfs's pre-push reads the refs): the old hook runs first, its
// failure blocks the push with its exit code, and lambdoctor is found at
// the path that installed the hook with a minimal PATH, then on PATH once
// that binary is gone.
func TestHookChainsAndFindsBinary(t *testing.T) {
	requireGit(t)
	installer := filepath.Join(t.TempDir(), "lambdoctor")
	data, err := os.ReadFile(filepath.Join(lambdoctorBin(t), "lambdoctor"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(installer, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// A minimal PATH (a GUI git client's): git, sh and coreutils only.
	env := append(slicesWithout(gitEnv(t, t.TempDir()), "PATH="), "PATH=/usr/bin:/bin")
	work := newRepo(t, env)
	commitConfig(t, env, work, writeArchive(t, goodImage(t)))
	hooks := filepath.Join(work, ".git", "hooks")
	marker := filepath.Join(t.TempDir(), "marker")
	status := filepath.Join(t.TempDir(), "status")
	writeFile(t, status, "0\n")
	lfsLike := "#!/bin/sh\n{ echo \"args: $*\"; cat; } >> '" + marker + "'\nexit $(cat '" + status + "')\n"
	writeFile(t, filepath.Join(hooks, "pre-push"), lfsLike)
	os.Chmod(filepath.Join(hooks, "pre-push"), 0o755)

	if code, out := runIn(t, env, work, installer, "hook", "install"); code != ExitUsage || !strings.Contains(out, "--force") {
		t.Fatalf("install over a foreign hook: exit %d\n%s", code, out)
	}
	out := mustRun(t, env, work, installer, "hook", "install", "--force")
	for _, want := range []string{"moved the existing hook to " + filepath.Join(hooks, "pre-push"+hookBackupSuffix), "it runs " + installer, "runs it first"} {
		if !strings.Contains(out, want) {
			t.Errorf("install --force output lacks %q:\n%s", want, out)
		}
	}

	head := strings.TrimSpace(mustRun(t, env, work, "git", "rev-parse", "HEAD"))
	code, out := runIn(t, env, work, "git", "push", "origin", "main")
	if code != 0 || !strings.Contains(out, "lambdoctor: 1 image") {
		t.Fatalf("push through the chained hook: exit %d\n%s", code, out)
	}
	got, _ := os.ReadFile(marker)
	remote := filepath.Join(filepath.Dir(work), "remote.git")
	if want := "args: origin " + remote + "\nrefs/heads/main " + head + " refs/heads/main "; !strings.HasPrefix(string(got), want) {
		t.Errorf("the previous hook got %q, want it to start with %q (git's arguments and refs on stdin)", got, want)
	}

	// The previous hook fails: the push is blocked with its exit code,
	// before lambdoctor runs.
	writeFile(t, status, "7\n")
	commitConfig(t, env, work, writeArchive(t, goodImage(t)))
	code, out = runIn(t, env, work, "git", "push", "origin", "main")
	if code == 0 || strings.Contains(out, "lambdoctor: 1 image") {
		t.Fatalf("push with a failing previous hook: exit %d, want blocked before lambdoctor\n%s", code, out)
	}
	if code, out := runIn(t, env, work, filepath.Join(hooks, "pre-push"), "origin", remote); code != 7 {
		t.Errorf("the hook with a previous hook exiting 7: exit %d\n%s", code, out)
	}
	writeFile(t, status, "0\n")

	// The installing binary is gone and lambdoctor is not on PATH.
	if err := os.Remove(installer); err != nil {
		t.Fatal(err)
	}
	code, out = runIn(t, env, work, "git", "push", "origin", "main")
	if code == 0 || !strings.Contains(out, "not found at "+installer+" nor on PATH") {
		t.Fatalf("push without lambdoctor: exit %d, want blocked naming the recorded path\n%s", code, out)
	}
	// On PATH it is found there.
	withPath := append(slicesWithout(env, "PATH="), "PATH="+lambdoctorBin(t)+":/usr/bin:/bin")
	if code, out := runIn(t, withPath, work, "git", "push", "origin", "main"); code != 0 || !strings.Contains(out, "lambdoctor: 1 image") {
		t.Fatalf("push with lambdoctor on PATH: exit %d\n%s", code, out)
	}

	// Uninstall puts the previous hook back.
	mustRun(t, withPath, work, "lambdoctor", "hook", "uninstall")
	if b, _ := os.ReadFile(filepath.Join(hooks, "pre-push")); string(b) != lfsLike {
		t.Errorf("uninstall left %q as pre-push", b)
	}
}

func slicesWithout(env []string, prefix string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// TestHookInstallHooksPath installs into core.hooksPath and blocks a push
// from there.
func TestHookInstallHooksPath(t *testing.T) {
	requireGit(t)
	env := gitEnv(t, lambdoctorBin(t))
	work := newRepo(t, env)
	mustRun(t, env, work, "git", "config", "core.hooksPath", ".githooks")
	mustRun(t, env, work, "lambdoctor", "hook", "install")
	hook := filepath.Join(work, ".githooks", "pre-push")
	if _, err := os.Stat(hook); err != nil {
		t.Fatalf("hook not written to core.hooksPath: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, ".git", "hooks", "pre-push")); err == nil {
		t.Fatalf("hook written to .git/hooks despite core.hooksPath")
	}
	commitConfig(t, env, work, writeArchive(t, rubySeedImage(t)))
	if code, out := runIn(t, env, work, "git", "push", "origin", "main"); code == 0 || !strings.Contains(out, "git push --no-verify") {
		t.Fatalf("push from core.hooksPath hook: exit %d, want blocked\n%s", code, out)
	}
}

// TestHookInstallForeign covers the in-process install and uninstall: a
// foreign hook is refused, kept aside with --force and restored on
// uninstall; reinstalling over our own hook needs no --force.
func TestHookInstallForeign(t *testing.T) {
	requireGit(t)
	env := gitEnv(t, t.TempDir())
	work := newRepo(t, env)
	hooks := filepath.Join(work, ".git", "hooks")
	foreign := "#!/bin/sh\necho mine\n"
	writeFile(t, filepath.Join(hooks, "pre-push"), foreign)

	t.Chdir(work)
	run := func(args ...string) (int, string) {
		s, out, errb := streams(nil)
		code := Run(context.Background(), append([]string{"hook"}, args...), s)
		return code, out.String() + errb.String()
	}

	if code, out := run("install"); code != ExitUsage || !strings.Contains(out, "--force") {
		t.Fatalf("install over a foreign hook: exit %d, want %d and a --force hint\n%s", code, ExitUsage, out)
	}
	if b, _ := os.ReadFile(filepath.Join(hooks, "pre-push")); string(b) != foreign {
		t.Fatalf("foreign hook changed without --force")
	}
	code, out := run("install", "--force")
	if code != ExitOK {
		t.Fatalf("install --force: exit %d\n%s", code, out)
	}
	// The test binary is not a lambdoctor to record: the hook uses PATH.
	if !strings.Contains(out, "is a temporary build") {
		t.Errorf("install from a test binary should record no path:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(hooks, "pre-push"+hookBackupSuffix)); string(b) != foreign {
		t.Fatalf("foreign hook not kept as pre-push%s", hookBackupSuffix)
	}
	if code, out := run("install"); code != ExitOK {
		t.Fatalf("reinstall over our own hook: exit %d\n%s", code, out)
	}
	// A second foreign hook while the first is kept aside is refused:
	// chaining it would drop one of the two.
	writeFile(t, filepath.Join(hooks, "pre-push"), "#!/bin/sh\necho other\n")
	if code, out := run("install", "--force"); code != ExitUsage || !strings.Contains(out, "already holds an earlier hook") {
		t.Fatalf("install --force with both hooks: exit %d\n%s", code, out)
	}
	if code, out := run("install", "--force", "--hook", "pre-push"); code != ExitUsage {
		t.Fatalf("install --force again: exit %d\n%s", code, out)
	}
	os.Remove(filepath.Join(hooks, "pre-push"))
	if code, out := run("install"); code != ExitOK || !strings.Contains(out, "runs "+filepath.Join(hooks, "pre-push"+hookBackupSuffix)+" first") {
		t.Fatalf("install beside a kept hook: exit %d\n%s", code, out)
	}
	if code, out := run("install", "--hook", "post-merge"); code != ExitUsage {
		t.Fatalf("install --hook post-merge: exit %d, want %d\n%s", code, ExitUsage, out)
	}
	if code, out := run("uninstall"); code != ExitOK || !strings.Contains(out, "restored") {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(hooks, "pre-push")); string(b) != foreign {
		t.Fatalf("foreign hook not restored by uninstall: %q", b)
	}
	if code, out := run("uninstall"); code != ExitUsage || !strings.Contains(out, "not written by lambdoctor") {
		t.Fatalf("uninstall of a foreign hook: exit %d, want %d\n%s", code, ExitUsage, out)
	}
	if code, out := run("install", "--hook", "pre-commit"); code != ExitOK || !strings.Contains(out, "pre-commit") {
		t.Fatalf("install --hook pre-commit: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(hooks, "pre-commit")); !strings.Contains(string(b), "hook run --hook pre-commit") || !strings.Contains(string(b), "git commit --no-verify") {
		t.Fatalf("pre-commit hook script:\n%s", b)
	}

	outside := t.TempDir()
	s, _, errb := streams(nil)
	if err := runHookInstall(context.Background(), s, &hookOptions{hook: "pre-push", dir: outside}); err == nil {
		t.Fatalf("install outside a git repository succeeded")
	} else if !strings.Contains(err.Error(), "not inside a git work tree") {
		t.Fatalf("install outside a repository: %v %s", err, errb)
	}
}

// TestHookScriptIsPOSIX checks the script with sh -n, and with dash when
// it is installed (Debian's /bin/sh).
func TestHookScriptIsPOSIX(t *testing.T) {
	for _, hook := range []string{"pre-push", "pre-commit"} {
		p := filepath.Join(t.TempDir(), hook)
		writeFile(t, p, hookScript(hook, "/opt/it's here/lambdoctor"))
		for _, sh := range []string{"sh", "dash"} {
			if _, err := exec.LookPath(sh); err != nil {
				continue
			}
			if out, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", sh, hook, err, out)
			}
		}
	}
}

func TestHookUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"hook", "instal"}, {"hook", "install", "extra"}, {"hook", "run", "--hook", "post-merge"}} {
		s, _, errb := streams(nil)
		if code := Run(context.Background(), args, s); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %s", args, code, ExitUsage, errb)
		}
	}
	s, out, _ := streams(nil)
	if code := Run(context.Background(), []string{"hook"}, s); code != ExitOK || !strings.Contains(out.String(), "install") {
		t.Errorf("hook without a subcommand: exit %d, want help listing install:\n%s", code, out)
	}
}

// A hook that cannot be written is an output failure (exit 4), not a usage
// error: here core.hooksPath names a regular file.
func TestHookInstallWriteFailure(t *testing.T) {
	requireGit(t)
	env := gitEnv(t, t.TempDir())
	work := newRepo(t, env)
	writeFile(t, filepath.Join(work, "not-a-dir"), "x\n")
	mustRun(t, env, work, "git", "config", "core.hooksPath", "not-a-dir")
	t.Chdir(work)
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"hook", "install"}, s); code != ExitWrite {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitWrite, out, errb)
	}
	if !strings.Contains(errb.String(), "lambdoctor: ") || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("want one error line, got %q", errb)
	}
}

// TestHookCounts reads the summaries of the JSON report in both shapes.
func TestHookCounts(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ json, want string }{
		{`{"summary":{"error":0,"warning":0,"info":0}}`, ""},
		{`{"summary":{"error":0,"warning":1,"info":2}}`, "1 warning, 2 info"},
		{`{"reports":[{"summary":{"error":2,"warning":0,"info":0}},{"summary":{"error":1,"warning":3,"info":0,"suppressed":4}}]}`, "3 errors, 3 warnings"},
	} {
		p := filepath.Join(dir, "r.json")
		writeFile(t, p, c.json)
		if got, err := hookCounts(p); err != nil || got != c.want {
			t.Errorf("hookCounts(%s) = %q, %v; want %q", c.json, got, err, c.want)
		}
	}
	if _, err := hookCounts(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing report gave no error")
	}
}
