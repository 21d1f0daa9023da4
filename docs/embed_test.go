package docs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/checks"
)

func TestEveryCheckHasAnEmbeddedPage(t *testing.T) {
	for _, c := range checks.All() {
		m := c.Meta()
		b, err := CheckPage(m.ID)
		if err != nil {
			t.Errorf("%s: %v", m.ID, err)
			continue
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if want := "# " + m.ID + " " + m.Name; first != want {
			t.Errorf("%s: page starts %q, want %q", m.ID, first, want)
		}
		// The embedded page is the file in the repository, byte for byte.
		disk, err := os.ReadFile(filepath.Join("checks", m.ID+".md"))
		if err != nil || string(disk) != string(b) {
			t.Errorf("%s: embedded page differs from docs/checks/%s.md (%v)", m.ID, m.ID, err)
		}
	}
}

func TestNoPageWithoutACheck(t *testing.T) {
	pages, err := fs.Glob(Checks, "checks/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		id := strings.TrimSuffix(strings.TrimPrefix(p, "checks/"), ".md")
		if _, ok := checks.Lookup(id); !ok {
			t.Errorf("%s has no check in checks.All()", p)
		}
	}
}

func TestCheckPageRejects(t *testing.T) {
	for _, id := range []string{"", "LD999", "../go.mod", "checks/LD101", "LD1011", "entrypoint-not-found"} {
		if _, err := CheckPage(id); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CheckPage(%q) = %v, want fs.ErrNotExist", id, err)
		}
	}
	if b, err := CheckPage("ld202"); err != nil || !strings.HasPrefix(string(b), "# LD202 ") {
		t.Errorf("CheckPage(ld202) = %.20q, %v", b, err)
	}
}

func TestSummary(t *testing.T) {
	for _, id := range []string{"LD202", "LD305", "LD601"} {
		page, err := CheckPage(id)
		if err != nil {
			t.Fatal(err)
		}
		s := Summary(page)
		if len(s) < 40 || strings.ContainsAny(s, "`\n") || strings.Contains(s, "**") || strings.HasPrefix(s, "#") {
			t.Errorf("%s: summary %q", id, s)
		}
	}
	if s := Summary([]byte("# LD999\n\nno sections\n")); s != "" {
		t.Errorf("a page without the section: %q", s)
	}
}
