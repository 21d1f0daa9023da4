package report

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/checks"
)

var day = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func findingIDs(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		s := f.Severity.String() + " " + f.ID
		if f.Suppressed {
			s += " suppressed(" + f.SuppressionReason + ")"
		}
		out = append(out, s)
	}
	return out
}

func TestApplyOverrides(t *testing.T) {
	r := broken()
	ApplyOverrides(r, map[string]checks.Severity{"LD202": checks.Info, "LD150": checks.Error})
	if want := []string{"error LD150", "warning LD203", "info LD202"}; !slices.Equal(findingIDs(r), want) {
		t.Errorf("findings = %q, want %q (re-sorted)", findingIDs(r), want)
	}
	if want := (Summary{Error: 1, Warning: 1, Info: 1}); r.Summary != want {
		t.Errorf("summary = %+v", r.Summary)
	}
	for _, c := range r.Checks {
		if c.ID == "LD202" && c.Severity != checks.Info {
			t.Errorf("check LD202 severity = %v, want the override", c.Severity)
		}
	}
	ApplyOverrides(r, map[string]checks.Severity{"LD150": checks.Warning, "LD203": checks.Info})
	if r.Max() != checks.Warning || r.Summary != (Summary{Warning: 1, Info: 2}) {
		t.Errorf("after a second override: max %v, summary %+v", r.Max(), r.Summary)
	}
}

func TestApplyIgnores(t *testing.T) {
	tests := []struct {
		name        string
		ignores     []Ignore
		want        []string
		summary     Summary
		max         checks.Severity
		unused, exp int
	}{
		{
			name:    "by id",
			ignores: []Ignore{{ID: "LD202", Reason: "fixed in base image"}},
			want:    []string{"error LD202 suppressed(fixed in base image)", "warning LD203", "info LD150"},
			summary: Summary{Warning: 1, Info: 1, Suppressed: 1},
			max:     checks.Warning,
		},
		{
			name:    "path glob matches",
			ignores: []Ignore{{ID: "LD203", Paths: []string{"/var/task/**"}, Reason: "r"}},
			want:    []string{"error LD202", "warning LD203 suppressed(r)", "info LD150"},
			summary: Summary{Error: 1, Info: 1, Suppressed: 1},
			max:     checks.Error,
		},
		{
			name:    "path glob does not match",
			ignores: []Ignore{{ID: "LD202", Paths: []string{"/opt/*"}, Reason: "r"}},
			want:    []string{"error LD202", "warning LD203", "info LD150"},
			summary: Summary{Error: 1, Warning: 1, Info: 1},
			max:     checks.Error, unused: 1,
		},
		{
			name:    "paths never match a finding without a path",
			ignores: []Ignore{{ID: "LD150", Paths: []string{"/**"}, Reason: "r"}},
			want:    []string{"error LD202", "warning LD203", "info LD150"},
			summary: Summary{Error: 1, Warning: 1, Info: 1},
			max:     checks.Error, unused: 1,
		},
		{
			name:    "expired ignore suppresses nothing",
			ignores: []Ignore{{ID: "LD202", Reason: "r", Expires: time.Date(2025, 6, 14, 0, 0, 0, 0, time.UTC)}},
			want:    []string{"error LD202", "warning LD203", "info LD150"},
			summary: Summary{Error: 1, Warning: 1, Info: 1},
			max:     checks.Error, exp: 1,
		},
		{
			name:    "expiring today still applies",
			ignores: []Ignore{{ID: "LD202", Reason: "r", Expires: time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)}},
			want:    []string{"error LD202 suppressed(r)", "warning LD203", "info LD150"},
			summary: Summary{Warning: 1, Info: 1, Suppressed: 1},
			max:     checks.Warning,
		},
		{
			name: "first reason wins, both used",
			ignores: []Ignore{
				{ID: "LD202", Paths: []string{"/usr/local/bin/aws_lambda_ric"}, Reason: "first"},
				{ID: "LD202", Reason: "second"},
				{ID: "LD999", Reason: "unused"},
			},
			want:    []string{"error LD202 suppressed(first)", "warning LD203", "info LD150"},
			summary: Summary{Warning: 1, Info: 1, Suppressed: 1},
			max:     checks.Warning, unused: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := broken()
			unused, expired := ApplyIgnores(r, tt.ignores, day)
			if got := findingIDs(r); !slices.Equal(got, tt.want) {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
			if r.Summary != tt.summary {
				t.Errorf("summary = %+v, want %+v", r.Summary, tt.summary)
			}
			if r.Max() != tt.max {
				t.Errorf("Max = %v, want %v", r.Max(), tt.max)
			}
			if len(unused) != tt.unused || len(expired) != tt.exp {
				t.Errorf("unused %v, expired %v; want %d and %d", unused, expired, tt.unused, tt.exp)
			}
			if len(r.Findings) != 3 {
				t.Errorf("a stage must never drop a finding: %d left", len(r.Findings))
			}
		})
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		glob, path string
		want       bool
	}{
		{"/var/task/app.py", "/var/task/app.py", true},
		{"var/task/app.py", "/var/task/app.py", true},
		{"/var/task/*.py", "/var/task/app.py", true},
		{"/var/task/*.py", "/var/task/lib/app.py", false},
		{"/var/task/**", "/var/task/lib/x/app.py", true},
		{"/var/task/**", "/var/task", true},
		{"/var/task/**/*.so", "/var/task/lib/a/b.so", true},
		{"/var/task/**/*.so", "/var/task/b.so", true},
		{"/var/task/**/*.so", "/var/task/b.py", false},
		{"**/bootstrap", "/var/runtime/bootstrap", true},
		{"**", "/anything/at/all", true},
		{"/opt/*", "/var/task/x", false},
		{"/opt/[", "/opt/[", false},
		{"/opt/x", "", false},
		{"/a/?", "/a/b", true},
	}
	for _, tt := range tests {
		if got := MatchPath(tt.glob, tt.path); got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tt.glob, tt.path, got, tt.want)
		}
	}
}

// TestApplyIgnoresAtLine: an ignore with a Line (a Dockerfile comment)
// matches only the findings located at that instruction, and says so.
func TestApplyIgnoresAtLine(t *testing.T) {
	r := broken()
	for i := range r.Findings {
		if r.Findings[i].ID == "LD203" {
			r.Findings[i].Location = &SourceLocation{File: "Dockerfile", Line: 7, EndLine: 8}
		}
	}
	unused, _ := ApplyIgnores(r, []Ignore{
		{ID: "LD203", DockerfileLine: 5, Reason: "another instruction", By: SuppressedByDockerfile},
		{ID: "LD202", DockerfileLine: 7, Reason: "not located", By: SuppressedByDockerfile},
		{ID: "LD203", DockerfileLine: 7, Reason: "here", By: SuppressedByDockerfile},
	}, day)
	if want := []string{"error LD202", "warning LD203 suppressed(here)", "info LD150"}; !slices.Equal(findingIDs(r), want) {
		t.Errorf("findings = %q, want %q", findingIDs(r), want)
	}
	if len(unused) != 2 || unused[0].DockerfileLine != 5 || unused[1].ID != "LD202" {
		t.Errorf("unused = %+v, want the other two", unused)
	}
	for _, f := range r.Findings {
		if f.Suppressed && f.SuppressedBy != SuppressedByDockerfile {
			t.Errorf("%s: suppressedBy %q", f.ID, f.SuppressedBy)
		}
	}
}

// suppressedBroken is the broken report with its severity override and
// ignore stages applied.
func suppressedBroken() *Report {
	r := broken()
	ApplyOverrides(r, map[string]checks.Severity{"LD203": checks.Error})
	ApplyIgnores(r, []Ignore{{ID: "LD202", Paths: []string{"/usr/local/bin/*"}, Reason: "the base image ships the binstub; tracked in JIRA-123", By: SuppressedByConfig}}, day)
	return r
}

func TestGoldenSuppressed(t *testing.T) {
	for _, tt := range []struct{ name, format string }{
		{"text_suppressed", "text"},
		{"json_suppressed", "json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, []*Report{suppressedBroken()}, Options{}); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}
