package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
)

// imageIsIndex is LD101: the reference resolves to an image index (a
// multi-platform manifest list, or buildx attestations, or a SOCI index),
// which Lambda rejects at CreateFunction/UpdateFunctionCode.
//
// From a daemon or docker save source the pushed form cannot be seen: the
// check then says so at info severity, so that a clean image stays clean
// at the default fail-on threshold (docs/checks/LD101.md explains why).
type imageIsIndex struct{}

func (imageIsIndex) Meta() Meta {
	return Meta{
		ID:       "LD101",
		Name:     "image-is-index",
		Title:    "image reference resolves to an image index, which Lambda rejects",
		Severity: Error,
		Category: CategoryImage,
	}
}

// The symptom Lambda returns for an index (aws/aws-lambda-roadmap#82).
const indexRejected = `InvalidParameterValueException: The image manifest, config or layer media type for the source image %s is not supported.`

func (c imageIsIndex) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	img := t.Image
	if img == nil {
		return nil, fmt.Errorf("%w: no manifest information was loaded", ErrSkip)
	}
	switch {
	case img.Index != nil:
		return []Finding{c.index(t)}, nil
	case img.PushedFormUnknown:
		// Nothing the user can fix from here: the report says it once,
		// as a note (image.pushedFormUnknown), not as a finding.
		return nil, fmt.Errorf("%w: a %s source holds one image but not the form it will have once pushed (manifest or index); check the registry reference after pushing", ErrSkip, img.Source)
	}
	return nil, nil
}

func (c imageIsIndex) index(t *analyze.Target) Finding {
	img, idx := t.Image, t.Image.Index
	arch := source.NormalizeArch(t.Arch)
	if arch == "" {
		arch = source.NormalizeArch(img.Platform.Architecture)
	}
	if arch != "amd64" && arch != "arm64" {
		arch = "amd64"
	}

	var ev []string
	ev = append(ev, fmt.Sprintf("reference %s resolved to index %s (mediaType %s) with %d manifests", img.Ref, orUnknown(idx.Digest), orUnknown(idx.MediaType), len(idx.Manifests)))
	var images, atts, socis, others int
	var want *source.IndexChild
	for i, ch := range idx.Manifests {
		kind := classifyChild(ch)
		p := ch.Platform
		var what string
		switch kind {
		case childImage:
			images++
			what = "image"
			if _, ok := ch.Annotations["com.amazon.soci.index-digest"]; ok {
				what = "image, SOCI-indexed"
			}
			if i == idx.Selected || (want == nil && p != nil && p.OS == "linux" && source.NormalizeArch(p.Architecture) == arch) {
				want = &idx.Manifests[i]
			}
		case childAttestation:
			atts++
			what = "attestation-manifest"
			if d := ch.Annotations["vnd.docker.reference.digest"]; d != "" {
				what += " for " + d
			}
		case childSOCI:
			socis++
			what = "SOCI index, artifactType " + ch.ArtifactType
		default:
			others++
			what = "non-image artifact"
			if ch.ArtifactType != "" {
				what += ", artifactType " + ch.ArtifactType
			} else {
				what += ", mediaType " + orUnknown(ch.MediaType)
			}
		}
		if i == idx.Selected {
			what += ", selected"
		}
		ev = append(ev, fmt.Sprintf("manifest[%d] %s %s (%s)", i, platformString(p), orUnknown(ch.Digest), what))
	}

	var why []string
	if images > 1 {
		why = append(why, fmt.Sprintf("it holds %d platform images, as a multi-platform build (--platform a,b) pushes them", images))
	}
	if atts > 0 {
		why = append(why, fmt.Sprintf("it holds %d provenance/SBOM attestation manifest(s) (platform unknown/unknown), which docker buildx 0.10+ attaches by default and which wrap even a single-platform build in an index", atts))
	}
	if socis > 0 {
		why = append(why, "it holds a SOCI index (SOCI v2 stores it next to the image in an index); Lambda may report this as \"ERROR: Lambda cannot initialize the provided container image. Verify the image.\" (CodeArtifactUserFailedException)")
	}
	if others > 0 {
		why = append(why, fmt.Sprintf("it holds %d non-image artifact(s)", others))
	}
	if want == nil {
		why = append(why, fmt.Sprintf("it has no linux/%s image, the function's architecture", arch))
	}

	ref, uri := img.Ref, img.Ref
	if img.Source != source.Registry {
		uri = "<uri>" // a file or directory is not what Lambda will name
	}
	msg := fmt.Sprintf("%s is an image index (%s), not a single image manifest. Lambda accepts only an image manifest and rejects the index when the function is created or updated: %q",
		ref, orUnknown(idx.MediaType), fmt.Sprintf(indexRejected, uri))
	if len(why) > 0 {
		msg += " Why it is an index: " + strings.Join(why, "; ") + "."
	}
	sev := Error
	if img.PushedFormUnknown {
		// A docker save of Docker's containerd image store (or a daemon
		// export) that still holds an index: pushed as stored, it stays an
		// index, but the push settings decide.
		sev = Warning
		msg = fmt.Sprintf("%s was read from a %s source and is stored as an image index (%s); pushed as stored (as from Docker's containerd image store) the registry will hold an index, which Lambda rejects: %q",
			ref, img.Source, orUnknown(idx.MediaType), fmt.Sprintf(indexRejected, "<uri>"))
		if len(why) > 0 {
			msg += " Why it is an index: " + strings.Join(why, "; ") + "."
		}
	}

	fixes := []string{fmt.Sprintf("build and push a single image manifest: docker buildx build --platform linux/%s --provenance=false --sbom=false --push -t <repo>:<tag> . (or export BUILDX_NO_DEFAULT_ATTESTATIONS=1)", arch)}
	if socis > 0 {
		fixes = append(fixes, "turn off SOCI index generation for repositories Lambda deploys from")
	}
	if want != nil && img.Source == source.Registry && want.Digest != "" {
		fixes = append(fixes, fmt.Sprintf("deploy the linux/%s image manifest by digest instead of the tag: %s@%s", arch, repoOf(ref), want.Digest))
	}

	f := NewFinding(c.Meta(), msg)
	f.Severity = sev
	f.Evidence = ev
	f.Fix = strings.Join(fixes, "; or ")
	return f
}

// repoOf strips the tag or digest from a registry reference as written.
func repoOf(ref string) string {
	r := strings.TrimPrefix(ref, "docker://")
	if i := strings.Index(r, "@"); i >= 0 {
		r = r[:i]
	}
	if i := strings.LastIndex(r, ":"); i > strings.LastIndex(r, "/") {
		r = r[:i]
	}
	return r
}
