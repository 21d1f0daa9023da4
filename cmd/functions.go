package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/deploy/live"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/report"
)

// functionFlags are inspect's flags that take the images from deployed
// functions instead of the command line.
type functionFlags struct {
	names  []string // --function, repeatable
	all    bool     // --all-functions
	region string   // --region
}

func addFunctionFlags(f *pflag.FlagSet, o *functionFlags) {
	f.StringArrayVar(&o.names, "function", nil, "inspect the image a deployed function runs, with its configuration applied: its name or ARN, optionally with :VERSION or :ALIAS (repeatable; AWS credentials from the SDK's default chain)")
	f.BoolVar(&o.all, "all-functions", false, "inspect every container-image function of the Region, with a summary table first")
	f.StringVar(&o.region, "region", "", "the AWS Region of --function and --all-functions (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region)")
}

// active says whether the images come from deployed functions.
func (o functionFlags) active() bool { return len(o.names) > 0 || o.all }

// inspectParallel bounds the functions inspected at once: each holds its
// image's index and spools in memory and on disk.
const inspectParallel = 2

// runFunctions is inspect --function/--all-functions: read the functions'
// live configuration, pull the digest each one runs, and inspect it with
// the function's ImageConfig and architecture. A function that cannot be
// read or pulled is a failed report; what stops every function from
// being read (no Region, no credentials) is an ExitAWS error.
func runFunctions(ctx context.Context, streams *IOStreams, opts *inspectOptions, cfg *config.Config, refs []string) error {
	fl := opts.fn
	switch {
	case len(refs) > 0:
		return usageError("--function and --all-functions take the images from the functions; drop IMAGE (%s)", refs[0])
	case fl.all && len(fl.names) > 0:
		return usageError("--function and --all-functions cannot be combined")
	case opts.archSet:
		return usageError("--arch comes from the function's configuration (Architectures); drop it")
	case opts.entrypoint != "" || opts.command != "" || opts.workdir != "":
		return usageError("--entrypoint, --cmd and --workdir come from the function's ImageConfig; drop them")
	case opts.name != "":
		return usageError("--name: reports are named by the function's name")
	case opts.dockerfile != "" && (fl.all || len(fl.names) > 1):
		return usageError("--dockerfile maps the findings of one image: give it with one --function")
	}
	var names []string
	for _, n := range fl.names {
		if n = strings.TrimSpace(n); n == "" {
			return usageError("--function needs a function name or ARN")
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	// TARGETARCH is amd64 here: the function's architecture is known only
	// once its configuration is read.
	plan, err := opts.plan(streams, "")
	if err != nil {
		return err
	}

	client, err := live.New(ctx, live.Options{Region: fl.region})
	if err != nil {
		return awsFailure(ctx, err)
	}
	var entries []live.Entry
	if fl.all {
		entries, err = client.Functions(ctx)
	} else {
		entries, err = client.Named(ctx, names)
	}
	if err != nil {
		return awsFailure(ctx, err)
	}
	if len(entries) == 0 {
		fmt.Fprintf(streams.Err, "lambdoctor: no container-image function in %s\n", client.Region())
	}

	// Several pulls at once would rewrite each other's progress line.
	quiet := opts.quiet || len(entries) > 1
	iopts, err := opts.sessionOptions(streams, cfg, quiet)
	if err != nil {
		return err
	}
	iopts.Dockerfile, iopts.DockerfilePath = plan.df, plan.dfPath
	session, err := inspect.New(iopts)
	if err != nil {
		return loadError(err)
	}
	defer session.Close()

	reports, loadFailed := inspectFunctions(ctx, session, entries)
	if ctx.Err() != nil {
		return loadError(errors.New("interrupted while inspecting the functions"))
	}
	wopts := report.Options{Color: streams.ColorOut(opts.noColor), Verbose: opts.verbose, Compact: opts.compact, FailOn: plan.failOn, Width: streams.TextWidth()}
	if fl.all {
		// The table leads the text report; beside a machine format on
		// stdout it goes to stderr, so that stdout stays one document.
		w := streams.Out
		if plan.outs[0].format != "text" {
			w = streams.Err
		}
		if err := writeFunctionTable(w, reports, plan.failOn); err != nil {
			return writeError(fmt.Errorf("writing the summary table: %w", err))
		}
	}
	if err := writeOutputs(streams, plan.outs, reports, wopts); err != nil {
		return writeError(err)
	}
	printWarnings(streams, session.Warnings(!loadFailed))
	return inspectVerdict(reports, plan.failOn, loadFailed)
}

// awsFailure is the exit of an error that stops every function from being
// read.
func awsFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return loadError(errors.New("interrupted while reading the functions"))
	}
	return awsError(err)
}

// inspectFunctions inspects each entry's image as its function runs it,
// inspectParallel at a time, and returns the reports in the entries'
// order; loadFailed says a function could not be read or its image not
// loaded.
func inspectFunctions(ctx context.Context, session *inspect.Session, entries []live.Entry) ([]*report.Report, bool) {
	reports := make([]*report.Report, len(entries))
	failed := make([]bool, len(entries))
	sem := make(chan struct{}, inspectParallel)
	var wg sync.WaitGroup
	for i, e := range entries {
		if e.Err != nil {
			reports[i], failed[i] = unreadFunction(e), true
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			reports[i], failed[i] = inspectFunction(ctx, session, e)
		})
	}
	wg.Wait()
	loadFailed := false
	for _, f := range failed {
		loadFailed = loadFailed || f
	}
	return reports, loadFailed
}

// inspectFunction pulls the image e's function runs and inspects it with
// the function's ImageConfig and architecture.
func inspectFunction(ctx context.Context, session *inspect.Session, e live.Entry) (*report.Report, bool) {
	f := e.Function
	arch, err := source.ParseFunctionArch(f.Architecture)
	if f.Architecture == "" {
		arch, err = "amd64", nil
	}
	var r *report.Report
	if err != nil {
		r = report.Failed(tool(), f.Image, "unsupported", fmt.Sprintf("function %s: architecture %q: %v", f.ID, f.Architecture, err))
		r.Image.Name = f.ID
	} else {
		as := inspect.As{Arch: arch, Name: f.ID, Env: f.EnvList(), Overrides: analyze.ImageConfig{
			EntryPoint:       f.ImageConfig.EntryPoint,
			Command:          f.ImageConfig.Command,
			WorkingDirectory: f.ImageConfig.WorkingDirectory,
		}}
		r, err = session.InspectAs(ctx, "registry:"+f.Image, as)
	}
	r.Function = functionBlock(e)
	return r, err != nil
}

// unreadFunction is the report of a function GetFunction refused.
func unreadFunction(e live.Entry) *report.Report {
	r := report.Failed(tool(), e.Name, e.Err.Kind, e.Err.Msg)
	r.Image.Name = e.Name
	// Its configuration was not read: no values, not Lambda's defaults.
	r.Function = &report.Function{ID: e.Name, Name: e.Name, Tool: "lambda", Source: e.ARN, ARN: e.ARN,
		Environment: []string{}, Unresolved: []string{}, Problems: []string{}}
	return r
}

// functionBlock is the report's description of e's function.
func functionBlock(e live.Entry) *report.Function {
	fn := report.NewFunction(e.Function)
	fn.ARN, fn.ImageURI, fn.Digest, fn.State = e.ARN, e.ImageURI, e.Digest, e.State
	fn.Problems = append(fn.Problems, e.Problems...)
	return fn
}

// writeFunctionTable writes the summary of --all-functions: a line per
// function with the digest it runs, its verdict against failOn, and its
// most severe finding (or why it could not be inspected).
func writeFunctionTable(w io.Writer, reports []*report.Report, failOn checks.Severity) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tIMAGE DIGEST\tVERDICT\tTOP FINDING")
	for _, r := range reports {
		name, digest := r.Image.Name, "-"
		if fn := r.Function; fn != nil {
			name = fn.ID
			if fn.Digest != "" {
				digest = shortDigest(fn.Digest)
			}
		}
		verdict, top := "pass", "-"
		switch {
		case r.Error != nil:
			// The reference is the table's digest column already.
			msg := firstLine(r.Error.Message)
			if strings.HasPrefix(msg, `loading "`) {
				if _, after, ok := strings.Cut(msg, `": `); ok {
					msg = after
				}
			}
			verdict, top = "error", r.Error.Kind+": "+msg
		case failOn != 0 && r.Max() >= failOn:
			verdict = "fail"
		}
		if r.Error == nil {
			for _, f := range r.Findings {
				if !f.Suppressed {
					top = fmt.Sprintf("%s %s (%s)", f.ID, f.Name, f.Severity)
					break
				}
			}
			if top == "-" && r.Function != nil && len(r.Function.Problems) > 0 {
				top = r.Function.Problems[0]
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", termsafe.Line(name), termsafe.Line(digest), verdict, termsafe.Line(clip(top, 100)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

// shortDigest is algo:first-12-hex, as the text report shows digests.
func shortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// clip cuts s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
