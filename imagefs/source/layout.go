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

// loadLayoutDir loads an image from an OCI layout directory. Its files
// are read through an os.Root, so nothing outside the directory is ever
// opened, and only regular files are read.
func loadLayoutDir(dir string, sel selector, arch string) (*Image, error) {
	if !isLayoutDir(dir) {
		return nil, errorf(NotAnImage, "%s is a directory but not an OCI image layout (no oci-layout or index.json)", dir)
	}
	ld, err := openLayoutDir(dir)
	if err != nil {
		return nil, err
	}
	img, err := loadLayout(ld, sel, arch, dir, OCILayout)
	if err != nil {
		ld.close()
		return nil, err
	}
	img.cleanup = ld.close
	return img, nil
}

// loadLayoutArchive loads an image from an OCI layout packed in a tar.
func loadLayoutArchive(tf *tarFile, sel selector, arch, where string, kind Kind) (*Image, error) {
	return loadLayout(tf, sel, arch, where, kind)
}

// loadLayout loads the image sel names from an OCI layout's blob store.
func loadLayout(st blobStore, sel selector, arch, where string, kind Kind) (*Image, error) {
	raw, err := readIndexJSON(st)
	if err != nil {
		return nil, reclassify(Corrupt, err, "reading index.json of %s", where)
	}
	top := &storeIndex{st: st, mt: types.OCIImageIndex, raw: raw}
	img, idx, err := resolveLayout(top, sel, arch, where)
	if err != nil {
		return nil, withSource(err, kind)
	}
	out, err := fromV1(kind, img, st.checkBlob)
	if err != nil {
		return nil, err
	}
	out.Index = idx
	return out, nil
}

// readIndexJSON reads a layout's index.json, up to maxManifestBytes.
func readIndexJSON(st blobStore) ([]byte, error) {
	switch st := st.(type) {
	case *tarFile:
		return st.readFile("index.json", maxManifestBytes, "maxManifestBytes", "index.json")
	case *layoutDir:
		return st.readFile("index.json", maxManifestBytes, "maxManifestBytes")
	}
	return nil, fmt.Errorf("unknown blob store %T", st)
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
		var walk indexWalk
		p, d, ok, err := walk.findDigest(top, sel.digest, maxIndexDepth)
		if err != nil {
			return nil, nil, err
		}
		if !ok && walk.truncated {
			return nil, nil, errorf(NotFound, "no manifest %s in OCI layout %s within %d levels of nested indexes and %d indexes read (maxIndexDepth, maxIndexVisits)",
				sel.digest, where, maxIndexDepth, maxIndexVisits)
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

// indexWalk bounds a search through nested indexes: maxIndexDepth levels
// and maxIndexVisits child indexes opened in all.
type indexWalk struct {
	visits    int
	truncated bool // a level or the budget was cut short
}

// findDigest looks for h among the descriptors of idx and of its child
// indexes, depth levels down; it returns the index holding it. Child
// indexes that are absent are skipped (common in docker save output);
// one over a size limit is an error.
func (w *indexWalk) findDigest(idx v1.ImageIndex, h v1.Hash, depth int) (v1.ImageIndex, v1.Descriptor, bool, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, false, v1Error(err, "parsing index")
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return idx, d, true, nil
		}
	}
	for _, d := range im.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		if depth == 0 || w.visits >= maxIndexVisits {
			w.truncated = true
			return nil, v1.Descriptor{}, false, nil
		}
		w.visits++
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			var se *sizeLimitError
			var le *LoadError
			if errors.As(err, &se) || errors.As(err, &le) && le.Kind != Corrupt {
				return nil, v1.Descriptor{}, false, err
			}
			continue
		}
		if p, cd, ok, err := w.findDigest(child, h, depth-1); ok || err != nil {
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

// blobName is the path of a blob in an OCI layout, as a directory or an
// archive.
func blobName(h v1.Hash) string {
	return "blobs/" + h.Algorithm + "/" + h.Hex
}

// blobStore serves the blobs of an OCI layout: the members of an archive
// (tarFile) or the files of a directory (layoutDir).
type blobStore interface {
	// smallBlob reads a manifest, index or config blob, refusing it
	// beyond limit bytes (limitName names the limit), and verifies its
	// digest.
	smallBlob(h v1.Hash, limit int64, limitName, what string) ([]byte, error)
	// openBlob serves a blob's bytes as stored.
	openBlob(h v1.Hash) (io.ReadCloser, error)
	// checkBlob reports a missing blob or one whose size is not the
	// descriptor's.
	checkBlob(d v1.Descriptor) error
}

// verifyDigest checks b against h (sha256 only; other algorithms are
// taken as they are).
func verifyDigest(b []byte, h v1.Hash) error {
	if h.Algorithm == "sha256" {
		if got := sha256Digest(b); got != h.String() {
			return errorf(Corrupt, "blob %s has digest %s", h, got)
		}
	}
	return nil
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

func (t *tarFile) smallBlob(h v1.Hash, limit int64, limitName, what string) ([]byte, error) {
	b, err := t.readFile(blobName(h), limit, limitName, what+" "+h.String())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(Corrupt, "blob %s is missing from the archive", h)
		}
		return nil, err
	}
	if err := verifyDigest(b, h); err != nil {
		return nil, err
	}
	return b, nil
}

func (t *tarFile) openBlob(h v1.Hash) (io.ReadCloser, error) {
	m, err := t.resolve(blobName(h))
	if err != nil {
		return nil, err
	}
	return sectionCloser{t.section(m)}, nil // readable at offsets too
}

// storeIndex is a v1.ImageIndex over an OCI layout's blob store: the same
// reading as go-containerregistry's layout.Path, with every read bounded.
type storeIndex struct {
	st  blobStore
	mt  types.MediaType
	raw []byte

	once sync.Once
	im   *v1.IndexManifest
	err  error
}

var _ v1.ImageIndex = (*storeIndex)(nil)

func (a *storeIndex) MediaType() (types.MediaType, error) { return a.mt, nil }
func (a *storeIndex) Digest() (v1.Hash, error)            { return partial.Digest(a) }
func (a *storeIndex) Size() (int64, error)                { return int64(len(a.raw)), nil }
func (a *storeIndex) RawManifest() ([]byte, error)        { return a.raw, nil }

// IndexManifest parses the index once, refusing more than
// maxIndexManifests children.
func (a *storeIndex) IndexManifest() (*v1.IndexManifest, error) {
	a.once.Do(func() {
		a.im, a.err = v1.ParseIndexManifest(bytes.NewReader(a.raw))
		if a.err == nil {
			a.err = checkIndexWidth(a.im, "the index")
		}
	})
	return a.im, a.err
}

func (a *storeIndex) find(h v1.Hash) (v1.Descriptor, error) {
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

func (a *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := a.find(h)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("%s has media type %s, not an image", h, d.MediaType)
	}
	return partial.CompressedToImage(&storeImage{st: a.st, desc: d})
}

func (a *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := a.find(h)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s has media type %s, not an index", h, d.MediaType)
	}
	raw, err := a.st.smallBlob(h, maxManifestBytes, "maxManifestBytes", "the index")
	if err != nil {
		return nil, err
	}
	return &storeIndex{st: a.st, mt: d.MediaType, raw: raw}, nil
}

// storeImage is a partial.CompressedImageCore over a blob store.
type storeImage struct {
	st   blobStore
	desc v1.Descriptor

	once     sync.Once
	raw      []byte
	manifest *v1.Manifest
	err      error
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (a *storeImage) load() error {
	a.once.Do(func() {
		a.raw, a.err = a.st.smallBlob(a.desc.Digest, maxManifestBytes, "maxManifestBytes", "the manifest")
		if a.err == nil {
			a.manifest, a.err = v1.ParseManifest(bytes.NewReader(a.raw))
		}
		if a.err == nil {
			a.err = checkLayerCount(len(a.manifest.Layers), "the manifest "+a.desc.Digest.String())
		}
	})
	return a.err
}

func (a *storeImage) MediaType() (types.MediaType, error) { return a.desc.MediaType, nil }

func (a *storeImage) RawManifest() ([]byte, error) {
	if err := a.load(); err != nil {
		return nil, err
	}
	return a.raw, nil
}

func (a *storeImage) RawConfigFile() ([]byte, error) {
	if err := a.load(); err != nil {
		return nil, err
	}
	return a.st.smallBlob(a.manifest.Config.Digest, maxConfigBytes, "maxConfigBytes", "the config")
}

func (a *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if err := a.load(); err != nil {
		return nil, err
	}
	if h == a.manifest.Config.Digest {
		return &storeBlob{st: a.st, desc: a.manifest.Config}, nil
	}
	for _, d := range a.manifest.Layers {
		if d.Digest == h {
			return &storeBlob{st: a.st, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("no layer %s in manifest %s", h, a.desc.Digest)
}

// storeBlob is a layer blob in a store, served as stored.
type storeBlob struct {
	st   blobStore
	desc v1.Descriptor
}

func (b *storeBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storeBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storeBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *storeBlob) Descriptor() (*v1.Descriptor, error) { return &b.desc, nil }

func (b *storeBlob) Compressed() (io.ReadCloser, error) {
	return b.st.openBlob(b.desc.Digest)
}
