// Package wrap fills words into lines of a given width: the one line
// breaker of the text report and of `explain`'s rendered pages.
package wrap

import (
	"strings"
	"unicode/utf8"
)

// Breaks fills words of the given widths (in columns) into lines of at
// most room columns, a space between two words, breaking between words
// only: a word wider than room (a URL, a path) stands alone on its line,
// whole. It returns the index of the first word of every line after the
// first, in order.
func Breaks(widths []int, room int) []int {
	var breaks []int
	n := 0
	for i, l := range widths {
		if n > 0 && n+1+l > room {
			breaks = append(breaks, i)
			n = 0
		}
		if n > 0 {
			n++
		}
		n += l
	}
	return breaks
}

// String wraps each line of s to room columns (runes), between words
// (runs of spaces become one).
func String(s string, room int) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		words := strings.Fields(line)
		widths := make([]int, len(words))
		for i, w := range words {
			widths[i] = utf8.RuneCountInString(w)
		}
		start := 0
		for _, b := range append(Breaks(widths, room), len(words)) {
			out = append(out, strings.Join(words[start:b], " "))
			start = b
		}
	}
	return strings.Join(out, "\n")
}
