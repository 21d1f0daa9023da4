package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// An image whose tree is deeper than a path can name is refused before
// unpacking, with one line and exit 3, and leaves nothing behind. The chain
// goes through a symlinked parent so that no tar name is longer than
// PATH_MAX: /s0/d/.../d (1,100 levels), then s1 -> that, and s1/d/.../f.
func TestRunRefusesTooDeepTree(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	chain := strings.Repeat("d/", 1100)
	img := testimage.Image(t, testimage.Spec{Layers: [][]testimage.File{{
		testimage.Dir("s0/"+chain, 0o755),
		testimage.Symlink("s1", "/s0/"+strings.TrimSuffix(chain, "/")),
		testimage.Reg("s1/"+chain+"f", 0o644, "deep"),
	}}})
	ref := writeArchive(t, img)
	s, _, errb := streams(map[string]string{"NO_COLOR": "1"})
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	code := Run(context.Background(), []string{"run", ref}, s)
	msg := errb.String()
	t.Logf("exit %d: %s", code, msg)
	if code != ExitLoad {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, ExitLoad, msg)
	}
	if !strings.Contains(msg, "too deep to unpack") || !strings.Contains(msg, "PATH_MAX") || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
		t.Errorf("stderr %q: want one line saying the tree is too deep for PATH_MAX", msg)
	}
}
