package source

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/lambdoctor/lambdoctor/internal/bytesize"
)

// The limits of the loading layer. Each bounds what a hostile or broken
// image, archive or registry can make lambdoctor hold in memory, write to
// disk or wait for; docs/limits.md lists them with their messages.
const (
	// maxManifestBytes bounds an image manifest or an image index (a
	// registry answer, an OCI layout's index.json, a blob of either, a
	// docker save manifest.json). The Docker registry (distribution)
	// refuses manifests above 4 MiB, so no pushed image has a bigger one.
	maxManifestBytes = 4 << 20

	// maxConfigBytes bounds an image config. Configs hold the ENV, labels
	// and one history entry per instruction: real ones are a few KiB to a
	// few hundred KiB. 8 MiB is twice the manifest cap and far above any
	// config a builder writes.
	maxConfigBytes = 8 << 20

	// maxLayers bounds the layers of one image. Linux's overlayfs stacks at
	// most 500 lower layers (OVL_MAX_STACK in fs/overlayfs/params.h), and
	// Docker refuses to build past 125 (moby's layer store), so an image
	// with more cannot be mounted as one root filesystem.
	maxLayers = 500

	// maxIndexManifests bounds the children of one image index. A
	// multi-platform index with attestations has two per platform (a few
	// dozen at most); an OCI layout used as a store lists one per tag.
	maxIndexManifests = 1024

	// maxIndexDepth bounds how deep indexes nest below the top one
	// (index.json or the registry's answer). Docker ≥ 25 writes the
	// deepest real nesting: index.json → manifest list → image, one
	// level below the top; 4 leaves room and stops a chain of indexes.
	maxIndexDepth = 4

	// maxIndexVisits bounds how many nested indexes one search for a
	// digest opens, so that a wide and deep tree cannot multiply reads.
	maxIndexVisits = 64

	// maxImageBytes is Lambda's limit on a container image: "The maximum
	// size of a container image is 10 GB uncompressed"
	// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
	// A decompressed archive or a daemon export is spooled to disk up to
	// this size; 10 GiB (10,737,418,240 bytes) leaves about 700 MB above
	// 10 GB for tar headers, configs and manifests.
	maxImageBytes = 10 << 30

	// maxDeflateRatio is the largest expansion deflate can encode: a
	// 258-byte match per 2-bit code, about 1032:1 (zlib's technical
	// details, https://zlib.net/zlib_tech.html). A gzip archive of N
	// bytes cannot decompress to more than this many times N, so a tar
	// header that says otherwise is a lie.
	maxDeflateRatio = 1032

	// maxRedirects bounds the redirects followed for one registry request.
	// go-containerregistry replaces net/http's default limit (10) with its
	// own SSRF check, which has no limit: a redirect loop would spin
	// forever, keeping every response. 10 is net/http's default.
	maxRedirects = 10
)

// Network defaults, for Options and the command-line flags.
const (
	// DefaultConnectTimeout bounds establishing one connection (TCP and
	// TLS handshake) to a registry or a Docker daemon.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultIdleTimeout bounds a wait for the next byte: for the answer
	// to a request, and within a body (a stalled manifest or blob).
	DefaultIdleTimeout = 30 * time.Second
	// DefaultLoadTimeout bounds a whole registry pull or daemon export,
	// layers included: 15 minutes moves a 10 GB image at 11 MB/s.
	DefaultLoadTimeout = 15 * time.Minute
)

// The registry retry policy: 429 and 5xx answers (and connection resets)
// are retried with exponential backoff, 5 attempts over 0.5+1+2+4 = 7.5 s
// of waiting, always within the load's deadline.
var (
	retryBackoffStart = 500 * time.Millisecond
	retryAttempts     = 5
	retryStatusCodes  = []int{408, 429, 500, 502, 503, 504}
)

// humanSize formats n bytes in binary units ("4 MiB", "1.5 GiB").
func humanSize(n int64) string { return bytesize.Binary(n) }

// sizeLimitError is a document over its size limit.
type sizeLimitError struct{ msg string }

func (e *sizeLimitError) Error() string { return e.msg }

// tooBig is the error for a document over its size limit; what names it
// ("the config sha256:..."), size is its size when known (< 0: unknown,
// "more than").
func tooBig(what string, size, limit int64, name string) error {
	msg := fmt.Sprintf("%s is larger than %s, the limit for it (%s)", what, humanSize(limit), name)
	if size >= 0 {
		msg = fmt.Sprintf("%s is %s (%d bytes), more than the %s limit for it (%s)", what, humanSize(size), size, humanSize(limit), name)
	}
	return &LoadError{Kind: Corrupt, Err: &sizeLimitError{msg}}
}

// checkIndexWidth refuses an index with more children than
// maxIndexManifests.
func checkIndexWidth(im *v1.IndexManifest, what string) error {
	if n := len(im.Manifests); n > maxIndexManifests {
		return errorf(Corrupt, "%s lists %d manifests, more than the limit of %d (maxIndexManifests)", what, n, maxIndexManifests)
	}
	return nil
}

// checkLayerCount refuses an image with more layers than maxLayers.
func checkLayerCount(n int, what string) error {
	if n > maxLayers {
		return errorf(Corrupt, "%s lists %d layers, more than the limit of %d (maxLayers: overlayfs stacks at most 500)", what, n, maxLayers)
	}
	return nil
}

// Bounds of zstd archives (docker save | zstd), as for zstd layers in
// imagefs: a frame may not ask for a window over 32 MiB (RFC 8878 section
// 3.1.1.1.2 asks encoders to stay within 8 MiB; zstd --ultra -20 writes 32
// MiB), and past its first GiB an archive may not expand more than deflate
// can (maxDeflateRatio), so a small stream of zeros is refused early instead
// of being decoded up to the 10 GiB image limit.
const (
	maxZstdWindow      = 32 << 20
	zstdExpansionFloor = 1 << 30
)
