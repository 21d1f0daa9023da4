package cmd

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// stallingRegistry holds goodImage as fn:t and then never answers a
// manifest request.
func stallingRegistry(t *testing.T) string {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	stall := make(chan struct{})
	var armed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if armed.Load() && strings.Contains(r.URL.Path, "/manifests/") {
			select {
			case <-r.Context().Done():
			case <-stall:
			}
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(stall)
		srv.Close()
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, _ := name.ParseReference(host + "/fn:t")
	if err := remote.Write(ref, goodImage(t)); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	return host
}

func TestNetworkFlags(t *testing.T) {
	host := stallingRegistry(t)
	ref := "registry:" + host + "/fn:t"
	for _, args := range [][]string{
		{"inspect", "--idle-timeout", "300ms", ref},
		{"why", "--idle-timeout", "300ms", "--image", ref, "exec format error"},
	} {
		s, out, errb := streams(nil)
		start := time.Now()
		code := Run(context.Background(), args, s)
		took := time.Since(start)
		if code != ExitLoad {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, ExitLoad, out, errb)
		}
		if took > 5*time.Second {
			t.Errorf("%v took %s", args, took)
		}
		want := "registry " + host + ": no answer for 300ms while reading manifest fn:t (--idle-timeout)"
		if !strings.Contains(out.String()+errb.String(), want) {
			t.Errorf("%v: output does not say %q:\n%s%s", args, want, out, errb)
		}
	}
}

func TestNetworkFlagsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"inspect", "--connect-timeout", "0", "x.tar"},
		{"inspect", "--idle-timeout", "-1s", "x.tar"},
		{"why", "--load-timeout", "-5m", "exec format error"},
	} {
		s, _, errb := streams(nil)
		if code := Run(context.Background(), args, s); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, ExitUsage, errb)
		}
	}
	for _, cmd := range []string{"inspect", "run", "why"} {
		s, out, _ := streams(nil)
		Run(context.Background(), []string{cmd, "--help"}, s)
		for _, f := range []string{"--connect-timeout duration", "--idle-timeout duration", "--load-timeout duration", "(default 30s)", "(default 15m0s)"} {
			if !strings.Contains(out.String(), f) {
				t.Errorf("%s --help does not show %q", cmd, f)
			}
		}
	}
}
