package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inRepo makes a temporary git working tree (a .git directory is all the
// config search looks for) holding .lambdoctor.yaml with body, and returns
// its root and streams whose working directory is sub inside it.
func inRepo(t *testing.T, body, sub string, env map[string]string) (string, *IOStreams, *strings.Builder, *strings.Builder) {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{".git", sub} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if body != "" {
		if err := os.WriteFile(filepath.Join(root, ".lambdoctor.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, _, _ := streams(env)
	s.Getwd = func() (string, error) { return filepath.Join(root, sub), nil }
	var o, e strings.Builder
	s.Out, s.Err = &o, &e
	return root, s, &o, &e
}

type jsonFinding struct {
	ID, Name, Severity, Path string
	Suppressed               bool
	SuppressionReason        string
}

type jsonReport struct {
	Findings []jsonFinding `json:"findings"`
	Checks   []struct{ ID, Status, Error string }
	Summary  struct{ Error, Warning, Info, Suppressed int }
}

func TestInspectWithConfig(t *testing.T) {
	bad := writeArchive(t, rubySeedImage(t))
	good := writeArchive(t, goodImage(t))

	tests := []struct {
		name     string
		config   string
		args     []string
		want     int
		stderr   []string // substrings
		noStderr bool
		check    func(t *testing.T, r jsonReport)
	}{
		{
			name: "ignore by name suppresses and keeps the finding",
			config: "ignore:\n  - id: entrypoint-not-found\n    reason: fixed by the platform layer\n" +
				"  - id: LD203\n    reason: never matches\n",
			args: []string{"inspect", "--format", "json", "--fail-on", "error", bad},
			stderr: []string{
				"lambdoctor: warning: .lambdoctor.yaml:4: ignore LD203 matched nothing\n",
			},
			check: func(t *testing.T, r jsonReport) {
				n := 0
				for _, f := range r.Findings {
					if f.ID == "LD202" {
						n++
						if !f.Suppressed || f.SuppressionReason != "fixed by the platform layer" {
							t.Errorf("LD202 not marked suppressed: %+v", f)
						}
					}
				}
				if n == 0 || r.Summary.Suppressed != n {
					t.Errorf("want the LD202 findings kept and counted as suppressed; %d found, summary %+v", n, r.Summary)
				}
			},
		},
		{
			name:   "ignore by path glob",
			config: "ignore:\n  - id: LD202\n    paths: ['/usr/local/**/aws_lambda_*']\n    reason: r\n",
			args:   []string{"inspect", "--format", "json", bad},
			check: func(t *testing.T, r jsonReport) {
				for _, f := range r.Findings {
					if f.ID == "LD202" && !f.Suppressed {
						t.Errorf("LD202 at %s not suppressed", f.Path)
					}
				}
			},
		},
		{
			name:   "ignore with a path that does not match",
			config: "ignore:\n  - id: LD202\n    paths: ['/opt/**']\n    reason: r\n",
			args:   []string{"inspect", "--format", "json", bad},
			want:   ExitFindings,
			stderr: []string{".lambdoctor.yaml:2: ignore LD202 matched nothing"},
		},
		{
			name:   "expired ignore reports again and warns",
			config: "ignore:\n  - id: LD202\n    reason: r\n    expires: 2001-02-03\n",
			args:   []string{"inspect", "--format", "json", bad},
			want:   ExitFindings,
			stderr: []string{"lambdoctor: warning: .lambdoctor.yaml:2: ignore LD202 expired on 2001-02-03"},
			check: func(t *testing.T, r jsonReport) {
				if r.Summary.Suppressed != 0 {
					t.Errorf("an expired ignore suppressed: %+v", r.Summary)
				}
			},
		},
		{
			name:   "severity override demotes below fail-on",
			config: "severity:\n  LD202: info\n",
			args:   []string{"inspect", "--format", "json", bad},
			check: func(t *testing.T, r jsonReport) {
				for _, f := range r.Findings {
					if f.ID == "LD202" && f.Severity != "info" {
						t.Errorf("LD202 severity %s, want info", f.Severity)
					}
				}
			},
		},
		{
			name:   "fail-on from the file",
			config: "fail-on: info\nseverity:\n  LD202: info\n",
			args:   []string{"inspect", "--format", "json", bad},
			want:   ExitFindings,
		},
		{
			name:   "fail-on flag beats the file",
			config: "fail-on: info\n",
			args:   []string{"inspect", "--fail-on", "none", bad},
		},
		{
			name:   "disable skips the check",
			config: "disable: [entrypoint-not-found]\n",
			args:   []string{"inspect", "--format", "json", "--fail-on", "none", bad},
			check: func(t *testing.T, r jsonReport) {
				for _, c := range r.Checks {
					if c.ID == "LD202" && (c.Status != "skipped" || c.Error != "disabled in .lambdoctor.yaml") {
						t.Errorf("LD202 = %+v, want skipped: disabled in .lambdoctor.yaml", c)
					}
				}
				for _, f := range r.Findings {
					if f.ID == "LD202" {
						t.Errorf("a disabled check reported %+v", f)
					}
				}
			},
		},
		{
			name:   "images from the file when none given",
			config: "images:\n  - " + good + "\n",
			args:   []string{"inspect", "--format", "json"},
		},
		{
			name:   "images from the file, broken one fails",
			config: "images: [" + good + ", " + bad + "]\n",
			args:   []string{"inspect"},
			want:   ExitFindings,
		},
		{
			name:   "no images anywhere",
			config: "arch: amd64\n",
			args:   []string{"inspect"},
			want:   ExitUsage,
			stderr: []string{"no IMAGE given and no images listed in .lambdoctor.yaml"},
		},
		{
			name:   "config error is one line, exit 2",
			config: "arch: amd64\nignores:\n  - id: LD202\n",
			args:   []string{"inspect", good},
			want:   ExitUsage,
			stderr: []string{"lambdoctor: .lambdoctor.yaml:2: unknown key \"ignores\" (did you mean \"ignore\"?)\n"},
		},
		{
			name:   "unknown check id",
			config: "disable: [LD2002]\n",
			args:   []string{"inspect", good},
			want:   ExitUsage,
			stderr: []string{"did you mean LD202 (entrypoint-not-found)?"},
		},
		{
			name:   "bad arch in the file",
			config: "arch: sparc64\n",
			args:   []string{"inspect", "--arch", "amd64", good},
			want:   ExitUsage,
			stderr: []string{".lambdoctor.yaml:1: unknown arch \"sparc64\""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, s, out, errb := inRepo(t, tt.config, "sub/dir", nil)
			// Messages name the file as found; run from the root so it
			// reads .lambdoctor.yaml.
			t.Chdir(root)
			got := Run(context.Background(), tt.args, s)
			if got != tt.want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tt.want, out, errb)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(errb.String(), want) {
					t.Errorf("stderr %q does not contain %q", errb, want)
				}
			}
			if len(tt.stderr) == 0 && tt.want != ExitUsage && errb.Len() > 0 {
				t.Errorf("unexpected stderr: %s", errb)
			}
			if tt.check != nil {
				var r jsonReport
				if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
					t.Fatalf("JSON: %v\n%s", err, out)
				}
				tt.check(t, r)
			}
		})
	}
}

func TestInspectArchFlagBeatsConfig(t *testing.T) {
	good := writeArchive(t, goodImage(t))
	_, s, out, errb := inRepo(t, "arch: arm64\n", "", nil)
	if code := Run(context.Background(), []string{"inspect", "--format", "json", "--arch", "amd64", good}, s); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errb)
	}
	_, s, out, errb = inRepo(t, "arch: arm64\n", "", nil)
	if code := Run(context.Background(), []string{"inspect", "--format", "json", good}, s); code != ExitFindings {
		t.Fatalf("an amd64 image against arch arm64 from the file: exit %d, want %d\n%s%s", code, ExitFindings, out, errb)
	}
	if !strings.Contains(out.String(), "LD102") {
		t.Errorf("want a platform mismatch (LD102) finding:\n%s", out)
	}
}

func TestConfigDiscoveryFromCmd(t *testing.T) {
	good := writeArchive(t, goodImage(t))
	t.Run("walks up from a subdirectory", func(t *testing.T) {
		_, s, out, errb := inRepo(t, "images: ["+good+"]\n", "a/b/c", nil)
		if code := Run(context.Background(), []string{"inspect"}, s); code != ExitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errb)
		}
	})
	t.Run("env names the file", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "ci.yaml")
		if err := os.WriteFile(other, []byte("fail-on: nonsense\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, s, _, errb := inRepo(t, "images: ["+good+"]\n", "", map[string]string{"LAMBDOCTOR_CONFIG": other})
		if code := Run(context.Background(), []string{"inspect"}, s); code != ExitUsage || !strings.Contains(errb.String(), "ci.yaml:1: unknown fail-on") {
			t.Fatalf("exit %d, stderr %s", code, errb)
		}
	})
	t.Run("--config beats env", func(t *testing.T) {
		flagged := filepath.Join(t.TempDir(), "flag.yaml")
		if err := os.WriteFile(flagged, []byte("images: ["+good+"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, s, out, errb := inRepo(t, "", "", map[string]string{"LAMBDOCTOR_CONFIG": "/nonexistent/x.yaml"})
		if code := Run(context.Background(), []string{"inspect", "--config", flagged}, s); code != ExitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errb)
		}
	})
	t.Run("missing --config file", func(t *testing.T) {
		_, s, _, errb := inRepo(t, "", "", nil)
		if code := Run(context.Background(), []string{"inspect", "--config", "/nonexistent/x.yaml", good}, s); code != ExitUsage || !strings.Contains(errb.String(), "config file not found") {
			t.Fatalf("exit %d, stderr %s", code, errb)
		}
	})
	t.Run("stops at the git root", func(t *testing.T) {
		outer := t.TempDir()
		if err := os.WriteFile(filepath.Join(outer, ".lambdoctor.yaml"), []byte("images: ["+good+"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		repo := filepath.Join(outer, "repo")
		if err := os.MkdirAll(filepath.Join(repo, ".git"), 0o755); err != nil {
			t.Fatal(err)
		}
		s, _, errb := streams(nil)
		s.Getwd = func() (string, error) { return repo, nil }
		if code := Run(context.Background(), []string{"inspect"}, s); code != ExitUsage {
			t.Fatalf("exit %d, want the file above the git root ignored; stderr %s", code, errb)
		}
	})
}

func TestConfigVerify(t *testing.T) {
	good := "arch: arm64\nfail-on: warning\nimages: [my-fn:dev]\ndisable: [LD104]\nseverity: {LD208: error}\n" +
		"ignore:\n  - id: LD202\n    reason: r\n  - id: LD203\n    reason: r\n    expires: 2001-01-01\n"
	root, s, out, errb := inRepo(t, good, "x", nil)
	t.Chdir(root)
	if code := Run(context.Background(), []string{"config", "verify"}, s); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errb)
	}
	want := ".lambdoctor.yaml: ok: arch arm64, fail-on warning, 1 image, 1 disabled check, 1 severity override, 2 ignores (1 expired)\n  image my-fn:dev\n"
	if out.String() != want {
		t.Errorf("stdout\n%q\nwant\n%q", out, want)
	}
	if !strings.Contains(errb.String(), "lambdoctor: warning: .lambdoctor.yaml:9: ignore LD203 expired on 2001-01-01") {
		t.Errorf("stderr %q", errb)
	}

	root, s, out, errb = inRepo(t, "ignore:\n  - id: LD202\n", "", nil)
	t.Chdir(root)
	if code := Run(context.Background(), []string{"config", "verify"}, s); code != ExitUsage {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if got := errb.String(); got != "lambdoctor: .lambdoctor.yaml:2: ignore LD202 needs a reason: say why the finding does not apply\n" {
		t.Errorf("stderr %q", got)
	}

	_, s, _, errb = inRepo(t, "", "", nil)
	if code := Run(context.Background(), []string{"config", "verify"}, s); code != ExitUsage || !strings.Contains(errb.String(), "no .lambdoctor.yaml found") {
		t.Errorf("no config: exit %d, stderr %q", code, errb)
	}

	other := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(other, []byte("fail-on: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, s, out, _ = inRepo(t, "", "", nil)
	if code := Run(context.Background(), []string{"config", "verify", "--config", other}, s); code != ExitOK || !strings.Contains(out.String(), "ok: fail-on none, 0 images") {
		t.Errorf("--config: exit %d, stdout %q", code, out)
	}
}
