// Package docs embeds lambdoctor's documentation pages in the binary, so
// `lambdoctor explain` works offline and matches the version that runs.
package docs

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// Checks holds one markdown page per check, checks/<ID>.md.
//
//go:embed checks/*.md
var Checks embed.FS

var checkID = regexp.MustCompile(`^LD[0-9]{3}$`)

// CheckPage returns the markdown page of the check with the given ID
// ("LD202", case-insensitive). An ID with no page gives an error wrapping
// fs.ErrNotExist.
func CheckPage(id string) ([]byte, error) {
	id = strings.ToUpper(strings.TrimSpace(id))
	if !checkID.MatchString(id) {
		return nil, fmt.Errorf("no docs page for %q: %w", id, fs.ErrNotExist)
	}
	b, err := Checks.ReadFile("checks/" + id + ".md")
	if err != nil {
		return nil, fmt.Errorf("no docs page for %s: %w", id, fs.ErrNotExist)
	}
	return b, nil
}

// Summary is the first paragraph of a check page's "What it checks"
// section, as one line of plain text (Markdown's backticks and emphasis
// removed): the rule's full description in SARIF. It is "" for a page
// without that section.
func Summary(page []byte) string {
	s := string(page)
	i := strings.Index(s, "\n## What it checks\n")
	if i < 0 {
		return ""
	}
	s = strings.TrimLeft(s[i+len("\n## What it checks\n"):], "\n")
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	s = strings.NewReplacer("`", "", "**", "", "\n", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}
