package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// streams returns IOStreams writing to buffers, with the given environment.
func streams(env map[string]string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &IOStreams{
		In: strings.NewReader(""), Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
	}, &out, &errb
}

// writeArchive saves img as a docker save tarball and returns its path.
func writeArchive(t *testing.T, img v1.Image) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag("example.com/fn:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatalf("writing archive: %v", err)
	}
	return p
}

func goodImage(t *testing.T) v1.Image {
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Entrypoint: []string{"/var/runtime/bootstrap"},
			Cmd:        []string{"function.handler"},
			WorkingDir: "/var/task",
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LAMBDA_TASK_ROOT=/var/task"},
		},
		Layers: [][]testimage.File{
			{testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, "\x7fELF"), testimage.Dir("tmp", 0o1777)},
			{testimage.Dir("var/runtime", 0), testimage.Reg("var/runtime/bootstrap", 0o755, "#!/bin/sh\nexec /var/task/function.sh\n"),
				testimage.Dir("var/task", 0), testimage.Reg("var/task/function.sh", 0o755, "#!/bin/sh\necho ok\n")},
		},
	})
}

// The seed story: the Ruby runtime interface client's binstub lands in
// /usr/local/bundle/bin while ENTRYPOINT names /usr/local/bin.
func rubySeedImage(t *testing.T) v1.Image {
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Entrypoint: []string{"/usr/local/bin/aws_lambda_ric"},
			Cmd:        []string{"app.App::Handler.process"},
			WorkingDir: "/var/task",
			Env:        []string{"PATH=/usr/local/bundle/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GEM_HOME=/usr/local/bundle"},
		},
		Layers: [][]testimage.File{
			{testimage.Dir("usr/local/bin", 0), testimage.Reg("usr/local/bin/ruby", 0o755, "\x7fELF")},
			{testimage.Dir("usr/local/bundle/bin", 0o777), testimage.Reg("usr/local/bundle/bin/aws_lambda_ric", 0o755, "#!/usr/local/bin/ruby\nload Gem.bin_path('aws_lambda_ric', 'aws_lambda_ric')\n")},
			{testimage.Dir("var/task", 0), testimage.Reg("var/task/app.rb", 0o644, "module App; end\n")},
		},
		CreatedBy: []string{"ADD rootfs.tar /", "RUN gem install aws_lambda_ric", "COPY app.rb /var/task/"},
	})
}

func TestInspectExitCodes(t *testing.T) {
	good := writeArchive(t, goodImage(t))
	bad := writeArchive(t, rubySeedImage(t))
	notImage := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notImage, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"clean image", []string{"inspect", good}, ExitOK},
		{"broken image", []string{"inspect", bad}, ExitFindings},
		{"broken image, fail-on none", []string{"inspect", "--fail-on", "none", bad}, ExitOK},
		{"missing file", []string{"inspect", filepath.Join(t.TempDir(), "nope.tar")}, ExitLoad},
		{"not an image", []string{"inspect", notImage}, ExitLoad},
		{"one good one missing", []string{"inspect", good, "docker-archive:/nonexistent/x.tar"}, ExitLoad},
		{"bad arch", []string{"inspect", "--arch", "sparc", good}, ExitUsage},
		{"bad fail-on", []string{"inspect", "--fail-on", "fatal", good}, ExitUsage},
		{"bad format", []string{"inspect", "--format", "xml", good}, ExitUsage},
		{"no image", []string{"inspect"}, ExitUsage},
		{"unknown flag", []string{"inspect", "--frobnicate", good}, ExitUsage},
		{"unknown command", []string{"frobnicate"}, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := streams(nil)
			got := Run(context.Background(), tt.args, s)
			if got != tt.want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tt.want, out, errb)
			}
			if strings.Contains(out.String()+errb.String(), "goroutine ") {
				t.Fatalf("output holds a Go stack trace:\n%s%s", out, errb)
			}
		})
	}
}

func TestInspectJSONSeed(t *testing.T) {
	bad := writeArchive(t, rubySeedImage(t))
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"inspect", "--format", "json", bad}, s); code != ExitFindings {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitFindings, errb)
	}
	var doc struct {
		SchemaVersion int `json:"schemaVersion"`
		Image         struct {
			Source string `json:"source"`
			Layers []any  `json:"layers"`
		} `json:"image"`
		Findings []struct {
			ID, Name, Severity, Path, Fix string
			Layer                         *struct{ Index int }
		} `json:"findings"`
		Summary struct{ Error int } `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, out)
	}
	if doc.SchemaVersion != 1 || doc.Image.Source != "docker-archive" || len(doc.Image.Layers) != 3 {
		t.Errorf("image block wrong: %+v", doc)
	}
	var found bool
	for _, f := range doc.Findings {
		if f.Name == "entrypoint-not-found" && strings.Contains(f.Fix, "/usr/local/bundle/bin/aws_lambda_ric") {
			found = true
		}
	}
	if !found || doc.Summary.Error == 0 {
		t.Errorf("want an entrypoint-not-found error whose fix names /usr/local/bundle/bin/aws_lambda_ric; got %+v", doc.Findings)
	}
}

func TestInspectSeveralImagesJSON(t *testing.T) {
	good := writeArchive(t, goodImage(t))
	s, out, _ := streams(nil)
	code := Run(context.Background(), []string{"inspect", "--format", "json", good, "docker-archive:/nonexistent/x.tar"}, s)
	if code != ExitLoad {
		t.Fatalf("exit %d, want %d", code, ExitLoad)
	}
	var doc struct {
		Reports []struct {
			Findings []any `json:"findings"`
			Error    *struct{ Kind, Message string }
		} `json:"reports"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, out)
	}
	if len(doc.Reports) != 2 || doc.Reports[0].Error != nil || doc.Reports[1].Error == nil || doc.Reports[1].Findings == nil {
		t.Fatalf("want two reports, the second a load failure with findings []: %s", out)
	}
	if doc.Reports[1].Error.Kind != "not-found" {
		t.Errorf("load failure kind = %q, want not-found", doc.Reports[1].Error.Kind)
	}
}

func TestColorDecision(t *testing.T) {
	tests := []struct {
		tty     bool
		env     map[string]string
		noColor bool
		want    bool
	}{
		{tty: true, want: true},
		{tty: false, want: false},
		{tty: true, noColor: true, want: false},
		{tty: true, env: map[string]string{"NO_COLOR": "1"}, want: false},
		{tty: true, env: map[string]string{"TERM": "dumb"}, want: false},
	}
	for _, tt := range tests {
		s, _, _ := streams(tt.env)
		s.OutTTY = tt.tty
		if got := s.ColorOut(tt.noColor); got != tt.want {
			t.Errorf("tty=%v env=%v --no-color=%v: colour %v, want %v", tt.tty, tt.env, tt.noColor, got, tt.want)
		}
	}
}

func TestChecksAndVersion(t *testing.T) {
	s, out, _ := streams(nil)
	if code := Run(context.Background(), []string{"checks", "--format", "json"}, s); code != ExitOK {
		t.Fatalf("checks exit %d", code)
	}
	var list []struct{ ID, Name, Severity, Docs string }
	if err := json.Unmarshal(out.Bytes(), &list); err != nil || len(list) == 0 {
		t.Fatalf("checks --format json: %v\n%s", err, out)
	}
	for _, c := range list {
		if c.ID == "" || c.Name == "" || c.Severity == "" || !strings.HasSuffix(c.Docs, c.ID+".md") {
			t.Errorf("incomplete catalogue entry %+v", c)
		}
	}
	s, out, _ = streams(nil)
	if code := Run(context.Background(), []string{"checks"}, s); code != ExitOK || !strings.Contains(out.String(), "entrypoint-not-found") {
		t.Fatalf("checks table exit %d:\n%s", code, out)
	}
	s, out, _ = streams(nil)
	if code := Run(context.Background(), []string{"version"}, s); code != ExitOK || !strings.HasPrefix(out.String(), "lambdoctor ") {
		t.Fatalf("version exit %d: %q", code, out)
	}
}
