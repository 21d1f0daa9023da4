package imagefs

import "io"

// Layer is one filesystem layer of an image, as a source delivers it.
//
// Open returns the blob exactly as stored (gzip, zstd or plain tar): the
// compression is sniffed from the first bytes, so sources never decompress
// or recompress on lambdoctor's behalf. Open may be called more than once
// (the builder reads each layer once; content re-reads open it again).
type Layer struct {
	// Digest is the digest of the blob as stored ("sha256:..."), or the
	// DiffID when the source does not know it.
	Digest string
	// DiffID is the digest of the uncompressed tar, from the config rootfs.
	DiffID string
	// MediaType is the manifest media type of the layer, when known.
	MediaType string
	// Size is the stored (compressed) size in bytes, -1 when unknown.
	Size int64
	// CreatedBy is the config history's created_by for this layer, if any:
	// users recognise their Dockerfile line in it.
	CreatedBy string
	// Open returns the raw blob.
	Open func() (io.ReadCloser, error)
}
