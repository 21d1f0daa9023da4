package checks

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/lambdoctor/lambdoctor/analyze"
)

// unsupportedMediaType is LD103: the image manifest, its config or a layer
// has a media type Lambda does not accept (Docker v2 schema 1, a foreign or
// non-distributable layer, an unknown type), a zstd layer (unverified), or
// the manifest and config disagree (layer, diff_id and history counts).
type unsupportedMediaType struct{}

func (unsupportedMediaType) Meta() Meta {
	return Meta{
		ID:       "LD103",
		Name:     "unsupported-media-type",
		Title:    "manifest, config or layer media type that Lambda does not accept",
		Severity: Error,
		Category: CategoryImage,
	}
}

// mediaTypeRejected is the text Lambda returns for a media type it does not
// support (Lambda's CreateFunction error; the supported media types are in
// https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).
const mediaTypeRejected = `InvalidParameterValueException: The image manifest, config or layer media type for the source image %s is not supported.`

// Media types the ggcr types package does not name.
const (
	ociLayerZstd              = "application/vnd.oci.image.layer.v1.tar+zstd"
	ociNondistributable       = "application/vnd.oci.image.layer.nondistributable.v1.tar"
	ociNondistributableGzip   = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	ociNondistributableZstd   = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
	dockerManifestSchema1     = "application/vnd.docker.distribution.manifest.v1+json"
	dockerManifestSchema1Sign = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// layerClass says what Lambda is known to do with a layer media type.
type layerClass int

const (
	layerAccepted layerClass = iota
	layerZstd
	layerForeign
	layerUnknown
)

func classifyLayerMediaType(mt string, pushedFormUnknown bool) layerClass {
	switch mt {
	case string(types.DockerLayer), string(types.OCILayer), string(types.OCIUncompressedLayer):
		return layerAccepted
	case string(types.DockerUncompressedLayer), "":
		// Local stores (docker save, the daemon) hold layers this way; a
		// push writes gzip layers.
		if pushedFormUnknown {
			return layerAccepted
		}
		return layerUnknown
	case ociLayerZstd:
		return layerZstd
	case string(types.DockerForeignLayer), ociNondistributable, ociNondistributableGzip, ociNondistributableZstd:
		return layerForeign
	}
	return layerUnknown
}

func (c unsupportedMediaType) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	img := t.Image
	if img == nil || img.Config == nil {
		return nil, fmt.Errorf("%w: no manifest or config was loaded", ErrSkip)
	}
	ref := img.Ref
	if ref == "" {
		ref = "<image>"
	}
	rejected := fmt.Sprintf(mediaTypeRejected, ref)
	// local notes that a local store's form may change on push.
	local := ""
	if img.PushedFormUnknown {
		local = " This image was read from a local store (daemon or docker save), whose media types may change when it is pushed; check the pushed image with --ref."
	}
	capSev := func(s Severity) Severity {
		if img.PushedFormUnknown && s > Warning {
			return Warning
		}
		return s
	}
	var out []Finding

	if m := img.Manifest; m != nil {
		// The image manifest itself.
		mt := img.MediaType
		switch mt {
		case string(types.DockerManifestSchema2), string(types.OCIManifestSchema1):
		case "":
			// An OCI manifest may omit mediaType (image-spec before 1.0.2).
			// Nothing says Lambda refuses that; leave it.
		default:
			what := "an unknown manifest media type"
			if mt == dockerManifestSchema1 || mt == dockerManifestSchema1Sign {
				what = "Docker Image Manifest V2 schema 1, a format Docker deprecated and Lambda does not list"
			}
			f := NewFinding(c.Meta(), fmt.Sprintf("The image manifest has media type %s, %s; Lambda accepts only Docker Image Manifest V2 schema 2 (application/vnd.docker.distribution.manifest.v2+json) and OCI image manifests (application/vnd.oci.image.manifest.v1+json), and CreateFunction fails with %q.%s", analyze.QuoteJSON(mt), what, rejected, local))
			f.Severity = capSev(Error)
			f.Evidence = []string{"manifest.mediaType=" + analyze.QuoteJSON(mt), "manifest digest " + img.Digest}
			f.Fix = "re-push the image with a current Docker or buildx (docker buildx build --platform linux/amd64 --provenance=false --push -t <repo>:<tag> .), which writes a schema 2 or OCI manifest"
			out = append(out, f)
		}

		// The config blob.
		switch cmt := string(m.Config.MediaType); cmt {
		case string(types.DockerConfigJSON), string(types.OCIConfigJSON):
		default:
			f := NewFinding(c.Meta(), fmt.Sprintf("The manifest's config has media type %s; an image config must be application/vnd.docker.container.image.v1+json or application/vnd.oci.image.config.v1+json (another type marks an OCI artifact, not a runnable image), and Lambda rejects it with %q.%s", analyze.QuoteJSON(cmt), rejected, local))
			f.Severity = capSev(Error)
			f.Evidence = []string{"manifest.config.mediaType=" + analyze.QuoteJSON(cmt), "manifest.config.digest=" + m.Config.Digest.String()}
			f.Fix = "push a container image built by docker build / buildx (or crane/ko/rules_oci image rules), not an artifact: docker buildx build --platform linux/amd64 --provenance=false --push -t <repo>:<tag> ."
			out = append(out, f)
		}
	}

	// Layer media types, grouped by class.
	var zstd, foreign, unknown, plain []int
	var layers = t.Image.Layers
	for i, l := range layers {
		if l.MediaType == string(types.OCIUncompressedLayer) && !img.PushedFormUnknown {
			plain = append(plain, i)
		}
		switch classifyLayerMediaType(l.MediaType, img.PushedFormUnknown || img.Manifest == nil) {
		case layerZstd:
			zstd = append(zstd, i)
		case layerForeign:
			foreign = append(foreign, i)
		case layerUnknown:
			unknown = append(unknown, i)
		}
	}
	layerEvidence := func(idx []int) []string {
		var ev []string
		for n, i := range idx {
			if n == 10 {
				ev = append(ev, fmt.Sprintf("… and %d more layers", len(idx)-10))
				break
			}
			l := layers[i]
			ev = append(ev, fmt.Sprintf("%s: mediaType=%s, digest %s", t.LayerLabel(i), analyze.QuoteJSON(l.MediaType), l.Digest))
		}
		return ev
	}
	layerFinding := func(idx []int, sev Severity, msg, fix string) {
		f := NewFinding(c.Meta(), msg+local)
		f.Severity = capSev(sev)
		f.Layer = layerRef(t, idx[0])
		f.Evidence = layerEvidence(idx)
		f.Fix = fix
		out = append(out, f)
	}
	if len(unknown) > 0 {
		layerFinding(unknown, Error,
			fmt.Sprintf("%d layer(s) have a media type that is not a container image layer Lambda accepts (application/vnd.docker.image.rootfs.diff.tar.gzip, application/vnd.oci.image.layer.v1.tar or application/vnd.oci.image.layer.v1.tar+gzip), the first %s in %s; Lambda rejects the image with %q.", len(unknown), analyze.QuoteJSON(layers[unknown[0]].MediaType), t.LayerLabel(unknown[0]), rejected),
			"rebuild and push with docker buildx build --platform linux/amd64 --provenance=false --output type=image,compression=gzip,force-compression=true,push=true -t <repo>:<tag> .")
	}
	if len(foreign) > 0 {
		layerFinding(foreign, Warning,
			fmt.Sprintf("%d layer(s) are foreign or non-distributable (%s in %s): their blobs are meant to be fetched from elsewhere rather than stored in the repository, and they are not among the layer types Lambda is known to accept; Lambda may refuse the image (\"ImageLayerFailure: UnsupportedImageLayerDetected\" or the media-type error; which one is unconfirmed).", len(foreign), analyze.QuoteJSON(layers[foreign[0]].MediaType), t.LayerLabel(foreign[0])),
			"push the layers as ordinary gzip layers: docker buildx build --platform linux/amd64 --provenance=false --output type=image,compression=gzip,force-compression=true,push=true -t <repo>:<tag> . (or crane/skopeo copy with foreign layers allowed)")
	}
	if len(zstd) > 0 {
		layerFinding(zstd, Warning,
			fmt.Sprintf("%d layer(s) are zstd-compressed (application/vnd.oci.image.layer.v1.tar+zstd), the first in %s; whether Lambda accepts zstd layers is unverified (no AWS statement either way), so CreateFunction may fail with %q.", len(zstd), t.LayerLabel(zstd[0]), rejected),
			"push gzip layers: docker buildx build --platform linux/amd64 --provenance=false --output type=image,compression=gzip,force-compression=true,push=true -t <repo>:<tag> .")
	}

	if len(plain) > 0 {
		layerFinding(plain, Info,
			fmt.Sprintf("%d layer(s) are uncompressed (application/vnd.oci.image.layer.v1.tar), the first in %s. The media type is valid, but an image pushed by rules_oci's oci_push was rejected with \"ImageLayerFailure: UnsupportedImageLayerDetected\" on its first own layer while the same image re-pushed by docker worked (bazel-contrib/rules_oci#777; the cause, possibly uncompressed layers, is unconfirmed).", len(plain), t.LayerLabel(plain[0])),
			"if Lambda reports UnsupportedImageLayerDetected, push gzip layers (load the image and docker push it, or docker buildx build --output type=image,compression=gzip,force-compression=true,push=true)")
	}

	// Manifest / config consistency (the OCI image spec: one diff_id per layer).
	cf := img.Config
	if m := img.Manifest; m != nil && len(m.Layers) != len(cf.RootFS.DiffIDs) {
		f := NewFinding(c.Meta(), fmt.Sprintf("The manifest lists %d layers but the config's rootfs.diff_ids lists %d; the image is inconsistent and Lambda cannot unpack it as described (reported as \"ImageLayerFailure: UnsupportedImageLayerDetected\" in similar cases; the exact text for this case is unconfirmed).", len(m.Layers), len(cf.RootFS.DiffIDs)))
		f.Severity = capSev(Error)
		f.Evidence = []string{fmt.Sprintf("manifest.layers: %d entries", len(m.Layers)), fmt.Sprintf("config.rootfs.diff_ids: %d entries", len(cf.RootFS.DiffIDs))}
		f.Fix = "rebuild and re-push the image with docker buildx build (or re-copy it with crane copy / skopeo copy), which writes consistent manifests"
		out = append(out, f)
	}
	nonEmpty := 0
	for _, h := range cf.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if n := len(layers); nonEmpty > 0 && nonEmpty != n {
		sev := Info
		relation := "fewer"
		if nonEmpty > n {
			sev, relation = Warning, "more"
		}
		f := NewFinding(c.Meta(), fmt.Sprintf("The config history has %d non-empty entries for %d layers (%s history than layers). Lambda rejected images whose layers had no history entries with \"InvalidImage(ImageLayerFailure: UnsupportedImageLayerDetected - Layer Digest sha256:…)\" (bazel-contrib/rules_oci#645; root cause unconfirmed), but images whose base layers have no history (AWS base images have none at all, and the classic docker builder keeps only its own lines) are known to run; lambdoctor cannot tell which case this is.", nonEmpty, n, relation))
		f.Severity = capSev(sev)
		f.Evidence = []string{fmt.Sprintf("config.history: %d entries, %d with empty_layer unset", len(cf.History), nonEmpty), fmt.Sprintf("layers: %d", n)}
		f.Fix = "if Lambda reports UnsupportedImageLayerDetected, rebuild with docker buildx build (which writes a history entry per layer) or load and re-push the image with docker (oci_load, then docker push)"
		out = append(out, f)
	}
	return out, nil
}
