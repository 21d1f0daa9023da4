package cmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/docs"
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
	_, err = streams.Out.Write(page)
	return err
}

// didYouMeanCheck returns "; did you mean X?" naming the check IDs or names
// closest to s, or "" when none is close.
func didYouMeanCheck(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	type cand struct {
		label string
		dist  int
	}
	var cands []cand
	for _, c := range checks.All() {
		m := c.Meta()
		best := -1
		for _, key := range []string{strings.ToLower(m.ID), m.Name} {
			d := editDistance(s, key)
			// A fragment of a name ("entrypoint") counts as close.
			if len(s) >= 4 && strings.Contains(key, s) {
				d = min(d, 1)
			}
			if best < 0 || d < best {
				best = d
			}
		}
		if best <= max(2, len(s)/3) {
			cands = append(cands, cand{m.ID + " (" + m.Name + ")", best})
		}
	}
	if len(cands) == 0 {
		return ""
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return a.dist - b.dist })
	var labels []string
	for i, c := range cands {
		if i == 3 || c.dist > cands[0].dist+1 {
			break
		}
		labels = append(labels, c.label)
	}
	return "; did you mean " + strings.Join(labels, " or ") + "?"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
