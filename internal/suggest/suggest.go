// Package suggest is lambdoctor's one "did you mean": the nearest known
// words to a mistyped one, by edit distance, for config keys and check IDs
// and names alike.
package suggest

import (
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/internal/suggest/nearest"
)

// Nearest returns the candidates nearest to s (ignoring case), at most
// three, all at the same smallest distance, in the order given; none when
// even the nearest is too far to be a typo (nearest.Of).
func Nearest(s string, cands []string) []string { return nearest.Of(s, cands) }

// Distance is the Levenshtein distance between a and b, in runes.
func Distance(a, b string) int { return nearest.Distance(a, b) }

// Checks returns the checks whose ID or name is nearest to s, as
// "LD202 (entrypoint-not-found)" joined with " or "; "" when none is near.
func Checks(s string) string {
	var cands []string
	byKey := map[string]checks.Meta{}
	for _, c := range checks.All() {
		m := c.Meta()
		cands = append(cands, m.ID, m.Name)
		byKey[m.ID], byKey[m.Name] = m, m
	}
	var labels []string
	seen := map[string]bool{}
	for _, k := range Nearest(s, cands) {
		m := byKey[k]
		if !seen[m.ID] {
			seen[m.ID] = true
			labels = append(labels, m.ID+" ("+m.Name+")")
		}
	}
	return strings.Join(labels, " or ")
}
