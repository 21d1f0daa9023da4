package checks

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// platformTarget is the AWS base image built for os/arch/variant, for a
// function of architecture fnArch.
func platformTarget(osName, arch, variant, fnArch string) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.AWSBaseSpec()
		spec.OS, spec.Arch, spec.Variant = osName, arch, variant
		return newTarget(t, spec, fnArch)
	}
}

var ld102Cases = []checkCase{
	{
		name:   "arm64 image (built on Apple Silicon) on an x86_64 function",
		kind:   catches,
		target: platformTarget("linux", "arm64", "v8", "amd64"),
		verify: expect(Error,
			[]string{"built for linux/arm64/v8 but the function runs on x86_64 (amd64)", "IMAGE Launch error: fork/exec /lambda-entrypoint.sh: exec format error", "Runtime.InvalidEntrypoint"},
			[]string{`config.os="linux"`, `config.architecture="arm64"`, `config.variant="v8"`, "function architecture=x86_64 (amd64)"},
			[]string{"docker buildx build --platform linux/amd64", `set the function's Architectures to ["arm64"]`}),
	},
	{
		name:   "amd64 image on an arm64 function",
		kind:   catches,
		target: platformTarget("linux", "amd64", "", "arm64"),
		verify: expect(Error, []string{"the function runs on arm64:"}, []string{`config.architecture="amd64"`}, []string{"--platform linux/arm64", `["x86_64"]`}),
	},
	{
		name:   "x86_64 spelling of the function architecture",
		kind:   catches,
		target: platformTarget("linux", "arm64", "", "x86_64"),
		verify: expect(Error, []string{"runs on x86_64"}, nil, []string{"--platform linux/amd64"}),
	},
	{
		name:   "32-bit arm image on an arm64 function",
		kind:   catches,
		target: platformTarget("linux", "arm", "v7", "arm64"),
		verify: expect(Error, []string{"linux/arm/v7", "exec format error"}, []string{`config.architecture="arm"`}, []string{"--platform linux/arm64"}),
	},
	{
		name:   "s390x image, function architecture unknown",
		kind:   catches,
		target: platformTarget("linux", "s390x", "", ""),
		verify: expect(Error, []string{"Lambda runs only x86_64 (amd64) and arm64"}, []string{"function architecture: not given"}, []string{"--platform linux/amd64"}),
	},
	{
		name:   "windows image",
		kind:   catches,
		target: platformTarget("windows", "amd64", "", "amd64"),
		verify: expect(Error, []string{`config.os is "windows"`, "only Linux images", "unconfirmed"}, []string{`config.os="windows"`}, []string{"--platform linux/amd64"}),
	},
	{
		name:   "arm64 variant beyond v8",
		kind:   catches,
		target: platformTarget("linux", "arm64", "v9", "arm64"),
		verify: expect(Warning, []string{"variant v9", "illegal instruction"}, []string{`config.variant="v9"`}, []string{"--platform linux/arm64"}),
	},
	{
		name: "no ENTRYPOINT: the symptom names a placeholder",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{Arch: "arm64", Layers: [][]testimage.File{{testimage.Reg("x", 0o644, "")}}}, "amd64")
		},
		verify: expect(Error, []string{"fork/exec <entrypoint>: exec format error"}, nil, nil),
	},
	{
		name:   "index with only an amd64 image, arm64 function",
		kind:   catches,
		target: indexOnlyTarget("arm64", "amd64"),
		verify: expect(Error,
			[]string{"the image index has no linux/arm64 image, the function's architecture (arm64); it has images for linux/amd64.", "exec format error"},
			[]string{"manifest[0] linux/amd64", "manifest[1] unknown/unknown", "(attestation-manifest)", "function architecture=arm64"},
			[]string{"--platform linux/arm64", `set the function's Architectures to ["x86_64"] (and inspect with --arch amd64)`}),
	},
	{
		name:   "index with only an arm64 image, x86_64 function",
		kind:   catches,
		target: indexOnlyTarget("x86_64", "arm64"),
		verify: expect(Error, []string{"no linux/amd64 image", "x86_64 (amd64)", "images for linux/arm64"}, nil, []string{`["arm64"]`}),
	},
	{name: "amd64 image on an x86_64 function", kind: clean, target: platformTarget("linux", "amd64", "", "amd64")},
	{name: "arm64/v8 image on an arm64 function", kind: clean, target: platformTarget("linux", "arm64", "v8", "arm64")},
	{name: "arm64 image without variant on an arm64 function", kind: clean, target: platformTarget("linux", "arm64", "", "arm64")},
	{name: "aarch64 spelling of the function architecture", kind: clean, target: platformTarget("linux", "arm64", "", "aarch64")},
	{name: "arm64 image, function architecture unknown", kind: clean, target: platformTarget("linux", "arm64", "", "")},
}

// indexOnlyTarget is what the pipeline has for an index that lacks the
// function's architecture (source.PlatformMissing): the index, no image.
func indexOnlyTarget(fnArch string, archs ...string) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		idx := &source.Index{Digest: "sha256:" + strings.Repeat("ab", 32), MediaType: string(types.OCIImageIndex), Selected: -1}
		for i, a := range archs {
			idx.Manifests = append(idx.Manifests,
				source.IndexChild{Digest: "sha256:" + strings.Repeat(fmt.Sprint(i), 64), MediaType: string(types.OCIManifestSchema1), Platform: &v1.Platform{OS: "linux", Architecture: a}},
				source.IndexChild{Digest: "sha256:" + strings.Repeat("f", 63) + fmt.Sprint(i), MediaType: string(types.OCIManifestSchema1), Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
					Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}, Attestation: true})
		}
		return &analyze.Target{Image: &source.Image{Ref: "registry:example.com/fn:v1", Source: source.Registry, Index: idx}, Arch: fnArch}
	}
}
