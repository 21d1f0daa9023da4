package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/report"
)

type inspectOptions struct {
	name    string // --name: the image's stable name in the reports
	arch    string
	format  string
	failOn  string
	noColor bool
	verbose bool
	compact bool // --compact
	quiet   bool // no progress on stderr

	// transport carries registry requests in tests; nil outside them
	// (the network's transport).
	transport http.RoundTripper

	// formatSet says --format was given (an --output to stdout may then
	// not pick another format); outputs are the --output FORMAT=PATH.
	formatSet bool
	outputs   []string

	// configPath is --config; archSet and failOnSet say whether --arch and
	// --fail-on were given, which beats the config file.
	configPath         string
	archSet, failOnSet bool

	// The function's ImageConfig overrides, as given on the command line.
	entrypoint, command, workdir string

	// dockerfile is --dockerfile: findings are mapped to its lines;
	// buildArgs are --build-arg, the values its ARGs had.
	dockerfile string
	buildArgs  []string

	// policy are --ignore and --disable.
	policy policyFlags

	// net are the registry and daemon limits.
	net netFlags

	// noCache is --no-cache.
	noCache bool

	// fn are --function, --all-functions and --region (functions.go).
	fn functionFlags

	// deploy is --deploy and --function-id (cmd/deploy.go).
	deploy deployFlags

	// load is source.Load outside tests.
	load inspect.LoadFunc
}

const inspectLong = `Inspect one or more images and report why they would not start on Lambda.

IMAGE is any of:
  PATH                      a docker save tarball, OCI layout directory or OCI
                            archive, recognised by its content
  docker-archive:PATH       a docker save tarball (legacy or containerd store)
  oci:DIR[:TAG|@DIGEST]     an OCI image layout directory
  oci-archive:PATH          an OCI layout packed in a tar (buildx type=oci)
  docker:NAME[:TAG]         an image in the local Docker daemon, found as the
                            docker CLI finds it (DOCKER_HOST, DOCKER_CONTEXT,
                            the current context), else podman's socket
  registry:REF              an image in a registry (Docker config credentials,
                            credential helpers, and Amazon ECR)
  -                         a docker save or OCI archive on standard input
  NAME[:TAG]                the local daemon when one answers, else the registry

A name that looks like a path (starts with . / or ~, ends in .tar, .tar.gz or
.tgz, or has a / after a directory that exists here) is always a file: a typo
gets "no such file", never a registry lookup.

When IMAGE is an image index (multi-arch, or buildx attestations), the image
for --arch is inspected, and the index itself is reported: Lambda rejects it.

With --function NAME|ARN (repeatable) or --all-functions, the images are
those deployed functions run: each function's configuration is read from the
Lambda API (lambda:GetFunction), the exact digest it runs is pulled from ECR,
and it is inspected with the function's ImageConfig and architecture; one
report per function (docs/deploy/live.md).

--deploy PATH judges the image functions of a deployment definition (an AWS
SAM or CloudFormation template, a CDK cdk.out, a serverless.yml, or the JSON
of terraform show -json) as they will be deployed: each function's image with
its ImageConfig, architecture and environment, its findings mapped to the
Dockerfile the definition builds from, one report per function named by its
ID. Without IMAGE or --deploy, a template.yaml, cdk.out/ or serverless.yml in
the working directory is read the same way. Flags given (--arch, --cmd,
--entrypoint, --workdir, --dockerfile) win over the definition.`

const inspectExample = `  lambdoctor inspect 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:latest
  lambdoctor inspect --function orders-api --region eu-west-1
  lambdoctor inspect --all-functions --format json --output sarif=lambdoctor.sarif
  lambdoctor inspect --arch arm64 docker:my-fn:dev
  docker save my-fn:dev -o fn.tar && lambdoctor inspect fn.tar --format json
  docker save my-fn:dev | lambdoctor inspect -
  lambdoctor inspect fn.tar --output sarif=lambdoctor.sarif --output junit=lambdoctor.xml
  lambdoctor inspect --deploy template.yaml --function-id HelloWorldFunction`

// defaultInspectOptions are inspect's options when no flag is given: the
// flags' defaults, and what the git hook runs with.
func defaultInspectOptions() *inspectOptions {
	return &inspectOptions{
		arch: "amd64", format: "text", failOn: "error",
		net:  defaultNetFlags(),
		load: source.Load,
	}
}

func newInspectCmd(streams *IOStreams, runF func(context.Context, *inspectOptions, []string) error) *cobra.Command {
	opts := defaultInspectOptions()
	c := &cobra.Command{
		Use:     "inspect [IMAGE...]",
		Short:   "Inspect images and report why they would not start on Lambda",
		Long:    inspectLong,
		Example: inspectExample,
		Args:    cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.archSet, opts.failOnSet = c.Flags().Changed("arch"), c.Flags().Changed("fail-on")
			opts.formatSet = c.Flags().Changed("format")
			if runF != nil {
				return runF(c.Context(), opts, args)
			}
			return runInspect(c.Context(), streams, opts, args)
		},
	}
	f := c.Flags()
	f.StringVar(&opts.arch, "arch", opts.arch, "the function's architecture: amd64 (x86_64) or arm64")
	f.StringVar(&opts.name, "name", "", "the image's name in JUnit suite names, SARIF categories and fingerprints, which must not change between builds (default: the reference without its tag or digest, or the file's path)")
	f.StringVar(&opts.format, "format", opts.format, "stdout's output format: "+strings.Join(report.Formats(), ", "))
	f.StringArrayVar(&opts.outputs, "output", nil, "also write the report in `FORMAT=PATH` (repeatable; PATH - is stdout), e.g. sarif=lambdoctor.sarif")
	f.StringVar(&opts.failOn, "fail-on", opts.failOn, "exit 1 when a finding is at or above this severity: error, warning, info or none")
	f.BoolVar(&opts.noColor, "no-color", false, "never colour the output (NO_COLOR is honoured too)")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "also list the checks that passed or did not apply")
	f.BoolVar(&opts.compact, "compact", false, "text format: one line a finding (severity, ID, name, path, the first sentence of the message)")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress line on stderr for registry pulls and Docker daemon exports (shown only when stderr is a terminal)")
	f.StringVar(&opts.entrypoint, "entrypoint", "", `the function's ImageConfig EntryPoint, as a JSON list ('["/bin/app","--flag"]') or one path`)
	f.StringVar(&opts.command, "cmd", "", `the function's ImageConfig Command, as a JSON list ('["app.handler"]') or one string`)
	f.StringVar(&opts.workdir, "workdir", "", "the function's ImageConfig WorkingDirectory")
	f.StringVar(&opts.dockerfile, "dockerfile", "", "the Dockerfile that built the image: findings name the instruction that caused them (its last stage), and its lambdoctor ignore= comments apply")
	f.StringArrayVar(&opts.buildArgs, "build-arg", nil, "with --dockerfile: a build argument the image was built with, `NAME=VALUE` (or NAME for its value in the environment), as docker build takes it; repeatable")
	addPolicyFlags(f, &opts.policy)
	f.StringVar(&opts.configPath, "config", "", "the config file (default: $LAMBDOCTOR_CONFIG, else .lambdoctor.yaml up to the git root)")
	addFunctionFlags(f, &opts.fn)
	addNetFlags(f, &opts.net)
	addNoCacheFlag(f, &opts.noCache)
	addDeployFlags(f, &opts.deploy)
	return c
}

// parseArch accepts Lambda's and Go's spellings of the two architectures.
func parseArch(s string) (string, error) {
	a, err := source.ParseFunctionArch(s)
	if err != nil {
		return "", fmt.Errorf("unknown --arch %q (Lambda runs amd64 (x86_64) or arm64)", s)
	}
	return a, nil
}

// parseFailOn returns the lowest severity that fails the run; 0 for none.
func parseFailOn(s string) (checks.Severity, error) {
	if strings.EqualFold(s, "none") {
		return 0, nil
	}
	sev, err := checks.ParseSeverity(s)
	if err != nil {
		return 0, fmt.Errorf("unknown --fail-on %q (want error, warning, info or none)", s)
	}
	return sev, nil
}

func runInspect(ctx context.Context, streams *IOStreams, opts *inspectOptions, refs []string) error {
	cfg, err := loadConfig(streams, opts.configPath)
	if err != nil {
		return err
	}
	fromConfig(cfg, &opts.arch, opts.archSet, &opts.failOn, opts.failOnSet)
	if opts.fn.active() {
		if opts.deploy.path != "" || opts.deploy.functionID != "" {
			return usageError("--deploy and --function-id read a deployment definition, --function and --all-functions the deployed functions: give one or the other")
		}
		return runFunctions(ctx, streams, opts, cfg, refs)
	}
	if opts.fn.region != "" {
		return usageError("--region goes with --function or --all-functions")
	}
	fns, err := opts.deploy.functions(streams, len(refs) > 0 || (cfg != nil && len(cfg.ImageRefs()) > 0))
	if err != nil {
		return err
	}
	if fns != nil {
		return runInspectFunctions(ctx, streams, opts, cfg, fns, refs)
	}
	if cfg != nil && len(refs) == 0 {
		refs = cfg.ImageRefs()
	}
	if len(refs) == 0 {
		return usageError("%v (see 'lambdoctor inspect --help')", errNoImages)
	}
	arch, err := parseArch(opts.arch)
	if err != nil {
		return usageError("%v", err)
	}
	plan, err := opts.plan(streams, arch)
	if err != nil {
		return err
	}
	overrides, err := opts.imageConfig()
	if err != nil {
		return usageError("%v", err)
	}
	if err := stdinOnce(refs, ""); err != nil {
		return usageError("%v", err)
	}
	if opts.name != "" && len(refs) > 1 {
		return usageError("--name names one image, and %d were given", len(refs))
	}
	iopts, err := opts.sessionOptions(streams, cfg, opts.quiet)
	if err != nil {
		return err
	}
	iopts.Arch, iopts.Overrides = arch, overrides
	iopts.Dockerfile, iopts.DockerfilePath = plan.df, plan.dfPath
	iopts.Name = opts.name
	session, err := inspect.New(iopts)
	if err != nil {
		return loadError(err)
	}
	defer session.Close()

	reports := make([]*report.Report, 0, len(refs))
	loadFailed := false
	for _, ref := range refs {
		r, err := session.Inspect(ctx, ref)
		if err != nil {
			if ctx.Err() != nil {
				return loadError(fmt.Errorf("interrupted while inspecting %q", ref))
			}
			loadFailed = true
		}
		reports = append(reports, r)
	}
	wopts := report.Options{Color: streams.ColorOut(opts.noColor), Verbose: opts.verbose, Compact: opts.compact, FailOn: plan.failOn, Width: streams.TextWidth()}
	if err := writeOutputs(streams, plan.outs, reports, wopts); err != nil {
		return writeError(err)
	}
	printWarnings(streams, session.Warnings(!loadFailed))
	return inspectVerdict(reports, plan.failOn, loadFailed)
}

// fromConfig fills, from the config file, the architecture and fail-on
// threshold the command line did not set.
func fromConfig(cfg *config.Config, arch *string, archSet bool, failOn *string, failOnSet bool) {
	if cfg == nil {
		return
	}
	if cfg.Arch != "" && !archSet {
		*arch = cfg.Arch
	}
	if failOn != nil && cfg.FailOn != "" && !failOnSet {
		*failOn = cfg.FailOn
	}
}

// loadingOptions are the session options every command that loads images
// shares: the layer cache, the progress of pulls and daemon exports on a
// terminal that can erase a line (unless quiet), the registry transport
// (nil: the network's) and the network limits.
func loadingOptions(streams *IOStreams, noCache, quiet bool, net netFlags, transport http.RoundTripper) (inspect.Options, error) {
	o := inspect.Options{Tool: tool()}
	var err error
	if o.Cache, err = openLayerCache(streams.Err, noCache, streams.getenv); err != nil {
		return o, err
	}
	o.Source.Progress = progressFor(streams, quiet)
	o.Source.Transport = transport
	net.apply(&o.Source)
	o.Source.Stdin = streams.In
	o.Source.Notef = notef(streams)
	return o, nil
}

// notef writes the loader's notes (the size of an image read from stdin)
// to stderr, one line each.
func notef(streams *IOStreams) func(format string, a ...any) {
	return func(format string, a ...any) {
		fmt.Fprintf(streams.Err, "lambdoctor: "+format+"\n", a...)
	}
}

// stdinOnce refuses a command line that reads standard input twice: the
// image - more than once, or - with another use of stdin (what).
func stdinOnce(refs []string, what string) error {
	n := 0
	for _, r := range refs {
		if r == "-" || r == "docker-archive:-" || r == "oci-archive:-" {
			n++
		}
	}
	switch {
	case n > 1:
		return fmt.Errorf("the image - (standard input) is given %d times: stdin can be read once", n)
	case n == 1 && what != "":
		return fmt.Errorf("the image - and %s both read standard input: stdin can be read once", what)
	}
	return nil
}

// inspectVerdict is the outcome of an inspection: a load failure, findings
// at or above failOn (0: none fails), or nil.
func inspectVerdict(reports []*report.Report, failOn checks.Severity, loadFailed bool) error {
	if loadFailed {
		return silent(ExitLoad)
	}
	if failOn == 0 {
		return nil
	}
	for _, r := range reports {
		if r.Max() >= failOn {
			return errVerdict
		}
	}
	return nil
}

// tool names lambdoctor in reports and documents.
func tool() report.Tool { return report.Tool{Name: "lambdoctor", Version: Version()} }

// imageConfig reads the ImageConfig override flags.
func (o *inspectOptions) imageConfig() (analyze.ImageConfig, error) {
	var ic analyze.ImageConfig
	var err error
	if ic.EntryPoint, err = parseList("--entrypoint", o.entrypoint); err != nil {
		return ic, err
	}
	if ic.Command, err = parseList("--cmd", o.command); err != nil {
		return ic, err
	}
	if o.workdir != "" && !strings.HasPrefix(o.workdir, "/") {
		return ic, fmt.Errorf("--workdir %q must be an absolute path, as Lambda's WorkingDirectory", o.workdir)
	}
	ic.WorkingDirectory = o.workdir
	return ic, nil
}

// parseList reads a JSON list of strings, or takes a plain value as a
// one-element list. "" means the flag was not given.
func parseList(flag, v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if !strings.HasPrefix(v, "[") {
		return []string{v}, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, fmt.Errorf("%s %s is not a JSON list of strings: %v", flag, v, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s is an empty list; Lambda needs at least one element", flag)
	}
	return list, nil
}

// inspectPlan is what every form of inspect (images, --deploy, --function)
// checks and reads before it loads anything: the network limits, the
// fail-on level, the outputs, --ignore and --disable, and the --dockerfile
// with its --build-arg values (TARGETARCH from dfArch).
type inspectPlan struct {
	failOn checks.Severity
	outs   []output
	df     *dockerfile.File
	dfPath string
}

func (opts *inspectOptions) plan(streams *IOStreams, dfArch string) (inspectPlan, error) {
	var p inspectPlan
	if err := opts.net.check(); err != nil {
		return p, usageError("%v", err)
	}
	var err error
	if p.failOn, err = parseFailOn(opts.failOn); err != nil {
		return p, usageError("%v", err)
	}
	if p.outs, err = planOutputs(opts.format, opts.formatSet, opts.outputs); err != nil {
		return p, usageError("%v", err)
	}
	if err := opts.policy.apply(&inspect.Options{}); err != nil {
		return p, usageError("%v", err)
	}
	var warnings []string
	if p.df, p.dfPath, warnings, err = loadDockerfile(streams, opts.dockerfile, opts.buildArgs, dfArch); err != nil {
		return p, usageError("%v", err)
	}
	printWarnings(streams, warnings)
	return p, nil
}

// sessionOptions are the options of inspect's session: the loading
// options (quiet: no progress line), the policy of the config file and of
// --ignore/--disable, and the loader.
func (opts *inspectOptions) sessionOptions(streams *IOStreams, cfg *config.Config, quiet bool) (inspect.Options, error) {
	iopts, err := loadingOptions(streams, opts.noCache, quiet, opts.net, opts.transport)
	if err != nil {
		return iopts, err
	}
	if err := opts.policy.apply(&iopts); err != nil { // checked by plan
		return iopts, usageError("%v", err)
	}
	iopts.Policy, iopts.Load = cfg, opts.load
	return iopts, nil
}
