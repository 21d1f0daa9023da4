package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/docs"
	"github.com/lambdoctor/lambdoctor/internal/suggest"
)

const explainLong = `Print a check's documentation page: what it checks, why it fails on
Lambda, what you see in the logs, how to fix it, and an example.

ID|NAME is a check ID (LD202) or its name (entrypoint-not-found); 'lambdoctor
checks' lists them. The pages are embedded in the binary, so this works
offline and matches the version you run.`

func newExplainCmd(streams *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:     "explain ID|NAME",
		Short:   "Print a check's documentation page",
		Long:    explainLong,
		Example: "  lambdoctor explain LD202\n  lambdoctor explain entrypoint-not-found",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runExplain(streams, args[0])
		},
		ValidArgsFunction: completeCheckIDs,
	}
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

func runExplain(streams *IOStreams, idOrName string) error {
	c, ok := checks.Lookup(idOrName)
	if !ok {
		return usageError("no check %q%s (see 'lambdoctor checks')", idOrName, didYouMeanCheck(idOrName))
	}
	page, err := docs.CheckPage(c.Meta().ID)
	if err != nil {
		// The docs test makes this unreachable in a released binary.
		return fmt.Errorf("check %s: %w", c.Meta().ID, err)
	}
	if _, err := streams.Out.Write(page); err != nil {
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
