package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// An image whose tree is deeper than a path can name loads: the entry past
// PATH_MAX is dropped by the filesystem pass and reported by LD105 (a
// warning: Lambda's unpacker would refuse or drop it too), never a crash,
// a hang or a write outside the run's directory. The chain goes through a
// symlinked parent so that no tar name is longer than PATH_MAX: /s0/d/.../d
// (1,100 levels), then s1 -> that, and s1/d/.../f.
func TestInspectTooDeepTree(t *testing.T) {
	isolate(t)
	chain := strings.Repeat("d/", 1100)
	img := testimage.Image(t, testimage.Spec{Layers: [][]testimage.File{{
		testimage.Dir("s0/"+chain, 0o755),
		testimage.Symlink("s1", "/s0/"+strings.TrimSuffix(chain, "/")),
		testimage.Reg("s1/"+chain+"f", 0o644, "deep"),
	}}})
	ref := writeArchive(t, img)
	s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	code := Run(context.Background(), []string{"inspect", "--no-cache", "--format", "json", ref}, s)
	if code == ExitLoad || code == ExitUsage {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"LD105"`) || !strings.Contains(out.String(), "PATH_MAX") {
		t.Errorf("no LD105 finding naming the path limit:\n%s", out.String())
	}
}
