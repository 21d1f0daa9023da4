package analyze

import (
	"regexp"
	"strings"
)

// This file answers, conservatively, whether a Python module can have a
// given attribute after import: awslambdaric's _get_handler does
// getattr(module, fname) and reports "Handler 'fname' missing on module
// 'mod'" (Runtime.HandlerNotFound) when it cannot.
//
// The scan is deliberately coarse, so that it errs towards "defined": any
// occurrence of the name at module level — outside the body of a def or
// class, in code, a string or a comment — counts as a definition, and any
// construct that can create module attributes at run time makes the answer
// unknown. Only a name that occurs nowhere, or only inside function and
// class bodies, is reported as missing.

// PyDynamic are constructs that can give a module attributes no
// statement names.
var PyDynamic = []string{"import *", "globals(", "setattr(", "__getattr__", "exec(", "eval(", "sys.modules", "vars(", "locals(", "__dict__", "importlib", "global ", "__builtins__", "builtins"}

var pyScopeOpen = regexp.MustCompile(`^(?:async\s+)?(?:def|class)\b`)

// PyNameScope reports whether name occurs at module level in src, the
// 1-based lines where it occurs only inside def or class bodies, and the
// dynamic construct that makes the question undecidable ("" when none).
func PyNameScope(src, name string) (atModule bool, nested []int, dynamic string) {
	for _, d := range PyDynamic {
		if strings.Contains(src, d) {
			return false, nil, d
		}
	}
	word := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(name) + `($|[^A-Za-z0-9_])`)
	// open holds the indentation of the def/class lines whose bodies the
	// scan is in.
	var open []int
	for i, line := range strings.Split(src, "\n") {
		body := strings.TrimLeft(line, " \t")
		if body == "" || strings.HasPrefix(body, "#") {
			// Blank lines and comments do not end a body; a comment that
			// names it still counts where its indentation puts it.
			if body != "" && word.MatchString(body) && len(open) == 0 {
				atModule = true
			}
			continue
		}
		indent := len(line) - len(body)
		if strings.HasPrefix(line, "\t") {
			// Tabs make indentation widths ambiguous: give up on scopes.
			return true, nil, ""
		}
		for len(open) > 0 && indent <= open[len(open)-1] {
			open = open[:len(open)-1]
		}
		header := pyScopeOpen.MatchString(body)
		if word.MatchString(body) {
			switch {
			case len(open) == 0:
				// At module level, including a def/class line itself.
				atModule = true
			default:
				nested = append(nested, i+1)
			}
		}
		if header {
			open = append(open, indent)
		}
	}
	return atModule, nested, ""
}
