package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/checks"
)

const full = `# lambdoctor settings for this repository
arch: arm64
fail-on: warning
images:
  - docker-archive:build/fn.tar
  - my-fn:dev
disable:
  - LD104
  - npx-at-runtime
severity:
  LD208: error
  reserved-env-override: info
ignore:
  - id: LD202
    reason: the entrypoint is mounted by the platform team's layer
  - id: entrypoint-not-executable
    paths: ["/var/task/**/*.sh", /opt/bin/x]
    reason: scripts run through sh
    expires: 2999-12-31
`

func TestParseGood(t *testing.T) {
	cfg, err := Parse(".lambdoctor.yaml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Arch != "arm64" || cfg.FailOn != "warning" {
		t.Errorf("arch %q fail-on %q", cfg.Arch, cfg.FailOn)
	}
	if !slices.Equal(cfg.Images, []string{"docker-archive:build/fn.tar", "my-fn:dev"}) {
		t.Errorf("images = %q", cfg.Images)
	}
	if !slices.Equal(cfg.Disable, []string{"LD104", "LD404"}) {
		t.Errorf("disable = %q, want IDs", cfg.Disable)
	}
	if cfg.Severity["LD208"] != checks.Error || cfg.Severity["LD602"] != checks.Info || len(cfg.Severity) != 2 {
		t.Errorf("severity = %v", cfg.Severity)
	}
	if len(cfg.Ignore) != 2 {
		t.Fatalf("ignore = %+v", cfg.Ignore)
	}
	a, b := cfg.Ignore[0], cfg.Ignore[1]
	if a.ID != "LD202" || a.Line != 14 || a.Paths != nil || !a.Expires.IsZero() || !strings.HasPrefix(a.Reason, "the entrypoint") {
		t.Errorf("ignore[0] = %+v", a)
	}
	if b.ID != "LD203" || b.Written != "entrypoint-not-executable" || b.Line != 16 ||
		!slices.Equal(b.Paths, []string{"/var/task/**/*.sh", "/opt/bin/x"}) ||
		!b.Expires.Equal(time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ignore[1] = %+v", b)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing yet\n", "---\n"} {
		cfg, err := Parse("c.yaml", []byte(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if cfg.Arch != "" || len(cfg.Images)+len(cfg.Disable)+len(cfg.Severity)+len(cfg.Ignore) != 0 {
			t.Errorf("%q: %+v", in, cfg)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown top key", "arch: arm64\nignores:\n  - id: LD202\n", `.lambdoctor.yaml:2: unknown key "ignores" (did you mean "ignore"?)`},
		{"unknown key far from any", "arch: arm64\nfrobnicate: 1\n", `.lambdoctor.yaml:2: unknown key "frobnicate" (known: arch, fail-on, images, disable, severity, ignore)`},
		{"unknown ignore key", "ignore:\n  - id: LD202\n    reason: r\n    path: /x\n", `.lambdoctor.yaml:4: unknown key "path" (did you mean "paths"?)`},
		{"unknown id with suggestion", "ignore:\n  - id: LD2002\n    reason: r\n", `.lambdoctor.yaml:2: ignore: unknown check "LD2002" (did you mean LD202 (entrypoint-not-found)?)`},
		{"unknown name with suggestion", "disable:\n  - entrypoint-not-fond\n", `.lambdoctor.yaml:2: disable: unknown check "entrypoint-not-fond" (did you mean LD202 (entrypoint-not-found)?)`},
		{"unknown id no suggestion", "disable: [LD999x-nothing-like-it]\n", `.lambdoctor.yaml:1: disable: unknown check "LD999x-nothing-like-it" (see lambdoctor checks)`},
		{"unknown severity key", "severity:\n  LD20: info\n", `.lambdoctor.yaml:2: severity: unknown check "LD20"`},
		{"missing reason", "ignore:\n  - id: LD202\n", `.lambdoctor.yaml:2: ignore LD202 needs a reason`},
		{"blank reason", "ignore:\n  - id: LD202\n    reason: \"  \"\n", `.lambdoctor.yaml:2: ignore LD202 needs a reason`},
		{"missing id", "ignore:\n  - reason: r\n", `.lambdoctor.yaml:2: ignore entry without an id`},
		{"bad date", "ignore:\n  - id: LD202\n    reason: r\n    expires: 31/12/2025\n", `.lambdoctor.yaml:4: ignore LD202: expires "31/12/2025" is not a date written YYYY-MM-DD`},
		{"impossible date", "ignore:\n  - id: LD202\n    reason: r\n    expires: 2025-02-30\n", `.lambdoctor.yaml:4: ignore LD202: expires "2025-02-30"`},
		{"bad severity", "severity:\n  LD202: fatal\n", `.lambdoctor.yaml:2: severity of LD202: unknown severity "fatal" (want error, warning or info)`},
		{"severity set twice", "severity:\n  LD202: info\n  entrypoint-not-found: error\n", `.lambdoctor.yaml:3: severity: LD202 is set twice`},
		{"bad arch", "arch: sparc\n", `.lambdoctor.yaml:1: unknown arch "sparc"`},
		{"bad fail-on", "fail-on: fatal\n", `.lambdoctor.yaml:1: unknown fail-on "fatal"`},
		{"bad glob", "ignore:\n  - id: LD202\n    reason: r\n    paths: ['/opt/[']\n", `.lambdoctor.yaml:4: ignore LD202: bad path glob "/opt/["`},
		{"partial doublestar", "ignore:\n  - id: LD202\n    reason: r\n    paths: ['/opt/a**']\n", `"**" must be a whole path segment`},
		{"list where a value goes", "arch: [arm64]\n", `.lambdoctor.yaml:1: want a single value, found a list`},
		{"ignore not a list of maps", "ignore:\n  - LD202\n", `.lambdoctor.yaml:2: an ignore entry is a mapping`},
		{"images not a list", "images: my-fn:dev\n", ".lambdoctor.yaml:1: images: want a list, found the value `my-fn:dev`"},
		{"severity not a mapping", "severity: [a]\n", `.lambdoctor.yaml:1: severity: want a mapping, found a list`},
		{"syntax error yaml gives no line for", "arch: amd64\nfail-on: a: b\n", `.lambdoctor.yaml:2: mapping values are not allowed in this context`},
		{"a tab", "\tarch: amd64\n", `.lambdoctor.yaml:1: found character that cannot start any token`},
		{"a date that is not a day", "ignore:\n  - id: LD202\n    reason: r\n    expires: 2025-02-30\n", `.lambdoctor.yaml:4: ignore LD202: expires "2025-02-30" is not a day of the calendar`},
		{"syntax error", "arch: arm64\n  fail-on: [\n", `.lambdoctor.yaml:2:`},
		{"two documents", "arch: arm64\n---\narch: amd64\n", `more than one YAML document`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(".lambdoctor.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %q\nwant it to contain\n  %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

// tree makes files (path → content; a trailing "/" makes a directory)
// under a temporary root and returns it.
func tree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if strings.HasSuffix(f, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("arch: arm64\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFind(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	t.Run("flag beats env and walking", func(t *testing.T) {
		root := tree(t, "repo/.git/", "repo/.lambdoctor.yaml", "other.yaml", "envfile.yaml")
		got, err := Find(filepath.Join(root, "other.yaml"), env(map[string]string{EnvVar: filepath.Join(root, "envfile.yaml")}), filepath.Join(root, "repo"))
		if err != nil || got != filepath.Join(root, "other.yaml") {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("env beats walking", func(t *testing.T) {
		root := tree(t, "repo/.git/", "repo/.lambdoctor.yaml", "envfile.yaml")
		got, err := Find("", env(map[string]string{EnvVar: filepath.Join(root, "envfile.yaml")}), filepath.Join(root, "repo"))
		if err != nil || got != filepath.Join(root, "envfile.yaml") {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("named file missing", func(t *testing.T) {
		root := tree(t)
		for _, tc := range []struct{ flag, env string }{{filepath.Join(root, "nope.yaml"), ""}, {"", filepath.Join(root, "nope.yaml")}} {
			_, err := Find(tc.flag, env(map[string]string{EnvVar: tc.env}), root)
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("flag %q env %q: err = %v, want ErrNotFound", tc.flag, tc.env, err)
			}
		}
	})
	t.Run("walks up to the git root", func(t *testing.T) {
		root := tree(t, "repo/.git/", "repo/.lambdoctor.yaml", "repo/services/fn/src/")
		got, err := Find("", env(nil), filepath.Join(root, "repo/services/fn/src"))
		if err != nil || got != filepath.Join(root, "repo/.lambdoctor.yaml") {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("nearest wins", func(t *testing.T) {
		root := tree(t, "repo/.git/", "repo/.lambdoctor.yaml", "repo/services/fn/.lambdoctor.yml", "repo/services/fn/src/")
		got, _ := Find("", env(nil), filepath.Join(root, "repo/services/fn/src"))
		if got != filepath.Join(root, "repo/services/fn/.lambdoctor.yml") {
			t.Errorf("got %q", got)
		}
	})
	t.Run(".yaml before .yml", func(t *testing.T) {
		root := tree(t, ".git/", ".lambdoctor.yaml", ".lambdoctor.yml")
		if got, _ := Find("", env(nil), root); got != filepath.Join(root, ".lambdoctor.yaml") {
			t.Errorf("got %q", got)
		}
	})
	t.Run("stops at the git root", func(t *testing.T) {
		root := tree(t, ".lambdoctor.yaml", "repo/.git/", "repo/src/")
		got, err := Find("", env(nil), filepath.Join(root, "repo/src"))
		if err != nil || got != "" {
			t.Errorf("got %q, %v; want nothing: the file above the git root is not the repository's", got, err)
		}
	})
	t.Run("git worktree .git file", func(t *testing.T) {
		root := tree(t, ".lambdoctor.yaml", "wt/.git", "wt/src/")
		if got, _ := Find("", env(nil), filepath.Join(root, "wt/src")); got != "" {
			t.Errorf("got %q, want the walk to stop at the worktree root", got)
		}
	})
	t.Run("outside git only the directory itself", func(t *testing.T) {
		root := tree(t, ".lambdoctor.yaml", "a/")
		if got, _ := Find("", env(nil), filepath.Join(root, "a")); got != "" {
			t.Errorf("got %q", got)
		}
		if got, _ := Find("", env(nil), root); got != filepath.Join(root, ".lambdoctor.yaml") {
			t.Errorf("got %q", got)
		}
	})
}

func TestLoadAndImageRefs(t *testing.T) {
	root := tree(t, "build/fn.tar", "layout/")
	cfgPath := filepath.Join(root, ".lambdoctor.yaml")
	body := "images:\n  - docker-archive:build/fn.tar\n  - build/fn.tar\n  - oci:layout:latest\n  - /abs/x.tar\n  - my-fn:dev\n  - registry:example.com/fn:1\n  - not-there.tar\n"
	if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"docker-archive:" + filepath.Join(root, "build/fn.tar"),
		filepath.Join(root, "build/fn.tar"),
		"oci:" + filepath.Join(root, "layout:latest"),
		"/abs/x.tar",
		"my-fn:dev",
		"registry:example.com/fn:1",
		"not-there.tar",
	}
	if got := cfg.ImageRefs(); !slices.Equal(got, want) {
		t.Errorf("ImageRefs =\n %q\nwant\n %q", got, want)
	}
	if err := os.WriteFile(cfgPath, []byte("arch: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cfgPath); err == nil || !strings.Contains(err.Error(), ".lambdoctor.yaml:1:") {
		t.Errorf("Load error = %v", err)
	}
}

// TestDocsExample parses the full example of docs/config.md, so the page
// never shows a file lambdoctor would reject.
func TestDocsExample(t *testing.T) {
	page, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(page), "## A full example\n\n```yaml\n")
	if !ok {
		t.Fatal("docs/config.md has no full example")
	}
	example, _, _ := strings.Cut(rest, "```")
	cfg, err := Parse("docs/config.md", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Arch != "arm64" || len(cfg.Images) != 3 || len(cfg.Disable) != 2 || len(cfg.Severity) != 2 || len(cfg.Ignore) != 2 {
		t.Errorf("example decoded to %+v", cfg)
	}
}
