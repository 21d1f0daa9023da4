package checks

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
)

const (
	digestAMD64 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digestARM64 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	digestAtt   = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	digestSOCI  = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
	digestIndex = "sha256:5555555555555555555555555555555555555555555555555555555555555555"
)

func imageChild(digest, arch string) source.IndexChild {
	return source.IndexChild{Digest: digest, MediaType: string(types.OCIManifestSchema1), Platform: &v1.Platform{OS: "linux", Architecture: arch}}
}

// attestationChild is what buildx 0.10+ adds by default.
func attestationChild(forDigest string) source.IndexChild {
	return source.IndexChild{
		Digest:    digestAtt,
		MediaType: string(types.OCIManifestSchema1),
		Platform:  &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{
			"vnd.docker.reference.type":   "attestation-manifest",
			"vnd.docker.reference.digest": forDigest,
		},
		Attestation: true,
	}
}

// indexTarget is the AWS base image loaded through an index with the
// given children (the first is selected).
func indexTarget(t *testing.T, kind source.Kind, pushedFormUnknown bool, children ...source.IndexChild) *analyze.Target {
	t.Helper()
	si := fixtures.NewImage(t, fixtures.AWSBaseSpec())
	si.Source = kind
	si.PushedFormUnknown = pushedFormUnknown
	si.Index = &source.Index{Digest: digestIndex, MediaType: string(types.OCIImageIndex), Manifests: children, Selected: 0}
	return newTargetFrom(t, si, "amd64")
}

var ld101Cases = []checkCase{
	{
		name: "buildx default attestations wrap a single-platform push in an index",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return indexTarget(t, source.Registry, false, imageChild(digestAMD64, "amd64"), attestationChild(digestAMD64))
		},
		verify: expect(Error,
			[]string{fixtures.TestRef + " is an image index", "The image manifest, config or layer media type for the source image " + fixtures.TestRef + " is not supported.", "attestation"},
			[]string{"manifest[0] linux/amd64 " + digestAMD64 + " (image, selected)", "manifest[1] unknown/unknown " + digestAtt + " (attestation-manifest for " + digestAMD64 + ")"},
			[]string{"--provenance=false --sbom=false", "--platform linux/amd64", "BUILDX_NO_DEFAULT_ATTESTATIONS=1", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@" + digestAMD64}),
	},
	{
		name: "multi-platform push",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return indexTarget(t, source.Registry, false, imageChild(digestAMD64, "amd64"), imageChild(digestARM64, "arm64"))
		},
		verify: expect(Error,
			[]string{"2 platform images"},
			[]string{"manifest[1] linux/arm64 " + digestARM64 + " (image)"},
			[]string{"--platform linux/amd64", "app@" + digestAMD64}),
	},
	{
		name: "SOCI v2 index next to the image",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			img := imageChild(digestAMD64, "amd64")
			img.Annotations = map[string]string{"com.amazon.soci.index-digest": digestSOCI}
			soci := source.IndexChild{Digest: digestSOCI, MediaType: string(types.OCIManifestSchema1), ArtifactType: "application/vnd.amazon.soci.index.v2+json"}
			return indexTarget(t, source.Registry, false, img, soci)
		},
		verify: expect(Error,
			[]string{"SOCI", "Lambda cannot initialize the provided container image. Verify the image."},
			[]string{"SOCI index, artifactType application/vnd.amazon.soci.index.v2+json", "image, SOCI-indexed"},
			[]string{"SOCI"}),
	},
	{
		name: "OCI layout holding an index: no digest to deploy",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return indexTarget(t, source.OCILayout, false, imageChild(digestAMD64, "amd64"), attestationChild(digestAMD64))
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error, nil, nil, []string{"--provenance=false"})(t, fs)
			if fix := fs[0].Fix; strings.Contains(fix, "@sha256") {
				t.Errorf("fix offers a registry digest for a layout: %s", fix)
			}
		},
	},
	{
		// OCI 1.1: an image manifest's descriptor may carry its config media
		// type as artifactType (buildkit's OCI exports do).
		name: "OCI archive from buildx: image child with artifactType = config media type",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			img := imageChild(digestAMD64, "amd64")
			img.ArtifactType = string(types.OCIConfigJSON)
			return indexTarget(t, source.OCIArchive, false, img, attestationChild(digestAMD64))
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error, []string{"for the source image <uri> is not supported"}, []string{"manifest[0] linux/amd64 " + digestAMD64 + " (image, selected)"}, nil)(t, fs)
			if m := fs[0].Message; strings.Contains(m, "non-image") || strings.Contains(m, "has no linux/amd64 image") {
				t.Errorf("the image child was taken for an artifact: %s", m)
			}
		},
	},
	{
		name: "docker save of the containerd image store still holding an index",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return indexTarget(t, source.DockerArchive, true, imageChild(digestAMD64, "amd64"), attestationChild(digestAMD64))
		},
		verify: expect(Warning, []string{"pushed as stored"}, []string{"attestation-manifest"}, []string{"--provenance=false"}),
	},
	{
		name:   "registry image manifest",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSBaseSpec(), "amd64") },
	},
	{
		name: "OCI layout image manifest",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			si := fixtures.NewImage(t, fixtures.AWSBaseSpec())
			si.Source = source.OCILayout
			return newTargetFrom(t, si, "amd64")
		},
	},
}

func TestRepoOf(t *testing.T) {
	for in, want := range map[string]string{
		"123.dkr.ecr.us-east-1.amazonaws.com/app:latest":                 "123.dkr.ecr.us-east-1.amazonaws.com/app",
		"123.dkr.ecr.us-east-1.amazonaws.com/app@" + digestAMD64:         "123.dkr.ecr.us-east-1.amazonaws.com/app",
		"localhost:5000/team/app:v1@" + digestAMD64:                      "localhost:5000/team/app",
		"localhost:5000/team/app":                                        "localhost:5000/team/app",
		"docker://public.ecr.aws/lambda/python:3.12":                     "public.ecr.aws/lambda/python",
		"123.dkr.ecr.us-east-1.amazonaws.com/app/with/path:2024-01-01.1": "123.dkr.ecr.us-east-1.amazonaws.com/app/with/path",
	} {
		if got := repoOf(in); got != want {
			t.Errorf("repoOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLD101PushedFormUnknown: a daemon image's pushed form cannot be seen;
// the check skips, saying so, instead of reporting what the user cannot
// fix from here (the report carries image.pushedFormUnknown instead).
func TestLD101PushedFormUnknown(t *testing.T) {
	si := fixtures.NewImage(t, fixtures.AWSBaseSpec())
	si.Source, si.PushedFormUnknown = source.Daemon, true
	res := runOne(context.Background(), imageIsIndex{}, newTargetFrom(t, si, "arm64"))
	if res.Status != StatusSkipped || len(res.Findings) != 0 || !strings.Contains(res.Err, "not the form it will have once pushed") {
		t.Fatalf("status %s, %d findings, %q; want skipped, saying why", res.Status, len(res.Findings), res.Err)
	}
}
