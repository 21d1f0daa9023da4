package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

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

// hookScript is the POSIX sh hook. It finds lambdoctor on PATH or in
// $LAMBDOCTOR and lets `lambdoctor hook run` do the work, so the script
// never needs updating when lambdoctor changes.
func hookScript(hook string) string {
	action := hookNames[hook]
	return `#!/bin/sh
` + hookMarker + `
# Inspects the images listed under "images:" in .lambdoctor.yaml before each
# git ` + action + `, and blocks it when lambdoctor fails. Remove with
# "lambdoctor hook uninstall --hook ` + hook + `".
lambdoctor="${LAMBDOCTOR:-lambdoctor}"
if ! command -v "$lambdoctor" >/dev/null 2>&1; then
	echo "lambdoctor: $lambdoctor not found (put it on PATH or set LAMBDOCTOR); ` + action + ` blocked. Bypass once: git ` + action + ` --no-verify" >&2
	exit 1
fi
"$lambdoctor" hook run --hook ` + hook + ` </dev/null
status=$?
case $status in
0) exit 0 ;;
1 | 3) echo "lambdoctor: ` + action + ` blocked by the findings above. Bypass once: git ` + action + ` --no-verify" >&2 ;;
*) echo "lambdoctor: the ` + hook + ` hook failed (exit $status); ` + action + ` blocked. Bypass once: git ` + action + ` --no-verify" >&2 ;;
esac
exit 1
`
}

type hookOptions struct {
	hook       string
	force      bool
	configPath string // --config of hook run
	dir        string // where git runs; "" is the working directory
	net        netFlags
	noCache    bool        // --no-cache of hook run
	policy     policyFlags // --ignore, --disable of hook run
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
unless --force is given; it is then kept beside the new one with the suffix
` + hookBackupSuffix + ` and restored by "lambdoctor hook uninstall".`,
		Example: `  lambdoctor hook install
  lambdoctor hook install --force`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runHookInstall(c.Context(), streams, opts)
		},
	}
	hookFlag(c, opts)
	c.Flags().BoolVar(&opts.force, "force", false, "replace a hook lambdoctor did not write (it is kept with the suffix "+hookBackupSuffix+")")
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
With no images listed it prints a note and exits 0. Exit codes are those of
"lambdoctor inspect"; the report goes to standard error, which git shows.`,
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
		return usageError("%s exists and was not written by lambdoctor; keep it, or run 'lambdoctor hook install --force' to replace it (it is kept as %s%s)", path, opts.hook, hookBackupSuffix)
	default:
		if err := os.Rename(path, path+hookBackupSuffix); err != nil {
			return writeError(fmt.Errorf("keeping the existing hook: %w", err))
		}
		fmt.Fprintf(streams.Err, "lambdoctor: kept the existing hook as %s\n", path+hookBackupSuffix)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return writeError(fmt.Errorf("creating the hooks directory: %w", err))
	}
	if err := os.WriteFile(path, []byte(hookScript(opts.hook)), 0o755); err != nil {
		return writeError(fmt.Errorf("writing the hook: %w", err))
	}
	// WriteFile keeps the mode of an existing file and applies the umask.
	if err := os.Chmod(path, 0o755); err != nil {
		return writeError(fmt.Errorf("making the hook executable: %w", err))
	}
	fmt.Fprintf(streams.Out, "installed the %s hook: %s\n", opts.hook, path)
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
	io := *streams
	if opts.dir != "" {
		io.Getwd = func() (string, error) { return opts.dir, nil }
	}
	io.Out = streams.Err // git shows a hook's stderr; keep stdout free
	io.OutTTY = streams.ErrTTY
	iopts := defaultInspectOptions()
	iopts.configPath = opts.configPath
	iopts.net = opts.net
	iopts.noCache = opts.noCache
	iopts.policy = opts.policy
	// With no IMAGE arguments inspect reads the images, and everything
	// else (arch, fail-on, disable, severity, ignore), from the config.
	return runInspect(ctx, &io, iopts, nil)
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
