package analyze

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// DashSyntax is bash-only syntax that dash rejects when it parses the
// top-level command holding it, before running any of it.
type DashSyntax struct {
	Line int
	// What names the construct: "an array assignment", "a here-string
	// (<<<)", "the function keyword".
	What string
}

// FirstDashSyntaxError returns the first bash-only construct dash cannot
// parse in a script that dash reaches: an array assignment (a=(...)), a
// here-string (<<<) or a function defined with the function keyword. Dash
// reads a script one top-level command at a time and exits with status 2
// ("Syntax error: ...") when it cannot parse one, even when that command is
// an if whose branch would not run or a function never called. Top-level
// commands after one that always leaves the script (an unconditional exec
// or exit, an if whose every branch does, an endless loop) are never
// parsed and are not looked at. The script is parsed as bash for this.
func FirstDashSyntaxError(text string) (DashSyntax, bool) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(text), "")
	if err != nil {
		return DashSyntax{}, false
	}
	for _, st := range f.Stmts {
		var found DashSyntax
		ok := false
		syntax.Walk(st, func(n syntax.Node) bool {
			if ok {
				return false
			}
			switch n := n.(type) {
			case *syntax.Assign:
				if n.Array != nil {
					found, ok = DashSyntax{Line: int(n.Pos().Line()), What: "an array assignment"}, true
				}
			case *syntax.Redirect:
				if n.Op == syntax.WordHdoc {
					found, ok = DashSyntax{Line: int(n.Pos().Line()), What: "a here-string (<<<)"}, true
				}
			case *syntax.FuncDecl:
				if n.RsrvWord {
					found, ok = DashSyntax{Line: int(n.Pos().Line()), What: "a function defined with the function keyword"}, true
				}
			}
			return !ok
		})
		if ok {
			return found, true
		}
		if alwaysLeaves(st) {
			return DashSyntax{}, false
		}
	}
	return DashSyntax{}, false
}

// alwaysLeaves reports whether a top-level statement never lets the
// script go on: exec with a program, exit, an if whose every branch
// (with an else) ends so, an endless while loop without break.
func alwaysLeaves(st *syntax.Stmt) bool {
	if st == nil || st.Background {
		return false
	}
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		if len(c.Args) == 0 {
			return false
		}
		switch c.Args[0].Lit() {
		case "exit":
			return true
		case "exec":
			return len(c.Args) > 1
		}
	case *syntax.Block:
		return len(c.Stmts) > 0 && alwaysLeaves(c.Stmts[len(c.Stmts)-1])
	case *syntax.IfClause:
		for ic := c; ic != nil; ic = ic.Else {
			if len(ic.Then) == 0 || !alwaysLeaves(ic.Then[len(ic.Then)-1]) {
				return false
			}
			if ic.Else == nil && len(ic.Cond) > 0 {
				return false // no else: the script may go on
			}
		}
		return true
	case *syntax.WhileClause:
		return !c.Until && alwaysTrue(c.Cond) && !hasCall(c.Do, "break")
	}
	return false
}
