package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ecrHostRE matches private ECR registry hosts, where the ECR credential
// helper is consulted.
var ecrHostRE = regexp.MustCompile(`^(\d{12})\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// isECRHost reports whether host is a private ECR registry.
func isECRHost(host string) bool {
	return ecrHostRE.MatchString(host)
}

// ecrOnly consults its keychain only for ECR hosts, so the AWS SDK is never
// touched for other registries.
type ecrOnly struct {
	kc authn.Keychain
}

func (e ecrOnly) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if !isECRHost(r.RegistryStr()) {
		return authn.Anonymous, nil
	}
	return e.kc.Resolve(r)
}

// DefaultKeychain is the keychain used when Options.Keychain is nil: the
// Docker config (~/.docker/config.json or $DOCKER_CONFIG, with its
// credential helpers), then, for *.dkr.ecr.*.amazonaws.com hosts only, the
// ECR credential helper with the AWS SDK's default credential chain.
func DefaultKeychain() authn.Keychain {
	return authn.NewMultiKeychain(authn.DefaultKeychain, ecrOnly{ecrKeychain()})
}

// ecrKeychain is the ECR credential helper with the AWS SDK's default
// credential chain.
func ecrKeychain() authn.Keychain {
	return authn.NewKeychainFromHelper(ecr.NewECRHelper(ecr.WithLogger(io.Discard)))
}

// loadRegistry loads ref from its registry. An index (OCI image index or
// Docker manifest list) is recorded and its linux/<arch> child loaded.
//
// Every request is bounded by the network limits of opts (connect, idle,
// redirects, retries of 429 and 5xx answers with backoff) and the whole
// pull, layers included, by its LoadTimeout: the deadline ends when the
// Image is closed.
func loadRegistry(ctx context.Context, refStr string, opts Options) (*Image, error) {
	ref, err := name.ParseReference(refStr)
	if err != nil {
		return nil, errorf(Usage, "not an image reference: %v", err)
	}
	kc, rec := recordedKeychain(opts.Keychain)
	lim := limitsOf(opts)
	peer := "registry " + ref.Context().RegistryStr()
	ctx, cancel := lim.withDeadline(ctx, peer)
	base := opts.Transport
	if base == nil {
		base = NewTransport(lim.connect)
	}
	stats := &retryStats{}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("lambdoctor"),
		remote.WithTransport(&limitTransport{next: base, peer: peer, lim: lim, stats: stats}),
		remote.WithRetryBackoff(remote.Backoff{Duration: retryBackoffStart, Factor: 2, Jitter: 0.1, Steps: retryAttempts}),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}
	fail := func(r name.Reference, err error) (*Image, error) {
		err = registryError(ctx, r, err, rec, stats)
		cancel()
		return nil, err
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return fail(ref, err)
	}
	var (
		img v1.Image
		idx *Index
	)
	switch {
	case desc.MediaType.IsIndex():
		im, err := desc.ImageIndex()
		if err != nil {
			return fail(ref, err)
		}
		manifest, err := im.IndexManifest()
		if err != nil {
			cancel()
			return nil, errorf(Corrupt, "parsing index %s: %v", desc.Digest, err)
		}
		if err := checkIndexWidth(manifest, "index "+desc.Digest.String()); err != nil {
			cancel()
			return nil, err
		}
		idx = newIndex(desc.Digest.String(), desc.MediaType, manifest)
		i, err := idx.selectPlatform(opts.Arch)
		if err != nil {
			cancel()
			return nil, withSource(err, Registry)
		}
		child := ref.Context().Digest(manifest.Manifests[i].Digest.String())
		img, err = remote.Image(child, ropts...)
		if err != nil {
			return fail(child, err)
		}
	case desc.MediaType.IsImage():
		img, err = desc.Image()
		if err != nil {
			return fail(ref, err)
		}
	default:
		cancel()
		return nil, errorf(NotAnImage, "%s has media type %q, not an image or index", ref, desc.MediaType)
	}
	out, err := fromV1(Registry, img, nil)
	if err != nil {
		var se *sizeLimitError
		if _, _, ok := transportKind(err); ok || errors.As(err, &se) || isLimit(ctx, err) {
			return fail(ref, err)
		}
		cancel()
		return nil, err
	}
	out.Index = idx
	for i, l := range out.Layers {
		out.Layers[i].Open = netOpener(ctx, l.Open)
		if opts.Progress != nil {
			out.Layers[i].Open = progressOpener(out.Layers[i].Open, i+1, len(out.Layers), l.Size, opts.Progress)
		}
	}
	out.cleanup = func() error {
		cancel()
		return nil
	}
	return out, nil
}

// isLimit reports whether err comes from a network limit.
func isLimit(ctx context.Context, err error) bool {
	var le *limitError
	return errors.As(err, &le) || errors.As(context.Cause(ctx), &le)
}

// netOpener classifies the errors of a registry layer read, which happens
// after Load returned: a network limit that fires becomes a Network
// LoadError naming it.
func netOpener(ctx context.Context, open func() (io.ReadCloser, error)) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, netReadError(ctx, err)
		}
		return &netReader{ctx: ctx, rc: rc}, nil
	}
}

type netReader struct {
	ctx context.Context
	rc  io.ReadCloser
}

func (r *netReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = netReadError(r.ctx, err)
	}
	return n, err
}

func (r *netReader) Close() error { return r.rc.Close() }

// netReadError turns an error that a network limit caused into a Network
// LoadError saying which limit; other errors pass through.
func netReadError(ctx context.Context, err error) error {
	var le *limitError
	if errors.As(err, &le) || errors.As(context.Cause(ctx), &le) {
		return &LoadError{Kind: Network, Err: le}
	}
	return err
}

// registryError turns a go-containerregistry error into a LoadError with
// the registry, the repository and what to do. A network limit that fired
// is named, whatever error carried it up. rec says which credentials were
// sent, and from where: a refusal says whether none were found or the ones
// found were refused.
func registryError(ctx context.Context, ref name.Reference, err error, rec *credRecord, stats *retryStats) error {
	var lim *limitError
	if errors.As(err, &lim) || errors.As(context.Cause(ctx), &lim) {
		return &LoadError{Kind: Network, Err: lim}
	}
	var se *sizeLimitError
	if errors.As(err, &se) {
		return &LoadError{Kind: Corrupt, Err: se}
	}
	repo := ref.Context().Name()
	host := ref.Context().RegistryStr()
	creds := rec.get()
	kind, code, ok := transportKind(err)
	if !ok {
		if creds.err != nil {
			return &LoadError{Kind: Unauthorized, Err: fmt.Errorf("cannot get the credentials for %s from %s: %v", host, creds.errSrc, creds.err)}
		}
		return errorf(Corrupt, "reading %s: %v", ref, err)
	}
	switch kind {
	case NotFound:
		return &LoadError{Kind: NotFound, Err: fmt.Errorf("image not found in registry %s (%s)", repo, code)}
	case Unauthorized:
		return &LoadError{Kind: Unauthorized, Err: refusal(host, repo, code, creds.found, creds.source, creds.custom)}
	default:
		if code != "" {
			return &LoadError{Kind: Network, Err: fmt.Errorf("registry %s failed (%s)%s: %v", host, code, stats.summary(), err)}
		}
		return &LoadError{Kind: Network, Err: fmt.Errorf("cannot reach registry %s: %v", host, err)}
	}
}

// refusal words a 401 or 403: with credentials, that they were refused
// and where they came from; without, where none were found, and that the
// repository may not exist, since registries (Docker Hub among them)
// answer an anonymous pull of a repository that does not exist as they
// answer one of a private repository.
func refusal(host, repo, code string, found bool, source string, custom bool) error {
	if found {
		if code == string(transport.DeniedErrorCode) || code == "HTTP 403" {
			return fmt.Errorf("registry %s denied access to %s (%s) to the credentials for %s from %s: the account may not pull this repository, or it does not exist; %s",
				host, repo, code, host, source, checkHint(host))
		}
		return fmt.Errorf("registry %s refused the credentials for %s from %s (%s, pulling %s): they are wrong or expired; %s",
			host, host, source, code, repo, loginHint(host))
	}
	none := dockerConfigFor(host).none(host)
	if custom {
		none = fmt.Sprintf("no credentials found for %s: the keychain given by the caller has none for it", host)
	} else if isECRHost(host) {
		none += ", and the ECR credential helper found no AWS credentials (AWS_PROFILE, AWS_* variables, SSO, instance role)"
	}
	return fmt.Errorf("registry %s refused anonymous access to %s (%s): %s. The repository may not exist (registries such as Docker Hub answer an anonymous pull of a missing repository as they answer one of a private repository): check the name; if it is private, %s",
		host, repo, code, none, loginHint(host))
}

// checkHint is what to check when credentials were accepted but denied.
func checkHint(host string) string {
	if isECRHost(host) {
		return "check the repository policy and the IAM permissions (ecr:BatchGetImage, ecr:GetDownloadUrlForLayer)"
	}
	return "check the repository's name and the account's permissions"
}

// loginHint is the command that fixes missing credentials for host.
func loginHint(host string) string {
	if m := ecrHostRE.FindStringSubmatch(host); m != nil {
		return fmt.Sprintf("log in with `aws ecr get-login-password --region %s | docker login --username AWS --password-stdin %s` and check the repository policy", m[3], host)
	}
	return fmt.Sprintf("log in with `docker login %s`", host)
}
