package cmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/docs"
	"github.com/lambdoctor/lambdoctor/internal/suggest"
	"github.com/lambdoctor/lambdoctor/report"
)

const explainLong = `Print a check's documentation page: what it checks, why it fails on
Lambda, what you see in the logs, how to fix it, and an example.

ID|NAME is a check ID (LD202) or its name (entrypoint-not-found); 'lambdoctor
checks' lists them. The pages are embedded in the binary, so this works
offline and matches the version you run.

On a terminal the page is rendered (--format text): headings, prose wrapped
to the terminal's width (COLUMNS), tables as aligned columns, links as text
and address, colour unless NO_COLOR is set. Into a pipe or a file it is the
page's Markdown source (--format markdown), as in docs/checks/; --format
picks either anywhere (text outside a terminal: COLUMNS, else 80 columns,
no colour).`

func newExplainCmd(streams *IOStreams) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:     "explain ID|NAME",
		Short:   "Print a check's documentation page",
		Long:    explainLong,
		Example: "  lambdoctor explain LD202\n  lambdoctor explain entrypoint-not-found\n  lambdoctor explain LD202 --format markdown > LD202.md",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runExplain(streams, args[0], format, c.Flags().Changed("format"))
		},
		ValidArgsFunction: completeCheckIDs,
	}
	c.Flags().StringVar(&format, "format", "text", "text (rendered; the default on a terminal) or markdown (the source; the default into a pipe or a file)")
	return c
}

// completeCheckIDs completes a check ID or name, with its title as the
// description.
func completeCheckIDs(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, c := range checks.All() {
		m := c.Meta()
		for _, v := range []string{m.ID, m.Name} {
			if strings.HasPrefix(strings.ToLower(v), strings.ToLower(toComplete)) {
				out = append(out, v+"\t"+m.Title)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func runExplain(streams *IOStreams, idOrName, format string, formatSet bool) error {
	if !formatSet && !streams.OutTTY {
		format = "markdown"
	}
	write, err := formatWriter("explain", format)
	if err != nil {
		return err
	}
	c, ok := checks.Lookup(idOrName)
	if !ok {
		return usageError("no check %q%s (see 'lambdoctor checks')", idOrName, didYouMeanCheck(idOrName))
	}
	page, err := docs.CheckPage(c.Meta().ID)
	if err != nil {
		// The docs test makes this unreachable in a released binary.
		return fmt.Errorf("check %s: %w", c.Meta().ID, err)
	}
	width := streams.TextWidth()
	if width == 0 {
		width = 80
		if n, err := strconv.Atoi(streams.getenv("COLUMNS")); err == nil && n > 0 {
			width = n
		}
	}
	opts := report.Options{Width: width, Color: streams.ColorOut(false)}
	if err := write(streams.Out, page, opts); err != nil {
		return writeError(fmt.Errorf("writing the page: %w", err))
	}
	return nil
}

// didYouMeanCheck returns "; did you mean X?" naming the check IDs or names
// nearest to s, or "" when none is near.
func didYouMeanCheck(s string) string {
	if near := suggest.Checks(s); near != "" {
		return "; did you mean " + near + "?"
	}
	return ""
}
