package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/report"
	"github.com/lambdoctor/lambdoctor/triage"
)

type whyOptions struct {
	file   string
	image  string
	arch   string
	format string
	// configPath is --config; archSet says --arch was given, which beats
	// the config file.
	configPath string
	archSet    bool
	net        netFlags
	// noCache is --no-cache.
	noCache bool
	// policy are --ignore and --disable, for --image.
	policy policyFlags

	// load is source.Load outside tests.
	load inspect.LoadFunc
}

const whyLong = `Triage pasted Lambda, CloudWatch or Runtime Interface Emulator output.

For each line lambdoctor recognises (IMAGE Launch error, Runtime.InvalidEntrypoint,
exec format error, Couldn't find valid bootstrap(s), exit status 127/142/226,
EROFS, x509, Runtime.ImportModuleError, the media-type rejection, ...) it says
what the failure means and which checks detect its cause in an image; lines
that are harmless (emulator chatter such as "Cannot list external agents"
when /opt/extensions is absent) are marked benign. Identical lines are
reported once; lines it does not know are counted.

The log is read from the arguments (joined with spaces), from --file, or from
standard input when there are no arguments and it is not a terminal.

With --image, the checks the log points at are run on that image and
lambdoctor names the cause in it.

Exit codes:
  0  at least one line was recognised (a failure or a benign line)
  1  no line was recognised
  2  usage error (no log given, unreadable --file, unknown --format or --arch)
  3  the --image could not be loaded or read
  4  the triage could not be written`

const whyExample = `  lambdoctor why 'IMAGE Launch error: fork/exec /lambda-entrypoint.sh: exec format error'
  aws logs tail /aws/lambda/my-fn --since 10m | lambdoctor why
  lambdoctor why --file lambda.log --image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:latest --arch arm64`

func newWhyCmd(streams *IOStreams) *cobra.Command {
	opts := &whyOptions{load: source.Load}
	c := &cobra.Command{
		Use:     "why [LOG TEXT...]",
		Short:   "Say what pasted Lambda log lines mean and which checks find their cause",
		Long:    whyLong,
		Example: whyExample,
		RunE: func(c *cobra.Command, args []string) error {
			opts.archSet = c.Flags().Changed("arch")
			return runWhy(c.Context(), streams, opts, args)
		},
	}
	f := c.Flags()
	f.StringVar(&opts.file, "file", "", "read the log from this file ('-' for standard input)")
	f.StringVar(&opts.image, "image", "", "also run the checks the log points at on this image (any IMAGE 'inspect' accepts)")
	f.StringVar(&opts.arch, "arch", "amd64", "with --image: the function's architecture, amd64 (x86_64) or arm64")
	f.StringVar(&opts.format, "format", "text", "output format: "+strings.Join(formatsOf("why"), ", "))
	f.StringVar(&opts.configPath, "config", "", "with --image: the config file (default: $LAMBDOCTOR_CONFIG, else .lambdoctor.yaml up to the git root); its arch, disable, severity and ignore apply")
	addNetFlags(f, &opts.net)
	addNoCacheFlag(f, &opts.noCache)
	addPolicyFlags(f, &opts.policy)
	return c
}

func runWhy(ctx context.Context, streams *IOStreams, opts *whyOptions, args []string) error {
	write, err := formatWriter("why", opts.format)
	if err != nil {
		return err
	}
	// The config matters only for the image: without --image a broken
	// .lambdoctor.yaml does not stop the triage of a log.
	var cfg *config.Config
	if opts.image != "" {
		if cfg, err = loadConfig(streams, opts.configPath); err != nil {
			return err
		}
		fromConfig(cfg, &opts.arch, opts.archSet, nil, false)
	}
	arch, err := parseArch(opts.arch)
	if err != nil {
		return usageError("%v", err)
	}
	// --ignore and --disable matter only with --image, but a typo in them
	// is said either way.
	if err := opts.policy.apply(&inspect.Options{}); err != nil {
		return usageError("%v", err)
	}
	if err := opts.net.check(); err != nil {
		return usageError("%v", err)
	}
	in, closeIn, err := whyInput(streams, opts.file, args)
	if err != nil {
		return err
	}
	res, err := triage.Scan(in)
	closeIn()
	if err != nil {
		return usageError("%v", err)
	}

	doc := triage.NewDoc(tool(), res)
	loadFailed := false
	if opts.image != "" {
		var warnings []string
		doc.Image, warnings, loadFailed = whyImageChecks(ctx, streams, opts, cfg, res.Checks(), arch)
		defer printWarnings(streams, warnings)
	}
	if err := write(streams.Out, doc, report.Options{}); err != nil {
		return writeError(fmt.Errorf("writing the triage: %w", err))
	}
	switch {
	case loadFailed:
		return silent(ExitLoad)
	case !res.Recognised():
		return errVerdict
	}
	return nil
}

// whyInput picks the log's source: the arguments, --file, or a piped stdin.
func whyInput(streams *IOStreams, file string, args []string) (io.Reader, func(), error) {
	noop := func() {}
	switch {
	case len(args) > 0 && file != "":
		return nil, noop, usageError("give the log as arguments or with --file, not both")
	case len(args) > 0:
		return strings.NewReader(strings.Join(args, " ")), noop, nil
	case file == "-":
		return streams.In, noop, nil
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, noop, usageError("reading --file: %v", err)
		}
		return f, func() { f.Close() }, nil
	}
	if f, ok := streams.In.(*os.File); ok && isTerminal(f) {
		return nil, noop, usageError("no log to read: pass the text as arguments, use --file, or pipe it in (see 'lambdoctor why --help')")
	}
	return streams.In, noop, nil
}

// whyImageChecks runs the checks named by ids on the image, through the
// inspect pipeline with the config's policy (disabled checks end skipped,
// severity overrides and ignores apply). It returns the config's warnings
// about expired ignores and whether the image failed to load.
func whyImageChecks(ctx context.Context, streams *IOStreams, opts *whyOptions, cfg *config.Config, ids []string, arch string) (*triage.DocImage, []string, bool) {
	wi := &triage.DocImage{Ref: opts.image, Checks: []report.CheckResult{}, Causes: []report.Finding{}}
	var list []checks.Check
	for _, id := range ids {
		if c, ok := checks.Lookup(id); ok {
			list = append(list, c)
		}
	}
	if len(list) == 0 {
		return wi, nil, false
	}
	fail := func(err error) (*triage.DocImage, []string, bool) {
		wi.Error = &report.LoadFailure{Kind: inspect.LoadKind(err), Message: err.Error()}
		return wi, nil, true
	}
	iopts := inspect.Options{Tool: tool(), Arch: arch, Checks: list, Policy: cfg, Load: opts.load}
	if err := opts.policy.apply(&iopts); err != nil {
		return fail(err)
	}
	var err error
	if iopts.Cache, err = openLayerCache(io.Discard, opts.noCache, streams.getenv); err != nil {
		return fail(err)
	}
	opts.net.apply(&iopts.Source)
	session, err := inspect.New(iopts)
	if err != nil {
		return fail(err)
	}
	defer session.Close()
	r, err := session.Inspect(ctx, opts.image)
	if err != nil {
		return fail(err)
	}
	wi.Checks = r.Checks
	wi.Causes = r.Findings
	// Only expired ignores are worth a warning: an ignore of a check the
	// log does not point at is expected to match nothing here.
	return wi, session.Warnings(false), false
}
