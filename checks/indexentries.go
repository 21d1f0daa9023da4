package checks

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambdoctor/lambdoctor/imagefs/source"
)

// What LD101 (image-is-index) and LD102 (platform-mismatch) both read of an
// image index: the kind of each entry and how to print it.

// childKind classifies an index entry.
type childKind int

const (
	childImage childKind = iota
	childAttestation
	childSOCI
	childArtifact
)

func classifyChild(ch source.IndexChild) childKind {
	switch {
	case ch.Attestation || ch.Annotations["vnd.docker.reference.type"] == "attestation-manifest":
		return childAttestation
	case strings.Contains(strings.ToLower(ch.ArtifactType), "soci"):
		return childSOCI
	}
	// OCI 1.1 lets an index descriptor of an image manifest carry its
	// config media type as artifactType: that is still an image.
	switch types.MediaType(ch.ArtifactType) {
	case "", types.OCIConfigJSON, types.DockerConfigJSON:
	default:
		return childArtifact
	}
	switch types.MediaType(ch.MediaType) {
	case "", types.OCIManifestSchema1, types.DockerManifestSchema2:
		return childImage
	}
	return childArtifact
}

func platformString(p *v1.Platform) string {
	if p == nil || p.String() == "" {
		return "no platform"
	}
	return p.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
