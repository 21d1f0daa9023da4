package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// selector picks an image inside an archive or layout: a tag
// (org.opencontainers.image.ref.name, or a docker save RepoTag) or a
// manifest digest.
type selector struct {
	tag    string
	digest v1.Hash
}

func (s selector) String() string {
	switch {
	case s.digest != (v1.Hash{}):
		return "@" + s.digest.String()
	case s.tag != "":
		return ":" + s.tag
	}
	return ""
}

// isLayoutDir reports whether dir looks like an OCI image layout.
func isLayoutDir(dir string) bool {
	for _, f := range []string{"oci-layout", "index.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// loadLayoutDir loads an image from an OCI layout directory.
func loadLayoutDir(dir string, sel selector, arch string) (*Image, error) {
	if !isLayoutDir(dir) {
		return nil, errorf(NotAnImage, "%s is a directory but not an OCI image layout (no oci-layout or index.json)", dir)
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(Corrupt, "OCI layout %s has no index.json", dir)
		}
		return nil, errorf(Corrupt, "reading %s: %v", filepath.Join(dir, "index.json"), err)
	}
	img, idx, err := resolveLayout(top, sel, arch, dir)
	if err != nil {
		return nil, err
	}
	check := func(d v1.Descriptor) error {
		p := filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex)
		fi, err := os.Stat(p)
		if err != nil {
			return errorf(Corrupt, "blob %s is missing from the layout", d.Digest)
		}
		if d.Size > 0 && fi.Size() != d.Size {
			return errorf(Corrupt, "blob %s is %d bytes, the manifest says %d (truncated?)", d.Digest, fi.Size(), d.Size)
		}
		return nil
	}
	out, err := fromV1(OCILayout, img, check)
	if err != nil {
		return nil, err
	}
	out.Index = idx
	return out, nil
}

// loadLayoutArchive loads an image from an OCI layout packed in a tar.
func loadLayoutArchive(tf *tarFile, sel selector, arch, where string, kind Kind) (*Image, error) {
	raw, err := tf.readFile("index.json")
	if err != nil {
		return nil, reclassify(Corrupt, err, "reading index.json")
	}
	top := &archiveIndex{tf: tf, mt: types.OCIImageIndex, raw: raw}
	img, idx, err := resolveLayout(top, sel, arch, where)
	if err != nil {
		return nil, err
	}
	out, err := fromV1(kind, img, tf.checkBlob)
	if err != nil {
		return nil, err
	}
	out.Index = idx
	return out, nil
}

// resolveLayout finds the image a selector names in a layout's index.json.
// When the selected entry is an image index, its children are recorded and
// the one for linux/arch is returned. where names the layout in errors.
func resolveLayout(top v1.ImageIndex, sel selector, arch, where string) (v1.Image, *Index, error) {
	im, err := top.IndexManifest()
	if err != nil {
		return nil, nil, errorf(Corrupt, "parsing index.json of %s: %v", where, err)
	}
	if len(im.Manifests) == 0 {
		return nil, nil, errorf(NotFound, "OCI layout %s holds no images (index.json is empty)", where)
	}
	parent := top
	var desc v1.Descriptor
	switch {
	case sel.digest != (v1.Hash{}):
		p, d, ok, err := findDigest(top, sel.digest, 3)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, errorf(NotFound, "no manifest %s in OCI layout %s", sel.digest, where)
		}
		parent, desc = p, d
	case sel.tag != "":
		found := false
		for _, d := range im.Manifests {
			if tagMatches(d.Annotations, sel.tag) {
				desc, found = d, true
				break
			}
		}
		if !found {
			return nil, nil, errorf(NotFound, "tag %q not found in OCI layout %s (it has: %s)", sel.tag, where, refNames(im))
		}
	case len(im.Manifests) == 1:
		desc = im.Manifests[0]
	default:
		// index.json itself lists several images: treat it as the index.
		digest, _ := top.Digest()
		idx := newIndex(digest.String(), types.OCIImageIndex, im)
		if !idx.hasPlatforms() {
			return nil, nil, errorf(Usage, "OCI layout %s holds %d images: name one as :TAG or @sha256:... (it has: %s)",
				where, len(im.Manifests), refNames(im))
		}
		i, err := idx.selectPlatform(arch)
		if err != nil {
			return nil, nil, err
		}
		img, err := top.Image(im.Manifests[i].Digest)
		if err != nil {
			return nil, nil, v1Error(err, "reading image %s", im.Manifests[i].Digest)
		}
		return img, idx, nil
	}
	switch {
	case desc.MediaType.IsIndex():
		child, err := parent.ImageIndex(desc.Digest)
		if err != nil {
			return nil, nil, v1Error(err, "reading index %s", desc.Digest)
		}
		cim, err := child.IndexManifest()
		if err != nil {
			return nil, nil, v1Error(err, "parsing index %s", desc.Digest)
		}
		idx := newIndex(desc.Digest.String(), desc.MediaType, cim)
		i, err := idx.selectPlatform(arch)
		if err != nil {
			return nil, nil, err
		}
		img, err := child.Image(cim.Manifests[i].Digest)
		if err != nil {
			return nil, nil, v1Error(err, "reading image %s", cim.Manifests[i].Digest)
		}
		return img, idx, nil
	case desc.MediaType.IsImage():
		img, err := parent.Image(desc.Digest)
		if err != nil {
			return nil, nil, v1Error(err, "reading image %s", desc.Digest)
		}
		return img, nil, nil
	default:
		return nil, nil, errorf(NotAnImage, "%s in %s has media type %q, not an image or index", desc.Digest, where, desc.MediaType)
	}
}

// findDigest looks for h among the descriptors of idx and, depth levels
// down, of its child indexes; it returns the index holding it.
func findDigest(idx v1.ImageIndex, h v1.Hash, depth int) (v1.ImageIndex, v1.Descriptor, bool, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, false, v1Error(err, "parsing index")
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return idx, d, true, nil
		}
	}
	if depth == 0 {
		return nil, v1.Descriptor{}, false, nil
	}
	for _, d := range im.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			continue // absent child indexes are common in docker save output
		}
		if p, cd, ok, err := findDigest(child, h, depth-1); ok || err != nil {
			return p, cd, ok, err
		}
	}
	return nil, v1.Descriptor{}, false, nil
}

// tagMatches reports whether a layout entry's annotations name tag: the
// OCI ref.name ("latest", or a full reference for some tools) or the
// containerd image name (docker save of Docker ≥ 25).
func tagMatches(ann map[string]string, tag string) bool {
	if ann == nil {
		return false
	}
	if ann[annotationOCIRefName] == tag {
		return true
	}
	want := normalizeTag(tag)
	for _, k := range []string{annotationOCIRefName, annotationContainerdN} {
		if v := ann[k]; v != "" && strings.ContainsAny(v, ":/") && normalizeTag(v) == want {
			return true
		}
	}
	return false
}

// normalizeTag turns "hello" and "docker.io/library/hello:latest" into the
// same string; it returns s itself when it is not a valid reference.
func normalizeTag(s string) string {
	r, err := name.ParseReference(s)
	if err != nil {
		return s
	}
	return r.Name()
}

// refNames lists the ref names of a layout's entries, for error messages.
func refNames(im *v1.IndexManifest) string {
	var names []string
	for _, d := range im.Manifests {
		n := d.Annotations[annotationOCIRefName]
		if n == "" {
			n = d.Annotations[annotationContainerdN]
		}
		if n == "" {
			n = d.Digest.String()
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// blobName is the member name of a blob in an OCI layout archive.
func blobName(h v1.Hash) string {
	return "blobs/" + h.Algorithm + "/" + h.Hex
}

// checkBlob is a blobCheck over the archive's members.
func (t *tarFile) checkBlob(d v1.Descriptor) error {
	m, err := t.resolve(blobName(d.Digest))
	if err != nil {
		return errorf(Corrupt, "blob %s is missing from the archive", d.Digest)
	}
	if d.Size > 0 && m.size != d.Size {
		return errorf(Corrupt, "blob %s is %d bytes, the manifest says %d (truncated?)", d.Digest, m.size, d.Size)
	}
	return nil
}

// blobBytes reads a small blob (manifest, index, config) and verifies its
// digest.
func (t *tarFile) blobBytes(h v1.Hash) ([]byte, error) {
	b, err := t.readFile(blobName(h))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(Corrupt, "blob %s is missing from the archive", h)
		}
		return nil, err
	}
	if h.Algorithm == "sha256" {
		if got := sha256Digest(b); got != h.String() {
			return nil, errorf(Corrupt, "blob %s has digest %s", h, got)
		}
	}
	return b, nil
}

// archiveIndex is a v1.ImageIndex over an OCI layout inside a tar: the
// same reading as layout.Path, with members as blobs.
type archiveIndex struct {
	tf  *tarFile
	mt  types.MediaType
	raw []byte
}

var _ v1.ImageIndex = (*archiveIndex)(nil)

func (a *archiveIndex) MediaType() (types.MediaType, error) { return a.mt, nil }
func (a *archiveIndex) Digest() (v1.Hash, error)            { return partial.Digest(a) }
func (a *archiveIndex) Size() (int64, error)                { return int64(len(a.raw)), nil }
func (a *archiveIndex) RawManifest() ([]byte, error)        { return a.raw, nil }

func (a *archiveIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(a.raw))
}

func (a *archiveIndex) find(h v1.Hash) (v1.Descriptor, error) {
	im, err := a.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no descriptor %s in index", h)
}

func (a *archiveIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := a.find(h)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("%s has media type %s, not an image", h, d.MediaType)
	}
	return partial.CompressedToImage(&archiveImage{tf: a.tf, desc: d})
}

func (a *archiveIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := a.find(h)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s has media type %s, not an index", h, d.MediaType)
	}
	raw, err := a.tf.blobBytes(h)
	if err != nil {
		return nil, err
	}
	return &archiveIndex{tf: a.tf, mt: d.MediaType, raw: raw}, nil
}

// archiveImage is a partial.CompressedImageCore over an archive's blobs.
type archiveImage struct {
	tf   *tarFile
	desc v1.Descriptor

	once     sync.Once
	raw      []byte
	manifest *v1.Manifest
	err      error
}

var _ partial.CompressedImageCore = (*archiveImage)(nil)

func (a *archiveImage) load() error {
	a.once.Do(func() {
		a.raw, a.err = a.tf.blobBytes(a.desc.Digest)
		if a.err == nil {
			a.manifest, a.err = v1.ParseManifest(bytes.NewReader(a.raw))
		}
	})
	return a.err
}

func (a *archiveImage) MediaType() (types.MediaType, error) { return a.desc.MediaType, nil }

func (a *archiveImage) RawManifest() ([]byte, error) {
	if err := a.load(); err != nil {
		return nil, err
	}
	return a.raw, nil
}

func (a *archiveImage) RawConfigFile() ([]byte, error) {
	if err := a.load(); err != nil {
		return nil, err
	}
	return a.tf.blobBytes(a.manifest.Config.Digest)
}

func (a *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if err := a.load(); err != nil {
		return nil, err
	}
	if h == a.manifest.Config.Digest {
		return &archiveBlob{tf: a.tf, desc: a.manifest.Config}, nil
	}
	for _, d := range a.manifest.Layers {
		if d.Digest == h {
			return &archiveBlob{tf: a.tf, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("no layer %s in manifest %s", h, a.desc.Digest)
}

// archiveBlob is a layer blob inside an archive, served as stored.
type archiveBlob struct {
	tf   *tarFile
	desc v1.Descriptor
}

func (b *archiveBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *archiveBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *archiveBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *archiveBlob) Descriptor() (*v1.Descriptor, error) { return &b.desc, nil }

func (b *archiveBlob) Compressed() (io.ReadCloser, error) {
	m, err := b.tf.resolve(blobName(b.desc.Digest))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(b.tf.section(m)), nil
}
