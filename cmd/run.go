package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/report"
	"github.com/lambdoctor/lambdoctor/runtimeapi"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

type runOptions struct {
	arch    string
	format  string
	failOn  string
	noColor bool
	quiet   bool

	configPath         string
	archSet, failOnSet bool

	// The function's ImageConfig overrides.
	entrypoint, command, workdir string

	event       string   // --event FILE or "-"; "" sends {}
	env         []string // --env K=V
	memoryMB    int
	timeout     time.Duration
	initTimeout time.Duration
	tmpSizeMB   int
	keep        bool
	network     string // --network: "none" or "host"
	net         netFlags
	noCache     bool // --no-cache

	// load is source.Load outside tests.
	load func(ctx context.Context, ref string, opts source.Options) (*source.Image, error)
}

// Lambda's limits for the values run accepts.
const (
	minMemoryMB  = 128
	maxMemoryMB  = 10240
	maxTimeout   = 900 * time.Second
	minTmpSizeMB = 512
	maxTmpSizeMB = 10240
	// tailLines is how much of the function's stdout and stderr is shown.
	tailLines = 40
	// functionName names the function in the environment and its ARN.
	functionName = "lambdoctor-run"
	runRegion    = "us-east-1"
)

const runLong = `Boot an image the way Lambda does, send it one event, and say what happened.

run materialises the image's merged filesystem in a private temporary
directory and serves the Lambda Runtime API (2018-06-01) on loopback itself.
It starts ENTRYPOINT + CMD (after the ImageConfig overrides) in a sandbox that
matches Lambda's, unlike the Runtime Interface Emulator and sam local invoke:

  - a private mount and PID namespace; the root filesystem read-only
  - a network namespace of its own with only loopback (--network none, the
    default): the Runtime API is forwarded into it at 127.0.0.1:9001, as on
    Lambda, and nothing of the host is reachable; --network host shares the
    host's network instead, for functions that must call out (Lambda
    functions outside a VPC have internet egress)
  - a UTS namespace of its own with a hostname shaped like Lambda's
    (169.254.x.y)
  - Lambda's limit of 1,024 processes and threads (a pids cgroup, else
    RLIMIT_NPROC); a fork storm is named in the diagnosis
  - an empty writable tmpfs /tmp, a fresh /proc and a minimal /dev
  - uid 993, gid 990 whatever USER says; WORKDIR as the working directory
  - the environment Lambda sets (AWS_LAMBDA_RUNTIME_API, _HANDLER,
    LAMBDA_TASK_ROOT, AWS_REGION, AWS_LAMBDA_FUNCTION_*, TZ, LANG ...) over
    the image's ENV
  - the 10 s init limit (init ends at the first call to /next), then the
    invoke timeout
  - the memory size (--memory) as a cgroup limit without swap: a function
    that uses more is killed by the kernel's OOM killer, as on Lambda
    (Runtime.OutOfMemory), and the report shows Max Memory Used

It reports a timeline, the response or error, how the process ended, the
tail of its output and a diagnosis linked to the checks that explain it,
together with the static checks of 'lambdoctor inspect'. The process tree,
the mounts and the temporary directory are removed when it ends, also when
interrupted or when the function hangs; what a run killed outright (kill -9)
leaves behind is removed by the next run.

run needs Linux and root (it builds mount, PID, UTS and network namespaces, a
memory and pids cgroup, and chowns files to the Lambda user), or unprivileged
user namespaces (see docs/run.md). Without a usable cgroup memory
controller (v2, or v1's memory hierarchy) the function runs unlimited and
the report says so. The function runs on this machine's CPU: an
image for the other architecture fails with exec format error unless
binfmt_misc emulation is installed.

IMAGE is any reference 'lambdoctor inspect' accepts.

Exit codes:
  0  the function started, took the event and answered, and no finding is
     at or above --fail-on
  1  the function failed to start, init or answer (or returned an error),
     or findings at or above --fail-on
  2  usage error, or this machine cannot run the sandbox
  3  the image could not be loaded or read, or the run was interrupted`

const runExample = `  lambdoctor run fn.tar
  echo '{"name":"x"}' | lambdoctor run --event - docker:my-fn:dev
  lambdoctor run --cmd app.handler --env LOG_LEVEL=debug --timeout 10s fn.tar --format json`

func newRunCmd(streams *IOStreams, runF func(context.Context, *runOptions, string) error) *cobra.Command {
	opts := &runOptions{load: source.Load}
	c := &cobra.Command{
		Use:     "run IMAGE",
		Short:   "Boot an image like Lambda does, invoke it once, and say why it fails",
		Long:    runLong,
		Example: runExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.archSet, opts.failOnSet = c.Flags().Changed("arch"), c.Flags().Changed("fail-on")
			if runF != nil {
				return runF(c.Context(), opts, args[0])
			}
			return runRun(c.Context(), streams, opts, args[0])
		},
	}
	f := c.Flags()
	f.StringVar(&opts.event, "event", "", "the event to send: a JSON file, or - for standard input (default {})")
	f.StringVar(&opts.arch, "arch", "amd64", "the function's architecture: amd64 (x86_64) or arm64")
	f.StringVar(&opts.entrypoint, "entrypoint", "", `the function's ImageConfig EntryPoint, as a JSON list ('["/bin/app","--flag"]') or one path`)
	f.StringVar(&opts.command, "cmd", "", `the function's ImageConfig Command, as a JSON list ('["app.handler"]') or one string`)
	f.StringVar(&opts.workdir, "workdir", "", "the function's ImageConfig WorkingDirectory")
	f.StringArrayVar(&opts.env, "env", nil, "a function environment variable `K=V` (repeatable); Lambda's reserved names are refused")
	f.IntVar(&opts.memoryMB, "memory", 128, "the function's memory size in MB (128-10240): the sandbox's cgroup memory limit (no swap) and AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
	f.DurationVar(&opts.timeout, "timeout", 3*time.Second, "the function timeout for the invoke (Lambda's default is 3s, the maximum 15m)")
	f.DurationVar(&opts.initTimeout, "init-timeout", 10*time.Second, "the init limit: the runtime must call /next within it (10s on Lambda)")
	f.IntVar(&opts.tmpSizeMB, "tmp-size", 512, "the size of /tmp in MB (Lambda's ephemeral storage, 512-10240)")
	f.BoolVar(&opts.keep, "keep", false, "keep the materialised root filesystem and print where it is")
	f.StringVar(&opts.network, "network", "none", "the function's network: none (only loopback, with the Runtime API forwarded at 127.0.0.1:9001) or host (the host's network: for functions that must call out, as Lambda functions outside a VPC can)")
	f.StringVar(&opts.format, "format", "text", "output format: text or json")
	f.StringVar(&opts.failOn, "fail-on", "error", "also exit 1 when a static finding is at or above this severity: error, warning, info or none")
	addNetFlags(f, &opts.net)
	f.BoolVar(&opts.noColor, "no-color", false, "never colour the output (NO_COLOR is honoured too)")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress on stderr for registry pulls (shown only when stderr is a terminal)")
	f.StringVar(&opts.configPath, "config", "", "the config file (default: $LAMBDOCTOR_CONFIG, else .lambdoctor.yaml up to the git root)")
	addNoCacheFlag(f, &opts.noCache)
	_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("network", cobra.FixedCompletions([]string{"none", "host"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// runPlan is a validated command line: everything run needs before it
// loads the image.
type runPlan struct {
	arch      string
	failOn    checks.Severity
	overrides checks.ImageConfig
	event     []byte
	env       []string // --env, validated
}

func (o *runOptions) plan(streams *IOStreams) (*runPlan, error) {
	p := &runPlan{}
	var err error
	if o.format != "text" && o.format != "json" {
		return nil, fmt.Errorf("unknown --format %q for run (want text or json)", o.format)
	}
	if p.arch, err = parseArch(o.arch); err != nil {
		return nil, err
	}
	if p.failOn, err = parseFailOn(o.failOn); err != nil {
		return nil, err
	}
	ic := inspectOptions{entrypoint: o.entrypoint, command: o.command, workdir: o.workdir}
	if p.overrides, err = ic.imageConfig(); err != nil {
		return nil, err
	}
	if o.memoryMB < minMemoryMB || o.memoryMB > maxMemoryMB {
		return nil, fmt.Errorf("--memory %d is outside Lambda's %d-%d MB", o.memoryMB, minMemoryMB, maxMemoryMB)
	}
	if o.tmpSizeMB < minTmpSizeMB || o.tmpSizeMB > maxTmpSizeMB {
		return nil, fmt.Errorf("--tmp-size %d is outside Lambda's %d-%d MB", o.tmpSizeMB, minTmpSizeMB, maxTmpSizeMB)
	}
	if o.timeout <= 0 || o.timeout > maxTimeout {
		return nil, fmt.Errorf("--timeout %s is outside Lambda's 1s-15m", o.timeout)
	}
	if o.network != "none" && o.network != "host" {
		return nil, fmt.Errorf("unknown --network %q (want none or host)", o.network)
	}
	if o.initTimeout <= 0 {
		return nil, fmt.Errorf("--init-timeout %s must be positive", o.initTimeout)
	}
	if p.env, err = parseEnvFlags(o.env); err != nil {
		return nil, err
	}
	if p.event, err = readEvent(streams, o.event); err != nil {
		return nil, err
	}
	return p, nil
}

// readEvent reads --event: {} when not given, standard input for "-".
func readEvent(streams *IOStreams, flag string) ([]byte, error) {
	var b []byte
	var err error
	switch flag {
	case "":
		return []byte("{}"), nil
	case "-":
		b, err = io.ReadAll(io.LimitReader(streams.In, runtimeapi.MaxInvokePayloadSize+1))
	default:
		b, err = os.ReadFile(flag)
	}
	if err != nil {
		return nil, fmt.Errorf("reading --event: %v", err)
	}
	if len(b) > runtimeapi.MaxInvokePayloadSize {
		return nil, fmt.Errorf("--event is over Lambda's 6 MB payload limit")
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--event %s is not valid JSON (Lambda events are JSON documents)", flag)
	}
	return b, nil
}

// reservedEnv are the variables a function's configuration cannot set
// (LAMBDA.md §0).
var reservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_REGION": true, "AWS_EXECUTION_ENV": true,
	"AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true,
	"AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true,
	"AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true,
	"LAMBDA_RUNTIME_DIR": true, "TZ": true,
}

// parseEnvFlags validates --env K=V as Lambda validates a function's
// environment: a name of letters, digits and underscores starting with a
// letter, and no reserved name.
func parseEnvFlags(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, kv := range list {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: want K=V", kv)
		}
		if reservedEnv[k] {
			return nil, fmt.Errorf("--env %q: %s is reserved; Lambda refuses it in a function's configuration", kv, k)
		}
		if !validEnvName(k) {
			return nil, fmt.Errorf("--env %q: Lambda accepts names of letters, digits and _ that start with a letter", kv)
		}
		out = append(out, kv)
	}
	return out, nil
}

func validEnvName(k string) bool {
	for i, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r == '_' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return k != ""
}

// lambdaEnv is the function's environment: the image's ENV, then the
// function's variables (--env), then what Lambda sets, which wins. PATH gets
// Lambda's default when neither the image nor --env sets one.
func lambdaEnv(image, flags []string, api, handler string, memoryMB int) []string {
	var keys []string
	vals := map[string]string{}
	set := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return
		}
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	for _, kv := range image {
		set(kv)
	}
	// LANG is not reserved: Lambda sets it, the function's configuration
	// may change it.
	set("LANG=en_US.UTF-8")
	for _, kv := range flags {
		set(kv)
	}
	if _, ok := vals["PATH"]; !ok {
		set("PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin")
	}
	lambda := []string{
		"AWS_LAMBDA_RUNTIME_API=" + api,
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"AWS_REGION=" + runRegion,
		"AWS_DEFAULT_REGION=" + runRegion,
		"AWS_LAMBDA_FUNCTION_NAME=" + functionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memoryMB),
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + functionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=lambdoctor/[$LATEST]local",
		"TZ=:UTC",
	}
	if handler != "" {
		lambda = append(lambda, "_HANDLER="+handler)
	}
	for _, kv := range lambda {
		set(kv)
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+vals[k])
	}
	return out
}

func runRun(ctx context.Context, streams *IOStreams, opts *runOptions, ref string) error {
	cfg, err := loadConfig(streams, opts.configPath)
	if err != nil {
		return err
	}
	if cfg != nil {
		if cfg.Arch != "" && !opts.archSet {
			opts.arch = cfg.Arch
		}
		if cfg.FailOn != "" && !opts.failOnSet {
			opts.failOn = cfg.FailOn
		}
	}
	plan, err := opts.plan(streams)
	if err != nil {
		return usageError("%v", err)
	}
	if err := opts.net.check(); err != nil {
		return usageError("%v", err)
	}
	if err := sandbox.Supported(); err != nil {
		return usageError("cannot run functions on this machine: %v", err)
	}

	// What runs killed outright left behind goes first: their temporary
	// directories (unlocked) and cgroups (of a dead PID).
	reaped, reapErr := sandbox.ReapStale()
	rd, err := sandbox.CreateRunDir()
	if err != nil {
		return &exitError{code: ExitLoad, err: fmt.Errorf("creating a temporary directory: %w", err)}
	}
	tmp := rd.Path
	rootfs := filepath.Join(tmp, "rootfs")
	keepRoot := false
	defer func() {
		if keepRoot {
			// Everything but the root filesystem goes.
			os.RemoveAll(filepath.Join(tmp, "load"))
			rd.Keep()
			return
		}
		rd.Remove()
	}()
	loadDir := filepath.Join(tmp, "load")
	if err := os.Mkdir(loadDir, 0o700); err != nil {
		return &exitError{code: ExitLoad, err: fmt.Errorf("creating a temporary directory: %w", err)}
	}

	list := withoutDisabled(checks.All(), cfg)
	stages := newSuppressions(cfg, time.Now())
	tool := report.Tool{Name: "lambdoctor", Version: Version()}
	iopts := &inspectOptions{}
	if iopts.cache, err = openLayerCache(streams.Err, opts.noCache, streams.getenv); err != nil {
		return err
	}
	if streams.ErrTTY && !opts.quiet {
		iopts.transport = newProgressTransport(streams.Err, opts.net.connect)
	}
	sopts := source.Options{Arch: plan.arch, TempDir: loadDir, Transport: iopts.transport, Cache: iopts.cache}
	opts.net.apply(&sopts)
	img, err := opts.load(ctx, ref, sopts)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: ExitLoad, err: fmt.Errorf("interrupted while loading %q", ref)}
		}
		return &exitError{code: ExitLoad, err: err}
	}
	defer img.Close()
	fsys, err := imagefs.Build(ctx, img.Layers, buildOptions(list, loadDir, iopts.cache).Unpacking())
	if err != nil {
		return &exitError{code: ExitLoad, err: fmt.Errorf("reading %q: %w", ref, err)}
	}
	defer fsys.Close()
	t := &checks.Target{Image: img, FS: fsys, Arch: plan.arch, Overrides: plan.overrides}
	ri := reportImage(img, fsys)
	if rc := t.RuntimeClient(); rc.Name != "" {
		ri.RuntimeClient = &rc
	}
	static := report.New(tool, ri, checks.Run(ctx, list, t))
	stages.apply(static)

	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return &exitError{code: ExitLoad, err: fmt.Errorf("creating the root filesystem directory: %w", err)}
	}
	// The unpack reads every file: what the checks read is what the
	// layer cache should keep for the next inspection.
	fsys.StopLearning()
	mr, err := sandbox.MaterializeReport(ctx, fsys, rootfs)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: ExitLoad, err: fmt.Errorf("interrupted while unpacking %q", ref)}
		}
		if errors.Is(err, sandbox.ErrUnsupported) {
			return usageError("cannot run functions on this machine: %v", err)
		}
		return &exitError{code: ExitLoad, err: fmt.Errorf("unpacking %q: %w", ref, err)}
	}
	// The image's layers are no longer needed: free the spooled copies.
	fsys.Close()
	img.Close()

	run, err := boot(ctx, bootSpec{
		root: rootfs, argv: t.Argv(), imageEnv: t.Config().Env, env: plan.env,
		event: plan.event, memoryMB: opts.memoryMB, tmpSizeMB: opts.tmpSizeMB,
		timeout: opts.timeout, initTimeout: opts.initTimeout, hostNetwork: opts.network == "host",
	})
	if err != nil {
		if errors.Is(err, sandbox.ErrUnsupported) {
			return usageError("cannot run functions on this machine: %v", err)
		}
		return &exitError{code: ExitUsage, err: err}
	}
	run.Diagnosis = diagnose(run, fsys, static)
	run.Notes = append(run.Notes, runNotes(plan.arch, img, mr, run.Memory)...)
	run.Notes = append(run.Notes, reapNotes(reaped, reapErr)...)
	if opts.keep {
		keepRoot = true
		run.RootFS = rootfs
	}

	doc := newRunDoc(tool, static, run)
	if opts.format == "json" {
		err = writeRunJSON(streams.Out, doc)
	} else {
		err = writeRunText(streams.Out, doc, report.Options{Color: streams.ColorOut(opts.noColor), FailOn: plan.failOn})
	}
	if err != nil {
		return &exitError{code: ExitUsage, err: fmt.Errorf("writing the report: %w", err)}
	}
	printWarnings(streams, stages.warnings(true))
	if run.Result == resultInterrupted {
		return &exitError{code: ExitLoad, err: fmt.Errorf("interrupted while running %q", ref)}
	}
	return &exitError{code: runExitCode(run, static, plan.failOn)}
}

// runExitCode is the one place the exit status of a run is decided: a
// function that did not answer fails the run, as do static findings at or
// above failOn (0: none).
func runExitCode(run *runOutcome, static *report.Report, failOn checks.Severity) int {
	if run.Result != resultSuccess {
		return ExitFindings
	}
	if failOn != 0 && static.Max() >= failOn {
		return ExitFindings
	}
	return ExitOK
}

// reapNotes say what this run removed of killed runs, and what it could
// not.
func reapNotes(reaped []string, err error) []string {
	var notes []string
	if len(reaped) > 0 {
		notes = append(notes, fmt.Sprintf("removed what killed runs left behind: %s", strings.Join(reaped, ", ")))
	}
	if err != nil {
		notes = append(notes, "could not remove everything killed runs left behind: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return notes
}

// runNotes are what the reader should know about how faithful this run was.
func runNotes(arch string, img *source.Image, mr *sandbox.Report, mem *runMemory) []string {
	var notes []string
	if arch != runtime.GOARCH {
		notes = append(notes, fmt.Sprintf("the function is %s but this machine runs %s: it can only start here through binfmt_misc emulation", arch, runtime.GOARCH))
	}
	if a := img.Platform.Architecture; a != "" && a != runtime.GOARCH && a != arch {
		notes = append(notes, fmt.Sprintf("the image config declares %s; this machine runs %s", a, runtime.GOARCH))
	}
	if mr != nil && len(mr.Skipped) > 0 {
		s := mr.Skipped[0]
		notes = append(notes, fmt.Sprintf("%d %s of the image not unpacked (Lambda has no device nodes either), e.g. %s: %s",
			len(mr.Skipped), plural(len(mr.Skipped), "entry", "entries"), s.Path, s.Reason))
	}
	if mem != nil && !mem.Enforced {
		why := ""
		if mem.NotEnforced != "" {
			why = " (" + mem.NotEnforced + ")"
		}
		notes = append(notes, fmt.Sprintf("memory is not limited to %d MB here%s; it is only announced in AWS_LAMBDA_FUNCTION_MEMORY_SIZE, and an out-of-memory kill cannot happen", mem.SizeMB, why))
	}
	return notes
}
