package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/lambda"
	"github.com/lambdoctor/lambdoctor/report"
)

type runOptions struct {
	arch    string
	format  string
	failOn  string
	noColor bool
	quiet   bool

	configPath         string
	archSet, failOnSet bool
	policy             policyFlags // --ignore, --disable

	// The function's ImageConfig overrides.
	entrypoint, command, workdir string

	event       string   // --event FILE or "-"; "" sends {}
	env         []string // --env K=V
	memoryMB    int
	timeout     time.Duration
	initTimeout time.Duration
	tmpSizeMB   int
	keep        bool
	rootfs      string // --rootfs: auto, memory or disk
	network     string // --network: "none" or "host"
	net         netFlags
	noCache     bool   // --no-cache
	listen      string // --listen ADDR: serve the emulator's invoke endpoint

	// deploy is --deploy and --function-id (cmd/deploy.go); changed says
	// whether a flag was given, which beats the definition.
	deploy  deployFlags
	changed func(string) bool

	// load is source.Load outside tests.
	load inspect.LoadFunc
}

// Lambda's limits for the values run accepts.
const (
	minMemoryMB  = lambda.MinMemoryMB
	maxMemoryMB  = lambda.MaxMemoryMB
	maxTimeout   = lambda.MaxTimeout
	minTmpSizeMB = lambda.MinTmpMB
	maxTmpSizeMB = lambda.MaxTmpMB
)

const runLong = `Boot an image the way Lambda does, send it one event, and say what happened.

run materialises the image's merged filesystem in a private temporary
directory (in memory when it fits, see --rootfs) and serves the Lambda
Runtime API (2018-06-01) on loopback itself.
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

IMAGE is any reference 'lambdoctor inspect' accepts. With --deploy PATH
--function-id ID, the function's image, ImageConfig, architecture, memory,
timeout, /tmp size and environment come from its deployment definition (see
docs/deploy.md); an IMAGE given replaces its image, and the flags given win.

Exit codes:
  0  the function started, took the event and answered, and no finding is
     at or above --fail-on
  1  the function failed to start, init or answer (or returned an error),
     or findings at or above --fail-on
  2  usage or configuration error
  3  the image could not be loaded or read, or the run was interrupted
  4  the report could not be written
  5  this machine cannot run the sandbox, or the sandbox failed`

const runExample = `  lambdoctor run fn.tar
  echo '{"name":"x"}' | lambdoctor run --event - docker:my-fn:dev
  lambdoctor run --cmd app.handler --env LOG_LEVEL=debug --timeout 10s fn.tar --format json
  lambdoctor run --deploy template.yaml --function-id HelloWorldFunction`

func newRunCmd(streams *IOStreams, runF func(context.Context, *runOptions, string) error) *cobra.Command {
	opts := &runOptions{load: source.Load}
	c := &cobra.Command{
		Use:     "run [IMAGE]",
		Short:   "Boot an image like Lambda does, invoke it once, and say why it fails",
		Long:    runLong,
		Example: runExample,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.archSet, opts.failOnSet = c.Flags().Changed("arch"), c.Flags().Changed("fail-on")
			opts.changed = c.Flags().Changed
			ref := ""
			if len(args) > 0 {
				ref = args[0]
			}
			if runF != nil {
				return runF(c.Context(), opts, ref)
			}
			return runRun(c.Context(), streams, opts, ref)
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
	f.DurationVar(&opts.initTimeout, "init-timeout", lambda.InitTimeout, "the init limit: the runtime must call /next within it (10s on Lambda)")
	f.IntVar(&opts.tmpSizeMB, "tmp-size", 512, "the size of /tmp in MB (Lambda's ephemeral storage, 512-10240)")
	f.BoolVar(&opts.keep, "keep", false, "keep the materialised root filesystem and print where it is")
	f.StringVar(&opts.rootfs, "rootfs", emulate.RootFSAuto, "where to unpack the image: memory (a tmpfs, $XDG_RUNTIME_DIR or /dev/shm: Lambda's root is read-only, and no disk write is waited for), disk ($TMPDIR), or auto: memory when the tree takes at most a quarter of the memory left and --keep is not given")
	f.StringVar(&opts.listen, "listen", "", "stay up and serve the Runtime Interface Emulator's invoke endpoint (POST /2015-03-31/functions/function/invocations) on `ADDR` (127.0.0.1:9000), one warm execution environment taking many events, until Ctrl-C")
	f.StringVar(&opts.network, "network", "none", "the function's network: none (only loopback, with the Runtime API forwarded at 127.0.0.1:9001) or host (the host's network: for functions that must call out, as Lambda functions outside a VPC can)")
	f.StringVar(&opts.format, "format", "text", "output format: "+strings.Join(formatsOf("run"), ", "))
	f.StringVar(&opts.failOn, "fail-on", "error", "also exit 1 when a static finding is at or above this severity: error, warning, info or none")
	addNetFlags(f, &opts.net)
	f.BoolVar(&opts.noColor, "no-color", false, "never colour the output (NO_COLOR is honoured too)")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress line on stderr for registry pulls and Docker daemon exports (shown only when stderr is a terminal)")
	f.StringVar(&opts.configPath, "config", "", "the config file (default: $LAMBDOCTOR_CONFIG, else .lambdoctor.yaml up to the git root)")
	addNoCacheFlag(f, &opts.noCache)
	addPolicyFlags(f, &opts.policy)
	addDeployFlags(f, &opts.deploy)
	_ = c.RegisterFlagCompletionFunc("network", cobra.FixedCompletions([]string{"none", "host"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// runPlan is a validated command line: everything run needs before it
// loads the image.
type runPlan struct {
	arch      string
	failOn    checks.Severity
	overrides analyze.ImageConfig
	event     []byte
	env       []string // --env, validated
	write     docWriter
}

func (o *runOptions) plan(streams *IOStreams) (*runPlan, error) {
	p := &runPlan{}
	var err error
	if p.write, err = formatWriter("run", o.format); err != nil {
		return nil, err
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
	if !slices.Contains(emulate.RootFSChoices, o.rootfs) {
		return nil, fmt.Errorf("unknown --rootfs %q (want %s)", o.rootfs, strings.Join(emulate.RootFSChoices, ", "))
	}
	if o.initTimeout <= 0 {
		return nil, fmt.Errorf("--init-timeout %s must be positive", o.initTimeout)
	}
	if p.env, err = parseEnvFlags(o.env); err != nil {
		return nil, err
	}
	if o.listen != "" {
		if o.event != "" {
			return nil, fmt.Errorf("--event and --listen: with --listen the events come from the invoke endpoint")
		}
		if o.format != "text" {
			return nil, fmt.Errorf("--format %s and --listen: a listen session writes a log, not a document", o.format)
		}
		host, _, err := net.SplitHostPort(o.listen)
		if err != nil {
			return nil, fmt.Errorf("--listen %q: want HOST:PORT (127.0.0.1:9000)", o.listen)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("--listen %q: the invoke endpoint listens on loopback only (127.0.0.1, ::1 or localhost), as it runs any event it is sent", o.listen)
		}
		return p, nil
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
		b, err = io.ReadAll(io.LimitReader(streams.In, lambda.MaxPayloadBytes+1))
	default:
		b, err = os.ReadFile(flag)
	}
	if err != nil {
		return nil, fmt.Errorf("reading --event: %v", err)
	}
	if len(b) > lambda.MaxPayloadBytes {
		return nil, fmt.Errorf("--event is over Lambda's 6 MB payload limit")
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--event %s is not valid JSON (Lambda events are JSON documents)", flag)
	}
	return b, nil
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
		if lambda.IsReserved(k) {
			return nil, fmt.Errorf("--env %q: %s is reserved; Lambda refuses it in a function's configuration", kv, k)
		}
		if !lambda.ValidEnvName(k) {
			return nil, fmt.Errorf("--env %q: Lambda accepts names of letters, digits and _ that start with a letter", kv)
		}
		out = append(out, kv)
	}
	return out, nil
}

func runRun(ctx context.Context, streams *IOStreams, opts *runOptions, ref string) error {
	cfg, err := loadConfig(streams, opts.configPath)
	if err != nil {
		return err
	}
	fromConfig(cfg, &opts.arch, opts.archSet, &opts.failOn, opts.failOnSet)
	dfn, ref, err := opts.applyDeploy(streams, ref)
	if err != nil {
		return err
	}
	if opts.event == "-" {
		if err := stdinOnce([]string{ref}, "--event -"); err != nil {
			return usageError("%v", err)
		}
	}
	plan, err := opts.plan(streams)
	if err != nil {
		return usageError("%v", err)
	}
	if err := opts.net.check(); err != nil {
		return usageError("%v", err)
	}
	if err := opts.policy.apply(&inspect.Options{}); err != nil {
		return usageError("%v", err)
	}
	ws, err := emulate.Prepare()
	if err != nil {
		return runError(err)
	}
	defer ws.Close()

	iopts, err := loadingOptions(streams, opts.noCache, opts.quiet, opts.net, nil)
	if err != nil {
		return err
	}
	_ = opts.policy.apply(&iopts) // checked above
	iopts.Arch, iopts.Overrides, iopts.Policy, iopts.Load, iopts.TempDir = plan.arch, plan.overrides, cfg, opts.load, ws.LoadDir
	iopts.Unpack = true
	if dfn != nil {
		iopts.Env, iopts.Name = plan.env, dfn.ID
		if dfn.Dockerfile != "" {
			// The definition's Dockerfile maps the static findings, and
			// its lambdoctor ignore= comments apply.
			df, dfPath, warnings, err := loadDockerfile(streams, dfn.Dockerfile, nil, plan.arch)
			if err != nil {
				return usageError("%v", err)
			}
			printWarnings(streams, warnings)
			iopts.Dockerfile, iopts.DockerfilePath = df, dfPath
		}
	}
	session, err := inspect.New(iopts)
	if err != nil {
		return loadError(err)
	}
	defer session.Close()
	im, err := session.Open(ctx, ref)
	if err != nil {
		if ctx.Err() != nil {
			return loadError(fmt.Errorf("interrupted while loading %q", ref))
		}
		return loadError(err)
	}
	defer im.Close()
	static := im.Report
	fn := emulate.Function{
		Arch: plan.arch, Env: plan.env, Event: plan.event,
		MemoryMB: opts.memoryMB, TmpSizeMB: opts.tmpSizeMB,
		Timeout: opts.timeout, InitTimeout: opts.initTimeout,
		HostNetwork: opts.network == "host", Keep: opts.keep, RootFSIn: opts.rootfs,
	}
	if opts.listen != "" {
		return listenRun(ctx, streams, ws, im, fn, opts.listen)
	}

	run, err := emulate.Run(ctx, ws, im, fn)
	if err != nil {
		return runError(err)
	}

	doc := emulate.NewDoc(tool(), static, run)
	if err := plan.write(streams.Out, doc, report.Options{Color: streams.ColorOut(opts.noColor), FailOn: plan.failOn, Width: streams.TextWidth()}); err != nil {
		return writeError(fmt.Errorf("writing the report: %w", err))
	}
	printWarnings(streams, session.Warnings(true))
	if run.Result == emulate.ResultInterrupted {
		return loadError(fmt.Errorf("interrupted while running %q", ref))
	}
	err = runVerdict(run, static, plan.failOn)
	if why := verdictLine(run, static, plan.failOn); why != "" {
		fmt.Fprintln(streams.Err, why)
	}
	return err
}

// listenRun serves the invoke endpoint on addr until ctx ends, then
// prints the session's summary.
func listenRun(ctx context.Context, streams *IOStreams, ws *emulate.Workspace, im *inspect.Image, fn emulate.Function, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usageError("--listen %s: %v", addr, err)
	}
	defer ln.Close()
	fmt.Fprintf(streams.Err, "lambdoctor: listening on http://%s%s (one execution environment; Ctrl-C to stop)\n", ln.Addr(), emulate.InvokePath)
	sess, err := emulate.Serve(ctx, ws, im, fn, ln, streams.Err)
	if sess != nil {
		inits := ""
		if len(sess.InitMs) > 0 {
			inits = fmt.Sprintf(", init %d ms the first time", sess.InitMs[0])
		}
		fmt.Fprintf(streams.Err, "lambdoctor: %d invocation(s): %d answered, %d function error(s), %d failed (timeout, crash or init error); %d execution environment(s) started%s\n",
			sess.Invocations, sess.Answered, sess.FunctionErrors, sess.Failed, sess.Inits, inits)
	}
	if err != nil {
		return runError(err)
	}
	return nil
}

// runError gives an error of emulate its exit code: the sandbox's own
// failures, else an image that could not be unpacked.
func runError(err error) error {
	var se *emulate.SandboxError
	if errors.As(err, &se) {
		return sandboxError(err)
	}
	return loadError(err)
}

// runVerdict is the outcome of a run: a function that did not answer
// fails it, as do static findings at or above failOn (0: none).
// verdictLine says which part decided a failing exit status: the run, or
// static findings at or above --fail-on while the function answered; ""
// when the verdict passes.
func verdictLine(run *emulate.Outcome, static *report.Report, failOn checks.Severity) string {
	if run.Result != emulate.ResultSuccess {
		return fmt.Sprintf("lambdoctor: exit %d: the function did not answer (%s)", ExitFindings, run.Result)
	}
	if failOn == 0 || static.Max() < failOn {
		return ""
	}
	var ids []string
	for _, f := range static.Findings {
		if f.Severity >= failOn && !f.Suppressed && !slices.Contains(ids, f.ID) {
			ids = append(ids, f.ID)
		}
	}
	return fmt.Sprintf("lambdoctor: exit %d: the function answered, but static checks found %s at or above --fail-on %s", ExitFindings, strings.Join(ids, ", "), failOn)
}

func runVerdict(run *emulate.Outcome, static *report.Report, failOn checks.Severity) error {
	if run.Result != emulate.ResultSuccess {
		return errVerdict
	}
	if failOn != 0 && static.Max() >= failOn {
		return errVerdict
	}
	return nil
}
