package cmd

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/report"
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
	c.Flags().StringVar(&opts.format, "format", "table", "output format: table (or text) or json")
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
	write, err := formatWriter("checks", opts.format)
	if err != nil {
		return err
	}
	all := checks.All()
	list := make([]checkJSON, 0, len(all))
	for _, c := range all {
		m := c.Meta()
		list = append(list, checkJSON{m.ID, m.Name, m.Severity, m.Category, m.Title, m.DocsURL()})
	}
	if err := write(streams.Out, list, report.Options{}); err != nil {
		return writeError(fmt.Errorf("writing the check list: %w", err))
	}
	return nil
}

// checksTable writes the catalogue as a table: ID, name, severity, title.
func checksTable(w io.Writer, doc any, _ report.Options) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSEVERITY\tTITLE")
	for _, c := range doc.([]checkJSON) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Severity, c.Title)
	}
	return tw.Flush()
}
