package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// FromV1 turns a go-containerregistry image into an Image. Layers are served
// with Compressed(), which returns the blob as stored: nothing is
// decompressed or recompressed. The returned Image holds nothing to close.
func FromV1(ref string, kind Kind, img v1.Image) (*Image, error) {
	out, err := fromV1(kind, img, nil)
	if err != nil {
		return nil, withRef(ref, err, Corrupt)
	}
	out.Ref = ref
	return out, nil
}

// blobCheck verifies, for local stores, that a layer blob is present and
// has the size its descriptor claims.
type blobCheck func(d v1.Descriptor) error

// fromV1 is FromV1 without the reference; check, when set, is called on
// every layer descriptor so that local sources report missing blobs now
// rather than when the layer is read.
func fromV1(kind Kind, img v1.Image, check blobCheck) (*Image, error) {
	mt, err := img.MediaType()
	if err != nil {
		return nil, v1Error(err, "reading the manifest media type")
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, v1Error(err, "reading the manifest")
	}
	if len(rawManifest) > maxManifestBytes {
		return nil, tooBig("the manifest", int64(len(rawManifest)), maxManifestBytes, "maxManifestBytes")
	}
	manifest, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, errorf(Corrupt, "parsing the manifest: %v", err)
	}
	if err := checkLayerCount(len(manifest.Layers), "the manifest"); err != nil {
		return nil, err
	}
	// The config is read only when its declared size is within the
	// limit; the registry reader stops at the declared size.
	if manifest.Config.Size > maxConfigBytes {
		return nil, tooBig("the config "+manifest.Config.Digest.String(), manifest.Config.Size, maxConfigBytes, "maxConfigBytes")
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, v1Error(err, "reading the config blob %s", manifest.Config.Digest)
	}
	if len(rawConfig) > maxConfigBytes {
		return nil, tooBig("the config "+manifest.Config.Digest.String(), int64(len(rawConfig)), maxConfigBytes, "maxConfigBytes")
	}
	config, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, errorf(Corrupt, "parsing the config %s: %v", manifest.Config.Digest, err)
	}
	v1Layers, err := img.Layers()
	if err != nil {
		return nil, v1Error(err, "listing layers")
	}
	if len(v1Layers) != len(manifest.Layers) {
		return nil, errorf(Corrupt, "manifest lists %d layers, image has %d", len(manifest.Layers), len(v1Layers))
	}
	if len(config.RootFS.DiffIDs) != len(manifest.Layers) {
		return nil, errorf(Corrupt, "config lists %d diff_ids for %d manifest layers", len(config.RootFS.DiffIDs), len(manifest.Layers))
	}
	layers := make([]imagefs.Layer, len(v1Layers))
	for i, l := range v1Layers {
		d := manifest.Layers[i]
		if check != nil {
			if err := check(d); err != nil {
				return nil, reclassify(Corrupt, err, "layer %d (%s)", i, d.Digest)
			}
		}
		layers[i] = imagefs.Layer{
			Digest:    d.Digest.String(),
			DiffID:    config.RootFS.DiffIDs[i].String(),
			MediaType: string(d.MediaType),
			Size:      d.Size,
			Open:      l.Compressed,
		}
	}
	setCreatedBy(config, layers)
	return &Image{
		Source:    kind,
		Digest:    sha256Digest(rawManifest),
		MediaType: string(mt),
		Platform:  platformOf(config),
		Config:    config,
		RawConfig: rawConfig,
		Manifest:  manifest,
		Layers:    layers,
		ImageID:   sha256Digest(rawConfig),
	}, nil
}

// v1Error classifies an error from a go-containerregistry image: registry
// and network errors keep their kind, anything else is corrupt data.
func v1Error(err error, format string, a ...any) error {
	if kind, _, ok := transportKind(err); ok {
		return reclassify(kind, err, format, a...)
	}
	return reclassify(Corrupt, err, format, a...)
}

// setCreatedBy fills CreatedBy from the config history, skipping
// empty_layer entries. When the counts disagree it leaves them empty rather
// than guess.
func setCreatedBy(config *v1.ConfigFile, layers []imagefs.Layer) {
	var lines []string
	for _, h := range config.History {
		if !h.EmptyLayer {
			lines = append(lines, h.CreatedBy)
		}
	}
	if len(lines) != len(layers) {
		return
	}
	for i := range layers {
		layers[i].CreatedBy = lines[i]
	}
}

// platformOf is the platform recorded in a config.
func platformOf(c *v1.ConfigFile) v1.Platform {
	return v1.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion}
}

// sha256Digest returns "sha256:<hex>" of b.
func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
