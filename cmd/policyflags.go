package cmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/report"
)

// policyFlags are --ignore and --disable: the config file's ignore and
// disable lists, for one run, applied by the same report stages.
type policyFlags struct {
	ignore, disable []string
	fs              *pflag.FlagSet // where they were added: which came from a variable
}

func addPolicyFlags(f *pflag.FlagSet, p *policyFlags) {
	p.fs = f
	f.StringArrayVar(&p.ignore, "ignore", nil, "suppress the findings of a check, `ID[:GLOB]` (an ID or name, and optionally a glob over the in-image path as in .lambdoctor.yaml); repeatable. Suppressed findings stay in the JSON and SARIF reports, marked as ignored on the command line")
	f.StringArrayVar(&p.disable, "disable", nil, "do not run this check (an `ID` or name): it shows as skipped; repeatable")
}

// from is how a flag was given, for messages: "--ignore", or the variable
// that set it.
func (p *policyFlags) from(flag string) string {
	if p.fs != nil {
		if f := p.fs.Lookup(flag); f != nil && len(f.Annotations[envAnnotation]) > 0 {
			return f.Annotations[envAnnotation][0]
		}
	}
	return "--" + flag
}

// apply checks the flags and sets them on the session's options. An
// unknown check or a bad glob is an error naming the flag's value.
func (p *policyFlags) apply(o *inspect.Options) error {
	from := p.from("disable")
	for _, d := range p.disable {
		id, err := config.ResolveCheck(strings.TrimSpace(d))
		if err != nil {
			return fmt.Errorf("%s %s: %v", from, d, err)
		}
		if !slices.Contains(o.Disable, id) {
			o.Disable = append(o.Disable, id)
		}
	}
	if from == "--disable" {
		o.DisabledBy = "with --disable"
	} else {
		o.DisabledBy = "by " + from
	}
	from = p.from("ignore")
	for _, spec := range p.ignore {
		written, glob, hasGlob := strings.Cut(strings.TrimSpace(spec), ":")
		id, err := config.ResolveCheck(written)
		if err != nil {
			return fmt.Errorf("%s %s: %v", from, spec, err)
		}
		ig := report.Ignore{ID: id, By: report.SuppressedByCommandLine}
		if hasGlob {
			if err := report.ValidGlob(glob); err != nil {
				return fmt.Errorf("%s %s: bad path glob %q: %v", from, spec, glob, err)
			}
			ig.Paths = []string{glob}
		}
		label := from + " " + spec
		if from == "--ignore" {
			ig.Reason = "ignored on the command line (--ignore " + spec + ")"
		} else {
			ig.Reason = "ignored by " + from + " (" + spec + ")"
			label = from + ": " + spec
		}
		o.Ignore = append(o.Ignore, inspect.Ignore{Ignore: ig, Label: label})
	}
	return nil
}

// buildArgs parses --build-arg values as docker build does: NAME=VALUE,
// or NAME alone for the value of the variable NAME in lambdoctor's
// environment (left out when it is not set).
func buildArgs(list []string, getenv func(string) string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("--build-arg %q: want NAME=VALUE, or NAME for its value in the environment", kv)
		}
		if !ok {
			if v = getenv(k); v == "" {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

// loadDockerfile reads --dockerfile with the --build-arg values and the
// function's architecture (TARGETARCH). It returns the warnings to print:
// build args no ARG declares.
func loadDockerfile(streams *IOStreams, path string, args []string, arch string) (*dockerfile.File, string, []string, error) {
	if path == "" {
		if len(args) > 0 {
			return nil, "", nil, fmt.Errorf("--build-arg %s: --build-arg applies to the Dockerfile, and no --dockerfile is given", args[0])
		}
		return nil, "", nil, nil
	}
	ba, err := buildArgs(args, streams.getenv)
	if err != nil {
		return nil, "", nil, err
	}
	df, file, err := inspect.LoadDockerfile(path, dockerfile.Options{BuildArgs: ba, Arch: arch})
	if err != nil {
		return nil, "", nil, err
	}
	var warnings []string
	for _, k := range df.UnusedBuildArgs() {
		warnings = append(warnings, fmt.Sprintf("--build-arg %s: %s declares no ARG %s; the build ignores it", k, file, k))
	}
	return df, file, warnings, nil
}
