package source

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// cachedBuild loads ref, builds its view with cache and returns the
// listing of the view, the build's stats and the image (open: the caller
// closes it).
func cachedBuild(t *testing.T, ref string, opts Options) (string, imagefs.Stats, *Image, *imagefs.FS) {
	t.Helper()
	img, err := Load(t.Context(), ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := imagefs.Build(t.Context(), img.Layers, imagefs.Options{Cache: opts.Cache, TempDir: t.TempDir()})
	if err != nil {
		img.Close()
		t.Fatal(err)
	}
	var b strings.Builder
	f.Walk(func(e *imagefs.Entry) error {
		b.WriteString(e.Path + " " + e.FileMode().String() + "\n")
		return nil
	})
	for _, l := range f.Layers() {
		b.WriteString(l.Digest + " " + l.DiffID + "\n")
	}
	b.WriteString(img.ImageID + " " + img.Digest + " " + string(img.RawConfig) + "\n")
	return b.String(), f.Stats(), img, f
}

// saveEvents counts the daemon's image save events since start.
func saveEvents(t *testing.T, host string, start time.Time) int {
	t.Helper()
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	res := cli.Events(ctx, client.EventsListOptions{
		Since:   start.Add(-time.Second).Format(time.RFC3339Nano),
		Until:   time.Now().Add(time.Second).Format(time.RFC3339Nano),
		Filters: make(client.Filters).Add("type", "image").Add("event", "save"),
	})
	n := 0
	for {
		select {
		case <-res.Messages:
			n++
		case err := <-res.Err:
			if err != nil && err != io.EOF {
				t.Fatalf("reading the daemon's events: %v", err)
			}
			return n
		}
	}
}

// TestDaemonCache: once an image's layers are in the cache, loading it
// from the daemon and building its view asks the daemon for no export;
// reading a file that was not captured exports it then, once.
func TestDaemonCache(t *testing.T) {
	host := startDockerd(t)
	img := testimage.Image(t, lambdaSpec("amd64"))
	tag, _ := name.NewTag("lambdoctor-test/cached:v1")
	var archive bytes.Buffer
	if err := tarball.Write(tag, img, &archive); err != nil {
		t.Fatal(err)
	}
	dockerLoad(t, host, archive.Bytes())
	c, err := imagefs.OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{DockerHost: host, TempDir: t.TempDir(), Cache: c}
	const ref = "docker:lambdoctor-test/cached:v1"

	start := time.Now()
	want, st, first, f := cachedBuild(t, ref, opts)
	f.Close()
	first.Close()
	if st.CachedLayers != 0 {
		t.Errorf("first build: %d cached layers", st.CachedLayers)
	}
	if n := saveEvents(t, host, start); n != 1 {
		t.Fatalf("first load: the daemon exported %d times, want 1", n)
	}

	start = time.Now()
	got, st, second, f := cachedBuild(t, ref, opts)
	defer second.Close()
	defer f.Close()
	if got != want {
		t.Errorf("cached view differs:\n%s\nwant:\n%s", got, want)
	}
	if st.CachedLayers != int64(len(second.Layers)) {
		t.Errorf("second build: %d of %d layers from the cache", st.CachedLayers, len(second.Layers))
	}
	if second.Source != Daemon || second.ImageID != first.ImageID || len(second.RepoTags) == 0 {
		t.Errorf("cached daemon image: Source %s ImageID %s RepoTags %v", second.Source, second.ImageID, second.RepoTags)
	}
	if n := saveEvents(t, host, start); n != 0 {
		t.Fatalf("second load and build: the daemon exported %d times, want none", n)
	}

	// A file that was not captured (handler.sh has no exec bit) needs the
	// layer: the image is exported now, once for all reads.
	start = time.Now()
	for range 2 {
		b, err := f.ReadFile("var/task/handler.sh")
		if err != nil || string(b) != "handler() { echo ok; }\n" {
			t.Fatalf("reading a file of a cached layer: %q, %v", b, err)
		}
	}
	if n := saveEvents(t, host, start); n != 1 {
		t.Errorf("reading an uncaptured file: the daemon exported %d times, want 1", n)
	}
	if err := second.Close(); err != nil {
		t.Errorf("closing the lazily exported image: %v", err)
	}
	if left := dirEntries(t, opts.TempDir); len(left) != 0 {
		t.Errorf("Close left %v", left)
	}
}

// blobGets counts the registry's blob GETs.
type blobGets struct {
	mu sync.Mutex
	n  int
	h  http.Handler
}

func (b *blobGets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
		b.mu.Lock()
		b.n++
		b.mu.Unlock()
	}
	b.h.ServeHTTP(w, r)
}

func (b *blobGets) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// TestRegistryCache: once an image's layers are in the cache, loading it
// from a registry and building its view downloads no layer blob (only
// the manifest and config); reading an uncaptured file downloads its
// layer then, once.
func TestRegistryCache(t *testing.T) {
	hermeticDockerConfig(t)
	counter := &blobGets{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(counter)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := testimage.Image(t, lambdaSpec("amd64"))
	ref, _ := name.ParseReference(host + "/fn:cached")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	c, err := imagefs.OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{DockerHost: noDaemon, Cache: c}

	before := counter.count()
	want, _, first, f := cachedBuild(t, "registry:"+ref.String(), opts)
	f.Close()
	first.Close()
	// The config is a blob too.
	if n := counter.count() - before; n != 1+len(first.Layers) {
		t.Fatalf("first load: %d blob GETs, want the config and %d layers", n, len(first.Layers))
	}

	before = counter.count()
	got, st, second, f := cachedBuild(t, "registry:"+ref.String(), opts)
	defer second.Close()
	defer f.Close()
	if got != want {
		t.Errorf("cached view differs:\n%s\nwant:\n%s", got, want)
	}
	if st.CachedLayers != int64(len(second.Layers)) {
		t.Errorf("%d of %d layers from the cache", st.CachedLayers, len(second.Layers))
	}
	if n := counter.count() - before; n != 1 {
		t.Fatalf("second load and build: %d blob GETs, want only the config's", n)
	}

	before = counter.count()
	for range 2 {
		b, err := f.ReadFile("var/task/handler.sh")
		if err != nil || string(b) != "handler() { echo ok; }\n" {
			t.Fatalf("reading a file of a cached layer: %q, %v", b, err)
		}
	}
	if n := counter.count() - before; n != 1 {
		t.Errorf("reading an uncaptured file twice: %d blob GETs, want 1", n)
	}
}
