package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/internal/suggest/nearest"
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
	// "tcp://host:2376"); empty finds it as the docker CLI does
	// ($DOCKER_HOST, $DOCKER_CONTEXT, the Docker config's current context,
	// the default socket), then tries podman's sockets (daemonhost.go).
	DockerHost string
	// Stdin is what the image "-" is read from; nil means os.Stdin.
	Stdin io.Reader
	// Notef, when set, receives one-line notes for the user (the size of
	// an archive read from stdin).
	Notef func(format string, a ...any)
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

	// endpoint, when set, is the daemon a bare reference found answering.
	endpoint *daemonEndpoint

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
//	docker:NAME[:TAG]            the local Docker daemon (found as the docker CLI finds it, then podman's)
//	registry:REF                 a registry, with the keychain
//	PATH[:TAG|@sha256:...]       an existing file or directory, recognised by content
//	-                            a docker save or OCI archive read from stdin (Options.Stdin)
//	REF                          the daemon when one answers within 1.5 s and has it, else the registry
//
// A reference that looks like a path (see looksLikePath) is a file or a
// "no such file" error, never a registry lookup.
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
	case ref == stdinRef:
		return loadStdin(opts, "")
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
	if why := looksLikePath(ref); why != "" {
		return nil, noSuchPath(ref, why)
	}
	if _, err := name.ParseReference(ref); err != nil {
		return nil, errorf(Usage, "%q is neither an existing file or directory nor an image reference (%v); prefixes: docker-archive:, oci:, oci-archive:, docker:, registry:", ref, err)
	}
	return loadBare(ctx, ref, opts)
}

// loadBare loads a reference without a prefix that is not a path: from
// the local daemon when one answers and has it, else from the registry.
// When both fail, the error gives both halves: what the registry said, and
// that the daemon does not have the image or that none answered (and
// which were tried).
func loadBare(ctx context.Context, ref string, opts Options) (*Image, error) {
	endpoint, tried, ok := daemonAnswers(ctx, opts.DockerHost)
	daemonHalf := fmt.Sprintf("no local Docker daemon answered to look for it there (tried %s)", triedList(tried))
	if ok {
		img, err := loadDaemon(ctx, ref, withEndpoint(opts, endpoint))
		if err == nil {
			return img, nil
		}
		if KindOf(err) != NotFound {
			return nil, err
		}
		daemonHalf = "nor is it in the local Docker daemon at " + endpoint.String()
	}
	img, err := loadRegistry(ctx, ref, opts)
	if err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			if le.Kind == PlatformNotFound {
				return nil, err // the registry has it: the daemon is beside the point
			}
			return nil, &LoadError{Kind: le.Kind, Err: fmt.Errorf("%w; %s", le.Err, daemonHalf)}
		}
		return nil, fmt.Errorf("%w; %s", err, daemonHalf)
	}
	return img, nil
}

// withEndpoint pins opts to the daemon endpoint found for a bare
// reference, so that the load talks to the daemon that answered the ping.
func withEndpoint(opts Options, e daemonEndpoint) Options {
	opts.endpoint = &e
	return opts
}

// looksLikePath says why ref can only be meant as a local path ("" when
// it can be an image name): it starts with /, ./, ../ or ~, ends like an
// archive (.tar, .tar.gz, .tgz, .tar.zst) or a JSON file, or has a '/'
// after a first segment that exists here (testdata/images/fn, when
// ./testdata exists). Such a name is never looked up in a daemon or a
// registry: a typo in a path must not become a Docker Hub lookup.
func looksLikePath(ref string) string {
	for _, p := range []string{"/", "./", "../", "~", "."} {
		if strings.HasPrefix(ref, p) {
			return fmt.Sprintf("it starts with %s", p)
		}
	}
	base := ref
	if i := strings.LastIndex(base, "@"); i > 0 {
		base = base[:i]
	}
	bases := []string{base}
	if i := strings.LastIndex(base, ":"); i > strings.LastIndex(base, "/") {
		bases = append(bases, base[:i]) // PATH:TAG
	}
	for _, b := range bases {
		if s := archiveSuffix(b); s != "" {
			return fmt.Sprintf("it ends in %s", s)
		}
	}
	if first, _, ok := strings.Cut(ref, "/"); ok && first != "" && exists(first) {
		return fmt.Sprintf("%s exists here", first)
	}
	return ""
}

// archiveSuffix is the file-name ending of p that marks it as an archive
// or a JSON file, or "".
func archiveSuffix(p string) string {
	for _, s := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".json"} {
		if strings.HasSuffix(p, s) {
			return s
		}
	}
	return ""
}

// noSuchPath is the error for a path-like reference that names nothing:
// which part is missing, the nearest names there, and how to name an
// image that really is called so.
func noSuchPath(ref, why string) error {
	p := ref
	if i := strings.LastIndex(p, "@"); i > 0 {
		if _, err := v1.NewHash(p[i+1:]); err == nil {
			p = p[:i] // PATH@sha256:...
		}
	}
	if i := strings.LastIndex(p, ":"); i > strings.LastIndex(p, "/") && archiveSuffix(p[:i]) != "" {
		p = p[:i] // PATH:TAG
	}
	msg := "no such file or directory: " + ref
	if hint := nearPaths(p); hint != "" {
		msg += " (" + hint + ")"
	}
	msg += "; it is read as a path because " + why
	if _, err := name.ParseReference(ref); err == nil && !strings.ContainsAny(ref[:1], "./~") {
		msg += fmt.Sprintf(", and never looked up in a registry: write registry:%s or docker:%s for an image named so", ref, ref)
	}
	return errorf(NotFound, "%s", msg)
}

// nearPaths finds the first component of p that does not exist and the
// names nearest to it in its directory: "did you mean fn.tar?".
func nearPaths(p string) string {
	clean := filepath.Clean(p)
	parts := strings.Split(clean, string(filepath.Separator))
	dir := "."
	if filepath.IsAbs(clean) {
		dir, parts = string(filepath.Separator), parts[1:]
	}
	for i, part := range parts {
		next := filepath.Join(dir, part)
		if exists(next) {
			dir = next
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return ""
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		near := nearest.Of(part, names)
		if len(near) == 0 {
			if i == 0 && dir == "." {
				return ""
			}
			return fmt.Sprintf("%s has no %s", dir, part)
		}
		rest := parts[i+1:]
		var sugg []string
		for _, n := range near {
			sugg = append(sugg, filepath.Join(append([]string{dir, n}, rest...)...))
		}
		return "did you mean " + strings.Join(sugg, " or ") + "?"
	}
	return ""
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
	if rest == stdinRef && (want == DockerArchive || want == OCIArchive) {
		return loadStdin(opts, want)
	}
	p, sel, ok := splitPathSelector(rest)
	if !ok {
		msg := "no such file or directory: " + rest
		if hint := nearPaths(rest); hint != "" {
			msg += " (" + hint + ")"
		}
		return nil, errorf(NotFound, "%s", msg)
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
		return nil, errorf(NotAnImage, "%s is a %s, not a regular file: refused (an image is a tar file or an OCI layout directory; to read an archive from a pipe, give - as the image: docker save fn | lambdoctor inspect -)", p, fileKind(fi.Mode()))
	}
	return loadArchiveFile(p, p, sel, want, opts)
}

// loadArchiveFile loads the tar archive (possibly compressed) at p, named
// label in messages. The content decides the format, as in loadPath.
func loadArchiveFile(p, label string, sel selector, want Kind, opts Options) (*Image, error) {
	tf, cleanup, err := openArchive(p, label, opts.TempDir)
	if err != nil {
		return nil, err
	}
	var img *Image
	switch {
	case tf.has("manifest.json") && (want != OCIArchive && want != OCILayout || !tf.has("index.json")):
		img, err = loadDockerArchive(tf, sel, label)
	case tf.has("index.json"):
		img, err = loadLayoutArchive(tf, sel, opts.Arch, label, OCIArchive)
	default:
		err = errorf(NotAnImage, "%s is a tar archive with neither manifest.json (docker save) nor index.json (OCI layout)", label)
	}
	if err != nil {
		cleanup()
		return nil, err
	}
	img.cleanup = cleanup
	return img, nil
}
