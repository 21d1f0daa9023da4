package imagefs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lambdoctor/lambdoctor/internal/bytesize"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// Limits against hostile layers. Each is a named constant with its reason,
// and docs/limits.md lists them with what a user sees when one is hit.
// Limits of a single entry (a name or link target too long, a path too
// deep) skip the entry with an anomaly, as a runtime could not create it
// either; limits of a whole layer or image stop Build with an error that
// wraps ErrLimit and names the limit.
const (
	// PathMax is Linux's PATH_MAX: 4096 bytes, the terminating NUL
	// included. The kernel refuses a longer path or symlink target with
	// ENAMETOOLONG (path_resolution(7), symlink(2)), so no runtime can
	// create such an entry. A tar name, link target or merged path of
	// PathMax bytes or more is skipped with an unsafe-name anomaly.
	PathMax = 4096
	// NameMax is Linux's NAME_MAX: a path component of more than 255 bytes
	// cannot be created on any Linux filesystem (ENAMETOOLONG).
	NameMax = 255
	// MaxDepth is the deepest a path can be: each component takes at least
	// two of a path's PathMax-1 bytes ("/x"), so a deeper entry cannot be
	// named by any path the kernel accepts. It follows from PathMax and is
	// checked with it while merging.
	MaxDepth = (PathMax - 1) / 2
	// maxPAXSize bounds one PAX extended header or GNU long name/link
	// (1 MiB), as Go's archive/tar does: Docker, containerd and
	// go-containerregistry unpack layers with it, so they refuse a larger
	// one too.
	maxPAXSize = 1 << 20
	// maxPAXRecords bounds the records of one PAX header. A file carries a
	// dozen standard records plus one per extended attribute, and Linux
	// lists at most 64 KiB of attribute names (XATTR_LIST_MAX) of at least
	// 7 bytes each ("user.x" and a NUL): fewer than 9,400.
	maxPAXRecords = 10_000
	// MaxImageBytes is the most Build decompresses over all layers: 10 GiB,
	// the larger reading of Lambda's limit on an image's uncompressed size
	// ("10 GB", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
	// An image beyond it cannot run on Lambda, and reading on would only
	// cost time.
	MaxImageBytes = lambda.MaxImageBytes
	// maxExpansionRatio and expansionFloor bound a layer's tar stream to
	// expansionFloor plus maxExpansionRatio times its compressed size.
	// 1032:1 is deflate's maximum expansion (every gzip layer stays under
	// it), so only a zstd stream more redundant than any gzip stream can
	// be, past its first GiB, is taken for a decompression bomb.
	maxExpansionRatio = 1032
	expansionFloor    = 1 << 30
	// imageBudgetStep is how much of MaxImageBytes a layer reserves at a
	// time while it is decoded, so parallel layers share one budget
	// without contending on every write.
	imageBudgetStep = 64 << 20
	// maxZstdWindow bounds the window (history) a zstd frame may ask for,
	// which the decoder fills as it goes: 32 MiB, what zstd --ultra -20
	// writes. RFC 8878 section 3.1.1.1.2 asks encoders to stay within 8
	// MiB, the window of zstd -19 and of Go's zstd encoder (used by
	// buildkit, containerd and go-containerregistry). A 128 MiB window
	// (zstd --ultra -22, --long) measured 137 MB of RSS for one layer, and
	// layers are decoded in parallel; 32 MiB measured 41 MB.
	maxZstdWindow = 32 << 20
	// MaxNameBytes bounds the bytes of names, link targets and directory
	// paths the merged view and the layers being merged keep, over the
	// whole image: 64 MiB. Names are kept once (directory paths once per
	// layer), so an image of a million files with 40-byte names keeps
	// about 40 MiB; without a bound, names of up to PathMax bytes let a
	// 10 GiB tar stream keep gigabytes.
	MaxNameBytes = 64 << 20
	// maxImplicitDirs bounds the directories Build creates because
	// entries' paths imply them while no layer declares them (they also
	// count against Options.MaxEntries). Builders declare every directory;
	// a hand-made tarball without directory entries implies one per
	// distinct directory (a large node_modules has some 50,000). Without
	// it, a 16 MB tar stream of 3,000 paths 2,000 directories deep makes
	// millions of directories (each ~100 bytes): 470 MB before
	// MaxEntries stops it.
	maxImplicitDirs = 500_000
	// maxExcerpt bounds what an anomaly keeps of an over-long name or link
	// target.
	maxExcerpt = 200
)

// ErrLimit is wrapped by Build's error when a layer or the image exceeds
// one of the limits against hostile images (see docs/limits.md); the
// message ends with the limit's name in parentheses.
var ErrLimit = errors.New("limit exceeded")

// limitError is an exceeded limit: its message says what happened and
// names the limit as docs/limits.md does.
type limitError struct {
	name string // the constant, as docs/limits.md names it
	msg  string
	// also is a sentinel the error matches besides ErrLimit.
	also error
}

func (e *limitError) Error() string { return e.msg + " (" + e.name + ")" }

// Unwrap returns ErrLimit and the other sentinel, if any.
func (e *limitError) Unwrap() []error {
	if e.also != nil {
		return []error{ErrLimit, e.also}
	}
	return []error{ErrLimit}
}

func limitf(name, format string, args ...any) error {
	return &limitError{name: name, msg: fmt.Sprintf(format, args...)}
}

// excerpt returns s if it is at most maxExcerpt bytes, else a copy of its
// start (cut at a UTF-8 boundary) with its length, so that an anomaly never
// keeps a long name alive.
func excerpt(s string) string {
	if len(s) <= maxExcerpt {
		return strings.Clone(s)
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// byteSize formats n bytes for limit messages: "10 GiB", "1.5 MiB", "700 B".
func byteSize(n int64) string { return bytesize.Binary(n) }
