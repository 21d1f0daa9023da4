package checks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// ruleFile matches the file of one check: ld202_entrypoint_not_found.go.
var ruleFile = regexp.MustCompile(`^ld[1-9][0-9]{2}_[a-z0-9_]+\.go$`)

// TestRuleFilesAreIndependent fails when a rule file uses a top-level
// name (function, type, variable, constant) declared in another rule file:
// what two checks share belongs in package analyze or in a rule-neutral
// file of this package (check.go, shared.go, ...), so that a check can be
// read, changed or deleted on its own. Methods need no separate test: a
// rule reaches another rule's method only through that rule's type or a
// value of it, whose name this test sees.
func TestRuleFilesAreIndependent(t *testing.T) {
	rules, bad, err := crossRuleUses(".")
	if err != nil {
		t.Fatal(err)
	}
	if rules < len(All()) {
		t.Fatalf("found %d rule files for %d checks: does ruleFile still match their names?", rules, len(All()))
	}
	for _, file := range sortedKeys(bad) {
		t.Errorf("%s uses another rule file's names: %s; move them to package analyze or a rule-neutral file", file, strings.Join(bad[file], ", "))
	}
}

// TestRuleFilesAreIndependentCatches runs the same analysis on a package
// where one rule file calls a function and names a type of another: both
// uses are reported, and a use of a rule-neutral file's name is not.
func TestRuleFilesAreIndependentCatches(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"ld901_a.go":    "package checks\n\ntype specOfA struct{ N int }\n\nfunc helperOfA() int { return 1 }\n",
		"ld902_b.go":    "package checks\n\nvar b = helperOfA() + neutral() + specOfA{N: 1}.N\n",
		"shared.go":     "package checks\n\nfunc neutral() int { return 2 }\n",
		"ld903_c.go":    "package checks\n\nvar c = neutral()\n",
		"ld904_test.go": "package checks\n\nvar d = helperOfA()\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rules, bad, err := crossRuleUses(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"ld902_b.go": {"helperOfA (declared in ld901_a.go)", "specOfA (declared in ld901_a.go)"}}
	if rules != 3 || len(bad) != 1 || strings.Join(bad["ld902_b.go"], "|") != strings.Join(want["ld902_b.go"], "|") {
		t.Fatalf("%d rule files, cross uses %q; want 3 and %q", rules, bad, want)
	}
}

// crossRuleUses parses the non-test Go files of dir and returns the number
// of rule files and, per rule file, the names it uses that another rule
// file declares (sorted).
func crossRuleUses(dir string) (int, map[string][]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return 0, nil, err
	}
	fset := token.NewFileSet()
	declaredIn := map[string]string{} // top-level name -> rule file declaring it
	parsed := map[string]*ast.File{}
	for _, p := range files {
		name := filepath.Base(p)
		if strings.HasSuffix(name, "_test.go") || !ruleFile.MatchString(name) {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return 0, nil, err
		}
		parsed[name] = f
		for _, n := range topLevelNames(f) {
			declaredIn[n] = name
		}
	}
	bad := map[string][]string{}
	for name, f := range parsed {
		seen := map[string]bool{}
		for _, u := range identsUsed(f) {
			if other, ok := declaredIn[u]; ok && other != name && !seen[u] {
				seen[u] = true
				bad[name] = append(bad[name], u+" (declared in "+other+")")
			}
		}
		sort.Strings(bad[name])
	}
	return len(parsed), bad, nil
}

// identsUsed lists the identifiers of f that can name a top-level name of
// its package: not the selected name of x.Sel (a field, a method or another
// package's member) and not a field name keying a composite literal.
func identsUsed(f *ast.File) []string {
	var out []string
	var walk func(n ast.Node) bool
	walk = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			ast.Inspect(n.X, walk)
			return false
		case *ast.KeyValueExpr:
			if _, ok := n.Key.(*ast.Ident); !ok {
				ast.Inspect(n.Key, walk)
			}
			ast.Inspect(n.Value, walk)
			return false
		case *ast.Ident:
			out = append(out, n.Name)
		}
		return true
	}
	ast.Inspect(f, walk)
	return out
}

// topLevelNames returns the package-level names f declares (not methods).
func topLevelNames(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				out = append(out, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					out = append(out, s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						out = append(out, n.Name)
					}
				}
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
