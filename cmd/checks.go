package cmd

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/checks"
)

type checksOptions struct {
	format string
}

func newChecksCmd(streams *IOStreams) *cobra.Command {
	opts := &checksOptions{}
	c := &cobra.Command{
		Use:   "checks",
		Short: "List the checks lambdoctor runs",
		Long: `List the check catalogue: ID, name (an alias accepted wherever an ID is),
default severity and title. Each check has a docs page under docs/checks/.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runChecks(streams, opts)
		},
	}
	c.Flags().StringVar(&opts.format, "format", "table", "output format: table or json")
	return c
}

type checkJSON struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Severity checks.Severity `json:"severity"`
	Category checks.Category `json:"category"`
	Title    string          `json:"title"`
	Docs     string          `json:"docs"`
}

func runChecks(streams *IOStreams, opts *checksOptions) error {
	all := checks.All()
	switch opts.format {
	case "json":
		list := make([]checkJSON, 0, len(all))
		for _, c := range all {
			m := c.Meta()
			list = append(list, checkJSON{m.ID, m.Name, m.Severity, m.Category, m.Title, m.DocsURL()})
		}
		enc := json.NewEncoder(streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	case "table", "text":
		tw := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSEVERITY\tTITLE")
		for _, c := range all {
			m := c.Meta()
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.Name, m.Severity, m.Title)
		}
		return tw.Flush()
	}
	return usageError("unknown --format %q for checks (want table or json)", opts.format)
}
