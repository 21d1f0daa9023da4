package analyze

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports holds the boundaries of the middle layer: the analysis knows
// nothing of the rules, the reports or the CLI, and neither it nor the
// rules read a layer themselves (tar, gzip, zstd): every byte of the image
// comes through imagefs, which reads each layer once for all of them.
func TestImports(t *testing.T) {
	const module = "github.com/lambdoctor/lambdoctor/"
	layerReaders := []string{"archive/tar", "compress/", "github.com/klauspost/compress"}
	for _, dir := range []string{".", "../checks"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			for _, r := range layerReaders {
				if strings.HasPrefix(imp, r) {
					t.Errorf("%s imports %s: read the image through imagefs (FS.Open, FS.ReadFile, FS.ReadFiles)", pkg.Name, imp)
				}
			}
			if dir == "." && strings.HasPrefix(imp, module) {
				switch strings.TrimPrefix(imp, module) {
				case "imagefs", "imagefs/elfinfo", "imagefs/source", "lambda", "internal/history":
				default:
					t.Errorf("analyze imports %s; it may use only imagefs (and its elfinfo), imagefs/source, lambda and internal/history (a leaf) of this module", imp)
				}
			}
		}
	}
}
