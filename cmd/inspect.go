package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/report"
)

type inspectOptions struct {
	arch    string
	format  string
	failOn  string
	noColor bool
	verbose bool
	quiet   bool // no progress on stderr

	// transport carries registry requests: the progress reporter on a
	// terminal, else nil (ggcr's default).
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

	// dockerfile is --dockerfile: findings are mapped to its lines.
	dockerfile string

	// net are the registry and daemon limits.
	net netFlags

	// noCache is --no-cache; cache is the layer-index cache, nil when off.
	noCache bool
	cache   *imagefs.Cache

	// load is source.Load outside tests.
	load func(ctx context.Context, ref string, opts source.Options) (*source.Image, error)
}

const inspectLong = `Inspect one or more images and report why they would not start on Lambda.

IMAGE is any of:
  PATH                      a docker save tarball, OCI layout directory or OCI
                            archive, recognised by its content
  docker-archive:PATH       a docker save tarball (legacy or containerd store)
  oci:DIR[:TAG|@DIGEST]     an OCI image layout directory
  oci-archive:PATH          an OCI layout packed in a tar (buildx type=oci)
  docker:NAME[:TAG]         an image in the local Docker daemon (DOCKER_HOST)
  registry:REF              an image in a registry (Docker config credentials,
                            credential helpers, and Amazon ECR)
  NAME[:TAG]                the local daemon when one answers, else the registry

When IMAGE is an image index (multi-arch, or buildx attestations), the image
for --arch is inspected, and the index itself is reported: Lambda rejects it.`

const inspectExample = `  lambdoctor inspect 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:latest
  lambdoctor inspect --arch arm64 docker:my-fn:dev
  docker save my-fn:dev -o fn.tar && lambdoctor inspect fn.tar --format json
  lambdoctor inspect fn.tar --output sarif=lambdoctor.sarif --output junit=lambdoctor.xml`

func newInspectCmd(streams *IOStreams, runF func(context.Context, *inspectOptions, []string) error) *cobra.Command {
	opts := &inspectOptions{load: source.Load}
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
	f.StringVar(&opts.arch, "arch", "amd64", "the function's architecture: amd64 (x86_64) or arm64")
	f.StringVar(&opts.format, "format", "text", "stdout's output format: "+strings.Join(report.Formats(), ", "))
	f.StringArrayVar(&opts.outputs, "output", nil, "also write the report in `FORMAT=PATH` (repeatable; PATH - is stdout), e.g. sarif=lambdoctor.sarif")
	f.StringVar(&opts.failOn, "fail-on", "error", "exit 1 when a finding is at or above this severity: error, warning, info or none")
	f.BoolVar(&opts.noColor, "no-color", false, "never colour the output (NO_COLOR is honoured too)")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "also list the checks that passed or did not apply")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress on stderr for registry pulls (shown only when stderr is a terminal)")
	f.StringVar(&opts.entrypoint, "entrypoint", "", `the function's ImageConfig EntryPoint, as a JSON list ('["/bin/app","--flag"]') or one path`)
	f.StringVar(&opts.command, "cmd", "", `the function's ImageConfig Command, as a JSON list ('["app.handler"]') or one string`)
	f.StringVar(&opts.workdir, "workdir", "", "the function's ImageConfig WorkingDirectory")
	f.StringVar(&opts.dockerfile, "dockerfile", "", "the Dockerfile that built the image: findings name the instruction that caused them (its last stage)")
	f.StringVar(&opts.configPath, "config", "", "the config file (default: $LAMBDOCTOR_CONFIG, else .lambdoctor.yaml up to the git root)")
	addNetFlags(f, &opts.net)
	addNoCacheFlag(f, &opts.noCache)
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
	if cfg != nil {
		// The file fills what the command line did not set.
		if cfg.Arch != "" && !opts.archSet {
			opts.arch = cfg.Arch
		}
		if cfg.FailOn != "" && !opts.failOnSet {
			opts.failOn = cfg.FailOn
		}
		if len(refs) == 0 {
			refs = cfg.ImageRefs()
		}
	}
	if len(refs) == 0 {
		return usageError("%v (see 'lambdoctor inspect --help')", errNoImages)
	}
	if err := opts.net.check(); err != nil {
		return usageError("%v", err)
	}
	arch, err := parseArch(opts.arch)
	if err != nil {
		return usageError("%v", err)
	}
	failOn, err := parseFailOn(opts.failOn)
	if err != nil {
		return usageError("%v", err)
	}
	outs, err := planOutputs(opts.format, opts.formatSet, opts.outputs)
	if err != nil {
		return usageError("%v", err)
	}
	overrides, err := opts.imageConfig()
	if err != nil {
		return usageError("%v", err)
	}
	var df *dockerfile.File
	var dfPath string
	if opts.dockerfile != "" {
		if df, dfPath, err = loadDockerfile(opts.dockerfile); err != nil {
			return usageError("%v", err)
		}
	}
	tmp, err := os.MkdirTemp("", "lambdoctor-")
	if err != nil {
		return &exitError{code: ExitLoad, err: fmt.Errorf("creating a temporary directory: %w", err)}
	}
	defer os.RemoveAll(tmp)
	if opts.cache, err = openLayerCache(streams.Err, opts.noCache, streams.getenv); err != nil {
		return err
	}

	list := withoutDisabled(checks.All(), cfg)
	stages := newSuppressions(cfg, time.Now())
	tool := report.Tool{Name: "lambdoctor", Version: Version()}
	reports := make([]*report.Report, 0, len(refs))
	loadFailed := false
	if streams.ErrTTY && !opts.quiet && opts.transport == nil {
		opts.transport = newProgressTransport(streams.Err, opts.net.connect)
	}
	for _, ref := range refs {
		r, err := inspectOne(ctx, opts, list, tool, ref, arch, overrides, tmp)
		if err != nil {
			if ctx.Err() != nil {
				return &exitError{code: ExitLoad, err: fmt.Errorf("interrupted while inspecting %q", ref)}
			}
			loadFailed = true
			kind := "load"
			var le *source.LoadError
			if errors.As(err, &le) {
				kind = string(le.Kind)
			}
			r = report.Failed(tool, ref, kind, err.Error())
		} else if df != nil {
			locateFindings(r, df, dfPath)
		}
		stages.apply(r)
		reports = append(reports, r)
	}
	wopts := report.Options{Color: streams.ColorOut(opts.noColor), Verbose: opts.verbose, FailOn: failOn}
	if err := writeOutputs(streams, outs, reports, wopts); err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	printWarnings(streams, stages.warnings(!loadFailed))
	return &exitError{code: exitCode(reports, failOn, loadFailed)}
}

// exitCode is the one place the exit status of an inspection is decided.
func exitCode(reports []*report.Report, failOn checks.Severity, loadFailed bool) int {
	if loadFailed {
		return ExitLoad
	}
	if failOn == 0 {
		return ExitOK
	}
	for _, r := range reports {
		if r.Max() >= failOn {
			return ExitFindings
		}
	}
	return ExitOK
}

func inspectOne(ctx context.Context, opts *inspectOptions, list []checks.Check, tool report.Tool, ref, arch string, overrides analyze.ImageConfig, tmp string) (*report.Report, error) {
	sopts := source.Options{Arch: arch, TempDir: tmp, Transport: opts.transport, Cache: opts.cache}
	opts.net.apply(&sopts)
	img, err := opts.load(ctx, ref, sopts)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	fsys, err := imagefs.Build(ctx, img.Layers, buildOptions(list, tmp, opts.cache))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", ref, err)
	}
	defer fsys.Close()
	t := &analyze.Target{Image: img, FS: fsys, Arch: arch, Overrides: overrides}
	results := checks.Run(ctx, list, t)
	ri := reportImage(img, fsys)
	if rc := t.RuntimeClient(); rc.Name != "" {
		ri.RuntimeClient = &rc
	}
	return report.New(tool, ri, results), nil
}

// captureFor returns the capture policy of the filesystem pass: the full
// content of every path a check declared it needs.
func captureFor(list []checks.Check) func(name string, size int64) bool {
	var globs []string
	for _, c := range list {
		globs = append(globs, c.Meta().Needs...)
	}
	return func(name string, _ int64) bool {
		p := "/" + strings.TrimPrefix(name, "/")
		for _, g := range globs {
			if ok, _ := path.Match(g, p); ok {
				return true
			}
		}
		return false
	}
}

func reportImage(img *source.Image, fsys *imagefs.FS) report.Image {
	ri := report.Image{
		Ref:       img.Ref,
		Source:    string(img.Source),
		Digest:    img.Digest,
		MediaType: img.MediaType,
		Platform:  platformString(img),
		IsIndex:   img.Index != nil,
	}
	if ix := img.Index; ix != nil {
		rix := &report.Index{Digest: ix.Digest, MediaType: ix.MediaType, Selected: ix.Selected}
		for _, m := range ix.Manifests {
			p := ""
			if m.Platform != nil {
				p = m.Platform.String()
			}
			rix.Manifests = append(rix.Manifests, report.IndexManifest{Digest: m.Digest, MediaType: m.MediaType, Platform: p, Attestation: m.Attestation})
		}
		ri.Index = rix
	}
	for _, l := range fsys.Layers() {
		d := l.Digest
		if d == "" {
			d = l.DiffID
		}
		ri.Layers = append(ri.Layers, report.Layer{
			Index: l.Index, Digest: d, MediaType: l.MediaType, Size: l.Size,
			UncompressedSize: l.UncompressedSize, CreatedBy: l.CreatedBy,
		})
	}
	return ri
}

func platformString(img *source.Image) string {
	p := img.Platform
	if p.OS == "" && p.Architecture == "" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

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
