package suggest

import (
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"kitten", "sitting", 3}, {"", "abc", 3}, {"abc", "abc", 0}, {"é", "e", 1},
	} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNearest(t *testing.T) {
	keys := []string{"arch", "fail-on", "images", "disable", "severity", "ignore"}
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"ignores", []string{"ignore"}},
		{"imgaes", []string{"images"}},
		{"SEVERITY", []string{"severity"}},
		{"xyz", nil},
		{"", nil},
		{"  fail_on ", []string{"fail-on"}},
	} {
		if got := Nearest(tt.in, keys); !slices.Equal(got, tt.want) {
			t.Errorf("Nearest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Ties are all offered, at most three, in the given order.
	if got := Nearest("ab", []string{"aa", "bb", "ac", "ad", "zz"}); !slices.Equal(got, []string{"aa", "bb", "ac"}) {
		t.Errorf("ties: %q", got)
	}
	// A fragment of a candidate is near.
	if got := Nearest("entrypoint", []string{"entrypoint-not-found", "handler-not-found"}); !slices.Equal(got, []string{"entrypoint-not-found"}) {
		t.Errorf("fragment: %q", got)
	}
}

func TestChecks(t *testing.T) {
	for in, want := range map[string]string{
		"LD2002":              "LD202 (entrypoint-not-found)",
		"entrypoint-not-fond": "LD202 (entrypoint-not-found)",
		"platfrom-mismatch":   "LD102 (platform-mismatch)",
		"ld0202":              "LD202 (entrypoint-not-found)",
		"zzzzzzzzzzzzzzzzzz":  "",
	} {
		if got := Checks(in); got != want {
			t.Errorf("Checks(%q) = %q, want %q", in, got, want)
		}
	}
}
