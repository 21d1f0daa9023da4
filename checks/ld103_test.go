package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
)

// mediaTarget is the AWS base image example with edit applied to the loaded
// image before its filesystem is built.
func mediaTarget(edit func(si *source.Image)) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		si := fixtures.NewImage(t, fixtures.AWSBaseSpec())
		if edit != nil {
			edit(si)
		}
		return newTargetFrom(t, si, "amd64")
	}
}

// setLayerType sets layer i's media type in both the manifest and the
// layer list, as a source would read it.
func setLayerType(si *source.Image, i int, mt string) {
	m := *si.Manifest
	m.Layers = append([]v1.Descriptor(nil), m.Layers...)
	m.Layers[i].MediaType = types.MediaType(mt)
	si.Manifest = &m
	si.Layers[i].MediaType = mt
}

var ld103Cases = []checkCase{
	{
		name:   "Docker v2 schema 1 manifest",
		kind:   catches,
		target: mediaTarget(func(si *source.Image) { si.MediaType = dockerManifestSchema1Sign }),
		verify: expect(Error,
			[]string{`"application/vnd.docker.distribution.manifest.v1+prettyjws"`, "schema 1", "The image manifest, config or layer media type for the source image " + fixtures.TestRef + " is not supported."},
			[]string{`manifest.mediaType="application/vnd.docker.distribution.manifest.v1+prettyjws"`},
			[]string{"docker buildx build"}),
	},
	{
		name: "artifact config media type",
		kind: catches,
		target: mediaTarget(func(si *source.Image) {
			m := *si.Manifest
			m.Config.MediaType = "application/vnd.cncf.helm.config.v1+json"
			si.Manifest = &m
		}),
		verify: expect(Error, []string{`"application/vnd.cncf.helm.config.v1+json"`, "not a runnable image"}, []string{"manifest.config.mediaType="}, nil),
	},
	{
		name:   "zstd layer is unverified",
		kind:   catches,
		target: mediaTarget(func(si *source.Image) { setLayerType(si, 1, ociLayerZstd) }),
		verify: func(t *testing.T, fs []Finding) {
			expect(Warning, []string{"zstd-compressed", "unverified", "layer 1 (COPY app.py /var/task/)"},
				[]string{`layer 1 (COPY app.py /var/task/): mediaType="application/vnd.oci.image.layer.v1.tar+zstd"`},
				[]string{"compression=gzip"})(t, fs)
			if fs[0].Layer == nil || fs[0].Layer.Index != 1 {
				t.Errorf("layer %+v, want 1", fs[0].Layer)
			}
		},
	},
	{
		name:   "foreign layer",
		kind:   catches,
		target: mediaTarget(func(si *source.Image) { setLayerType(si, 0, string(types.DockerForeignLayer)) }),
		verify: expect(Warning, []string{"foreign or non-distributable", "UnsupportedImageLayerDetected", "unconfirmed"}, []string{"rootfs.foreign.diff.tar.gzip"}, nil),
	},
	{
		name:   "unknown layer media type in a registry",
		kind:   catches,
		target: mediaTarget(func(si *source.Image) { setLayerType(si, 1, "application/octet-stream") }),
		verify: expect(Error, []string{`"application/octet-stream"`, "is not supported"}, nil, nil),
	},
	{
		name: "more history entries than layers",
		kind: catches,
		target: mediaTarget(func(si *source.Image) {
			si.Config.History = append(si.Config.History, v1.History{CreatedBy: "COPY extra /"})
		}),
		verify: expect(Warning, []string{"3 non-empty entries for 2 layers", "rules_oci#645", "unconfirmed"}, []string{"config.history: 3 entries"}, nil),
	},
	{
		// The classic builder on an AWS base image: history only for the
		// user's layer. Known to run, so only info.
		name: "base layers without history is info only",
		kind: catches,
		target: mediaTarget(func(si *source.Image) {
			si.Config.History = si.Config.History[1:]
		}),
		verify: expect(Info, []string{"1 non-empty entries for 2 layers", "known to run"}, nil, nil),
	},
	{
		name:   "good Docker v2 schema 2 image",
		kind:   clean,
		target: mediaTarget(nil),
	},
	{
		name: "good OCI image",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AWSBaseSpec()
			spec.OCI = true
			return newTarget(t, spec, "amd64")
		},
	},
	{
		name:   "AWS base image as published: no history at all",
		kind:   clean,
		target: mediaTarget(func(si *source.Image) { si.Config.History = nil }),
	},
	{
		name: "OCI uncompressed layer in a registry: info",
		kind: catches,
		target: mediaTarget(func(si *source.Image) {
			si.MediaType = string(types.OCIManifestSchema1)
			setLayerType(si, 1, string(types.OCIUncompressedLayer))
		}),
		verify: expect(Info, []string{"uncompressed", "rules_oci#777", "unconfirmed"}, nil, nil),
	},
	{
		name: "legacy docker save: no manifest, uncompressed layers",
		kind: clean,
		target: mediaTarget(func(si *source.Image) {
			si.Source = source.DockerArchive
			si.PushedFormUnknown = true
			si.Manifest = nil
			si.MediaType = ""
			for i := range si.Layers {
				si.Layers[i].MediaType = string(types.DockerUncompressedLayer)
			}
		}),
	},
}
