package analyze

import "github.com/lambdoctor/lambdoctor/imagefs"

// ImageSizes are the sizes LD104 compares with the limit.
type ImageSizes struct {
	// Layers is the sum of the layers' uncompressed tar streams.
	Layers int64
	// RootFS is the sum of the regular files' sizes in the merged view
	// (hard links counted once): what is left after whiteouts.
	RootFS int64
	// PerLayer is each layer's uncompressed size, base first.
	PerLayer []int64
}

// SizesOf returns t's sizes, computed once per target.
func SizesOf(t *Target) ImageSizes {
	return t.facts.sizes.get(func() ImageSizes {
		var s ImageSizes
		for _, l := range t.FS.Layers() {
			s.Layers += l.UncompressedSize
			s.PerLayer = append(s.PerLayer, l.UncompressedSize)
		}
		_ = t.FS.Walk(func(e *imagefs.Entry) error {
			if e.IsRegular() && e.HardlinkTo == "" {
				s.RootFS += e.Size
			}
			return nil
		})
		return s
	})
}

// PresetSizes makes sizesOf return s instead of measuring the image: for
// tests of sizes too large to build.
func (t *Target) PresetSizes(s ImageSizes) { t.facts.sizes.preset(s) }
