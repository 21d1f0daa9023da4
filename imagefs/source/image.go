// Package source loads container images from the places Lambda users keep
// them: docker save tarballs, OCI layouts (directories and archives), the
// local Docker daemon and registries (with ECR authentication).
package source

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// Kind names where an image was read from.
type Kind string

// The sources lambdoctor reads.
const (
	DockerArchive Kind = "docker-archive"
	OCILayout     Kind = "oci"
	OCIArchive    Kind = "oci-archive"
	Daemon        Kind = "docker"
	Registry      Kind = "registry"
)

// Image is a loaded image: its manifest-level facts, config and layers.
// Nothing in it has been decompressed yet.
type Image struct {
	// Ref is the reference as the user wrote it.
	Ref string
	// Source is where it was read from.
	Source Kind
	// Digest is the digest of the image manifest that was selected, when the
	// source knows it (legacy docker save archives carry none).
	Digest string
	// MediaType of the selected image manifest ("" when the source has no
	// manifest, as in legacy docker save archives).
	MediaType string
	// Platform of the image, from its config (os, architecture, variant).
	Platform v1.Platform
	// Index is set when the reference resolved to an image index (or
	// manifest list) and a child was selected from it.
	Index *Index
	// PushedFormUnknown is true for daemon and docker save sources, where
	// the form the image will have once pushed (index or manifest) cannot
	// be seen.
	PushedFormUnknown bool
	// Config is the image config file; RawConfig its exact bytes.
	Config    *v1.ConfigFile
	RawConfig []byte
	// Manifest is the selected image manifest, nil for legacy docker save
	// archives.
	Manifest *v1.Manifest
	// Layers, base first.
	Layers []imagefs.Layer

	// ImageID is the digest of the config blob: Docker's image ID.
	ImageID string
	// RepoTags are the tags a docker save archive or the daemon records
	// for the image ("hello:latest").
	RepoTags []string
	// RepoDigests are the registry digests the daemon knows for the image
	// ("repo@sha256:..."): the form it had when pulled or pushed.
	RepoDigests []string

	cleanup func() error
}

// Index describes the image index a reference resolved to.
type Index struct {
	Digest    string
	MediaType string
	// Manifests are the index's children, in index order.
	Manifests []IndexChild
	// Selected is the position in Manifests of the image that was loaded.
	Selected int
}

// IndexChild is one entry of an image index.
type IndexChild struct {
	Digest       string
	MediaType    string
	ArtifactType string
	Platform     *v1.Platform
	Annotations  map[string]string
	// Attestation is true for buildx provenance/SBOM attestation manifests
	// (annotation vnd.docker.reference.type=attestation-manifest).
	Attestation bool
}

// Close releases what the source holds (open archives, temp files). It is
// safe to call more than once.
func (i *Image) Close() error {
	if i == nil || i.cleanup == nil {
		return nil
	}
	cleanup := i.cleanup
	i.cleanup = nil
	return cleanup()
}

// StableName is how reports identify the image at ref, read from kind,
// across builds: the reference without its tag or digest for a daemon or
// registry image ("docker:fn" for "docker:fn:sha-1a2b", "registry:
// 123.dkr.ecr.us-east-1.amazonaws.com/fn" for its ":v2" or "@sha256:…"),
// and the path as given for a file or directory, whose name the build
// does not change. CI tags images with the commit, so a name that kept the
// tag would make every build's results look new.
func StableName(ref string, kind Kind) string {
	if kind != Daemon && kind != Registry {
		return ref
	}
	prefix := ""
	for _, p := range []string{prefixDocker, prefixRegistry} {
		if strings.HasPrefix(ref, p) {
			prefix, ref = p, strings.TrimPrefix(ref, p)
		}
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	// A tag follows the last ':' after the last '/' (a ':' before it is
	// a registry's port).
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return prefix + ref
}
