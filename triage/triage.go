// Package triage reads pasted Lambda, CloudWatch and Runtime Interface
// Emulator output and says what each line it recognises means: which
// failure, which lambdoctor checks detect its cause in an image, and which
// lines are benign noise.
//
// The table of known lines is patterns.go; it is data, not code.
package triage

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Pattern is one kind of log line lambdoctor recognises.
type Pattern struct {
	// Key is a stable kebab-case name for machines ("exec-format-error").
	Key string
	re  *regexp.Regexp
	// Failure says in a few words what the line means.
	Failure string
	// Explanation says why it happens and what usually fixes it.
	Explanation string
	// Checks are the IDs of the checks that detect the cause in an image,
	// likeliest first; empty when no check can.
	Checks []string
	// Benign lines do not mean the function fails on Lambda: emulator
	// chatter and local-only artefacts.
	Benign bool
}

// Patterns returns the table of known lines, in matching order (a line
// takes the first pattern that matches it).
func Patterns() []*Pattern { return slices.Clone(patterns()) }

// Classify returns the first pattern line matches, and the subject it names
// (a path, library or module; "" when the pattern captures none), or nil.
func Classify(line string) (*Pattern, string) {
	for _, p := range patterns() {
		m := p.re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		subject := ""
		if i := p.re.SubexpIndex("subject"); i > 0 && i < len(m) {
			subject = m[i]
		}
		return p, subject
	}
	return nil, ""
}

// Match is a recognised line. Identical lines are reported once, counted.
type Match struct {
	// Line is the 1-based number of the line's first occurrence.
	Line int
	// Text is the line, trimmed, with runs of white space (the tabs of
	// IMAGE Launch error lines) collapsed to one space.
	Text string
	// Count is how many times the line occurs.
	Count   int
	Pattern *Pattern
	// Subject is the path, library or module the line names, or "".
	Subject string
}

// Result is the triage of a whole log.
type Result struct {
	// Lines is the number of non-blank lines read.
	Lines int
	// Matches, in order of first occurrence.
	Matches []Match
	// Unrecognised is the number of non-blank lines no pattern matched.
	Unrecognised int
}

// maxLine bounds one log line; CloudWatch events are at most 256 KiB.
const maxLine = 1 << 20

var space = regexp.MustCompile(`\s+`)

// Scan reads a log from r, one event per line, and classifies every line.
func Scan(r io.Reader) (*Result, error) {
	res := &Result{}
	seen := map[string]int{} // text → index in res.Matches
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(space.ReplaceAllString(sc.Text(), " "))
		if text == "" {
			continue
		}
		res.Lines++
		if i, ok := seen[text]; ok {
			res.Matches[i].Count++
			continue
		}
		p, subject := Classify(sc.Text())
		if p == nil {
			res.Unrecognised++
			continue
		}
		seen[text] = len(res.Matches)
		res.Matches = append(res.Matches, Match{Line: n, Text: text, Count: 1, Pattern: p, Subject: subject})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the log at line %d: %w", n+1, err)
	}
	return res, nil
}

// Recognised reports whether any line was recognised, benign or not.
func (r *Result) Recognised() bool { return len(r.Matches) > 0 }

// Checks returns the IDs of the checks that detect the causes of the
// non-benign lines, sorted and without duplicates.
func (r *Result) Checks() []string {
	var ids []string
	for _, m := range r.Matches {
		if !m.Pattern.Benign {
			ids = append(ids, m.Pattern.Checks...)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Failures returns the non-benign matches.
func (r *Result) Failures() []Match {
	var out []Match
	for _, m := range r.Matches {
		if !m.Pattern.Benign {
			out = append(out, m)
		}
	}
	return out
}
