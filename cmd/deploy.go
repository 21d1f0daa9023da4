package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/deploy"
	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/lambda"
	"github.com/lambdoctor/lambdoctor/report"
)

// deployFlags are --deploy and --function-id, shared by inspect and run.
type deployFlags struct {
	path       string // --deploy PATH
	functionID string // --function-id ID
}

func addDeployFlags(f *pflag.FlagSet, d *deployFlags) {
	f.StringVar(&d.path, "deploy", "", "judge the image functions of a deployment definition at `PATH` as deployed, with their ImageConfig, architecture, environment, memory, timeout and ephemeral storage: an AWS SAM or CloudFormation template (samconfig.toml next to it is read), a CDK cloud assembly (cdk.out), a serverless.yml, the JSON of terraform show -json, or a directory holding one (see docs/deploy/)")
	f.StringVar(&d.functionID, "function-id", "", "with --deploy (or a discovered definition): only the function with this `ID` (logical ID, Serverless function key or Terraform address)")
}

// functions reads the functions --deploy names, or, when neither --deploy
// nor an image is given, the definitions found in the working directory.
// It returns nil (and no error) when there is nothing to read.
func (d deployFlags) functions(streams *IOStreams, haveImages bool) ([]deploy.Function, error) {
	path, label := d.path, "--deploy "+d.path
	if path == "" {
		if haveImages {
			if d.functionID != "" {
				return nil, usageError("--function-id selects a function of --deploy PATH (or of a definition found in the working directory), not of IMAGE")
			}
			return nil, nil
		}
		// The working directory, as a relative path when it is the
		// process's, so that reports name files as the user sees them.
		dir, err := workDir(streams)
		if err != nil {
			return nil, nil
		}
		if cwd, err := os.Getwd(); err == nil && cwd == dir {
			dir = "."
		}
		found := deploy.Discover(dir)
		if len(found) == 0 {
			if d.functionID != "" {
				return nil, usageError("--function-id %s: no --deploy PATH given and no deployment definition (template.yaml, cdk.out/, serverless.yml) in the working directory", d.functionID)
			}
			return nil, nil
		}
		fmt.Fprintf(streams.Err, "lambdoctor: judging the image functions of %s (found in the working directory)\n", strings.Join(found, ", "))
		path, label = dir, strings.Join(found, ", ")
	}
	fns, err := deploy.Read(path, deploy.Options{Getenv: streams.getenv})
	if err != nil {
		if d.path == "" {
			return nil, usageError("%v", err)
		}
		return nil, usageError("--deploy: %v", err)
	}
	if len(fns) == 0 {
		return nil, usageError("%s defines no image function (PackageType Image, functions.*.image, package_type = \"Image\"); lambdoctor judges container images", label)
	}
	if d.functionID == "" {
		return fns, nil
	}
	var ids []string
	for _, fn := range fns {
		if fn.ID == d.functionID {
			return []deploy.Function{fn}, nil
		}
		ids = append(ids, fn.ID)
	}
	return nil, usageError("--function-id %s: %s defines no such image function (it defines %s)", d.functionID, label, strings.Join(ids, ", "))
}

// functionSettings are the values a function gives the pipeline, with the
// command-line flags that were given winning over the definition.
type functionSettings struct {
	arch      string // amd64 or arm64
	overrides analyze.ImageConfig
	env       []string
	df        *dockerfile.File
	dfPath    string
	// warning says why the definition's Dockerfile is not used.
	warning string
}

// settings merges fn with the flags: flagArch when archSet, the ImageConfig
// flags field by field, --dockerfile (df, dfPath) when given.
func settings(fn deploy.Function, flagArch string, archSet bool, flags analyze.ImageConfig, df *dockerfile.File, dfPath string) (functionSettings, error) {
	s := functionSettings{df: df, dfPath: dfPath, env: fn.EnvList()}
	arch := "amd64"
	if fn.Architecture != "" {
		arch = fn.Architecture
	}
	if archSet {
		arch = flagArch
	}
	var err error
	if s.arch, err = parseArch(arch); err != nil {
		return s, fmt.Errorf("%s: %v", fn.ID, err)
	}
	s.overrides = analyze.ImageConfig{EntryPoint: fn.ImageConfig.EntryPoint, Command: fn.ImageConfig.Command, WorkingDirectory: fn.ImageConfig.WorkingDirectory}
	if flags.EntryPoint != nil {
		s.overrides.EntryPoint = flags.EntryPoint
	}
	if flags.Command != nil {
		s.overrides.Command = flags.Command
	}
	if flags.WorkingDirectory != "" {
		s.overrides.WorkingDirectory = flags.WorkingDirectory
	}
	if s.df == nil && fn.Dockerfile != "" {
		if s.df, s.dfPath, err = inspect.LoadDockerfile(fn.Dockerfile, dockerfile.Options{Arch: s.arch}); err != nil {
			s.df, s.warning = nil, fmt.Sprintf("%s: the Dockerfile its definition names cannot be read, so findings are not mapped to its lines: %v", fn.ID, strings.TrimPrefix(err.Error(), "--dockerfile"))
		}
	}
	return s, nil
}

// reportFunction is fn as the report carries it: the configuration
// applied, Lambda's defaults included.
func reportFunction(fn deploy.Function, arch string) *report.Function {
	rf := report.NewFunction(fn)
	if arch == "arm64" {
		rf.Architecture = "arm64"
	} else {
		rf.Architecture = "x86_64"
	}
	return rf
}

// runInspectFunctions inspects each function's image as the function runs
// it: one report per function, named by its ID. An IMAGE argument
// replaces the image of the one function selected.
func runInspectFunctions(ctx context.Context, streams *IOStreams, opts *inspectOptions, cfg *config.Config, fns []deploy.Function, refs []string) error {
	if len(refs) > 0 && (len(refs) > 1 || len(fns) > 1) {
		return usageError("with --deploy, an IMAGE replaces the image of one function: select it with --function-id (the definition has %d image functions)", len(fns))
	}
	if opts.name != "" && len(fns) > 1 {
		return usageError("--name names one image, and --deploy gives %d functions: each report is named by its function's ID", len(fns))
	}
	if opts.archSet {
		if _, err := parseArch(opts.arch); err != nil {
			return usageError("%v", err)
		}
	}
	// TARGETARCH is --arch's, else amd64: each function's own architecture
	// applies to the Dockerfile its definition names.
	plan, err := opts.plan(streams, opts.arch)
	if err != nil {
		return err
	}
	flagIC, err := opts.imageConfig()
	if err != nil {
		return usageError("%v", err)
	}
	plans := make([]functionSettings, len(fns))
	for i, fn := range fns {
		if plans[i], err = settings(fn, opts.arch, opts.archSet, flagIC, plan.df, plan.dfPath); err != nil {
			return usageError("--deploy: %v", err)
		}
	}
	iopts, err := opts.sessionOptions(streams, cfg, opts.quiet)
	if err != nil {
		return err
	}
	session, err := inspect.New(iopts)
	if err != nil {
		return loadError(err)
	}
	defer session.Close()

	reports := make([]*report.Report, 0, len(fns))
	loadFailed := false
	for i, fn := range fns {
		p := plans[i]
		if p.warning != "" {
			printWarnings(streams, []string{p.warning})
		}
		ref := fn.Image
		if len(refs) == 1 {
			ref = refs[0]
		}
		name := fn.ID
		if opts.name != "" {
			name = opts.name
		}
		var r *report.Report
		if ref == "" {
			loadFailed = true
			r = report.Failed(tool(), "", "unresolved", fmt.Sprintf("the image function %s deploys is known only once deployed (%s); name the image: lambdoctor inspect --deploy %s --function-id %s IMAGE", fn.ID, imageWhy(fn), fn.Source, fn.ID))
			r.Image.Name = name
		} else {
			as := inspect.As{Arch: p.arch, Overrides: p.overrides, Env: p.env, Dockerfile: p.df, DockerfilePath: p.dfPath, Name: name}
			if r, err = session.InspectAs(ctx, ref, as); err != nil {
				if ctx.Err() != nil {
					return loadError(fmt.Errorf("interrupted while inspecting %q (function %s)", ref, fn.ID))
				}
				loadFailed = true
				if r.Error != nil && len(refs) == 0 && fn.Dockerfile != "" {
					r.Error.Message += "; if the image is not built yet, " + buildHint(fn)
				}
			}
		}
		r.Function = reportFunction(fn, p.arch)
		if len(refs) == 1 {
			r.Function.Image = ref
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

// buildHint says how to build the local image a definition names.
func buildHint(fn deploy.Function) string {
	tag := strings.TrimPrefix(fn.Image, "docker:")
	build := fmt.Sprintf("docker build -t %s -f %s %s", tag, fn.Dockerfile, fn.DockerContext)
	if fn.Tool == "sam" {
		return fmt.Sprintf("build it with sam build %s (it runs %s)", fn.ID, build)
	}
	return "build it as " + fn.Tool + " does: " + build
}

// imageWhy says why a function's image is not known.
func imageWhy(fn deploy.Function) string {
	for _, u := range fn.Unresolved {
		for _, p := range []string{"ImageUri", "image_uri", "image", "provider.ecr"} {
			if strings.HasPrefix(u, p) {
				return u
			}
		}
	}
	return "the definition names no image"
}

// applyDeploy gives run the function's configuration: the values whose
// flags were not given come from the definition. It returns the function
// (nil without --deploy) and the image to run: IMAGE when given, else the
// function's.
func (o *runOptions) applyDeploy(streams *IOStreams, ref string) (*deploy.Function, string, error) {
	if o.deploy.path == "" {
		if ref == "" {
			return nil, "", usageError("run takes one IMAGE, or --deploy PATH --function-id ID (see 'lambdoctor run --help')")
		}
		if o.deploy.functionID != "" {
			return nil, "", usageError("--function-id selects a function of --deploy PATH")
		}
		return nil, ref, nil
	}
	fns, err := o.deploy.functions(streams, true)
	if err != nil {
		return nil, "", err
	}
	if len(fns) > 1 {
		ids := make([]string, len(fns))
		for i, fn := range fns {
			ids[i] = fn.ID
		}
		return nil, "", usageError("--deploy %s defines %d image functions: run one, with --function-id (%s)", o.deploy.path, len(fns), strings.Join(ids, ", "))
	}
	fn := fns[0]
	if ref == "" {
		if ref = fn.Image; ref == "" {
			return nil, "", usageError("the image function %s deploys is known only once deployed (%s): name it, lambdoctor run --deploy %s --function-id %s IMAGE", fn.ID, imageWhy(fn), o.deploy.path, fn.ID)
		}
	}
	changed := o.changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	if fn.Architecture != "" && !o.archSet {
		o.arch = fn.Architecture
	}
	list := func(v []string) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	if len(fn.ImageConfig.EntryPoint) > 0 && !changed("entrypoint") {
		o.entrypoint = list(fn.ImageConfig.EntryPoint)
	}
	if len(fn.ImageConfig.Command) > 0 && !changed("cmd") {
		o.command = list(fn.ImageConfig.Command)
	}
	if fn.ImageConfig.WorkingDirectory != "" && !changed("workdir") {
		o.workdir = fn.ImageConfig.WorkingDirectory
	}
	if fn.MemoryMB != 0 && !changed("memory") {
		o.memoryMB = fn.MemoryMB
	}
	if fn.TimeoutSeconds != 0 && !changed("timeout") {
		o.timeout = time.Duration(fn.TimeoutSeconds) * time.Second
	}
	if fn.EphemeralStorageMB != 0 && !changed("tmp-size") {
		o.tmpSizeMB = fn.EphemeralStorageMB
	}
	var env []string
	for _, kv := range fn.EnvList() {
		k, _, _ := strings.Cut(kv, "=")
		if lambda.IsReserved(k) {
			return nil, "", usageError("function %s: its environment sets %s, a name Lambda reserves: Lambda refuses the configuration, so the deploy fails (remove it from %s)", fn.ID, k, fn.Source)
		}
		if !lambda.ValidEnvName(k) {
			return nil, "", usageError("function %s: its environment variable %q is not a name Lambda accepts (letters, digits and _, starting with a letter): the deploy fails (fix it in %s)", fn.ID, k, fn.Source)
		}
		env = append(env, kv)
	}
	o.env = append(env, o.env...) // --env comes last and wins
	for _, u := range fn.Unresolved {
		printWarnings(streams, []string{fmt.Sprintf("function %s: not known until deployed, left unset: %s", fn.ID, u)})
	}
	return &fn, ref, nil
}
