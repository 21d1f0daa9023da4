package checks

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// sizedTarget is the AWS base image example whose sizes are replaced by
// the given ones (multi-GB images are too big to build in a test): base
// layers of each size in perLayer, and a merged filesystem of rootfs bytes.
func sizedTarget(rootfs int64, perLayer ...int64) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		tg := newTarget(t, fixtures.AWSBaseSpec(), "amd64")
		s := analyze.ImageSizes{RootFS: rootfs, PerLayer: perLayer}
		for _, n := range perLayer {
			s.Layers += n
		}
		tg.PresetSizes(s)
		return tg
	}
}

const gb = 1_000_000_000

var ld104Cases = []checkCase{
	{
		name:   "over 10 GiB",
		kind:   catches,
		target: sizedTarget(8*gb, 1*gb, 10*gb),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"add up to 11.00 GB", "over Lambda's 10 GB container image limit even read as 10 GiB", "unconfirmed", "multi-stage build"},
				[]string{"sum of uncompressed layers: 11.00 GB (10.24 GiB, 11000000000 bytes)", "merged root filesystem (regular files after whiteouts): 8.00 GB", "layer 1 (COPY app.py /var/task/): 10.00 GB"},
				[]string{"multi-stage build"})(t, fs)
			if f := fs[0]; f.Layer == nil || f.Layer.Index != 1 {
				t.Errorf("layer %+v, want the largest, 1", f.Layer)
			}
		},
	},
	{
		name:   "between 10 GB and 10 GiB: unit unconfirmed",
		kind:   catches,
		target: sizedTarget(10_300_000_000, 300_000_000, 10*gb),
		verify: expect(Warning, []string{"over 10 GB counted in decimal units, under 10 GiB", "unconfirmed"}, nil, nil),
	},
	{
		name:   "over 90%",
		kind:   catches,
		target: sizedTarget(9_200_000_000, 1*gb, 8_200_000_000),
		verify: expect(Warning, []string{"over 90% of Lambda's 10 GB"}, nil, nil),
	},
	{
		name:   "5 GB image",
		kind:   clean,
		target: sizedTarget(4*gb, 1*gb, 4*gb),
	},
	{
		name:   "AWS base image example, real sizes",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSBaseSpec(), "amd64") },
	},
}

// TestImageSizes checks the real computation on a small image: whiteouts
// shrink the merged filesystem but not the layer sum; hard links count once.
func TestImageSizes(t *testing.T) {
	big := strings.Repeat("x", 10000)
	tg := newTarget(t, testimage.Spec{
		Config: v1.Config{Entrypoint: []string{"/app"}},
		Layers: [][]testimage.File{
			{testimage.Reg("app", 0o755, fixtures.ELFStub), testimage.Reg("cache.bin", 0o644, big), testimage.Reg("data", 0o644, "12345"), testimage.Hardlink("data2", "data")},
			{testimage.Whiteout("cache.bin")},
		},
	}, "amd64")
	s := analyze.SizesOf(tg)
	if want := int64(len(fixtures.ELFStub) + 5); s.RootFS != want {
		t.Errorf("rootfs %d, want %d", s.RootFS, want)
	}
	if len(s.PerLayer) != 2 || s.PerLayer[0] < int64(len(big)) || s.Layers != s.PerLayer[0]+s.PerLayer[1] {
		t.Errorf("layers %d %v", s.Layers, s.PerLayer)
	}
}
