package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// publishImage pushes the multi-arch index of the layout in dir to
// repo:VERSION, VERSION being the name the layout gives it. The index
// itself is pushed, not the layout's index.json (which only lists it):
// `crane push --index` of the layout would push that outer list, an index
// whose one entry is another index and which no platform resolves in.
// Credentials come from the Docker config and its helpers
// (authn.DefaultKeychain), as for `docker push`.
func publishImage(ctx context.Context, dir, repo string, opts ...name.Option) (name.Tag, v1.Hash, error) {
	p, err := layout.FromPath(filepath.Join(dir, imageDir))
	if err != nil {
		return name.Tag{}, v1.Hash{}, fmt.Errorf("reading the image layout (run make release first): %w", err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return name.Tag{}, v1.Hash{}, err
	}
	tm, err := top.IndexManifest()
	if err != nil {
		return name.Tag{}, v1.Hash{}, err
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex || tm.Manifests[0].Annotations[refNameAnnotation] == "" {
		return name.Tag{}, v1.Hash{}, fmt.Errorf("%s/index.json does not list one named image index, as internal/release writes it", imageDir)
	}
	d := tm.Manifests[0]
	idx, err := top.ImageIndex(d.Digest)
	if err != nil {
		return name.Tag{}, v1.Hash{}, err
	}
	r, err := name.NewRepository(repo, opts...)
	if err != nil {
		return name.Tag{}, v1.Hash{}, fmt.Errorf("-publish-image %q: %w", repo, err)
	}
	tag := r.Tag(d.Annotations[refNameAnnotation])
	if err := remote.WriteIndex(tag, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return name.Tag{}, v1.Hash{}, fmt.Errorf("pushing %s: %w", tag, err)
	}
	return tag, d.Digest, nil
}
