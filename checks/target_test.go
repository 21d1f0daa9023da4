package checks

import (
	"context"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// newTarget builds spec and returns the Target checks see, for a function
// of architecture arch ("amd64", "arm64" or "" for unknown).
func newTarget(t *testing.T, spec testimage.Spec, arch string) *analyze.Target {
	t.Helper()
	return newTargetFrom(t, fixtures.NewImage(t, spec), arch)
}

// newTargetFrom builds the filesystem of a prepared image.
func newTargetFrom(t *testing.T, si *source.Image, arch string) *analyze.Target {
	t.Helper()
	fsys, err := imagefs.Build(context.Background(), si.Layers, imagefs.Options{})
	if err != nil {
		t.Fatalf("building the image filesystem: %v", err)
	}
	return &analyze.Target{Image: si, FS: fsys, Arch: arch}
}
