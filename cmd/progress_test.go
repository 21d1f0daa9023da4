package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/fakedocker"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// TestProgressLine drives the progress line as a terminal would see it:
// each redraw returns to the start of the line and erases it, redraws are
// spaced (except when a transfer starts or ends), parallel layers share the
// line, and the line is erased when the last transfer ends.
func TestProgressLine(t *testing.T) {
	var term bytes.Buffer
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	l := newProgressLine(&term, 80)
	l.now = clock.now
	const mb = 1000 * 1000
	steps := []struct {
		after time.Duration
		p     source.Progress
		want  string // what the terminal receives
	}{
		{0, source.Progress{Layer: 1, Layers: 3, Total: 4 * mb}, "\r\x1b[Kpulling layer 1/3  0 B / 4.0 MB"},
		{10 * time.Millisecond, source.Progress{Layer: 1, Layers: 3, Read: 1000, Total: 4 * mb}, ""}, // too soon
		// A new layer always redraws, so that every layer shows at least
		// once, however quickly it ends.
		{0, source.Progress{Layer: 2, Layers: 3, Total: 2 * mb}, "\r\x1b[Kpulling layer 1/3  1.0 kB / 4.0 MB, layer 2/3  0 B / 2.0 MB"},
		{990 * time.Millisecond, source.Progress{Layer: 1, Layers: 3, Read: 2 * mb, Total: 4 * mb},
			"\r\x1b[Kpulling layer 1/3  2.0 MB / 4.0 MB, layer 2/3  0 B / 2.0 MB  (2.0 MB/s)"},
		{500 * time.Millisecond, source.Progress{Layer: 2, Layers: 3, Read: 1 * mb, Total: 2 * mb},
			"\r\x1b[Kpulling layer 1/3  2.0 MB / 4.0 MB, layer 2/3  1.0 MB / 2.0 MB  (2.0 MB/s)"},
		// An end always redraws, without the finished layer.
		{10 * time.Millisecond, source.Progress{Layer: 1, Layers: 3, Read: 4 * mb, Total: 4 * mb, Done: true},
			"\r\x1b[Kpulling layer 2/3  1.0 MB / 2.0 MB  (3.3 MB/s)"},
		// The last end erases the line.
		{500 * time.Millisecond, source.Progress{Layer: 2, Layers: 3, Read: 2 * mb, Total: 2 * mb, Done: true}, "\r\x1b[K"},
		// A later transfer starts a new line, and a new rate.
		{time.Second, source.Progress{Total: -1}, "\r\x1b[Kexporting from the Docker daemon  0 B"},
		{time.Second, source.Progress{Read: 52 * mb, Total: -1}, "\r\x1b[Kexporting from the Docker daemon  52.0 MB  (52.0 MB/s)"},
		{time.Second, source.Progress{Read: 60 * mb, Total: -1, Done: true}, "\r\x1b[K"},
	}
	for i, s := range steps {
		clock.advance(s.after)
		term.Reset()
		l.update(s.p)
		if got := term.String(); got != s.want {
			t.Errorf("step %d (%+v):\n got %q\nwant %q", i, s.p, got, s.want)
		}
	}
}

// TestProgressLineWidth: the line never reaches the terminal's last
// column, where it would wrap and "\r" would no longer rewrite it.
func TestProgressLineWidth(t *testing.T) {
	var term bytes.Buffer
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	l := newProgressLine(&term, 40)
	l.now = clock.now
	for n := 1; n <= 4; n++ {
		clock.advance(time.Second)
		l.update(source.Progress{Layer: n, Layers: 4, Total: 1 << 30})
	}
	last := term.String()[strings.LastIndex(term.String(), "\x1b[K")+len("\x1b[K"):]
	if got := len([]rune(last)); got != 39 || !strings.HasSuffix(last, "…") {
		t.Errorf("line %q: %d columns, want 39 ending with …", last, got)
	}
}

// TestRegistryPullProgress pulls from an in-process registry: on a
// terminal stderr, a line per layer ("layer 1/2") redrawn in place and
// erased at the end, never a line left behind; nothing when stderr is not
// a terminal, with --quiet, or with TERM=dumb; never on stdout.
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
		env   map[string]string
		args  []string
		wants bool
	}{
		{"terminal", true, nil, nil, true},
		{"not a terminal", false, nil, nil, false},
		{"terminal, --quiet", true, nil, []string{"--quiet"}, false},
		{"dumb terminal", true, map[string]string{"TERM": "dumb"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := streams(tt.env)
			s.ErrTTY = tt.tty
			// Without the cache: layers cached by other tests are not pulled.
			args := append(append([]string{"inspect", "--fail-on", "none", "--no-cache"}, tt.args...), "registry:"+ref.String())
			if code := Run(context.Background(), args, s); code != ExitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
			}
			if strings.Contains(out.String(), "pulling") {
				t.Errorf("progress on stdout:\n%s", out)
			}
			stderr := errb.String()
			if !tt.wants {
				if strings.Contains(stderr, "pulling") || strings.Contains(stderr, "\x1b[K") {
					t.Errorf("progress shown: %q", stderr)
				}
				return
			}
			for i := range layers {
				if want := fmt.Sprintf("\r\x1b[Kpulling layer %d/2  ", i+1); !strings.Contains(stderr, want) {
					t.Errorf("no progress of layer %d/2 (%q):\n%q", i+1, want, stderr)
				}
			}
			// Every draw is rewritten in place, and the last erases.
			if strings.Contains(stderr, "\n") || !strings.HasSuffix(stderr, "\r\x1b[K") {
				t.Errorf("progress left a line on the terminal: %q", stderr)
			}
		})
	}
	// why --image loads the image as inspect does, and shows the same.
	for _, quiet := range []bool{false, true} {
		s, out, errb := streams(nil)
		s.ErrTTY = true
		s.In = strings.NewReader("IMAGE Launch error: fork/exec /usr/local/bin/aws_lambda_ric: no such file or directory\n")
		args := []string{"why", "--no-cache", "--image", "registry:" + ref.String()}
		if quiet {
			args = append(args, "-q")
		}
		if code := Run(context.Background(), args, s); code != ExitOK {
			t.Fatalf("why: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
		}
		shown := strings.Contains(errb.String(), "\r\x1b[Kpulling layer 1/2  ") && strings.HasSuffix(errb.String(), "\r\x1b[K")
		if shown == quiet {
			t.Errorf("why --image (quiet %v): progress %q", quiet, errb)
		}
	}
}

// TestDaemonExportProgress loads docker:fn from a fake Docker daemon (the
// API on a unix socket, answering _ping, image inspect and image save with
// a docker save archive): on a terminal stderr the export's bytes show on
// one line, erased at the end.
func TestDaemonExportProgress(t *testing.T) {
	var archive bytes.Buffer
	tag, err := name.NewTag("fn:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.Write(tag, goodImage(t), &archive); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_HOST", fakedocker.Serve(t, "", fakedocker.InspectOK, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		w.Write(archive.Bytes())
	}))

	s, out, errb := streams(nil)
	s.ErrTTY = true
	if code := Run(context.Background(), []string{"inspect", "--fail-on", "none", "--no-cache", "docker:fn"}, s); code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
	}
	stderr := errb.String()
	if !strings.Contains(stderr, "\r\x1b[Kexporting from the Docker daemon  0 B") || strings.Contains(stderr, "\n") || !strings.HasSuffix(stderr, "\r\x1b[K") {
		t.Errorf("want the export's progress, erased at the end: %q", stderr)
	}
	if strings.Contains(out.String(), "exporting") {
		t.Errorf("progress on stdout:\n%s", out)
	}
}
