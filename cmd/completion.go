package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// flagValues are the values shell completion offers for the flags that
// take one of a fixed set, wherever a command declares them. --format is
// per command: formatsOf.
func flagValues() map[string][]string {
	return map[string][]string{
		"arch":    {"amd64", "arm64"},
		"fail-on": {"error", "warning", "info", "none"},
	}
}

// registerCompletions adds value completion to the flags of every command
// under root that take a fixed set of values. The completion command
// itself is cobra's ("lambdoctor completion bash|zsh|fish|powershell").
func registerCompletions(root *cobra.Command) {
	values := flagValues()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			v, ok := values[f.Name]
			if f.Name == "format" {
				v, ok = formatsOf(c.Name()), true
			}
			if !ok {
				return
			}
			if _, exists := c.GetFlagCompletionFunc(f.Name); exists {
				return
			}
			_ = c.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(v, cobra.ShellCompDirectiveNoFileComp))
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// docsRoot returns the command tree as a user sees it: with the help and
// version flags and the completion command cobra adds when it runs.
func docsRoot() *cobra.Command {
	root := newRootCmd(&IOStreams{In: strings.NewReader(""), Out: os.Stdout, Err: os.Stderr})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		c.DisableAutoGenTag = true
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root.InitDefaultVersionFlag()
	walk(root)
	return root
}

// GenDocs writes the command-line reference, one Markdown page per command,
// into dir (docs/cli in the repository: go run ./internal/gendocs). The
// output depends only on the command tree, so CI can regenerate and diff.
func GenDocs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// Remove pages of commands that no longer exist.
	old, err := filepath.Glob(filepath.Join(dir, "lambdoctor*.md"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
	}
	if err := doc.GenMarkdownTree(docsRoot(), dir); err != nil {
		return fmt.Errorf("generating the CLI reference: %w", err)
	}
	return nil
}
