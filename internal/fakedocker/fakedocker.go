// Package fakedocker serves, on a unix socket, the few Docker Engine API
// endpoints lambdoctor calls (ping, image inspect, image save), for tests
// of a daemon that stalls, fails or reports progress.
package fakedocker

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// Serve serves _ping, image inspect (inspect) and image save (save) on the
// unix socket sock ("" for one in a temporary directory of t) until the
// test ends, and returns its DOCKER_HOST. A nil handler answers as a
// daemon without the image does.
func Serve(t testing.TB, sock string, inspect, save http.HandlerFunc) string {
	t.Helper()
	if sock == "" {
		sock = filepath.Join(t.TempDir(), "docker.sock")
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if inspect == nil {
		inspect = NoSuchImage
	}
	if save == nil {
		save = NoSuchImage
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.47")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/json") && strings.Contains(r.URL.Path, "/images/"):
			inspect(w, r)
		case strings.HasSuffix(r.URL.Path, "/images/get"):
			save(w, r)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

// InspectOK answers image inspect for fn:latest.
func InspectOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"Id":"sha256:` + strings.Repeat("0", 64) + `","RepoTags":["fn:latest"]}`))
}

// NoSuchImage answers as a daemon without the image does.
func NoSuchImage(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, `{"message":"no such image: fn"}`, http.StatusNotFound)
}
