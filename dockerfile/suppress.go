package dockerfile

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/lambdoctor/lambdoctor/internal/suggest"
)

// Suppression is an inline ignore: a comment on a line directly above an
// instruction,
//
//	# lambdoctor ignore=LD202,npx-at-runtime reason="why" paths=/var/task/** expires=2026-12-31
//
// that suppresses the findings of those checks located at that
// instruction. Its fields mirror an ignore entry of .lambdoctor.yaml.
type Suppression struct {
	// Checks are the check IDs or names of ignore=, as written.
	Checks []string
	// Paths are the globs of paths=, as written; none for every path.
	Paths []string
	// Reason is reason=, never empty.
	Reason string
	// Expires is the last day it applies (expires=); zero for never.
	Expires time.Time
	// Line is the comment's line.
	Line int
	// Instruction is the instruction below it.
	Instruction Instruction
}

// Error is a problem at a line of the Dockerfile: "Dockerfile:7: msg".
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Suppressions are the file's `# lambdoctor` comments, in file order.
func (f *File) Suppressions() []Suppression { return slices.Clone(f.suppressions) }

// DateLayout is how expires= is written (as in .lambdoctor.yaml).
const DateLayout = "2006-01-02"

// suppressionKeys are the keys of a lambdoctor comment.
var suppressionKeys = []string{"ignore", "reason", "paths", "expires"}

var dateShapeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// findSuppressions reads the lambdoctor comments of data, whose
// instructions (every stage's, in file order) are all. A comment is one
// when its first word is "lambdoctor" and the next one is a key or holds
// a "=" (so "# lambdoctor checks this image" stays a comment, and a typo
// in a key is an error, not silence). It must sit in the block of comment
// lines directly above an instruction; lines inside an instruction
// (continuations, heredoc bodies) are the instruction's.
func findSuppressions(name string, data []byte, all []Instruction) ([]Suppression, error) {
	lines := bytes.Split(data, []byte("\n"))
	inside := make([]bool, len(lines)+2) // 1-based
	startAt := map[int]Instruction{}
	for _, in := range all {
		startAt[in.Line] = in
		for l := in.Line; l <= in.EndLine && l < len(inside); l++ {
			inside[l] = true
		}
	}
	var out []Suppression
	for i, raw := range lines {
		n := i + 1
		if inside[n] {
			continue
		}
		text, ok := directive(string(raw))
		if !ok {
			continue
		}
		fail := func(format string, a ...any) error {
			return &Error{File: name, Line: n, Msg: "lambdoctor comment: " + fmt.Sprintf(format, a...)}
		}
		s, err := parseSuppression(text)
		if err != "" {
			return nil, fail("%s", err)
		}
		s.Line = n
		// The instruction below the comment block.
		below := 0
		for k := n + 1; k <= len(lines); k++ {
			if _, ok := startAt[k]; ok {
				below = k
				break
			}
			t := strings.TrimSpace(string(lines[k-1]))
			if !strings.HasPrefix(t, "#") {
				break
			}
		}
		if below == 0 {
			return nil, fail("not directly above an instruction (a blank line, or the end of the file, comes first); write it on the line above the instruction whose findings it suppresses")
		}
		s.Instruction = startAt[below]
		out = append(out, s)
	}
	return out, nil
}

// directive returns what follows "# lambdoctor" on a comment line that is
// a lambdoctor comment.
func directive(line string) (string, bool) {
	t := strings.TrimSpace(line)
	rest, ok := strings.CutPrefix(t, "#")
	if !ok {
		return "", false
	}
	words := strings.Fields(rest)
	if len(words) < 2 || !strings.EqualFold(words[0], "lambdoctor") {
		return "", false
	}
	key, _, hasEq := strings.Cut(words[1], "=")
	if !hasEq && !slices.Contains(suppressionKeys, strings.ToLower(key)) {
		return "", false
	}
	_, after, _ := strings.Cut(rest, words[0])
	return after, true
}

// parseSuppression reads key=value pairs: a value is a run of non-blank
// characters, or double-quoted with \" and \\ as escapes. It returns a
// message for the first problem.
func parseSuppression(s string) (Suppression, string) {
	var sup Suppression
	seen := map[string]bool{}
	for {
		s = strings.TrimLeft(s, " \t\r")
		if s == "" {
			break
		}
		end := strings.IndexAny(s, "= \t\r")
		if end < 0 || s[end] != '=' {
			word, _, _ := strings.Cut(s, " ")
			return sup, fmt.Sprintf("want key=value, found %q (keys: %s)", word, strings.Join(suppressionKeys, ", "))
		}
		key := s[:end]
		s = s[end+1:]
		if !slices.Contains(suppressionKeys, key) {
			msg := fmt.Sprintf("unknown key %q", key)
			if near := suggest.Nearest(key, suppressionKeys); len(near) > 0 {
				return sup, msg + fmt.Sprintf(" (did you mean %q?)", near[0])
			}
			return sup, msg + " (keys: " + strings.Join(suppressionKeys, ", ") + ")"
		}
		if seen[key] {
			return sup, fmt.Sprintf("%s is given twice", key)
		}
		seen[key] = true
		var val string
		var msg string
		if val, s, msg = readValue(s); msg != "" {
			return sup, key + ": " + msg
		}
		switch key {
		case "ignore":
			list, msg := splitList(val)
			if msg != "" {
				return sup, "ignore: " + msg + " (want check IDs or names: ignore=LD202,LD203)"
			}
			sup.Checks = list
		case "paths":
			list, msg := splitList(val)
			if msg != "" {
				return sup, "paths: " + msg + " (want globs: paths=/var/task/**,/opt/bin/*)"
			}
			sup.Paths = list
		case "reason":
			sup.Reason = strings.TrimSpace(val)
		case "expires":
			t, err := time.Parse(DateLayout, val)
			if err != nil {
				what := "is not a date written YYYY-MM-DD"
				if dateShapeRE.MatchString(val) {
					what = "is not a day of the calendar"
				}
				return sup, fmt.Sprintf("expires %q %s", val, what)
			}
			sup.Expires = t
		}
	}
	switch {
	case len(sup.Checks) == 0:
		return sup, `no ignore=: name the checks to suppress (ignore=LD202 reason="...")`
	case sup.Reason == "":
		return sup, fmt.Sprintf(`ignore %s needs a reason: say why the finding does not apply (reason="...")`, strings.Join(sup.Checks, ","))
	}
	return sup, ""
}

// readValue reads one value off the front of s.
func readValue(s string) (val, rest, msg string) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, " \t\r")
		if end < 0 {
			end = len(s)
		}
		val, rest = s[:end], s[end:]
		if val == "" {
			return "", rest, "no value"
		}
		if strings.Contains(val, `"`) {
			return "", rest, fmt.Sprintf("%s: quote the whole value (\"...\")", val)
		}
		return val, rest, ""
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			b.WriteByte(c)
		case '"':
			rest = s[i+1:]
			if rest != "" && !strings.ContainsAny(rest[:1], " \t\r") {
				return "", rest, "a space must follow the closing quote"
			}
			return b.String(), rest, ""
		default:
			b.WriteByte(c)
		}
	}
	return "", "", "the quote is not closed"
}

// splitList splits a comma-separated value; no item may be empty.
func splitList(v string) ([]string, string) {
	var out []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Sprintf("empty item in %q", v)
		}
		out = append(out, item)
	}
	return out, ""
}
