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
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
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

	// load is source.Load outside tests.
	load func(ctx context.Context, ref string, opts source.Options) (*source.Image, error)
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
		if cfg != nil && cfg.Arch != "" && !opts.archSet {
			opts.arch = cfg.Arch
		}
	}
	arch, err := parseArch(opts.arch)
	if err != nil {
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

	doc := newWhyDoc(res)
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

// whyDoc is the triage as printed; its JSON form is documented in
// docs/json.md.
type whyDoc struct {
	SchemaVersion int         `json:"schemaVersion"`
	Tool          report.Tool `json:"tool"`
	// Lines is the number of non-blank lines read.
	Lines        int        `json:"lines"`
	Unrecognised int        `json:"unrecognised"`
	Matches      []whyMatch `json:"matches"`
	// Checks detect the causes of the failure lines (benign lines excluded).
	Checks []whyCheck `json:"checks"`
	Image  *whyImage  `json:"image,omitempty"`
}

type whyMatch struct {
	Line        int      `json:"line"`
	Text        string   `json:"text"`
	Count       int      `json:"count"`
	Pattern     string   `json:"pattern"`
	Failure     string   `json:"failure"`
	Explanation string   `json:"explanation"`
	Benign      bool     `json:"benign"`
	Subject     string   `json:"subject,omitempty"`
	Checks      []string `json:"checks"`
}

type whyCheck struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
	Docs  string `json:"docs"`
}

type whyImage struct {
	Ref string `json:"ref"`
	// Checks is how each check the log points at ended on the image.
	Checks []report.CheckResult `json:"checks"`
	// Causes are those checks' findings: the cause in this image.
	Causes []report.Finding    `json:"causes"`
	Error  *report.LoadFailure `json:"error,omitempty"`
}

func newWhyDoc(res *triage.Result) *whyDoc {
	doc := &whyDoc{
		SchemaVersion: 1,
		Tool:          report.Tool{Name: "lambdoctor", Version: Version()},
		Lines:         res.Lines,
		Unrecognised:  res.Unrecognised,
		Matches:       []whyMatch{},
		Checks:        []whyCheck{},
	}
	for _, m := range res.Matches {
		doc.Matches = append(doc.Matches, whyMatch{
			Line: m.Line, Text: m.Text, Count: m.Count,
			Pattern: m.Pattern.Key, Failure: m.Pattern.Failure, Explanation: m.Pattern.Explanation,
			Benign: m.Pattern.Benign, Subject: m.Subject,
			Checks: append([]string{}, m.Pattern.Checks...),
		})
	}
	for _, id := range res.Checks() {
		if c, ok := checks.Lookup(id); ok {
			m := c.Meta()
			doc.Checks = append(doc.Checks, whyCheck{m.ID, m.Name, m.Title, m.DocsURL()})
		}
	}
	return doc
}

// whyImageChecks runs the checks named by ids on the image, through the
// inspect pipeline with the config's policy (disabled checks end skipped,
// severity overrides and ignores apply). It returns the config's warnings
// about expired ignores and whether the image failed to load.
func whyImageChecks(ctx context.Context, streams *IOStreams, opts *whyOptions, cfg *config.Config, ids []string, arch string) (*whyImage, []string, bool) {
	wi := &whyImage{Ref: opts.image, Checks: []report.CheckResult{}, Causes: []report.Finding{}}
	var list []checks.Check
	for _, id := range ids {
		if c, ok := checks.Lookup(id); ok {
			list = append(list, c)
		}
	}
	if len(list) == 0 {
		return wi, nil, false
	}
	fail := func(err error) (*whyImage, []string, bool) {
		wi.Error = &report.LoadFailure{Kind: inspect.LoadKind(err), Message: err.Error()}
		return wi, nil, true
	}
	iopts := inspect.Options{Tool: tool(), Arch: arch, Checks: list, Policy: cfg, Load: opts.load}
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

// maxShown bounds how much of a log line the text output repeats.
const maxShown = 240

func writeWhyText(w io.Writer, doc *whyDoc) error {
	var b strings.Builder
	names := map[string]string{}
	for _, c := range checks.All() {
		names[c.Meta().ID] = c.Meta().Name
	}
	// The log's lines, and what is read from them, are the function's
	// output: every such string goes through termsafe.
	for _, m := range doc.Matches {
		fmt.Fprintf(&b, "line %d: %s\n", m.Line, termsafe.Line(termsafe.Clip(m.Text, maxShown)))
		if m.Count > 1 {
			fmt.Fprintf(&b, "  (%d times)\n", m.Count)
		}
		failure := m.Failure
		if m.Subject != "" {
			failure += " (" + m.Subject + ")"
		}
		failure, explanation := termsafe.Text(failure), termsafe.Text(m.Explanation)
		if m.Benign {
			fmt.Fprintf(&b, "  benign  %s\n  why     %s\n\n", failure, explanation)
			continue
		}
		fmt.Fprintf(&b, "  means   %s\n  why     %s\n", failure, explanation)
		if len(m.Checks) == 0 {
			fmt.Fprintf(&b, "  checks  none: no check can see this in an image\n\n")
			continue
		}
		labels := make([]string, 0, len(m.Checks))
		for _, id := range m.Checks {
			labels = append(labels, id+" "+names[id])
		}
		fmt.Fprintf(&b, "  checks  %s\n  more    lambdoctor explain %s\n\n", strings.Join(labels, ", "), m.Checks[0])
	}
	switch {
	case doc.Lines == 0:
		b.WriteString("The log is empty.\n")
	case len(doc.Matches) == 0:
		fmt.Fprintf(&b, "No line recognised (%d read). Look for the errorType or an IMAGE Launch error line in the function's log group.\n", doc.Lines)
	case doc.Unrecognised > 0:
		fmt.Fprintf(&b, "%d %s not recognised.\n", doc.Unrecognised, plural(doc.Unrecognised, "line", "lines"))
	}
	if doc.Image == nil && len(doc.Checks) > 0 {
		ids := make([]string, 0, len(doc.Checks))
		for _, c := range doc.Checks {
			ids = append(ids, c.ID)
		}
		fmt.Fprintf(&b, "To find the cause in your image: lambdoctor why --image IMAGE (runs %s), or lambdoctor inspect IMAGE.\n", strings.Join(ids, ", "))
	}
	if doc.Image != nil {
		writeWhyImage(&b, doc)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeWhyImage(b *strings.Builder, doc *whyDoc) {
	wi := doc.Image
	fmt.Fprintf(b, "\nImage %s:\n", termsafe.Line(wi.Ref))
	switch {
	case wi.Error != nil:
		fmt.Fprintf(b, "  could not be inspected (%s): %s\n", termsafe.Line(wi.Error.Kind), termsafe.Text(wi.Error.Message))
		return
	case len(wi.Checks) == 0:
		b.WriteString("  nothing to run: no recognised failure line points at a check.\n")
		return
	}
	causes := 0
	for _, f := range wi.Causes {
		if f.Suppressed {
			fmt.Fprintf(b, "  ignored by the config: %s %s: %s (reason: %s)\n", termsafe.Line(f.ID), termsafe.Line(f.Name), termsafe.Text(f.Message), termsafe.Text(f.SuppressionReason))
			continue
		}
		causes++
		fmt.Fprintf(b, "  the cause in this image: %s %s (%s): %s\n", termsafe.Line(f.ID), termsafe.Line(f.Name), f.Severity, termsafe.Text(f.Message))
		if f.Path != "" {
			loc := termsafe.Line(f.Path)
			if f.Layer != nil {
				loc += fmt.Sprintf(" (layer %d", f.Layer.Index)
				if f.Layer.CreatedBy != "" {
					loc += ": " + termsafe.Line(f.Layer.CreatedBy)
				}
				loc += ")"
			}
			fmt.Fprintf(b, "    path  %s\n", loc)
		}
		if f.Fix != "" {
			fmt.Fprintf(b, "    fix   %s\n", termsafe.Text(f.Fix))
		}
	}
	var passed, other []string
	for _, c := range wi.Checks {
		switch checks.Status(c.Status) {
		case checks.StatusPassed:
			passed = append(passed, c.ID)
		case checks.StatusSkipped, checks.StatusError:
			other = append(other, fmt.Sprintf("%s %s (%s)", termsafe.Line(c.ID), termsafe.Line(c.Status), termsafe.Text(c.Error)))
		}
	}
	if causes == 0 {
		b.WriteString("  none of the checks the log points at found a problem in this image: the cause may lie\n" +
			"  outside it (the function's Architectures, ImageConfig or environment), or be a case\n" +
			"  lambdoctor does not check.\n")
	}
	if len(passed) > 0 {
		fmt.Fprintf(b, "  passed: %s\n", termsafe.Line(strings.Join(passed, ", ")))
	}
	for _, o := range other {
		fmt.Fprintf(b, "  %s\n", o)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
