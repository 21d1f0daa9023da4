package imagefs

import (
	"errors"
	"fmt"
	"io/fs"
)

// Sentinel errors.
var (
	// ErrCorruptLayer is wrapped by Build's error when a layer's compressed
	// stream or tar archive is corrupt or truncated.
	ErrCorruptLayer = errors.New("corrupt layer")
	// ErrTooManyEntries is wrapped by Build's error when the layers hold
	// more entries than Options.MaxEntries (the error wraps ErrLimit too).
	ErrTooManyEntries = errors.New("too many entries")
	// ErrLoop is the error of a resolution that traversed more than
	// MaxSymlinkHops symlinks.
	ErrLoop = errors.New("too many levels of symbolic links")
	// ErrNotDir is the error of a resolution that needed a directory where
	// a non-directory is. errors.Is(ErrNotDir, fs.ErrNotExist) holds, as the
	// path does not exist.
	ErrNotDir error = notDirError{}
	// ErrIsDir is the error of reading a directory as a file.
	ErrIsDir = errors.New("is a directory")
)

// MaxSymlinkHops is the number of symlinks a resolution follows before it
// reports ErrLoop (Linux's MAXSYMLINKS).
const MaxSymlinkHops = 40

type notDirError struct{}

func (notDirError) Error() string { return "not a directory" }

// Is makes ErrNotDir match fs.ErrNotExist.
func (notDirError) Is(target error) bool { return target == fs.ErrNotExist }

// LayerError is the error Build returns when a layer cannot be read. It
// names the layer by index and digest; when the layer is corrupt,
// errors.Is(err, ErrCorruptLayer) holds.
type LayerError struct {
	// Index is the layer's position, base = 0.
	Index int
	// Digest is the layer's digest as the source gave it.
	Digest string
	// Err is the underlying error.
	Err error
	// Corrupt is true when the layer's content is malformed (as opposed to
	// the source failing to deliver it).
	Corrupt bool
}

func (e *LayerError) Error() string {
	if e.Corrupt {
		return fmt.Sprintf("layer %d (%s): %v: %v", e.Index, e.Digest, e.Err, ErrCorruptLayer)
	}
	return fmt.Sprintf("layer %d (%s): %v", e.Index, e.Digest, e.Err)
}

// Unwrap returns the underlying error, and ErrCorruptLayer when the layer is
// corrupt.
func (e *LayerError) Unwrap() []error {
	if e.Corrupt {
		return []error{e.Err, ErrCorruptLayer}
	}
	return []error{e.Err}
}
