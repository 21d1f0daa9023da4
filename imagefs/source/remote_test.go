package source

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// noDaemon makes bare references skip the daemon probe quickly.
const noDaemon = "unix:///nonexistent/lambdoctor-test/docker.sock"

// hermeticDockerConfig points the default keychain at an empty config.
func hermeticDockerConfig(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

// startRegistry serves go-containerregistry's in-memory registry on
// loopback and returns its host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestRegistry(t *testing.T) {
	hermeticDockerConfig(t)
	host := startRegistry(t)
	single := testimage.Image(t, lambdaSpec("amd64"))
	singleRef, _ := name.ParseReference(host + "/fn:single")
	if err := remote.Write(singleRef, single); err != nil {
		t.Fatal(err)
	}
	_, _, idx := multiArch(t)
	multiRef, _ := name.ParseReference(host + "/fn:multi")
	if err := remote.WriteIndex(multiRef, idx); err != nil {
		t.Fatal(err)
	}

	t.Run("single image", func(t *testing.T) {
		for _, ref := range []string{"registry:" + host + "/fn:single", host + "/fn:single", host + "/fn@" + digestOf(t, single)} {
			got := mustLoad(t, ref, Options{DockerHost: noDaemon})
			if got.Source != Registry || got.PushedFormUnknown || got.Index != nil {
				t.Errorf("%s: Source %s PushedFormUnknown %v Index %v", ref, got.Source, got.PushedFormUnknown, got.Index)
			}
			if got.Digest != digestOf(t, single) || got.MediaType != string(types.DockerManifestSchema2) {
				t.Errorf("%s: Digest %s MediaType %s", ref, got.Digest, got.MediaType)
			}
			checkLambdaConfig(t, got, "amd64")
			for i, c := range checkLayers(t, got) {
				if !c {
					t.Errorf("layer %d: want the gzip blob as pushed", i)
				}
			}
		}
	})
	t.Run("index", func(t *testing.T) {
		for _, tc := range []struct {
			ref      string
			arch     string
			selected int
		}{
			{"registry:" + host + "/fn:multi", "amd64", 0},
			{"registry:" + host + "/fn:multi", "arm64", 1},
			{host + "/fn:multi", "arm64", 1},
			{host + "/fn:multi", "", 0},
		} {
			got := mustLoad(t, tc.ref, Options{Arch: tc.arch, DockerHost: noDaemon})
			if got.Source != Registry {
				t.Errorf("Source = %s", got.Source)
			}
			checkIndex(t, got, idx, tc.selected)
			checkLambdaConfig(t, got, got.Platform.Architecture)
			wantArch := tc.arch
			if wantArch == "" {
				wantArch = "amd64"
			}
			if got.Platform.Architecture != wantArch {
				t.Errorf("%s: loaded %s, want %s", tc.ref, got.Platform.Architecture, wantArch)
			}
			checkLayers(t, got)
		}
		le := loadErr(t, "registry:"+host+"/fn:multi", Options{Arch: "riscv64"}, PlatformNotFound,
			"no linux/riscv64 image", "linux/amd64", "linux/arm64", "(attestation)")
		missing, ok := PlatformMissing(le)
		if !ok || missing.Source != Registry || missing.Ref != "registry:"+host+"/fn:multi" || missing.Index.Selected != -1 || missing.Index.Digest == "" {
			t.Errorf("PlatformMissing = %+v, %v", missing, ok)
		}
		if _, ok := PlatformMissing(loadErr(t, "registry:"+host+"/fn:nope", Options{}, NotFound)); ok {
			t.Error("PlatformMissing of a NotFound error")
		}
	})
	t.Run("unknown tag", func(t *testing.T) {
		loadErr(t, "registry:"+host+"/fn:nope", Options{}, NotFound, "image not found in registry "+host+"/fn", "MANIFEST_UNKNOWN")
		loadErr(t, host+"/other:nope", Options{DockerHost: noDaemon}, NotFound, "image not found in registry "+host+"/other", "NAME_UNKNOWN")
	})
	t.Run("custom keychain", func(t *testing.T) {
		got := mustLoad(t, "registry:"+host+"/fn:single", Options{Keychain: authn.NewMultiKeychain()})
		if got.Digest != digestOf(t, single) {
			t.Errorf("Digest %s", got.Digest)
		}
	})
}

func TestRegistryUnauthorized(t *testing.T) {
	hermeticDockerConfig(t)
	var sawAuth bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			sawAuth = true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="lambdoctor-test"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	loadErr(t, "registry:"+host+"/private/fn:1", Options{}, Unauthorized,
		"refused anonymous access to "+host+"/private/fn (UNAUTHORIZED)", "no credentials found for "+host+": there is no Docker config file (looked for ", "The repository may not exist", "docker login "+host)
	loadErr(t, "registry:"+host+"/private/fn:1", Options{Keychain: authn.NewMultiKeychain()}, Unauthorized,
		"keychain given by the caller")
	if sawAuth {
		t.Error("credentials were sent although the keychain has none")
	}

	// 403 without an error body is unauthorized too.
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	defer forbidden.Close()
	loadErr(t, "registry:"+strings.TrimPrefix(forbidden.URL, "http://")+"/fn:1", Options{}, Unauthorized, "refused anonymous access", "(HTTP 403)")
}

func TestRegistryNetwork(t *testing.T) {
	hermeticDockerConfig(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	loadErr(t, "registry:"+host+"/fn:1", Options{}, Network, "cannot reach registry "+host)

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusTeapot) // an error status go-containerregistry does not retry
	}))
	defer broken.Close()
	loadErr(t, "registry:"+strings.TrimPrefix(broken.URL, "http://")+"/fn:1", Options{}, Network, "failed (HTTP 418)")

	loadErr(t, "registry:UPPER/Case::bad", Options{}, Usage, "not an image reference")
}

func TestRegistryTransportOption(t *testing.T) {
	hermeticDockerConfig(t)
	host := startRegistry(t)
	img := testimage.Image(t, lambdaSpec("amd64"))
	ref, _ := name.ParseReference(host + "/fn:t")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	var calls int
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return http.DefaultTransport.RoundTrip(r)
	})
	mustLoad(t, "registry:"+host+"/fn:t", Options{Transport: rt})
	if calls == 0 {
		t.Error("Options.Transport was not used")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestECRHosts(t *testing.T) {
	for host, want := range map[string]bool{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com":          true,
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com": true,
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn":      true,
		"public.ecr.aws":                                 false,
		"index.docker.io":                                false,
		"123456789012.dkr.ecr.us-east-1.evil.com":        false,
		"x.123456789012.dkr.ecr.us-east-1.amazonaws.com": false,
	} {
		if got := isECRHost(host); got != want {
			t.Errorf("isECRHost(%q) = %v, want %v", host, got, want)
		}
	}
	hint := loginHint("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
	if !strings.Contains(hint, "aws ecr get-login-password --region eu-west-1") {
		t.Errorf("ECR hint = %q", hint)
	}
	hermeticDockerConfig(t)
	if msg := refusal("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn", "HTTP 401", false, "", false).Error(); !strings.Contains(msg, "the ECR credential helper found no AWS credentials") {
		t.Errorf("refusal = %q", msg)
	}
	// The ECR helper is never asked about other registries.
	kc := ecrOnly{kc: authn.NewKeychainFromHelper(panicHelper{})}
	reg, _ := name.NewRegistry("ghcr.io")
	if a, err := kc.Resolve(reg); err != nil || a != authn.Anonymous {
		t.Errorf("Resolve(ghcr.io) = %v, %v", a, err)
	}
}

type panicHelper struct{}

func (panicHelper) Get(string) (string, string, error) {
	panic("ECR helper consulted for a non-ECR host")
}
