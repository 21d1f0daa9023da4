package checks

import "github.com/lambdoctor/lambdoctor/imagefs"

// imageSizes are the sizes LD104 compares with the limit.
type imageSizes struct {
	// Layers is the sum of the layers' uncompressed tar streams.
	Layers int64
	// RootFS is the sum of the regular files' sizes in the merged view
	// (hard links counted once): what is left after whiteouts.
	RootFS int64
	// PerLayer is each layer's uncompressed size, base first.
	PerLayer []int64
}

// sizesMemoKey is the Target memo key of the image's imageSizes.
const sizesMemoKey = "ld104.imageSizes"

// sizesOf returns t's sizes, computed once per target.
func sizesOf(t *Target) imageSizes {
	return t.memo(sizesMemoKey, func() any {
		var s imageSizes
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
	}).(imageSizes)
}
