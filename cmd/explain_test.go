package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/docs"
	"github.com/lambdoctor/lambdoctor/internal/mdterm"
)

func TestExplainEveryCheckByIDAndName(t *testing.T) {
	for _, c := range checks.All() {
		m := c.Meta()
		page, err := docs.CheckPage(m.ID)
		if err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		for _, arg := range []string{m.ID, strings.ToLower(m.ID), m.Name} {
			s, out, errb := streams(nil)
			if code := Run(context.Background(), []string{"explain", arg}, s); code != ExitOK {
				t.Fatalf("explain %s: exit %d: %s", arg, code, errb)
			}
			if out.String() != string(page) {
				t.Errorf("explain %s printed %.40q…, want the page of %s", arg, out.String(), m.ID)
			}
		}
	}
}

func TestExplainUnknown(t *testing.T) {
	tests := []struct {
		arg, want string
	}{
		// No LD299: the suggestions name real LD2xx checks.
		{"LD299", "did you mean LD2"},
		{"platfrom-mismatch", "did you mean LD102 (platform-mismatch)?"},
		{"entrypoint-not-fond", "LD202 (entrypoint-not-found)"},
		{"ld-ep-01", "no check \"ld-ep-01\""},
		{"zzzzzzzzzzzzzzzzzz", "no check"},
	}
	for _, tt := range tests {
		s, out, errb := streams(nil)
		if code := Run(context.Background(), []string{"explain", tt.arg}, s); code != ExitUsage {
			t.Fatalf("explain %s: exit %d, want %d", tt.arg, code, ExitUsage)
		}
		if out.Len() != 0 {
			t.Errorf("explain %s wrote to stdout: %s", tt.arg, out)
		}
		if !strings.Contains(errb.String(), tt.want) {
			t.Errorf("explain %s: stderr %q, want it to contain %q", tt.arg, errb, tt.want)
		}
	}
	if got := didYouMeanCheck("zzzzzzzzzzzzzzzzzz"); got != "" {
		t.Errorf("far-off name got a suggestion: %q", got)
	}
	s, _, _ := streams(nil)
	if code := Run(context.Background(), []string{"explain"}, s); code != ExitUsage {
		t.Errorf("explain without an argument: exit %d, want %d", code, ExitUsage)
	}
}

func TestExplainCompletion(t *testing.T) {
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"__complete", "explain", "entrypoint-n"}, s); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.Contains(out.String(), "entrypoint-not-found\t"+checks.MustLookup("LD202").Meta().Title) ||
		strings.Contains(out.String(), "LD101") {
		t.Errorf("completion of entrypoint-n:\n%s", out)
	}
	s, out, _ = streams(nil)
	Run(context.Background(), []string{"__complete", "explain", "LD6"}, s)
	for _, id := range []string{"LD601", "LD602", "LD603"} {
		if !strings.Contains(out.String(), id+"\t") {
			t.Errorf("completion of LD6 lacks %s:\n%s", id, out)
		}
	}
}

// TestExplainRendered: goldens of pages rendered at 80 columns, one for
// each shape the pages use: a key-value table, lists and code (LD202), a
// table of columns (LD105), a table too wide for columns (LD601), a
// numbered list (LD407).
func TestExplainRendered(t *testing.T) {
	for _, id := range []string{"LD202", "LD105", "LD601", "LD407"} {
		t.Run(id, func(t *testing.T) {
			s, out, errb := streams(map[string]string{"COLUMNS": "80"})
			if code := Run(context.Background(), []string{"explain", id, "--format", "text"}, s); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errb)
			}
			golden(t, "explain_"+id+"_80", out.Bytes())
		})
	}
}

// TestExplainFormat: rendered on a terminal (coloured unless NO_COLOR, to
// its width), the Markdown source into a pipe, and --format choosing
// either anywhere.
func TestExplainFormat(t *testing.T) {
	page, err := docs.CheckPage("LD202")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		tty      bool
		env      map[string]string
		args     []string
		rendered bool
		color    bool
	}{
		{"terminal", true, nil, nil, true, true},
		{"terminal, NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, nil, true, false},
		{"terminal, --format markdown", true, nil, []string{"--format", "markdown"}, false, false},
		{"pipe", false, nil, nil, false, false},
		{"pipe, --format text", false, nil, []string{"--format", "text"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := streams(tt.env)
			s.OutTTY, s.OutWidth = tt.tty, 60
			if code := Run(context.Background(), append([]string{"explain", "LD202"}, tt.args...), s); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errb)
			}
			got := out.String()
			if !tt.rendered {
				if got != string(page) {
					t.Errorf("not the Markdown source: %.80q…", got)
				}
				return
			}
			if !strings.Contains(got, "═") || strings.Contains(got, "|---|") || strings.Contains(got, "## ") {
				t.Errorf("not rendered: %.200q…", got)
			}
			if strings.Contains(got, "\x1b[") != tt.color {
				t.Errorf("colour %v, want %v", !tt.color, tt.color)
			}
			if !tt.color {
				// To the terminal's 60 columns, else 80.
				width := 80
				if tt.tty {
					width = 60
				}
				if want := mdterm.Render(page, mdterm.Options{Width: width, Base: checks.DocsBase}); got != want {
					t.Errorf("not the page rendered at %d columns:\n%s", width, got)
				}
			}
		})
	}
	s, _, errb := streams(nil)
	if code := Run(context.Background(), []string{"explain", "LD202", "--format", "html"}, s); code != ExitUsage ||
		!strings.Contains(errb.String(), `unknown --format "html" for explain (want markdown, text)`) {
		t.Errorf("--format html: exit %d, stderr %q", code, errb)
	}
}
