package source

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// multiArch builds amd64 and arm64 Lambda images and their attested index.
func multiArch(t *testing.T) (amd, arm v1.Image, idx v1.ImageIndex) {
	t.Helper()
	amdSpec, armSpec := lambdaSpec("amd64"), lambdaSpec("arm64")
	amdSpec.OCI, armSpec.OCI = true, true
	amd = testimage.Image(t, amdSpec)
	arm = testimage.Image(t, armSpec)
	idx, err := testimage.AttestedIndex(amd, arm)
	if err != nil {
		t.Fatal(err)
	}
	return amd, arm, idx
}

// indexLayout writes an OCI layout whose index.json points to idx, tagged
// v1, as buildx --output type=oci,tar=false makes.
func indexLayout(t *testing.T, idx v1.ImageIndex) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationOCIRefName: "v1"})); err != nil {
		t.Fatal(err)
	}
	return dir
}

func checkIndex(t *testing.T, got *Image, idx v1.ImageIndex, selected int) {
	t.Helper()
	if got.Index == nil {
		t.Fatal("Index not recorded")
	}
	d, _ := idx.Digest()
	if got.Index.Digest != d.String() {
		t.Errorf("Index.Digest = %s, want %s", got.Index.Digest, d)
	}
	if got.Index.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("Index.MediaType = %s", got.Index.MediaType)
	}
	if n := len(got.Index.Manifests); n != 4 {
		t.Fatalf("%d children, want 4", n)
	}
	if got.Index.Selected != selected {
		t.Errorf("Selected = %d, want %d", got.Index.Selected, selected)
	}
	for i, c := range got.Index.Manifests {
		wantAtt := i >= 2
		if c.Attestation != wantAtt {
			t.Errorf("child %d Attestation = %v", i, c.Attestation)
		}
		if wantAtt && (c.Platform == nil || c.Platform.OS != "unknown" || c.Annotations[annotationRefDigest] == "") {
			t.Errorf("attestation child %d: %+v", i, c)
		}
	}
	if got.Digest != got.Index.Manifests[selected].Digest {
		t.Errorf("Digest %s is not the selected child %s", got.Digest, got.Index.Manifests[selected].Digest)
	}
}

func TestOCILayoutIndex(t *testing.T) {
	amd, arm, idx := multiArch(t)
	dir := indexLayout(t, idx)
	tar := writeTo(t, filepath.Join(t.TempDir(), "layout.tar"), func(w io.Writer) error {
		return testimage.TarDir(w, dir)
	})
	for _, base := range []string{"oci:" + dir, dir, "oci-archive:" + tar, tar} {
		t.Run(base, func(t *testing.T) {
			wantSource := OCILayout
			if base == tar || base == "oci-archive:"+tar {
				wantSource = OCIArchive
			}
			for _, tc := range []struct {
				ref      string
				arch     string
				selected int
				want     v1.Image
			}{
				{base, "", 0, amd},
				{base, "amd64", 0, amd},
				{base, "arm64", 1, arm},
				{base + ":v1", "arm64", 1, arm},
				{base, "aarch64", 1, arm},
				{base, "x86_64", 0, amd},
			} {
				got := mustLoad(t, tc.ref, Options{Arch: tc.arch})
				if got.Source != wantSource || got.PushedFormUnknown {
					t.Errorf("%s: Source %s PushedFormUnknown %v", tc.ref, got.Source, got.PushedFormUnknown)
				}
				checkIndex(t, got, idx, tc.selected)
				if got.Digest != digestOf(t, tc.want) {
					t.Errorf("%s arch %s: Digest %s, want %s", tc.ref, tc.arch, got.Digest, digestOf(t, tc.want))
				}
				checkLambdaConfig(t, got, got.Platform.Architecture)
				checkLayers(t, got)
			}
			// A child digest picks that image, with no index around it.
			got := mustLoad(t, base+"@"+digestOf(t, arm), Options{Arch: "amd64"})
			if got.Index != nil || got.Platform.Architecture != "arm64" || got.Digest != digestOf(t, arm) {
				t.Errorf("@child: Index %v Platform %v Digest %s", got.Index, got.Platform, got.Digest)
			}
			// The index digest names the index.
			d, _ := idx.Digest()
			got = mustLoad(t, base+"@"+d.String(), Options{Arch: "arm64"})
			checkIndex(t, got, idx, 1)

			loadErr(t, base+":v2", Options{}, NotFound, `tag "v2" not found`, "v1")
			loadErr(t, base+"@sha256:"+d.Hex[:60]+"abcd", Options{}, NotFound, "no manifest")
			le := loadErr(t, base, Options{Arch: "s390x"}, PlatformNotFound,
				"no linux/s390x image", "linux/amd64", "linux/arm64", "unknown/unknown (attestation)")
			missing, ok := PlatformMissing(le)
			if !ok || missing.Ref != base || missing.Index == nil || missing.Index.Selected != -1 || len(missing.Index.Manifests) != 4 || missing.Source == "" {
				t.Errorf("PlatformMissing = %+v, %v", missing, ok)
			}
		})
	}
}

func TestOCILayoutSeveralImages(t *testing.T) {
	amd, arm, _ := multiArch(t)
	t.Run("tagged", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "layout")
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		p.AppendImage(amd, layout.WithAnnotations(map[string]string{annotationOCIRefName: "a"}))
		p.AppendImage(arm, layout.WithAnnotations(map[string]string{annotationOCIRefName: "b"}))
		loadErr(t, "oci:"+dir, Options{}, Usage, "holds 2 images", "a, b")
		got := mustLoad(t, "oci:"+dir+":b", Options{})
		if got.Index != nil || got.Digest != digestOf(t, arm) {
			t.Errorf("Index %v Digest %s", got.Index, got.Digest)
		}
	})
	t.Run("with platforms", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "layout")
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		p.AppendImage(amd, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
		p.AppendImage(arm, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}))
		got := mustLoad(t, "oci:"+dir, Options{Arch: "arm64"})
		if got.Index == nil || got.Index.Selected != 1 || got.Digest != digestOf(t, arm) {
			t.Errorf("Index %+v Digest %s", got.Index, got.Digest)
		}
	})
	t.Run("single image", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "layout")
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		p.AppendImage(arm)
		got := mustLoad(t, dir, Options{Arch: "amd64"}) // a lone image is loaded whatever its arch
		if got.Index != nil || got.Platform.Architecture != "arm64" || got.MediaType != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("Index %v Platform %v MediaType %s", got.Index, got.Platform, got.MediaType)
		}
		if got.Manifest == nil || len(got.Manifest.Layers) != 2 {
			t.Errorf("Manifest = %+v", got.Manifest)
		}
	})
}

func TestOCILayoutCorrupt(t *testing.T) {
	_, arm, _ := multiArch(t)
	newLayout := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "layout")
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(arm); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	layers, _ := arm.Layers()
	blob := func(dir string, l v1.Layer) string {
		d, _ := l.Digest()
		return filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
	}
	t.Run("missing layer blob", func(t *testing.T) {
		dir := newLayout(t)
		os.Remove(blob(dir, layers[1]))
		loadErr(t, "oci:"+dir, Options{}, Corrupt, "missing")
	})
	t.Run("short layer blob", func(t *testing.T) {
		dir := newLayout(t)
		os.Truncate(blob(dir, layers[0]), 10)
		loadErr(t, "oci:"+dir, Options{}, Corrupt, "truncated")
	})
	t.Run("missing manifest blob", func(t *testing.T) {
		dir := newLayout(t)
		d, _ := arm.Digest()
		os.Remove(filepath.Join(dir, "blobs", d.Algorithm, d.Hex))
		loadErr(t, "oci:"+dir, Options{}, Corrupt)
	})
	t.Run("bad index.json", func(t *testing.T) {
		dir := newLayout(t)
		os.WriteFile(filepath.Join(dir, "index.json"), []byte("{"), 0o644)
		loadErr(t, "oci:"+dir, Options{}, Corrupt, "index.json")
	})
	t.Run("empty index.json", func(t *testing.T) {
		dir := newLayout(t)
		os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
		loadErr(t, "oci:"+dir, Options{}, NotFound, "holds no images")
	})
	t.Run("archive missing blob", func(t *testing.T) {
		dir := newLayout(t)
		os.Remove(blob(dir, layers[0]))
		tar := writeTo(t, filepath.Join(t.TempDir(), "x.tar"), func(w io.Writer) error { return testimage.TarDir(w, dir) })
		loadErr(t, "oci-archive:"+tar, Options{}, Corrupt, "missing")
	})
}
