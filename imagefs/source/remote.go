package source

import (
	"context"
	"fmt"
	"io"
	"regexp"

	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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
	helper := ecr.NewECRHelper(ecr.WithLogger(io.Discard))
	return authn.NewMultiKeychain(authn.DefaultKeychain, ecrOnly{authn.NewKeychainFromHelper(helper)})
}

// loadRegistry loads ref from its registry. An index (OCI image index or
// Docker manifest list) is recorded and its linux/<arch> child loaded.
func loadRegistry(ctx context.Context, refStr string, opts Options) (*Image, error) {
	ref, err := name.ParseReference(refStr)
	if err != nil {
		return nil, errorf(Usage, "not an image reference: %v", err)
	}
	kc := opts.Keychain
	if kc == nil {
		kc = DefaultKeychain()
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("lambdoctor"),
	}
	if opts.Transport != nil {
		ropts = append(ropts, remote.WithTransport(opts.Transport))
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, registryError(ref, err, opts.Keychain != nil)
	}
	var (
		img v1.Image
		idx *Index
	)
	switch {
	case desc.MediaType.IsIndex():
		im, err := desc.ImageIndex()
		if err != nil {
			return nil, registryError(ref, err, opts.Keychain != nil)
		}
		manifest, err := im.IndexManifest()
		if err != nil {
			return nil, errorf(Corrupt, "parsing index %s: %v", desc.Digest, err)
		}
		idx = newIndex(desc.Digest.String(), desc.MediaType, manifest)
		i, err := idx.selectPlatform(opts.Arch)
		if err != nil {
			return nil, err
		}
		child := ref.Context().Digest(manifest.Manifests[i].Digest.String())
		img, err = remote.Image(child, ropts...)
		if err != nil {
			return nil, registryError(child, err, opts.Keychain != nil)
		}
	case desc.MediaType.IsImage():
		img, err = desc.Image()
		if err != nil {
			return nil, registryError(ref, err, opts.Keychain != nil)
		}
	default:
		return nil, errorf(NotAnImage, "%s has media type %q, not an image or index", ref, desc.MediaType)
	}
	out, err := fromV1(Registry, img, nil)
	if err != nil {
		if _, _, ok := transportKind(err); ok {
			return nil, registryError(ref, err, opts.Keychain != nil)
		}
		return nil, err
	}
	out.Index = idx
	return out, nil
}

// registryError turns a go-containerregistry error into a LoadError with
// the registry, the repository and what to do.
func registryError(ref name.Reference, err error, customKeychain bool) error {
	kind, code, ok := transportKind(err)
	if !ok {
		return errorf(Corrupt, "reading %s: %v", ref, err)
	}
	repo := ref.Context().Name()
	host := ref.Context().RegistryStr()
	switch kind {
	case NotFound:
		return &LoadError{Kind: NotFound, Err: fmt.Errorf("image not found in registry %s (%s)", repo, code)}
	case Unauthorized:
		return &LoadError{Kind: Unauthorized, Err: fmt.Errorf("registry %s refused access to %s (%s); credentials tried: %s; %s",
			host, repo, code, triedCredentials(host, customKeychain), loginHint(host))}
	default:
		if code != "" {
			return &LoadError{Kind: Network, Err: fmt.Errorf("registry %s failed (%s): %v", host, code, err)}
		}
		return &LoadError{Kind: Network, Err: fmt.Errorf("cannot reach registry %s: %v", host, err)}
	}
}

// triedCredentials says which keychain was consulted for host.
func triedCredentials(host string, custom bool) string {
	if custom {
		return "the keychain given by the caller"
	}
	s := "the Docker config ($DOCKER_CONFIG or ~/.docker/config.json, with its credsStore/credHelpers)"
	if isECRHost(host) {
		s += " and the ECR credential helper (AWS SDK default credentials: AWS_PROFILE, AWS_* variables, SSO, instance role)"
	}
	return s
}

// loginHint is the command that fixes missing credentials for host.
func loginHint(host string) string {
	if m := ecrHostRE.FindStringSubmatch(host); m != nil {
		return fmt.Sprintf("log in with `aws ecr get-login-password --region %s | docker login --username AWS --password-stdin %s` and check the repository policy", m[3], host)
	}
	return fmt.Sprintf("log in with `docker login %s`", host)
}
