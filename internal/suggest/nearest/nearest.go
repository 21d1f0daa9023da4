// Package nearest finds the nearest known words to a mistyped one, by edit
// distance. It imports nothing of lambdoctor's, so that any package (the
// image loader's "did you mean" for file names among them) can use it;
// package suggest builds its suggestions of checks and config keys on it.
package nearest

import (
	"slices"
	"strings"
)

// maxShown bounds how many equally near candidates are offered.
const maxShown = 3

// Of returns the candidates nearest to s (ignoring case), at most
// three, all at the same smallest distance, in the order given; none when
// even the nearest is too far to be a typo (more than max(2, len(s)/3)
// edits). A fragment of four or more characters of a candidate ("entrypoint"
// in "entrypoint-not-found") counts as one edit away.
func Of(s string, cands []string) []string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return nil
	}
	limit := max(2, len([]rune(s))/3)
	best := -1
	var out []string
	for _, c := range cands {
		key := strings.ToLower(c)
		d := Distance(s, key)
		if len([]rune(s)) >= 4 && strings.Contains(key, s) {
			d = min(d, 1)
		}
		switch {
		case d > limit:
		case best < 0 || d < best:
			best, out = d, []string{c}
		case d == best && !slices.Contains(out, c):
			out = append(out, c)
		}
	}
	if len(out) > maxShown {
		out = out[:maxShown]
	}
	return out
}

// Distance is the Levenshtein distance between a and b, in runes.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
