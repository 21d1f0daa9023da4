package analyze

import (
	"context"
	"testing"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// newTarget builds spec and returns its Target, for a function of
// architecture arch ("amd64", "arm64" or "" for unknown).
func newTarget(t *testing.T, spec testimage.Spec, arch string) *Target {
	t.Helper()
	si := fixtures.NewImage(t, spec)
	fsys, err := imagefs.Build(context.Background(), si.Layers, imagefs.Options{})
	if err != nil {
		t.Fatalf("building the image filesystem: %v", err)
	}
	return &Target{Image: si, FS: fsys, Arch: arch}
}
