package cmd

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

func printWarnings(streams *IOStreams, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(streams.Err, "lambdoctor: warning: %s\n", termsafe.Text(l))
	}
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
