package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// dockerManifestEntry is one image in a docker save manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// blobPathRE matches the blob members of Docker ≥ 25 archives.
var blobPathRE = regexp.MustCompile(`^blobs/(sha256|sha512)/([0-9a-f]{64,128})$`)

// loadDockerArchive reads a docker save archive through its manifest.json:
// the legacy layout (<id>/layer.tar, uncompressed) and the OCI-based one of
// Docker ≥ 25 (blobs/sha256/<hex>, gzip or plain), whose index.json may
// name platforms whose blobs were not saved. sel picks among several
// images by RepoTag.
func loadDockerArchive(tf *tarFile, sel selector, where string) (*Image, error) {
	raw, err := tf.readFile("manifest.json", maxManifestBytes, "maxManifestBytes", "manifest.json")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(NotAnImage, "%s has no manifest.json: not a docker save archive", where)
		}
		return nil, reclassify(Corrupt, err, "reading manifest.json")
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, errorf(Corrupt, "parsing manifest.json of %s: %v", where, err)
	}
	entry, err := pickEntry(entries, sel, where)
	if err != nil {
		return nil, err
	}
	if err := checkLayerCount(len(entry.Layers), "manifest.json"); err != nil {
		return nil, err
	}
	rawConfig, err := tf.readFile(entry.Config, maxConfigBytes, "maxConfigBytes", "the config "+entry.Config)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(Corrupt, "config %s named in manifest.json is missing from %s", entry.Config, where)
		}
		return nil, reclassify(Corrupt, err, "reading config %s", entry.Config)
	}
	config, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, errorf(Corrupt, "parsing config %s: %v", entry.Config, err)
	}
	if len(config.RootFS.DiffIDs) != len(entry.Layers) {
		return nil, errorf(Corrupt, "manifest.json lists %d layers, the config %d diff_ids", len(entry.Layers), len(config.RootFS.DiffIDs))
	}
	layers := make([]imagefs.Layer, len(entry.Layers))
	for i, p := range entry.Layers {
		m, err := tf.resolve(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, errorf(Corrupt, "layer %d (%s) named in manifest.json is missing from %s", i, p, where)
			}
			return nil, reclassify(Corrupt, err, "layer %d (%s)", i, p)
		}
		digest := config.RootFS.DiffIDs[i].String()
		if mm := blobPathRE.FindStringSubmatch(p); mm != nil {
			digest = mm[1] + ":" + mm[2]
		}
		layers[i] = imagefs.Layer{
			Digest: digest,
			DiffID: config.RootFS.DiffIDs[i].String(),
			Size:   m.size,
			Open:   tf.opener(m),
		}
	}
	setCreatedBy(config, layers)
	img := &Image{
		Source:            DockerArchive,
		Platform:          platformOf(config),
		PushedFormUnknown: true,
		Config:            config,
		RawConfig:         rawConfig,
		Layers:            layers,
		ImageID:           sha256Digest(rawConfig),
		RepoTags:          entry.RepoTags,
	}
	if tf.has("index.json") {
		matchOCIManifest(tf, img)
	}
	return img, nil
}

// pickEntry selects the manifest.json entry: the only one, or the one whose
// RepoTags match sel.
func pickEntry(entries []dockerManifestEntry, sel selector, where string) (dockerManifestEntry, error) {
	if len(entries) == 0 {
		return dockerManifestEntry{}, errorf(Corrupt, "manifest.json of %s lists no images", where)
	}
	if sel.tag != "" {
		want := normalizeTag(sel.tag)
		for _, e := range entries {
			for _, t := range e.RepoTags {
				if t == sel.tag || normalizeTag(t) == want {
					return e, nil
				}
			}
		}
		return dockerManifestEntry{}, errorf(NotFound, "no image tagged %q in %s (it has: %s)", sel.tag, where, allTags(entries))
	}
	if len(entries) == 1 {
		return entries[0], nil
	}
	return dockerManifestEntry{}, errorf(Usage, "%s holds %d images: name one as docker-archive:%s:TAG (it has: %s)",
		where, len(entries), where, allTags(entries))
}

func allTags(entries []dockerManifestEntry) string {
	var tags []string
	for _, e := range entries {
		if len(e.RepoTags) == 0 {
			tags = append(tags, "<untagged "+e.Config+">")
		}
		tags = append(tags, e.RepoTags...)
	}
	return strings.Join(tags, ", ")
}

// matchOCIManifest looks, in the index.json of a Docker ≥ 25 archive, for
// the image manifest whose config is img's and whose blobs are present. It
// sets the manifest, its digest and media type, the layers' media types,
// and Index when the manifest was reached through an image index. Absent
// or unreadable entries are skipped: manifest.json stays authoritative.
func matchOCIManifest(tf *tarFile, img *Image) {
	raw, err := tf.readFile("index.json", maxManifestBytes, "maxManifestBytes", "index.json")
	if err != nil {
		return
	}
	top := &storeIndex{st: tf, mt: types.OCIImageIndex, raw: raw}
	im, err := top.IndexManifest()
	if err != nil {
		return
	}
	try := func(d v1.Descriptor) bool {
		if !d.MediaType.IsImage() {
			return false
		}
		rawManifest, err := tf.smallBlob(d.Digest, maxManifestBytes, "maxManifestBytes", "the manifest")
		if err != nil {
			return false
		}
		m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
		if err != nil || m.Config.Digest.String() != img.ImageID || len(m.Layers) != len(img.Layers) {
			return false
		}
		for i, l := range m.Layers {
			if l.Digest.String() != img.Layers[i].Digest {
				return false
			}
		}
		img.Manifest = m
		img.Digest = d.Digest.String()
		img.MediaType = string(d.MediaType)
		for i, l := range m.Layers {
			img.Layers[i].MediaType = string(l.MediaType)
		}
		return true
	}
	visits := 0
	for _, d := range im.Manifests {
		if try(d) {
			return
		}
		if !d.MediaType.IsIndex() {
			continue
		}
		if visits++; visits > maxIndexVisits {
			return
		}
		child, err := top.ImageIndex(d.Digest)
		if err != nil {
			continue
		}
		cim, err := child.IndexManifest()
		if err != nil {
			continue
		}
		for i, cd := range cim.Manifests {
			if try(cd) {
				idx := newIndex(d.Digest.String(), d.MediaType, cim)
				idx.Selected = i
				img.Index = idx
				return
			}
		}
	}
}
