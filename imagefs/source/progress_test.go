package source

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambdoctor/lambdoctor/internal/fakedocker"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// progressLog collects the Progress reports of a load.
type progressLog struct {
	mu  sync.Mutex
	got []Progress
}

func (l *progressLog) report(p Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, p)
}

// of returns the reports of one transfer (a layer number, 0 for an export).
func (l *progressLog) of(layer int) []Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Progress
	for _, p := range l.got {
		if p.Layer == layer {
			out = append(out, p)
		}
	}
	return out
}

// checkTransfer checks the reports of one transfer: they start at 0 bytes,
// never go back, end with exactly one Done at want bytes.
func checkTransfer(t *testing.T, what string, got []Progress, want int64) {
	t.Helper()
	if len(got) < 2 {
		t.Fatalf("%s: %d reports, want a start and an end: %+v", what, len(got), got)
	}
	if got[0].Read != 0 || got[0].Done {
		t.Errorf("%s: first report %+v, want 0 bytes, not done", what, got[0])
	}
	for i := 1; i < len(got); i++ {
		if got[i].Read < got[i-1].Read {
			t.Errorf("%s: report %d went back: %+v after %+v", what, i, got[i], got[i-1])
		}
		if got[i-1].Done {
			t.Errorf("%s: report %d after Done: %+v", what, i, got[i])
		}
	}
	if last := got[len(got)-1]; !last.Done || last.Read != want {
		t.Errorf("%s: last report %+v, want Done at %d bytes", what, last, want)
	}
}

// TestRegistryProgress: every read of a pulled layer is reported as layer
// i of n with the manifest's size; the config and manifests are not.
func TestRegistryProgress(t *testing.T) {
	hermeticDockerConfig(t)
	host := startRegistry(t)
	img := testimage.Image(t, lambdaSpec("amd64"))
	ref, _ := name.ParseReference(host + "/fn:progress")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	var log progressLog
	got := mustLoad(t, "registry:"+ref.String(), Options{Progress: log.report})
	if len(log.got) != 0 {
		t.Fatalf("reports before any layer was read: %+v", log.got)
	}
	for i, l := range got.Layers {
		readLayer(t, got, i)
		reports := log.of(i + 1)
		for _, p := range reports {
			if p.Layers != len(got.Layers) || p.Total != l.Size {
				t.Fatalf("layer %d: report %+v, want %d layers and a total of %d", i+1, p, len(got.Layers), l.Size)
			}
		}
		checkTransfer(t, fmt.Sprintf("layer %d", i+1), reports, l.Size)
	}
	if n := len(log.of(0)); n != 0 {
		t.Errorf("%d export reports for a registry pull", n)
	}

	// A layer closed before its end still ends with one Done.
	log = progressLog{}
	rc, err := got.Layers[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	rc.Close()
	reports := log.of(1)
	if last := reports[len(reports)-1]; !last.Done || last.Read == 0 || last.Read >= got.Layers[0].Size {
		t.Errorf("abandoned layer: last report %+v, want Done part-way", last)
	}
	done := 0
	for _, p := range reports {
		if p.Done {
			done++
		}
	}
	if done != 1 {
		t.Errorf("abandoned layer: %d Done reports, want 1", done)
	}
}

// TestDaemonProgress: a daemon's export is reported as it streams, with no
// total (docker save does not say one), and ends once.
func TestDaemonProgress(t *testing.T) {
	var archive bytes.Buffer
	tag, _ := name.NewTag("fn:latest")
	if err := tarball.Write(tag, testimage.Image(t, lambdaSpec("amd64")), &archive); err != nil {
		t.Fatal(err)
	}
	host := fakedocker.Serve(t, "", fakedocker.InspectOK, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		io.Copy(w, bytes.NewReader(archive.Bytes()))
	})
	var log progressLog
	mustLoad(t, "docker:fn", Options{DockerHost: host, Progress: log.report})
	reports := log.of(0)
	for _, p := range reports {
		if p.Layers != 0 || p.Total != -1 {
			t.Fatalf("export report %+v, want no layer count and no total", p)
		}
	}
	checkTransfer(t, "export", reports, int64(archive.Len()))
	if len(reports) != len(log.got) {
		t.Errorf("layer reports for a daemon export: %+v", log.got)
	}
}
