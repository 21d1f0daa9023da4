package source

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations buildx puts on attestation manifests in an image index.
const (
	annotationRefType     = "vnd.docker.reference.type"
	annotationRefDigest   = "vnd.docker.reference.digest"
	attestationManifest   = "attestation-manifest"
	annotationOCIRefName  = "org.opencontainers.image.ref.name"
	annotationContainerdN = "io.containerd.image.name"
)

// newIndex records an index manifest and its children.
func newIndex(digest string, mt types.MediaType, im *v1.IndexManifest) *Index {
	if mt == "" {
		mt = im.MediaType
	}
	idx := &Index{Digest: digest, MediaType: string(mt), Selected: -1}
	for _, d := range im.Manifests {
		idx.Manifests = append(idx.Manifests, IndexChild{
			Digest:       d.Digest.String(),
			MediaType:    string(d.MediaType),
			ArtifactType: d.ArtifactType,
			Platform:     d.Platform,
			Annotations:  d.Annotations,
			Attestation:  d.Annotations[annotationRefType] == attestationManifest,
		})
	}
	return idx
}

// defaultArch is the architecture selected when Options.Arch is empty:
// Lambda's default, x86_64.
const defaultArch = "amd64"

// NormalizeArch maps Lambda's names for architectures (x86_64, arm64) and
// uname's (aarch64) to Go/OCI ones, in lower case; other names pass through.
func NormalizeArch(arch string) string {
	switch arch = strings.ToLower(strings.TrimSpace(arch)); arch {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	}
	return arch
}

// ParseFunctionArch reads a Lambda function architecture in any of its
// spellings and returns "amd64" or "arm64".
func ParseFunctionArch(s string) (string, error) {
	switch a := NormalizeArch(s); a {
	case "amd64", "arm64":
		return a, nil
	}
	return "", fmt.Errorf("unknown arch %q (Lambda runs amd64 (x86_64) or arm64)", s)
}

// platformMatches reports whether p is linux/arch (arm64 with variant v8 or
// none).
func platformMatches(p *v1.Platform, arch string) bool {
	if p == nil || p.OS != "linux" || p.Architecture != arch {
		return false
	}
	if arch == "arm64" {
		return p.Variant == "" || p.Variant == "v8"
	}
	return true
}

// selectPlatform picks the child for linux/arch, skipping attestations and
// unknown/unknown entries, records it in Selected and returns its position.
func (x *Index) selectPlatform(arch string) (int, error) {
	if arch = NormalizeArch(arch); arch == "" {
		arch = defaultArch
	}
	for i, c := range x.Manifests {
		if c.Attestation || !types.MediaType(c.MediaType).IsImage() {
			continue
		}
		if platformMatches(c.Platform, arch) {
			x.Selected = i
			return i, nil
		}
	}
	what := "index"
	if x.Digest != "" {
		what = "index " + x.Digest
	}
	return -1, &LoadError{Kind: PlatformNotFound, Err: fmt.Errorf("%s has no linux/%s image; it has: %s", what, arch, x.platforms()), Index: x}
}

// platforms lists the children as os/arch[/variant], marking attestations.
func (x *Index) platforms() string {
	if len(x.Manifests) == 0 {
		return "no manifests"
	}
	var parts []string
	for _, c := range x.Manifests {
		s := platformString(c.Platform)
		if c.Attestation {
			s += " (attestation)"
		} else if !types.MediaType(c.MediaType).IsImage() {
			s += " (" + c.MediaType + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// platformString formats p as os/arch[/variant], "unknown" when absent.
func platformString(p *v1.Platform) string {
	if p == nil {
		return "no platform"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// hasPlatforms reports whether any child declares a platform.
func (x *Index) hasPlatforms() bool {
	for _, c := range x.Manifests {
		if c.Platform != nil {
			return true
		}
	}
	return false
}
