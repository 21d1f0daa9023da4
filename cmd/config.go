package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/report"
)

// loadConfig finds and loads the config file: flagPath, else
// $LAMBDOCTOR_CONFIG, else .lambdoctor.yaml walking up from the working
// directory to the git root. It returns nil, nil when there is none. Any
// problem is a usage error (exit 2) naming the file and line.
func loadConfig(streams *IOStreams, flagPath string) (*config.Config, error) {
	dir, err := workDir(streams)
	if err != nil {
		return nil, usageError("finding .lambdoctor.yaml: %v", err)
	}
	file, err := config.Find(flagPath, streams.Getenv, dir)
	if err != nil {
		return nil, usageError("%v", err)
	}
	if file == "" {
		return nil, nil
	}
	cfg, err := config.Load(file)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return cfg, nil
}

func workDir(streams *IOStreams) (string, error) {
	if streams.Getwd != nil {
		return streams.Getwd()
	}
	return os.Getwd()
}

// suppressions applies a config's post-processing stages to the reports of
// one run and remembers which ignores were used, for the warnings.
type suppressions struct {
	cfg     *config.Config
	ignores []report.Ignore
	now     time.Time
	used    []bool
	expired []bool
}

func newSuppressions(cfg *config.Config, now time.Time) *suppressions {
	s := &suppressions{cfg: cfg, now: now}
	if cfg == nil {
		return s
	}
	s.ignores = toReportIgnores(cfg.Ignore)
	s.used = make([]bool, len(s.ignores))
	s.expired = make([]bool, len(s.ignores))
	return s
}

func toReportIgnores(list []config.Ignore) []report.Ignore {
	out := make([]report.Ignore, 0, len(list))
	for _, ig := range list {
		out = append(out, report.Ignore{ID: ig.ID, Paths: ig.Paths, Reason: ig.Reason, Expires: ig.Expires})
	}
	return out
}

// apply runs the severity-override then the suppression stage on r.
func (s *suppressions) apply(r *report.Report) {
	if s.cfg == nil || r.Error != nil {
		return
	}
	report.ApplyOverrides(r, s.cfg.Severity)
	for i, ig := range s.ignores {
		// One ignore at a time, so each one's use is known.
		unused, expired := report.ApplyIgnores(r, []report.Ignore{ig}, s.now)
		s.expired[i] = len(expired) > 0
		if len(unused) == 0 && len(expired) == 0 {
			s.used[i] = true
		}
	}
}

// warnings are the lines to print on stderr after the run: expired ignores,
// and ignores that matched nothing in any image (only said when every
// image could be read: an unread image might have matched).
func (s *suppressions) warnings(allLoaded bool) []string {
	var out []string
	if s.cfg == nil {
		return nil
	}
	for i, ig := range s.cfg.Ignore {
		at := fmt.Sprintf("%s:%d", s.cfg.File, ig.Line)
		switch {
		case s.expired[i]:
			out = append(out, fmt.Sprintf("%s: ignore %s expired on %s; its findings are reported again", at, ig.Written, ig.Expires.Format(config.DateLayout)))
		case !s.used[i] && allLoaded:
			out = append(out, fmt.Sprintf("%s: ignore %s matched nothing", at, ig.Written))
		}
	}
	return out
}

func printWarnings(streams *IOStreams, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(streams.Err, "lambdoctor: warning: %s\n", termsafe.Text(l))
	}
}

// disabledCheck stands for a check the config disables: it keeps the
// check's identity, reads nothing and ends skipped.
type disabledCheck struct {
	meta checks.Meta
	file string
}

func (d disabledCheck) Meta() checks.Meta {
	m := d.meta
	m.Needs = nil // nothing to capture for a check that does not run
	return m
}

func (d disabledCheck) Run(context.Context, *analyze.Target) ([]checks.Finding, error) {
	return nil, fmt.Errorf("%w: disabled in %s", checks.ErrSkip, d.file)
}

// withoutDisabled returns list with the checks cfg disables replaced by
// disabledCheck, so they show as skipped in every report.
func withoutDisabled(list []checks.Check, cfg *config.Config) []checks.Check {
	if cfg == nil || len(cfg.Disable) == 0 {
		return list
	}
	out := make([]checks.Check, 0, len(list))
	for _, c := range list {
		m := c.Meta()
		for _, id := range cfg.Disable {
			if id == m.ID {
				c = disabledCheck{meta: m, file: cfg.File}
				break
			}
		}
		out = append(out, c)
	}
	return out
}

type configVerifyOptions struct {
	configPath string
}

func newConfigCmd(streams *IOStreams) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Work with .lambdoctor.yaml",
		Long: `Work with .lambdoctor.yaml, the repository's lambdoctor settings.

The file is --config PATH, else $LAMBDOCTOR_CONFIG, else the first
.lambdoctor.yaml (or .lambdoctor.yml) found walking up from the current
directory to the git root. See docs/config.md.`,
		Args: cobra.NoArgs,
	}
	opts := &configVerifyOptions{}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check .lambdoctor.yaml and say what it sets",
		Long: `Load and validate .lambdoctor.yaml: unknown keys, unknown check IDs or
names, missing reasons and bad dates are errors (exit 2). Expired ignores
are warnings. Prints the file used and what it sets.`,
		Example: `  lambdoctor config verify
  lambdoctor config verify --config ci/lambdoctor.yaml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runConfigVerify(streams, opts, time.Now())
		},
	}
	verify.Flags().StringVar(&opts.configPath, "config", "", "the config file (default: $LAMBDOCTOR_CONFIG, else .lambdoctor.yaml up to the git root)")
	c.AddCommand(verify)
	return c
}

func runConfigVerify(streams *IOStreams, opts *configVerifyOptions, now time.Time) error {
	cfg, err := loadConfig(streams, opts.configPath)
	if err != nil {
		return err
	}
	if cfg == nil {
		return usageError("no .lambdoctor.yaml found (looked from the current directory up to the git root; set --config or $%s)", config.EnvVar)
	}
	var parts []string
	if cfg.Arch != "" {
		parts = append(parts, "arch "+cfg.Arch)
	}
	if cfg.FailOn != "" {
		parts = append(parts, "fail-on "+cfg.FailOn)
	}
	parts = append(parts,
		countOf(len(cfg.Images), "image", "images"),
		countOf(len(cfg.Disable), "disabled check", "disabled checks"),
		countOf(len(cfg.Severity), "severity override", "severity overrides"),
	)
	var expired []string
	for _, ig := range cfg.Ignore {
		if (report.Ignore{Expires: ig.Expires}).Expired(now) {
			expired = append(expired, fmt.Sprintf("%s:%d: ignore %s expired on %s; its findings are reported again", cfg.File, ig.Line, ig.Written, ig.Expires.Format(config.DateLayout)))
		}
	}
	ign := countOf(len(cfg.Ignore), "ignore", "ignores")
	if len(expired) > 0 {
		ign += fmt.Sprintf(" (%d expired)", len(expired))
	}
	parts = append(parts, ign)
	fmt.Fprintf(streams.Out, "%s: ok: %s\n", cfg.File, strings.Join(parts, ", "))
	for _, img := range cfg.Images {
		fmt.Fprintf(streams.Out, "  image %s\n", img)
	}
	printWarnings(streams, expired)
	return nil
}

func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// errNoImages is the usage error of inspect without images.
var errNoImages = errors.New("no IMAGE given and no images listed in .lambdoctor.yaml")
