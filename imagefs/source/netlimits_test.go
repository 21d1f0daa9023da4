package source

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// faultyRegistry is go-containerregistry's in-memory registry behind a
// handler that misbehaves as the test says. It returns the host:port.
func faultyRegistry(t *testing.T, fault func(w http.ResponseWriter, r *http.Request, next http.Handler) bool) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var armed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if armed.Load() && fault(w, r, reg) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	img := testimage.Image(t, lambdaSpec("amd64"))
	ref, _ := name.ParseReference(host + "/fn:t")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	return host
}

// readAllLayers reads every layer of img, returning the first error.
func readAllLayers(img *Image) error {
	for _, l := range img.Layers {
		rc, err := l.Open()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// within fails the test when f takes longer than max.
func within(t *testing.T, max time.Duration, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	f()
	took := time.Since(start)
	if took > max {
		t.Errorf("took %s, want at most %s", took, max)
	}
	return took
}

// fastRetries makes the retry backoff short for the test.
func fastRetries(t *testing.T) {
	old := retryBackoffStart
	retryBackoffStart = 20 * time.Millisecond
	t.Cleanup(func() { retryBackoffStart = old })
}

func TestRegistryStallsOnManifest(t *testing.T) {
	hermeticDockerConfig(t)
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		<-r.Context().Done() // never answers
		return true
	})
	opts := Options{IdleTimeout: 300 * time.Millisecond}
	within(t, 3*time.Second, func() {
		loadErr(t, "registry:"+host+"/fn:t", opts, Network,
			"registry "+host+": no answer for 300ms while reading manifest fn:t (--idle-timeout)")
	})
}

func TestRegistryStallsMidManifestBody(t *testing.T) {
	hermeticDockerConfig(t)
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"schemaVersion":`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return true
	})
	within(t, 3*time.Second, func() {
		loadErr(t, "registry:"+host+"/fn:t", Options{IdleTimeout: 300 * time.Millisecond}, Network,
			"no data for 300ms while reading manifest fn:t", "(17 B of 1000 B received)", "(--idle-timeout)")
	})
}

// stallingBlobs serves layer blobs through serve and everything else (the
// config included, which is small) from the registry.
func stallingBlobs(t *testing.T, serve func(w http.ResponseWriter, r *http.Request, body []byte)) string {
	return faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/blobs/") || r.Method != http.MethodGet {
			return false
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code != http.StatusOK || len(body) < 2 || body[0] == '{' {
			return false // the config (JSON) is served normally
		}
		serve(w, r, body)
		return true
	})
}

func TestRegistryStallsMidBlob(t *testing.T) {
	hermeticDockerConfig(t)
	host := stallingBlobs(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Length", itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	img := mustLoad(t, "registry:"+host+"/fn:t", Options{IdleTimeout: 300 * time.Millisecond})
	var err error
	within(t, 3*time.Second, func() { err = readAllLayers(img) })
	checkNetErr(t, err, "registry "+host+": no data for 300ms while reading blob sha256:", "received) (--idle-timeout)")
}

func TestRegistrySendsBlobSlowly(t *testing.T) {
	hermeticDockerConfig(t)
	host := stallingBlobs(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Length", itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		for _, b := range body { // one byte every 50 ms: never idle for long
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	img := mustLoad(t, "registry:"+host+"/fn:t", Options{IdleTimeout: time.Second, LoadTimeout: 1500 * time.Millisecond})
	var err error
	within(t, 4*time.Second, func() { err = readAllLayers(img) })
	checkNetErr(t, err, "registry "+host+": not done after 1.5s, while reading blob sha256:", "(--load-timeout)")
}

func TestRegistryRedirectLoop(t *testing.T) {
	hermeticDockerConfig(t)
	var hops atomic.Int64
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		hops.Add(1)
		http.Redirect(w, r, r.URL.Path+"?again="+strings.Repeat("x", 1000), http.StatusTemporaryRedirect)
		return true
	})
	within(t, 3*time.Second, func() {
		loadErr(t, "registry:"+host+"/fn:t", Options{}, Network,
			"registry "+host+": more than 10 redirects while reading manifest fn:t", "(maxRedirects)")
	})
	if n := hops.Load(); n != maxRedirects+1 {
		t.Errorf("the registry saw %d requests, want %d (the first and 10 redirects)", n, maxRedirects+1)
	}
}

func TestRegistryTooManyRequestsThenOK(t *testing.T) {
	hermeticDockerConfig(t)
	fastRetries(t)
	var refused atomic.Int64
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if strings.Contains(r.URL.Path, "/manifests/") && refused.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
			return true
		}
		return false
	})
	img := mustLoad(t, "registry:"+host+"/fn:t", Options{})
	if err := readAllLayers(img); err != nil {
		t.Fatal(err)
	}
	if n := refused.Load(); n != 3 {
		t.Errorf("manifest requested %d times, want 3 (two 429s, then 200)", n)
	}
}

func TestRegistryFailsForever(t *testing.T) {
	hermeticDockerConfig(t)
	fastRetries(t)
	var tries atomic.Int64
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		tries.Add(1)
		http.Error(w, "boom", http.StatusInternalServerError)
		return true
	})
	within(t, 3*time.Second, func() {
		loadErr(t, "registry:"+host+"/fn:t", Options{}, Network,
			"registry "+host+" failed (HTTP 500) after 5 attempts over", "(retried with backoff)")
	})
	if n := tries.Load(); n != int64(retryAttempts) {
		t.Errorf("%d attempts, want %d", n, retryAttempts)
	}
}

func TestRegistryFailsForeverWithinDeadline(t *testing.T) {
	hermeticDockerConfig(t)
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		http.Error(w, "boom", http.StatusServiceUnavailable)
		return true
	})
	// The default backoff waits 0.5+1+2+4 s; the deadline ends it first.
	within(t, 4*time.Second, func() {
		loadErr(t, "registry:"+host+"/fn:t", Options{LoadTimeout: 1200 * time.Millisecond}, Network,
			"registry "+host+": not done after 1.2s", "(--load-timeout)")
	})
}

func TestRegistryHugeManifest(t *testing.T) {
	hermeticDockerConfig(t)
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", itoa(50<<20))
		}
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for i := 0; i < 50<<4; i++ {
			if _, err := w.Write(chunk); err != nil {
				return true
			}
		}
		return true
	})
	loadErr(t, "registry:"+host+"/fn:t", Options{}, Corrupt, "is 50 MiB (52428800 bytes), more than the 4 MiB limit", "(maxManifestBytes)")
}

// TestRegistryConnectTimeout dials a loopback listener whose accept queue
// is full: the kernel drops further SYNs, so connect hangs.
func TestRegistryConnectTimeout(t *testing.T) {
	hermeticDockerConfig(t)
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := net.JoinHostPort("127.0.0.1", itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the accept queue (backlog 0 holds one) with connections never
	// accepted.
	filled := 0
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
		filled++
	}
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Skipf("this kernel accepts connections past the backlog (%d filled); cannot simulate a hanging connect", filled)
	}
	within(t, 3*time.Second, func() {
		loadErr(t, "registry:"+addr+"/fn:t", Options{ConnectTimeout: 300 * time.Millisecond}, Network,
			"registry "+addr+": no connection after 300ms (--connect-timeout)")
	})
}

func TestLimitErrorsSurviveCancellation(t *testing.T) {
	// A cancelled parent context is the user's interrupt, not a limit.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lim := netLimits{overall: time.Hour}
	c, stop := lim.withDeadline(ctx, "registry x")
	defer stop()
	var le *limitError
	if errors.As(context.Cause(c), &le) {
		t.Errorf("an interrupt was reported as %v", le)
	}
}

// checkNetErr checks a layer-read error: a Network LoadError whose message
// holds wants.
func checkNetErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("reading the layers succeeded, want a network limit error")
	}
	t.Logf("error: %v", err)
	if KindOf(err) != Network {
		t.Errorf("kind %q, want %q", KindOf(err), Network)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
