package mdterm

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/docs"
)

const base = "https://example.com/docs/checks/"

func TestRender(t *testing.T) {
	tests := []struct {
		name, md, want string
	}{
		{"heading and paragraph",
			"# Title\n\nSome *emphasis*, **strong** and `code`\nacross lines.\n",
			"Title\n═════\n\n  Some emphasis, strong and `code` across lines.\n"},
		{"wrapping never splits a word or a URL",
			"one two three four five six seven eight nine ten eleven twelve thirteen https://example.com/a/very/long/address/that/does/not/fit/in/the/room end\n",
			"  one two three four five six seven eight nine ten eleven twelve\n  thirteen\n  https://example.com/a/very/long/address/that/does/not/fit/in/the/room\n  end\n"},
		{"links: text and address, relative ones resolved",
			"See [LD306](LD306.md), [the engine](../engine.md) and [https://aws.amazon.com](https://aws.amazon.com) or <https://x.example>.\n",
			"  See LD306 (https://example.com/docs/checks/LD306.md), the engine\n  (https://example.com/docs/engine.md) and https://aws.amazon.com or\n  https://x.example.\n"},
		{"escapes and code spans keep their characters",
			"A \\*star\\*, a pipe \\| and `` a `tick` `` and `*not emphasis*`.\n",
			"  A *star*, a pipe | and ``a `tick``` and `*not emphasis*`.\n"},
		{"lists: bullets, hanging indent, lazy continuation, nested code",
			"- first item that is long enough to wrap onto a second line at this width\n  indented continuation\nlazy continuation\n- second\n\n  ```sh\n  echo hi\n  ```\n- third\n",
			"  • first item that is long enough to wrap onto a second line at this\n    width indented continuation lazy continuation\n  • second\n\n      echo hi\n  • third\n"},
		{"ordered list",
			"1. one\n2. two\n10. ten\n",
			"  1. one\n  2. two\n  10. ten\n"},
		{"code block as is, not wrapped",
			"Before:\n\n```dockerfile\nRUN a very long line of a Dockerfile that is longer than the width of this terminal, by far\n\tTAB\n```\n",
			"  Before:\n\n    RUN a very long line of a Dockerfile that is longer than the width of this terminal, by far\n        TAB\n"},
		{"key-value table without a header",
			"| | |\n|---|---|\n| Severity | **error** |\n| Name | `x-y` |\n",
			"  Severity  error\n  Name      `x-y`\n"},
		{"table with a header, cells wrapped in their column",
			"| kind | what it did | severity |\n|---|---|---|\n| `unsafe-name` | a name like `../../etc/x` that climbs above the root, or a component over 255 bytes: skipped | warning |\n| `dup` | the later wins | info |\n",
			"  kind           what it did                                    severity\n  ─────────────  ─────────────────────────────────────────────  ────────\n  `unsafe-name`  a name like `../../etc/x` that climbs above    warning\n                 the root, or a component over 255 bytes:\n                 skipped\n\n  `dup`          the later wins                                 info\n"},
		{"a table too wide for its columns: a record a row",
			"| Program | Where | Missing |\n|---|---|---|\n| Go | `/etc/ssl/certs/ca-certificates.crt`, `/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem` | error |\n| | `/usr/lib/ssl/a/very/long/path/to/one/more/certificate/bundle/file.pem` | error |\n",
			"  • Go\n      Where: `/etc/ssl/certs/ca-certificates.crt`,\n        `/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem`\n      Missing: error\n      Where:\n        `/usr/lib/ssl/a/very/long/path/to/one/more/certificate/bundle/file.pem`\n      Missing: error\n"},
		{"pipes in code spans are not cell borders",
			"| a | b |\n|---|---|\n| `x \\| y` or `p|q` | z |\n",
			"  a                 b\n  ────────────────  ─\n  `x | y` or `p|q`  z\n"},
		{"quote and rule",
			"> quoted text\n\n---\n",
			"  │  quoted text\n\n  ──────────────────────────────────────────────────────────────────────\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render([]byte(tt.md), Options{Width: 72, Base: base})
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s\n(got %q)", got, tt.want, got)
			}
		})
	}
}

// TestRenderColor: with colour, styles are SGR sequences and code spans
// lose their backticks; widths still count only the visible text.
func TestRenderColor(t *testing.T) {
	got := Render([]byte("## How to fix\n\nUse `x y` **right now**, see [a](https://a.example).\n"), Options{Width: 72, Color: true})
	want := "\x1b[1mHow to fix\x1b[0m\n\x1b[2m──────────\x1b[0m\n\n  Use \x1b[36mx y\x1b[0m \x1b[1mright now\x1b[0m, see a (\x1b[4;34mhttps://a.example\x1b[0m).\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestEveryPageFits renders every check page at several widths: no line is
// wider than the width unless it is a line of a code block (shown as is)
// or a single word that does not fit (a path, a URL: never split).
func TestEveryPageFits(t *testing.T) {
	var ids []string
	for _, c := range checks.All() {
		ids = append(ids, c.Meta().ID)
	}
	if len(ids) < 10 {
		t.Fatalf("only %d checks", len(ids))
	}
	for _, id := range ids {
		page, err := docs.CheckPage(id)
		if err != nil {
			t.Fatal(err)
		}
		code := map[string]bool{}
		inFence := false
		for _, l := range strings.Split(string(page), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				inFence = !inFence
				continue
			}
			if inFence {
				code[strings.TrimSpace(l)] = true
			}
		}
		for _, width := range []int{50, 80, 120} {
			out := Render(page, Options{Width: width, Base: base})
			if strings.Contains(out, "\x1b") {
				t.Errorf("%s: SGR sequences without colour", id)
			}
			for _, l := range strings.Split(out, "\n") {
				if utf8.RuneCountInString(l) <= width {
					continue
				}
				text := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "•│0123456789."))
				if code[strings.TrimSpace(l)] || !strings.Contains(text, " ") {
					continue
				}
				t.Errorf("%s at %d columns: a line of %d columns:\n%s", id, width, utf8.RuneCountInString(l), l)
			}
		}
	}
}
