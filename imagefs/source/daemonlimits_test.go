package source

import (
	"archive/tar"
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/internal/fakedocker"
)

func stall(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func TestDaemonStallsOnInspect(t *testing.T) {
	host := fakedocker.Serve(t, "", stall, stall)
	within(t, 3*time.Second, func() {
		loadErr(t, "docker:fn", Options{DockerHost: host, IdleTimeout: 300 * time.Millisecond}, DaemonUnreachable,
			"the Docker daemon at "+host+": no answer for 300ms while inspecting fn (--idle-timeout)")
	})
}

func TestDaemonStallsMidExport(t *testing.T) {
	host := fakedocker.Serve(t, "", fakedocker.InspectOK, func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "manifest.json", Size: 4096, Mode: 0o644})
		tw.Write(make([]byte, 1024))
		w.Header().Set("Content-Type", "application/x-tar")
		w.Write(buf.Bytes())
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	within(t, 3*time.Second, func() {
		loadErr(t, "docker:fn", Options{DockerHost: host, IdleTimeout: 300 * time.Millisecond}, DaemonUnreachable,
			"the Docker daemon at "+host+": no data for 300ms while exporting fn (1.5 KiB received) (--idle-timeout)")
	})
}

func TestDaemonExportSlowly(t *testing.T) {
	host := fakedocker.Serve(t, "", fakedocker.InspectOK, func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "blobs/sha256/slow", Size: 1 << 20, Mode: 0o644})
		w.Header().Set("Content-Type", "application/x-tar")
		w.Write(buf.Bytes())
		for {
			if _, err := w.Write(bytes.Repeat([]byte{'x'}, 512)); err != nil {
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
	within(t, 3*time.Second, func() {
		loadErr(t, "docker:fn", Options{DockerHost: host, LoadTimeout: time.Second}, DaemonUnreachable,
			"the Docker daemon at "+host+": not done after 1s, while exporting fn", "(--load-timeout)")
	})
}

func TestDaemonExportTooBig(t *testing.T) {
	host := fakedocker.Serve(t, "", fakedocker.InspectOK, func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "blobs/sha256/huge", Size: 20 << 30, Mode: 0o644})
		w.Header().Set("Content-Type", "application/x-tar")
		w.Write(buf.Bytes())
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the data never comes: the header is enough
	})
	within(t, 3*time.Second, func() {
		loadErr(t, "docker:fn", Options{DockerHost: host}, Corrupt,
			`the export of fn would take more than 10 GiB: member "blobs/sha256/huge" declares 20 GiB (maxImageBytes: Lambda images are at most 10 GB uncompressed)`)
	})
}
