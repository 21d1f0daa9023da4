package cmd

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestRegistryPullProgress pulls from an in-process registry: progress per
// blob on a terminal stderr, nothing when stderr is not a terminal or with
// --quiet, and never on stdout.
func TestRegistryPullProgress(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.NewTag(host + "/fn:test")
	if err != nil {
		t.Fatal(err)
	}
	img := goodImage(t)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing: %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		tty   bool
		args  []string
		wants bool
	}{
		{"terminal", true, nil, true},
		{"not a terminal", false, nil, false},
		{"terminal, --quiet", true, []string{"--quiet"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := streams(nil)
			s.ErrTTY = tt.tty
			// Without the cache: layers cached by other tests are not pulled.
			args := append(append([]string{"inspect", "--fail-on", "none", "--no-cache"}, tt.args...), "registry:"+ref.String())
			if code := Run(context.Background(), args, s); code != ExitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
			}
			if strings.Contains(out.String(), "pulling ") {
				t.Errorf("progress on stdout:\n%s", out)
			}
			got := strings.Count(errb.String(), "pulling sha256:")
			if !tt.wants {
				if got != 0 {
					t.Errorf("progress shown:\n%s", errb)
				}
				return
			}
			for _, l := range layers {
				d, _ := l.Digest()
				if !strings.Contains(errb.String(), "pulling "+d.String()[:len("sha256:")+12]) {
					t.Errorf("no progress line for layer %s:\n%q", d, errb)
				}
			}
		})
	}
}
