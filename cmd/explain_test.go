package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/docs"
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
