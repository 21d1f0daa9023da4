package checks

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// How a check is tested.
//
// Every check has a table of cases in its own test file (ld202_test.go
// holds ld202Cases), each tagged catches (the check must report a finding)
// or clean (it must pass: a false alarm is a bug). checkCases below maps
// each ID to its table; TestChecks runs each table as one subtest
// (go test -run 'TestChecks/LD202'). TestCatalogue fails unless every
// registered check has an entry here with at least one catches and one
// clean case, and a docs page. Adding a check means: the check file, one
// line in All(), its test file, one line here, docs/checks/LDxxx.md.
var checkCases = map[string][]checkCase{
	"LD101": ld101Cases,
	"LD102": ld102Cases,
	"LD103": ld103Cases,
	"LD104": ld104Cases,
	"LD105": ld105Cases,
	"LD201": ld201Cases,
	"LD202": ld202Cases,
	"LD203": ld203Cases,
	"LD204": ld204Cases,
	"LD205": ld205Cases,
	"LD206": ld206Cases,
	"LD207": ld207Cases,
	"LD208": ld208Cases,
	"LD209": ld209Cases,
	"LD210": ld210Cases,
	"LD211": ld211Cases,
	"LD212": ld212Cases,
	"LD213": ld213Cases,
	"LD301": ld301Cases,
	"LD302": ld302Cases,
	"LD303": ld303Cases,
	"LD304": ld304Cases,
	"LD305": ld305Cases,
	"LD306": ld306Cases,
	"LD401": ld401Cases,
	"LD402": ld402Cases,
	"LD403": ld403Cases,
	"LD404": ld404Cases,
	"LD405": ld405Cases,
	"LD406": ld406Cases,
	"LD407": ld407Cases,
	"LD502": ld502Cases,
	"LD501": ld501Cases,
	"LD503": ld503Cases,
	"LD504": ld504Cases,
	"LD601": ld601Cases,
	"LD602": ld602Cases,
	"LD603": ld603Cases,
}

// caseKind tags a test case.
type caseKind string

const (
	catches caseKind = "catches" // the check must report a finding
	clean   caseKind = "clean"   // the check must report nothing
)

// checkCase is one row of a check's table.
type checkCase struct {
	name   string
	kind   caseKind
	target func(t *testing.T) *analyze.Target
	// verify makes further assertions on the findings (optional).
	verify func(t *testing.T, fs []Finding)
}

// TestChecks runs every check's table, one subtest per check.
func TestChecks(t *testing.T) {
	for _, c := range All() {
		t.Run(c.Meta().ID, func(t *testing.T) { runCases(t, c) })
	}
}

// runCases runs the table of check c through the runner, as a report
// would, and checks the shape every finding must have.
func runCases(t *testing.T, c Check) {
	t.Helper()
	id := c.Meta().ID
	cases, ok := checkCases[id]
	if !ok || len(cases) == 0 {
		t.Fatalf("no cases for %s in checkCases", id)
	}
	for _, tc := range cases {
		t.Run(string(tc.kind)+"/"+tc.name, func(t *testing.T) {
			res := runOne(context.Background(), c, tc.target(t))
			for _, f := range res.Findings {
				t.Logf("%s %s: %s\n  path: %s\n  evidence:\n    %s\n  fix: %s", f.ID, f.Severity, f.Message, f.Path, strings.Join(f.Evidence, "\n    "), f.Fix)
			}
			switch tc.kind {
			case catches:
				if res.Status != StatusFailed {
					t.Fatalf("status %s (%s), want a finding", res.Status, res.Err)
				}
			case clean:
				if res.Status != StatusPassed {
					t.Fatalf("status %s (%s), want passed; findings: %+v", res.Status, res.Err, res.Findings)
				}
			default:
				t.Fatalf("case kind %q", tc.kind)
			}
			for _, f := range res.Findings {
				checkFindingShape(t, c.Meta(), f)
			}
			if tc.verify != nil {
				tc.verify(t, res.Findings)
			}
		})
	}
}

// checkFindingShape holds every finding to the report contract: says
// what is wrong, shows evidence, says what to do, reads on one line.
func checkFindingShape(t *testing.T, m Meta, f Finding) {
	t.Helper()
	if f.ID != m.ID || f.Name != m.Name || f.Docs != m.DocsURL() {
		t.Errorf("finding names %s/%s/%s, want %s/%s/%s", f.ID, f.Name, f.Docs, m.ID, m.Name, m.DocsURL())
	}
	if f.Severity < Info || f.Severity > Error {
		t.Errorf("severity %d", f.Severity)
	}
	if f.Message == "" || f.Fix == "" || len(f.Evidence) == 0 {
		t.Errorf("finding lacks a message, fix or evidence: %+v", f)
	}
	for _, s := range append([]string{f.Message, f.Fix, f.Title}, f.Evidence...) {
		if strings.ContainsAny(s, "\n\r") {
			t.Errorf("multi-line text in a finding: %q", s)
		}
		if strings.Contains(s, "goroutine ") || strings.Contains(s, ".go:") {
			t.Errorf("stack trace in a finding: %q", s)
		}
	}
}

// expect returns a verify function asserting, for the only finding, its
// severity and that message, evidence and fix contain the given strings.
func expect(sev Severity, message, evidence, fix []string) func(*testing.T, []Finding) {
	return func(t *testing.T, fs []Finding) {
		t.Helper()
		if len(fs) != 1 {
			t.Fatalf("%d findings, want 1", len(fs))
		}
		f := fs[0]
		if f.Severity != sev {
			t.Errorf("severity %s, want %s", f.Severity, sev)
		}
		for _, s := range message {
			if !strings.Contains(f.Message, s) {
				t.Errorf("message lacks %q:\n%s", s, f.Message)
			}
		}
		ev := strings.Join(f.Evidence, "\n")
		for _, s := range evidence {
			if !strings.Contains(ev, s) {
				t.Errorf("evidence lacks %q:\n%s", s, ev)
			}
		}
		for _, s := range fix {
			if !strings.Contains(f.Fix, s) {
				t.Errorf("fix lacks %q:\n%s", s, f.Fix)
			}
		}
	}
}

var (
	idRE   = regexp.MustCompile(`^LD[1-9][0-9]{2}$`)
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
)

func TestCatalogue(t *testing.T) {
	ids, names := map[string]bool{}, map[string]bool{}
	prev := ""
	for _, c := range All() {
		m := c.Meta()
		t.Run(m.ID, func(t *testing.T) {
			if !idRE.MatchString(m.ID) {
				t.Errorf("ID %q does not match %s", m.ID, idRE)
			}
			if ids[m.ID] {
				t.Errorf("duplicate ID %s", m.ID)
			}
			ids[m.ID] = true
			// All() returns its list as written: the table of contents
			// must be in ID order.
			if m.ID <= prev {
				t.Errorf("All() lists %s after %s: keep the list in ID order", m.ID, prev)
			}
			prev = m.ID
			if !nameRE.MatchString(m.Name) {
				t.Errorf("name %q is not kebab-case", m.Name)
			}
			if names[m.Name] {
				t.Errorf("duplicate name %s", m.Name)
			}
			names[m.Name] = true
			if m.Category == "" || CategoryOf(m.ID) != m.Category {
				t.Errorf("category %q, but the ID's hundreds digit names %q", m.Category, CategoryOf(m.ID))
			}
			if m.Title == "" || m.Severity < Info || m.Severity > Error {
				t.Errorf("title %q, severity %v", m.Title, m.Severity)
			}
			if got, ok := Lookup(strings.ToLower(m.ID)); !ok || got.Meta().ID != m.ID {
				t.Errorf("Lookup(%q) fails", strings.ToLower(m.ID))
			}
			if got, ok := Lookup(m.Name); !ok || got.Meta().ID != m.ID {
				t.Errorf("Lookup(%q) fails", m.Name)
			}

			// A docs page per ID, titled "# LDxxx name".
			page := filepath.Join("..", "docs", "checks", m.ID+".md")
			b, err := os.ReadFile(page)
			if err != nil {
				t.Errorf("no docs page: %v", err)
			} else {
				first, _, _ := strings.Cut(string(b), "\n")
				if want := "# " + m.ID + " " + m.Name; strings.TrimSpace(first) != want {
					t.Errorf("%s starts %q, want %q", page, first, want)
				}
			}

			// Catches and clean cases, run by TestChecks.
			kinds := map[caseKind]int{}
			for _, tc := range checkCases[m.ID] {
				kinds[tc.kind]++
			}
			if kinds[catches] == 0 || kinds[clean] == 0 {
				t.Errorf("checkCases[%q] has %d catches and %d clean cases; want at least one of each", m.ID, kinds[catches], kinds[clean])
			}
		})
	}
	for id := range checkCases {
		if !ids[id] {
			t.Errorf("checkCases has %s, which is not in All()", id)
		}
	}
}

func TestCategoryOf(t *testing.T) {
	// IDs no check has are built from parts, so that tools scanning the
	// sources for check IDs do not take them for real ones.
	unusedImageID, noCategoryID := "LD1"+"99", "LD9"+"01"
	for id, want := range map[string]Category{
		"LD101": CategoryImage, unusedImageID: CategoryImage, "LD202": CategoryEntrypoint,
		noCategoryID: "", "LD1": "", "XX101": "", "": "",
	} {
		if got := CategoryOf(id); got != want {
			t.Errorf("CategoryOf(%q) = %q, want %q", id, got, want)
		}
	}
}
