package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// hookMarker identifies a hook script written by lambdoctor: install
// overwrites and uninstall removes only files that carry it.
const hookMarker = "# lambdoctor-hook: managed by `lambdoctor hook install`"

// hookBackupSuffix names where install --force keeps a foreign hook, and
// from where uninstall restores it.
const hookBackupSuffix = ".pre-lambdoctor"

// hookNames are the git hooks lambdoctor can be installed as, and the word
// for what each one blocks.
var hookNames = map[string]string{"pre-push": "push", "pre-commit": "commit"}

// hookScript is the POSIX sh hook. It runs the hook that install --force
// moved aside first (with the hook's arguments and standard input, which
// for pre-push lists the refs: git-lfs's hook reads them), stopping with
// its exit code when it fails; then lambdoctor, found as $LAMBDOCTOR, else
// at the absolute path of the binary that installed the hook (self; "" for
// none), else on PATH (GUI git clients often run hooks with a minimal
// PATH). `lambdoctor hook run` does the work and says why it blocks, so the
// script never needs updating when lambdoctor changes; the script adds the
// bypass hint and passes the exit code on (1 findings, 3 an image could
// not be loaded, as docs/exit-codes.md lists).
func hookScript(hook, self string) string {
	action := hookNames[hook]
	bypass := "Bypass once: git " + action + " --no-verify"
	return `#!/bin/sh
` + hookMarker + `
# Inspects the images listed under "images:" in .lambdoctor.yaml before each
# git ` + action + `, and blocks it when lambdoctor fails. Remove with
# "lambdoctor hook uninstall --hook ` + hook + `".
previous="$(dirname "$0")/` + hook + hookBackupSuffix + `"
if [ -f "$previous" ]; then
	if [ -x "$previous" ]; then
		"$previous" "$@" || exit $?
	else
		echo "lambdoctor: $previous is not executable, so it was not run (git would not run it either)" >&2
	fi
fi
installed=` + shellQuote(self) + `
lambdoctor="${LAMBDOCTOR:-}"
if [ -z "$lambdoctor" ]; then
	if [ -n "$installed" ] && [ -x "$installed" ]; then
		lambdoctor="$installed"
	elif command -v lambdoctor >/dev/null 2>&1; then
		lambdoctor=lambdoctor
	else
		echo "lambdoctor: not found at ${installed:-(no recorded path)} nor on PATH ($PATH); put it on PATH or set LAMBDOCTOR; ` + action + ` blocked. ` + bypass + `" >&2
		exit 127
	fi
fi
"$lambdoctor" hook run --hook ` + hook + ` </dev/null
status=$?
case $status in
0) exit 0 ;;
1 | 3) echo "lambdoctor: to bypass once: git ` + action + ` --no-verify" >&2 ;;
*) echo "lambdoctor: the ` + hook + ` hook failed (exit $status); ` + action + ` blocked. ` + bypass + `" >&2 ;;
esac
exit $status
`
}

// shellQuote quotes s for a POSIX shell: in single quotes, where each
// single quote of s closes the quotes, is escaped with a backslash, and
// reopens them.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hookSelf is the absolute path the hook records for this binary, or ""
// with the reason when it records none: a binary of "go run" or "go test"
// lives in a temporary build directory that will be gone at push time.
func hookSelf(executable func() (string, error)) (string, string) {
	exe, err := executable()
	if err != nil {
		return "", fmt.Sprintf("cannot tell where this lambdoctor is (%v)", err)
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	if !strings.Contains(filepath.Base(exe), "lambdoctor") || strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "", exe + " is a temporary build (go run or go test)"
	}
	return exe, ""
}

type hookOptions struct {
	hook       string
	force      bool
	configPath string // --config of hook run
	dir        string // where git runs; "" is the working directory
	net        netFlags
	noCache    bool        // --no-cache of hook run
	policy     policyFlags // --ignore, --disable of hook run
	// executable is os.Executable outside tests: where the hook finds
	// the binary that installed it.
	executable func() (string, error)
}

func newHookCmd(streams *IOStreams) *cobra.Command {
	c := &cobra.Command{
		Use:   "hook",
		Short: "Install, remove or run the git hook that inspects images before a push",
		Long: `Install, remove or run the git hook that inspects images before a push.

"lambdoctor hook install" writes a pre-push hook into the repository's hooks
directory (honouring core.hooksPath). Before each push it inspects the images
listed under "images:" in .lambdoctor.yaml and blocks the push when
lambdoctor exits 1 (findings at or above fail-on) or 3 (an image could not
be loaded). "git push --no-verify" bypasses it once.`,
		// Runnable, so that a mistyped subcommand is a usage error rather
		// than help and exit 0.
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newHookInstallCmd(streams), newHookUninstallCmd(streams), newHookRunCmd(streams))
	return c
}

func hookFlag(c *cobra.Command, opts *hookOptions) {
	c.Flags().StringVar(&opts.hook, "hook", "pre-push", "the git hook: pre-push or pre-commit")
	_ = c.RegisterFlagCompletionFunc("hook", cobra.FixedCompletions([]string{"pre-push", "pre-commit"}, cobra.ShellCompDirectiveNoFileComp))
}

func newHookInstallCmd(streams *IOStreams) *cobra.Command {
	opts := &hookOptions{}
	c := &cobra.Command{
		Use:   "install",
		Short: "Write the git hook that inspects the images of .lambdoctor.yaml",
		Long: `Write the git hook that inspects the images of .lambdoctor.yaml.

The hook goes where git looks for it ("git rev-parse --git-path hooks", so
core.hooksPath is honoured). A hook lambdoctor did not write is left alone
unless --force is given; it is then moved beside the new one with the suffix
` + hookBackupSuffix + `, and chained: the new hook runs it first (with git's
arguments and standard input, so git-lfs's pre-push hook keeps working) and
stops with its exit code when it fails. "lambdoctor hook uninstall" puts it
back.

The hook records the absolute path of the lambdoctor that installed it and
runs that one, else lambdoctor from PATH; $LAMBDOCTOR overrides both.`,
		Example: `  lambdoctor hook install
  lambdoctor hook install --force`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runHookInstall(c.Context(), streams, opts)
		},
	}
	hookFlag(c, opts)
	c.Flags().BoolVar(&opts.force, "force", false, "install over a hook lambdoctor did not write: it is moved to the suffix "+hookBackupSuffix+" and run first")
	return c
}

func newHookUninstallCmd(streams *IOStreams) *cobra.Command {
	opts := &hookOptions{}
	c := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the git hook lambdoctor wrote",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runHookUninstall(c.Context(), streams, opts)
		},
	}
	hookFlag(c, opts)
	return c
}

func newHookRunCmd(streams *IOStreams) *cobra.Command {
	opts := &hookOptions{}
	c := &cobra.Command{
		Use:   "run",
		Short: "Inspect the images listed in .lambdoctor.yaml (what the hook runs)",
		Long: `Inspect the images listed under "images:" in .lambdoctor.yaml, as the git
hook and the pre-commit framework do. The file is the one named by
--config, else $LAMBDOCTOR_CONFIG, else the nearest .lambdoctor.yaml from the
working directory up to the top of the git repository; its other settings
(arch, fail-on, disable, severity, ignore) apply as for "lambdoctor inspect".
With no images listed it prints a note and exits 0. When every image passes
it prints one line ("lambdoctor: 2 images clean (0.2 s)"); otherwise the full
report, then what blocks the push or commit: findings at or above fail-on
(exit 1), or an image that could not be loaded (exit 3). Everything goes to
standard error, which git shows.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runHookRun(c.Context(), streams, opts)
		},
	}
	hookFlag(c, opts)
	c.Flags().StringVar(&opts.configPath, "config", "", "the config file (default: $LAMBDOCTOR_CONFIG, else .lambdoctor.yaml up to the git root)")
	addNetFlags(c.Flags(), &opts.net)
	addNoCacheFlag(c.Flags(), &opts.noCache)
	addPolicyFlags(c.Flags(), &opts.policy)
	return c
}

func (o *hookOptions) check() error {
	if _, ok := hookNames[o.hook]; !ok {
		return usageError("unknown --hook %q (want pre-push or pre-commit)", o.hook)
	}
	return nil
}

// git runs git in dir and returns its trimmed standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, "git", args...)
	c.Dir = dir
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return strings.TrimSpace(out.String()), nil
}

// hooksDir returns the directory git runs hooks from, honouring
// core.hooksPath, as an absolute path.
func hooksDir(ctx context.Context, dir string) (string, error) {
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", usageError("not inside a git work tree: %v", err)
	}
	// Ask from the top level: a relative core.hooksPath is relative to it,
	// and so is git's answer.
	p, err := git(ctx, top, "rev-parse", "--git-path", "hooks")
	if err != nil {
		return "", usageError("finding the hooks directory: %v", err)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(top, p)
	}
	return p, nil
}

func isOurHook(content []byte) bool {
	return bytes.Contains(content, []byte(hookMarker))
}

func runHookInstall(ctx context.Context, streams *IOStreams, opts *hookOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	dir, err := hooksDir(ctx, opts.dir)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, opts.hook)
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return writeError(fmt.Errorf("reading the existing hook: %w", err))
	case isOurHook(old):
	case !opts.force:
		return usageError("%s exists and was not written by lambdoctor; keep it, or run 'lambdoctor hook install --force' to chain it (it is moved to %s%s and run first)", path, opts.hook, hookBackupSuffix)
	default:
		if _, err := os.Lstat(path + hookBackupSuffix); err == nil {
			return usageError("%s exists and was not written by lambdoctor, and %s already holds an earlier hook; merge the two into one, then run 'lambdoctor hook install --force'", path, path+hookBackupSuffix)
		}
		if err := os.Rename(path, path+hookBackupSuffix); err != nil {
			return writeError(fmt.Errorf("keeping the existing hook: %w", err))
		}
		fmt.Fprintf(streams.Err, "lambdoctor: moved the existing hook to %s; the lambdoctor hook runs it first and stops with its exit code when it fails\n", path+hookBackupSuffix)
	}
	executable := opts.executable
	if executable == nil {
		executable = os.Executable
	}
	self, why := hookSelf(executable)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return writeError(fmt.Errorf("creating the hooks directory: %w", err))
	}
	if err := os.WriteFile(path, []byte(hookScript(opts.hook, self)), 0o755); err != nil {
		return writeError(fmt.Errorf("writing the hook: %w", err))
	}
	// WriteFile keeps the mode of an existing file and applies the umask.
	if err := os.Chmod(path, 0o755); err != nil {
		return writeError(fmt.Errorf("making the hook executable: %w", err))
	}
	fmt.Fprintf(streams.Out, "installed the %s hook: %s\n", opts.hook, path)
	if self != "" {
		fmt.Fprintf(streams.Out, "it runs %s (else lambdoctor on PATH; $LAMBDOCTOR overrides both)\n", self)
	} else {
		fmt.Fprintf(streams.Out, "note: %s; the hook runs lambdoctor from PATH ($LAMBDOCTOR overrides)\n", why)
	}
	if _, err := os.Lstat(path + hookBackupSuffix); err == nil {
		fmt.Fprintf(streams.Out, "it runs %s first\n", path+hookBackupSuffix)
	}
	if images, cfg, err := hookImages(streams, opts); err == nil && len(images) == 0 {
		where := "no .lambdoctor.yaml was found"
		if cfg != "" {
			where = cfg + " lists no images"
		}
		fmt.Fprintf(streams.Out, "note: %s; add the images to check under \"images:\"\n", where)
	}
	return nil
}

func runHookUninstall(ctx context.Context, streams *IOStreams, opts *hookOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	dir, err := hooksDir(ctx, opts.dir)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, opts.hook)
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(streams.Out, "no %s hook is installed\n", opts.hook)
		return nil
	}
	if err != nil {
		return writeError(fmt.Errorf("reading the hook: %w", err))
	}
	if !isOurHook(old) {
		return usageError("%s was not written by lambdoctor; left as it is", path)
	}
	if err := os.Remove(path); err != nil {
		return writeError(fmt.Errorf("removing the hook: %w", err))
	}
	fmt.Fprintf(streams.Out, "removed the %s hook: %s\n", opts.hook, path)
	if _, err := os.Lstat(path + hookBackupSuffix); err == nil {
		if err := os.Rename(path+hookBackupSuffix, path); err != nil {
			return writeError(fmt.Errorf("restoring the previous hook: %w", err))
		}
		fmt.Fprintf(streams.Out, "restored the previous hook from %s\n", path+hookBackupSuffix)
	}
	return nil
}

func runHookRun(ctx context.Context, streams *IOStreams, opts *hookOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	images, cfg, err := hookImages(streams, opts)
	if err != nil {
		return err
	}
	if len(images) == 0 {
		where := "no .lambdoctor.yaml found"
		if cfg != "" {
			where = cfg + " lists no images"
		}
		fmt.Fprintf(streams.Err, "lambdoctor: %s; nothing to inspect before %s\n", where, hookNames[opts.hook])
		return nil
	}
	start := time.Now()
	io := *streams
	if opts.dir != "" {
		io.Getwd = func() (string, error) { return opts.dir, nil }
	}
	// The report is held back: a clean run prints one line, a failing one
	// the report and then the reason. A JSON copy gives the counts.
	// Notes inspect writes to stderr are held back too (and, with no
	// terminal, no pull progress is drawn).
	var rep, notes bytes.Buffer
	io.Out, io.Err = &rep, &notes
	io.OutTTY, io.ErrTTY = streams.ErrTTY, false
	tmp, err := os.MkdirTemp("", "lambdoctor-hook-")
	if err != nil {
		return writeError(fmt.Errorf("creating a temporary directory: %w", err))
	}
	defer os.RemoveAll(tmp)
	jsonPath := filepath.Join(tmp, "report.json")
	iopts := defaultInspectOptions()
	iopts.configPath = opts.configPath
	iopts.net = opts.net
	iopts.noCache = opts.noCache
	iopts.policy = opts.policy
	iopts.outputs = []string{"json=" + jsonPath}
	// With no IMAGE arguments inspect reads the images, and everything
	// else (arch, fail-on, disable, severity, ignore), from the config.
	err = runInspect(ctx, &io, iopts, nil)
	code, _ := exitCode(err)
	action := hookNames[opts.hook]
	if code == ExitOK {
		found, cerr := hookCounts(jsonPath)
		n, verb := fmt.Sprintf("%d images", len(images)), "pass"
		if len(images) == 1 {
			n, verb = "1 image", "passes"
		}
		// runInspect left the fail-on it applied (flag, else config).
		counts := "clean"
		switch {
		case cerr != nil:
			// The inspection passed; only the counts are lost.
			counts = verb + " fail-on " + iopts.failOn
		case found != "":
			counts = verb + " fail-on " + iopts.failOn + ", with " + found + " ('lambdoctor inspect' shows them)"
		}
		fmt.Fprintf(streams.Err, "lambdoctor: %s %s (%.1f s)\n", n, counts, time.Since(start).Seconds())
		return nil
	}
	if _, werr := streams.Err.Write(append(rep.Bytes(), notes.Bytes()...)); werr != nil {
		return writeError(werr)
	}
	switch {
	case ctx.Err() != nil:
	case code == ExitFindings:
		fmt.Fprintf(streams.Err, "lambdoctor: %s blocked by the findings above (at or above fail-on); fix them, or ignore one in %s\n", action, cfg)
	case code == ExitLoad:
		fmt.Fprintf(streams.Err, "lambdoctor: %s blocked: could not load an image listed in %s (the error is above); build or pull it, or correct its name\n", action, cfg)
	}
	return err
}

// hookCounts counts the findings of a passing inspection from its JSON
// report (one report object, or {"reports": [...]} for several images):
// "" when there are none, else e.g. "2 warnings, 1 info".
func hookCounts(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	type summary struct {
		Error, Warning, Info int
	}
	type one struct {
		Summary summary `json:"summary"`
	}
	var doc struct {
		one
		Reports []one `json:"reports"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", err
	}
	reports := doc.Reports
	if reports == nil {
		reports = []one{doc.one}
	}
	var total summary
	for _, r := range reports {
		total.Error += r.Summary.Error
		total.Warning += r.Summary.Warning
		total.Info += r.Summary.Info
	}
	var parts []string
	for _, c := range []struct {
		n    int
		name string
	}{{total.Error, "error"}, {total.Warning, "warning"}, {total.Info, "info"}} {
		switch {
		case c.n == 1 || c.n > 0 && c.name == "info":
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		case c.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", c.n, c.name))
		}
	}
	return strings.Join(parts, ", "), nil
}

// hookImages returns the images listed in the config file (resolved as
// inspect resolves them) and the file's path ("" when there is none).
func hookImages(streams *IOStreams, opts *hookOptions) ([]string, string, error) {
	s := *streams
	if opts.dir != "" {
		s.Getwd = func() (string, error) { return opts.dir, nil }
	}
	cfg, err := loadConfig(&s, opts.configPath)
	if err != nil || cfg == nil {
		return nil, "", err
	}
	return cfg.ImageRefs(), cfg.File, nil
}
