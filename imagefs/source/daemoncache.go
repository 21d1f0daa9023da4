package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// A daemon image is read through `docker save`, which exports the whole
// image before anything can be read. With a layer cache the export is
// deferred: the first export of an image records in the cache what it held
// besides the layers (config, manifest, layer digests and sizes), keyed by
// the daemon's image ID and its layers' diff IDs. When the daemon's image
// inspect names the same image again, Load returns it from that record with
// layers whose Open exports the image on first call, once for all layers.
// A Build whose cache holds every layer's index never calls Open, so the
// daemon is not asked to export at all.

// kindDaemon is the cache record kind of daemon exports.
const kindDaemon = "DMON"

// daemonRecord is what an export held besides the layers.
type daemonRecord struct {
	Digest            string          `json:"digest,omitempty"`
	MediaType         string          `json:"mediaType,omitempty"`
	RawConfig         []byte          `json:"config"`
	Manifest          json.RawMessage `json:"manifest,omitempty"`
	Index             *Index          `json:"index,omitempty"`
	PushedFormUnknown bool            `json:"pushedFormUnknown"`
	Layers            []daemonLayer   `json:"layers"`
}

type daemonLayer struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diffID"`
	MediaType string `json:"mediaType,omitempty"`
	Size      int64  `json:"size"`
}

// daemonKey is the record key of the image the daemon describes as insp.
func daemonKey(id string, diffIDs []string) string {
	return "daemon\x00" + id + "\x00" + strings.Join(diffIDs, ",")
}

// storeDaemonRecord records what img, exported from the daemon, held.
func storeDaemonRecord(c *imagefs.Cache, id string, diffIDs []string, img *Image) {
	rec := daemonRecord{
		Digest: img.Digest, MediaType: img.MediaType, RawConfig: img.RawConfig,
		Index: img.Index, PushedFormUnknown: img.PushedFormUnknown,
	}
	if img.Manifest != nil {
		m, err := json.Marshal(img.Manifest)
		if err != nil {
			return
		}
		rec.Manifest = m
	}
	for _, l := range img.Layers {
		rec.Layers = append(rec.Layers, daemonLayer{Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size})
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	c.Put(kindDaemon, daemonKey(id, diffIDs), b)
}

// daemonFromRecord returns the image the cache recorded for the daemon's
// image id with diffIDs, its layers exported by export on first use; false
// when there is no sound record.
func daemonFromRecord(c *imagefs.Cache, id string, diffIDs []string, export *lazyExport) (*Image, bool) {
	b, ok := c.Get(kindDaemon, daemonKey(id, diffIDs))
	if !ok {
		return nil, false
	}
	var rec daemonRecord
	if err := json.Unmarshal(b, &rec); err != nil || len(rec.Layers) != len(diffIDs) {
		return nil, false
	}
	config, err := v1.ParseConfigFile(bytes.NewReader(rec.RawConfig))
	if err != nil || len(config.RootFS.DiffIDs) != len(diffIDs) {
		return nil, false
	}
	for i, d := range config.RootFS.DiffIDs {
		if d.String() != diffIDs[i] || rec.Layers[i].DiffID != diffIDs[i] {
			return nil, false
		}
	}
	img := &Image{
		Source:            Daemon,
		Digest:            rec.Digest,
		MediaType:         rec.MediaType,
		Platform:          platformOf(config),
		Index:             rec.Index,
		PushedFormUnknown: rec.PushedFormUnknown,
		Config:            config,
		RawConfig:         rec.RawConfig,
		ImageID:           sha256Digest(rec.RawConfig),
	}
	if len(rec.Manifest) > 0 {
		m, err := v1.ParseManifest(bytes.NewReader(rec.Manifest))
		if err != nil {
			return nil, false
		}
		img.Manifest = m
	}
	for i, l := range rec.Layers {
		img.Layers = append(img.Layers, imagefs.Layer{
			Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size,
			Open: export.opener(i, l.Digest),
		})
	}
	setCreatedBy(config, img.Layers)
	return img, true
}

// lazyExport runs `docker save` of an image the first time one of its
// layers is opened, and serves the layers from that export.
type lazyExport struct {
	ctx  context.Context
	ref  string
	opts Options // without a cache

	once sync.Once
	img  *Image
	err  error
}

// opener returns the Open function of layer i, whose blob digest was
// recorded as digest.
func (e *lazyExport) opener(i int, digest string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		e.once.Do(func() { e.img, e.err = loadDaemon(e.ctx, e.ref, e.opts) })
		if e.err != nil {
			return nil, e.err
		}
		if i >= len(e.img.Layers) || e.img.Layers[i].Digest != digest {
			return nil, fmt.Errorf("the daemon's export of %s no longer has layer %d (%s): the image changed; inspect again", e.ref, i, digest)
		}
		return e.img.Layers[i].Open()
	}
}

// close removes the export, if one was made.
func (e *lazyExport) close() error {
	e.once.Do(func() { e.err = fmt.Errorf("the image %s is closed", e.ref) })
	if e.img != nil {
		return e.img.Close()
	}
	return nil
}
