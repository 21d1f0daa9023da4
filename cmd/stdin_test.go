package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// TestInspectStdin: `docker save fn | lambdoctor inspect -` inspects the
// piped archive and says how much it read; stdin is read once.
func TestInspectStdin(t *testing.T) {
	data, err := os.ReadFile(writeArchive(t, rubySeedImage(t)))
	if err != nil {
		t.Fatal(err)
	}
	s, out, errb := streams(nil)
	s.In = bytes.NewReader(data)
	if got := Run(context.Background(), []string{"inspect", "--format", "json", "--no-cache", "-"}, s); got != ExitFindings {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, ExitFindings, out, errb)
	}
	var doc struct {
		Image struct{ Ref, Source string } `json:"image"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.Image.Ref != "-" || doc.Image.Source != "docker-archive" {
		t.Errorf("image %+v", doc.Image)
	}
	if !strings.Contains(errb.String(), "lambdoctor: read ") || !strings.Contains(errb.String(), " from stdin into ") {
		t.Errorf("stderr does not give the size read:\n%s", errb)
	}

	for _, args := range [][]string{{"inspect", "-", "-"}, {"inspect", "-", "oci-archive:-"}} {
		s, out, errb := streams(nil)
		s.In = bytes.NewReader(data)
		if got := Run(context.Background(), args, s); got != ExitUsage || !strings.Contains(errb.String(), "stdin can be read once") {
			t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, got, ExitUsage, out, errb)
		}
	}
}

func TestRunStdinTwice(t *testing.T) {
	s, out, errb := streams(nil)
	if got := Run(context.Background(), []string{"run", "--event", "-", "-"}, s); got != ExitUsage || !strings.Contains(errb.String(), "the image - and --event - both read standard input") {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, ExitUsage, out, errb)
	}
	s, out, errb = streams(nil)
	if got := Run(context.Background(), []string{"why", "--image", "-"}, s); got != ExitUsage || !strings.Contains(errb.String(), "--image - reads the image from standard input") {
		t.Errorf("why: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, ExitUsage, out, errb)
	}
}

// TestInspectIndexWithoutArch: --arch arm64 on an amd64-only index exits 1
// with the LD102 finding listing the index's platforms, not 3.
func TestInspectIndexWithoutArch(t *testing.T) {
	img := goodImage(t)
	idx, err := testimage.AttestedIndex(img)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	s, out, errb := streams(nil)
	if got := Run(context.Background(), []string{"inspect", "--no-cache", "--arch", "arm64", "oci:" + dir}, s); got != ExitFindings {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, ExitFindings, out, errb)
	}
	t.Logf("%s", out)
	for _, want := range []string{"LD102", "no linux/arm64 image", "images for linux/amd64", "manifest[1] unknown/unknown"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
