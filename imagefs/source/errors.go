package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrorKind classifies why an image could not be loaded. The CLI maps every
// kind to the same exit code; the kind picks the wording and the hint.
type ErrorKind string

// The kinds of load failure.
const (
	// NotFound: a missing file or directory, an unknown tag, image or
	// repository.
	NotFound ErrorKind = "not-found"
	// Unauthorized: the registry answered 401 or 403.
	Unauthorized ErrorKind = "unauthorized"
	// NotAnImage: the file or directory exists but is neither a docker save
	// archive nor an OCI layout.
	NotAnImage ErrorKind = "not-an-image"
	// Corrupt: a truncated archive, bad JSON, a missing or short blob.
	Corrupt ErrorKind = "corrupt"
	// DaemonUnreachable: a docker: reference and no daemon answered.
	DaemonUnreachable ErrorKind = "daemon-unreachable"
	// Network: the registry could not be reached or failed on its side.
	Network ErrorKind = "network"
	// PlatformNotFound: an image index has no image for the requested
	// architecture.
	PlatformNotFound ErrorKind = "platform-not-found"
	// Usage: the reference itself is malformed or ambiguous.
	Usage ErrorKind = "usage"
)

// LoadError is the error Load and FromV1 return: the reference as the user
// wrote it, what kind of failure it is, and the cause.
type LoadError struct {
	Ref  string
	Kind ErrorKind
	Err  error

	// Index is, for PlatformNotFound, the index that has no image for the
	// architecture, and Source where it was read from: enough to report
	// the mismatch as a finding (see PlatformMissing).
	Index  *Index
	Source Kind

	// named is set by Load: its errors name the reference even when it is
	// "". Without it and without a Ref (an error nested in another, or met
	// reading a layer after Load, whose caller names the image), Error
	// gives the cause alone.
	named bool
}

// Error is one line naming the image and the cause.
func (e *LoadError) Error() string {
	cause := e.Err
	for {
		inner, ok := cause.(*LoadError) // a nested LoadError adds no prefix
		if !ok {
			break
		}
		cause = inner.Err
	}
	msg := "<nil>"
	if cause != nil {
		msg = cause.Error()
	}
	msg = strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ")), " ")
	if e.Ref == "" && !e.named {
		return msg
	}
	return fmt.Sprintf("loading %q: %s", e.Ref, msg)
}

// Unwrap returns the cause.
func (e *LoadError) Unwrap() error { return e.Err }

// KindOf returns the kind of a load error, or "" when err is not one.
func KindOf(err error) ErrorKind {
	var le *LoadError
	if errors.As(err, &le) {
		return le.Kind
	}
	return ""
}

// errorf makes a LoadError without a reference; Load fills it in.
func errorf(kind ErrorKind, format string, a ...any) error {
	return &LoadError{Kind: kind, Err: fmt.Errorf(format, a...)}
}

// withRef sets the reference on err, classifying an unclassified err as
// fallback.
func withRef(ref string, err error, fallback ErrorKind) error {
	var le *LoadError
	if errors.As(err, &le) {
		out := *le
		out.Ref, out.named = ref, true
		return &out
	}
	return &LoadError{Ref: ref, Kind: fallback, Err: err, named: true}
}

// reclassify keeps err's kind when it already has one, else gives it kind
// with the context added.
func reclassify(kind ErrorKind, err error, format string, a ...any) error {
	var le *LoadError
	if errors.As(err, &le) {
		return &LoadError{Kind: le.Kind, Err: fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), le.Err), Index: le.Index, Source: le.Source}
	}
	return &LoadError{Kind: kind, Err: fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), err)}
}

// transportKind classifies a registry error. code is the registry's error
// code (MANIFEST_UNKNOWN, ...) or the HTTP status when there is none; ok is
// false when err is not a registry or network error.
func transportKind(err error) (kind ErrorKind, code string, ok bool) {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return NotFound, string(d.Code), true
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return Unauthorized, string(d.Code), true
			}
		}
		code := fmt.Sprintf("HTTP %d", te.StatusCode)
		if len(te.Errors) > 0 {
			code = string(te.Errors[0].Code)
		}
		switch {
		case te.StatusCode == 401 || te.StatusCode == 403:
			return Unauthorized, code, true
		case te.StatusCode == 404:
			return NotFound, code, true
		default:
			return Network, code, true
		}
	}
	if isNetworkError(err) {
		return Network, "", true
	}
	return "", "", false
}

// isNetworkError reports connection-level failures: refused, reset, DNS,
// timeouts, TLS handshakes.
func isNetworkError(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de)
}

// withSource records where an index that lacks the platform was read
// from, on a PlatformNotFound error; other errors pass through.
func withSource(err error, kind Kind) error {
	var le *LoadError
	if errors.As(err, &le) && le.Kind == PlatformNotFound && le.Index != nil && le.Source == "" {
		out := *le
		out.Source = kind
		return &out
	}
	return err
}

// PlatformMissing reports whether err is an image index without an image
// for the requested architecture, and if so returns what was read of it:
// an Image with Ref, Source and Index (Index.Selected is -1) and no
// config, manifest or layers. The checks that read only the index can
// still run on it, and report the mismatch as a finding.
func PlatformMissing(err error) (*Image, bool) {
	var le *LoadError
	if !errors.As(err, &le) || le.Kind != PlatformNotFound || le.Index == nil {
		return nil, false
	}
	idx := *le.Index
	idx.Selected = -1
	return &Image{Ref: le.Ref, Source: le.Source, Index: &idx}, true
}
