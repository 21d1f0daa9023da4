package source

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// Options tune how Load finds and reads an image.
type Options struct {
	// Arch is the platform selected from an image index: linux/<Arch>
	// ("amd64" or "arm64"; arm64 matches variant v8 or none). Empty means
	// amd64, Lambda's default. Single images are loaded whatever their
	// platform: reporting a mismatch is the checks' job.
	Arch string
	// Keychain resolves registry credentials; nil means DefaultKeychain().
	Keychain authn.Keychain
	// DockerHost is the daemon address ("unix:///var/run/docker.sock",
	// "tcp://host:2376"); empty means $DOCKER_HOST, then the default socket.
	DockerHost string
	// TempDir receives daemon exports and decompressed archives; empty
	// means os.TempDir(). Image.Close removes what was written there.
	TempDir string
	// Transport, when set, carries registry requests in place of
	// NewTransport(ConnectTimeout) (tests, progress display). The idle,
	// redirect, size, retry and deadline limits still apply over it.
	Transport http.RoundTripper

	// ConnectTimeout bounds establishing a connection to a registry or
	// daemon (--connect-timeout); 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// IdleTimeout bounds every wait for the next byte from a registry or
	// daemon: for an answer, and within a body (--idle-timeout); 0 means
	// DefaultIdleTimeout, < 0 none.
	IdleTimeout time.Duration
	// LoadTimeout bounds a whole registry pull (layers included, until
	// Image.Close) or daemon export (--load-timeout); 0 means
	// DefaultLoadTimeout, < 0 none.
	LoadTimeout time.Duration

	// Cache, when set, lets the daemon source skip `docker save` for an
	// image it exported before: the layers are then exported only if a
	// read needs them (the Build using the same cache has their indexes).
	Cache *imagefs.Cache

	// Progress, when set, is told how the transfers of a load advance:
	// every read of a registry layer's blob (a pull happens when the layer
	// is read, after Load returns) and of a daemon's export. It may be
	// called from several goroutines at once (layers are read in
	// parallel), and must be quick.
	Progress func(Progress)
}

// The reference prefixes Load understands.
const (
	prefixDockerArchive = "docker-archive:"
	prefixOCIArchive    = "oci-archive:"
	prefixOCI           = "oci:"
	prefixDocker        = "docker:"
	prefixRegistry      = "registry:"
)

// Load reads the image ref names, without running or unpacking it:
//
//	docker-archive:PATH[:TAG]    docker save output (legacy or Docker ≥ 25, optionally gzip/zstd/bzip2)
//	oci:DIR[:TAG|@sha256:...]    OCI image layout directory
//	oci-archive:PATH[:TAG|@...]  OCI image layout in a tar (buildx --output type=oci)
//	docker:NAME[:TAG]            the local Docker daemon (DOCKER_HOST honoured)
//	registry:REF                 a registry, with the keychain
//	PATH[:TAG|@sha256:...]       an existing file or directory, recognised by content
//	REF                          the daemon when one answers within 1.5 s and has it, else the registry
//
// Prefixed paths are recognised by content too: an OCI archive given as
// docker-archive: loads (Source says what it was). An index (multi-platform
// or with attestations) is recorded in Image.Index and its linux/<Arch>
// child loaded.
//
// Registry and daemon reads are bounded by the network limits of opts
// (ConnectTimeout, IdleTimeout, LoadTimeout, and a cap on redirects);
// manifests, indexes, configs, layer counts and spooled archives by the
// size limits of limits.go (docs/limits.md lists them all). A limit that
// fires is named in the error.
//
// Errors are *LoadError. The caller must Close the returned Image.
func Load(ctx context.Context, ref string, opts Options) (*Image, error) {
	img, err := load(ctx, ref, opts)
	if err != nil {
		return nil, withRef(ref, err, Corrupt)
	}
	img.Ref = ref
	return img, nil
}

func load(ctx context.Context, ref string, opts Options) (*Image, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, errorf(Usage, "empty image reference")
	}
	switch {
	case strings.HasPrefix(ref, prefixDockerArchive):
		return loadPathRef(strings.TrimPrefix(ref, prefixDockerArchive), DockerArchive, opts)
	case strings.HasPrefix(ref, prefixOCIArchive):
		return loadPathRef(strings.TrimPrefix(ref, prefixOCIArchive), OCIArchive, opts)
	case strings.HasPrefix(ref, prefixOCI):
		return loadPathRef(strings.TrimPrefix(ref, prefixOCI), OCILayout, opts)
	case strings.HasPrefix(ref, prefixDocker):
		return loadDaemon(ctx, strings.TrimPrefix(ref, prefixDocker), opts)
	case strings.HasPrefix(ref, prefixRegistry):
		return loadRegistry(ctx, strings.TrimPrefix(ref, prefixRegistry), opts)
	}
	if p, sel, ok := splitPathSelector(ref); ok {
		return loadPath(p, sel, "", opts)
	}
	if looksLikePath(ref) {
		return nil, errorf(NotFound, "no such file or directory: %s", ref)
	}
	if _, err := name.ParseReference(ref); err != nil {
		return nil, errorf(Usage, "%q is neither an existing file or directory nor an image reference (%v); prefixes: docker-archive:, oci:, oci-archive:, docker:, registry:", ref, err)
	}
	if daemonAnswers(ctx, opts.DockerHost) {
		img, err := loadDaemon(ctx, ref, opts)
		if err == nil {
			return img, nil
		}
		if KindOf(err) != NotFound {
			return nil, err
		}
		img, rerr := loadRegistry(ctx, ref, opts)
		var le *LoadError
		if errors.As(rerr, &le) && le.Kind == NotFound {
			return nil, errorf(NotFound, "%v, nor in the local Docker daemon at %s", le.Err, daemonWhere(opts.DockerHost))
		}
		return img, rerr
	}
	return loadRegistry(ctx, ref, opts)
}

// looksLikePath reports references that can only be meant as paths.
func looksLikePath(ref string) bool {
	for _, p := range []string{"/", "./", "../", "~"} {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	for _, s := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".json"} {
		if strings.HasSuffix(ref, s) {
			return true
		}
	}
	return false
}

// splitPathSelector splits "PATH", "PATH:TAG" and "PATH@sha256:..." where
// PATH exists; ok is false when no prefix of s is an existing path.
func splitPathSelector(s string) (p string, sel selector, ok bool) {
	if exists(s) {
		return s, selector{}, true
	}
	if i := strings.LastIndex(s, "@"); i > 0 {
		if h, err := v1.NewHash(s[i+1:]); err == nil && exists(s[:i]) {
			return s[:i], selector{digest: h}, true
		}
	}
	for i := strings.LastIndex(s, ":"); i > 0; i = strings.LastIndex(s[:i], ":") {
		if exists(s[:i]) && s[i+1:] != "" {
			return s[:i], selector{tag: s[i+1:]}, true
		}
	}
	return "", selector{}, false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// loadPathRef loads a prefixed path reference; want is the kind the prefix
// asked for.
func loadPathRef(rest string, want Kind, opts Options) (*Image, error) {
	if rest == "" {
		return nil, errorf(Usage, "%s needs a path", want)
	}
	p, sel, ok := splitPathSelector(rest)
	if !ok {
		return nil, errorf(NotFound, "no such file or directory: %s", rest)
	}
	return loadPath(p, sel, want, opts)
}

// loadPath loads a file or directory. The content decides the format; want
// (the prefix the user gave, or "") only words the errors, so that an OCI
// archive given as docker-archive: still loads.
func loadPath(p string, sel selector, want Kind, opts Options) (*Image, error) {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errorf(NotFound, "no such file or directory: %s", p)
		}
		return nil, errorf(NotFound, "cannot read %s: %v", p, err)
	}
	if fi.IsDir() {
		if want == DockerArchive || want == OCIArchive {
			if !isLayoutDir(p) {
				return nil, errorf(NotAnImage, "%s is a directory, not a %s tar file", p, want)
			}
		}
		return loadLayoutDir(p, sel, opts.Arch)
	}
	if !fi.Mode().IsRegular() {
		return nil, errorf(NotAnImage, "%s is a %s, not a regular file: refused (an image is a tar file or an OCI layout directory)", p, fileKind(fi.Mode()))
	}
	tf, cleanup, err := openArchive(p, opts.TempDir)
	if err != nil {
		return nil, err
	}
	var img *Image
	switch {
	case tf.has("manifest.json") && (want != OCIArchive && want != OCILayout || !tf.has("index.json")):
		img, err = loadDockerArchive(tf, sel, p)
	case tf.has("index.json"):
		img, err = loadLayoutArchive(tf, sel, opts.Arch, p, OCIArchive)
	default:
		err = errorf(NotAnImage, "%s is a tar archive with neither manifest.json (docker save) nor index.json (OCI layout)", p)
	}
	if err != nil {
		cleanup()
		return nil, err
	}
	img.cleanup = cleanup
	return img, nil
}
