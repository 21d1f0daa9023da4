package inspect

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/report"
)

// missingEntrypoint names /var/task/app, which the image lacks (LD202).
func missingEntrypoint(t *testing.T) string {
	t.Helper()
	img := testimage.Image(t, testimage.Spec{
		Config: v1.Config{Entrypoint: []string{"/var/task/app"}, WorkingDir: "/var/task"},
		Layers: [][]testimage.File{
			{testimage.Dir("tmp", 0o1777)},
			{testimage.Dir("var", 0), testimage.Dir("var/task", 0), testimage.Reg("var/task/other", 0o755, "#!/bin/sh\n")},
		},
		CreatedBy: []string{"ADD rootfs.tar / # buildkit", "COPY other /var/task/ # buildkit"},
	})
	return writeArchive(t, img)
}

func writeArchive(t *testing.T, img v1.Image) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag("example.com/fn:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func finding(r *report.Report, id string) *report.Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

func TestSessionInspect(t *testing.T) {
	ref := missingEntrypoint(t)
	s, err := New(Options{Tool: report.Tool{Name: "lambdoctor", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Inspect(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	f := finding(r, "LD202")
	if f == nil || f.Severity != checks.Error || f.Path != "/var/task/app" {
		t.Fatalf("LD202 finding %+v, want an error at /var/task/app\n%+v", f, r.Findings)
	}
	if len(r.Checks) != len(checks.All()) || len(r.Image.Layers) != 2 || r.Image.Layers[1].CreatedBy != "COPY other /var/task/ # buildkit" {
		t.Errorf("%d checks, layers %+v", len(r.Checks), r.Image.Layers)
	}
	if s.Warnings(true) != nil {
		t.Errorf("warnings without a policy: %q", s.Warnings(true))
	}
}

// The stages: disabled checks end skipped, severity overrides apply, an
// ignore's use is counted across the session's images, expiry is warned.
func TestSessionPolicy(t *testing.T) {
	ref := missingEntrypoint(t)
	cfg, err := config.Parse(".lambdoctor.yaml", []byte(`disable: [LD601]
severity:
  LD202: warning
ignore:
  - id: LD202
    paths: ["/var/task/**"]
    reason: built at deploy time
  - id: LD203
    reason: never matches here
  - id: LD101
    reason: old
    expires: 2020-01-01
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Policy: cfg, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		r, err := s.Inspect(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		f := finding(r, "LD202")
		if f == nil || f.Severity != checks.Warning || !f.Suppressed || f.SuppressionReason != "built at deploy time" {
			t.Fatalf("LD202 %+v, want a suppressed warning", f)
		}
		for _, c := range r.Checks {
			if c.ID == "LD601" && (c.Status != string(checks.StatusSkipped) || !strings.Contains(c.Error, "disabled in .lambdoctor.yaml")) {
				t.Errorf("LD601 %+v, want skipped as disabled", c)
			}
		}
		if r.Summary.Suppressed == 0 {
			t.Errorf("summary %+v counts no suppressed finding", r.Summary)
		}
	}
	want := []string{
		".lambdoctor.yaml:8: ignore LD203 matched nothing",
		".lambdoctor.yaml:10: ignore LD101 expired on 2020-01-01; its findings are reported again",
	}
	if got := s.Warnings(true); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
	// An image that could not be read might have matched: no "matched
	// nothing" then.
	if got := s.Warnings(false); len(got) != 1 || !strings.Contains(got[0], "expired") {
		t.Errorf("warnings when an image failed: %q", got)
	}
}

// One session inspects each image as its function runs it: the
// function's ImageConfig and architecture, not the session's, and the
// ignores' use counted across all of them, from several goroutines.
func TestSessionInspectAs(t *testing.T) {
	ref := missingEntrypoint(t)
	cfg, err := config.Parse(".lambdoctor.yaml", []byte(`ignore:
  - id: LD102
    reason: the arm64 function is being moved
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Policy: cfg, Name: "session-name"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs := []As{
		{Name: "image-as-built"},
		{Name: "fixed-by-config", Overrides: analyze.ImageConfig{EntryPoint: []string{"/var/task/other"}}},
		{Name: "on-arm64", Arch: "arm64", Overrides: analyze.ImageConfig{EntryPoint: []string{"/var/task/other"}}},
	}
	reports := make([]*report.Report, len(runs))
	var wg sync.WaitGroup
	for i, as := range runs {
		wg.Go(func() {
			r, err := s.InspectAs(context.Background(), ref, as)
			if err != nil {
				t.Error(err)
			}
			reports[i] = r
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, r := range reports {
		if r.Image.Name != runs[i].Name {
			t.Errorf("report %d named %q, want %q", i, r.Image.Name, runs[i].Name)
		}
	}
	if finding(reports[0], "LD202") == nil {
		t.Errorf("the image's own ENTRYPOINT: no LD202 in %+v", reports[0].Findings)
	}
	if f := finding(reports[1], "LD202"); f != nil {
		t.Errorf("ImageConfig.EntryPoint names a present file, yet %+v", f)
	}
	if f := finding(reports[1], "LD102"); f != nil {
		t.Errorf("amd64 function on an amd64 image: %+v", f)
	}
	if f := finding(reports[2], "LD102"); f == nil || !f.Suppressed {
		t.Errorf("arm64 function on an amd64 image: LD102 %+v, want it (suppressed)", f)
	}
	if w := s.Warnings(true); len(w) != 0 {
		t.Errorf("the ignore matched in one image of three, yet %q", w)
	}
	// Open (the session's own settings) is unchanged.
	r, err := s.Inspect(context.Background(), ref)
	if err != nil || r.Image.Name != "session-name" || finding(r, "LD202") == nil {
		t.Errorf("Inspect: %v, name %q, findings %+v", err, r.Image.Name, r.Findings)
	}
}

func TestSessionLoadFailure(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	missing := filepath.Join(t.TempDir(), "nope.tar")
	r, err := s.Inspect(context.Background(), missing)
	if err == nil || r.Error == nil || r.Error.Kind != string(source.KindOf(err)) || r.Error.Kind == "" {
		t.Fatalf("error %v, report error %+v: want the kind source.KindOf gives", err, r.Error)
	}
	// An error no source classified is of kind "load".
	s2, err := New(Options{Load: func(context.Context, string, source.Options) (*source.Image, error) {
		return nil, errors.New("boom")
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if r, _ := s2.Inspect(context.Background(), "x"); r.Error == nil || r.Error.Kind != "load" || r.Error.Message != "boom" {
		t.Errorf("report error %+v", r.Error)
	}
}

func TestSessionDockerfileLocations(t *testing.T) {
	ref := missingEntrypoint(t)
	p := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(p, []byte("FROM scratch\nADD rootfs.tar /\nCOPY other /var/task/\nENTRYPOINT [\"/var/task/app\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	df, err := dockerfile.ParseFile(p, dockerfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Dockerfile: df, DockerfilePath: "Dockerfile"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Inspect(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	f := finding(r, "LD202")
	if f == nil || f.Location == nil || f.Location.Line != 4 || f.Location.File != "Dockerfile" {
		t.Fatalf("LD202 location %+v, want Dockerfile:4 (the ENTRYPOINT)", f)
	}
	if _, _, err := LoadDockerfile(filepath.Join(t.TempDir(), "none"), dockerfile.Options{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("LoadDockerfile of a missing file: %v", err)
	}
}

// TestCaptureForMatchesPathMatch: the capture policy's lookup by
// directory accepts exactly the files path.Match accepts for the checks'
// globs.
func TestCaptureForMatchesPathMatch(t *testing.T) {
	list := checks.All()
	capture := captureFor(list)
	var globs []string
	for _, c := range list {
		globs = append(globs, c.Meta().Needs...)
	}
	if len(globs) == 0 {
		t.Fatal("no check declares files it needs")
	}
	names := []string{"etc/passwd", "/etc/ld.so.cache", "etc/ld.so.conf.d/libc.conf", "etc/ld.so.conf.d/sub/x.conf",
		"etc/ssl/certs/ca-certificates.crt", "etc/ssl/cert.pem", "etc/ld-musl-x86_64.path", "lambda-entrypoint.sh",
		"var/task/app.py", "usr/lib/x86_64-linux-gnu/libc.so.6", "etc", "x"}
	for _, g := range globs {
		// The glob itself, with its wildcards filled in, is a name too.
		names = append(names, strings.NewReplacer("*", "a", "?", "b").Replace(strings.TrimPrefix(g, "/")))
	}
	for _, n := range names {
		want := false
		for _, g := range globs {
			if ok, _ := path.Match(g, "/"+strings.TrimPrefix(n, "/")); ok {
				want = true
			}
		}
		if got := capture(n, 1); got != want {
			t.Errorf("capture(%q) = %v, path.Match says %v", n, got, want)
		}
	}
}

// TestSessionIgnoreSources: the Dockerfile's comments, the config file
// and the command line all suppress through the same stage; the first
// that matches gives the reason, each one's use is counted, and the
// command line disables checks too.
func TestSessionIgnoreSources(t *testing.T) {
	ref := missingEntrypoint(t)
	p := filepath.Join(t.TempDir(), "Dockerfile")
	src := `FROM scratch
ADD rootfs.tar /
# lambdoctor ignore=LD203 reason="nothing to suppress here"
COPY other /var/task/
# The entrypoint comes later.
# lambdoctor ignore=entrypoint-not-found,LD603 reason="the platform layer adds it" expires=2099-01-01
ENTRYPOINT ["/var/task/app"]
`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	df, file, err := LoadDockerfile(p, dockerfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(".lambdoctor.yaml", []byte("ignore:\n  - id: LD202\n    reason: from the config\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Dockerfile: df, DockerfilePath: file, Policy: cfg,
		Disable: []string{"LD601"}, DisabledBy: "by LAMBDOCTOR_DISABLE",
		Ignore: []Ignore{
			{Ignore: report.Ignore{ID: "LD202", Reason: "ignored on the command line", By: report.SuppressedByCommandLine}, Label: "--ignore LD202"},
			{Ignore: report.Ignore{ID: "LD203", Paths: []string{"/nope"}, Reason: "r", By: report.SuppressedByCommandLine}, Label: "--ignore LD203:/nope"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Inspect(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	f := finding(r, "LD202")
	if f == nil || !f.Suppressed || f.SuppressionReason != "the platform layer adds it" || f.SuppressedBy != report.SuppressedByDockerfile {
		t.Fatalf("LD202 %+v, want suppressed by the Dockerfile comment", f)
	}
	for _, c := range r.Checks {
		if c.ID == "LD601" && !strings.Contains(c.Error, "disabled by LAMBDOCTOR_DISABLE") {
			t.Errorf("LD601 %+v, want disabled by the command line", c)
		}
	}
	want := []string{
		file + ":3: ignore LD203 matched nothing",
		file + ":6: ignore LD603 matched nothing",
		"--ignore LD203:/nope matched nothing",
	}
	if got := s.Warnings(true); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
}

func TestLoadDockerfileBadComment(t *testing.T) {
	for src, want := range map[string]string{
		"FROM x\n# lambdoctor ignore=LD2O2 reason=x\nRUN true\n":                   "Dockerfile:2: lambdoctor comment: ignore: unknown check \"LD2O2\" (did you mean LD202",
		"FROM x\nRUN true\n# lambdoctor ignore=LD202 reason=x paths=/a**\nRUN x\n": "Dockerfile:3: lambdoctor comment: paths: bad glob \"/a**\"",
		"FROM x\n# lambdoctor ignore=LD202 reason=x\n\nRUN true\n":                 "Dockerfile:2: lambdoctor comment: not directly above an instruction",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		_, _, err := LoadDockerfile("Dockerfile", dockerfile.Options{})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", src, err, want)
		}
	}
}
