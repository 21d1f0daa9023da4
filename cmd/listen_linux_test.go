package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/emulate"
)

// lockedBuffer is a bytes.Buffer written by run and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startListen starts `lambdoctor run --listen 127.0.0.1:0 ... ref` in the
// background and returns the invoke URL it prints, its stderr, and the
// channel its exit code arrives on.
func startListen(t *testing.T, ctx context.Context, ref string, args ...string) (string, *lockedBuffer, chan int) {
	t.Helper()
	errb := &lockedBuffer{}
	s := &IOStreams{In: strings.NewReader(""), Out: io.Discard, Err: errb, Getenv: func(string) string { return "" }}
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	done := make(chan int, 1)
	argv := append(append([]string{"run", "--listen", "127.0.0.1:0"}, args...), ref)
	go func() { done <- Run(ctx, argv, s) }()
	addrRE := regexp.MustCompile(`listening on (http://\S+)`)
	for {
		select {
		case code := <-done:
			t.Fatalf("run exited %d before listening:\n%s", code, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
		if m := addrRE.FindStringSubmatch(errb.String()); m != nil {
			return m[1], errb, done
		}
	}
}

// TestRunListen drives `lambdoctor run --listen` the way people drive the
// Runtime Interface Emulator: several events posted to the invoke
// endpoint of one warm environment, a function error, a timeout after
// which the next event boots a new environment, and Ctrl-C, which prints
// the session's summary and leaves nothing behind.
func TestRunListen(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	ref := writeArchive(t, goImage(t, goFunction(t, runtime.GOARCH), 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url, errb, done := startListen(t, ctx, ref, "--timeout", "2s")
	if !strings.HasSuffix(url, emulate.InvokePath) {
		t.Fatalf("listening on %s, want the emulator's invoke path", url)
	}
	post := func(body string) (int, http.Header, string) {
		t.Helper()
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v\nstderr:\n%s", body, err, errb.String())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	greeting := func(body string) string {
		var r struct {
			Greeting string `json:"greeting"`
			UID      int    `json:"uid"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("response %q: %v", body, err)
		}
		if r.UID != 993 {
			t.Errorf("the function ran as uid %d, want Lambda's 993", r.UID)
		}
		return r.Greeting
	}

	for _, name := range []string{"a", "b"} {
		code, _, body := post(`{"name":"` + name + `"}`)
		if code != 200 || greeting(body) != "hello "+name {
			t.Fatalf("event %s: %d %s", name, code, body)
		}
	}
	// The function returns an error for an event without a name.
	code, h, body := post(`{}`)
	if code != 200 || h.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(body, "no name in the event") {
		t.Fatalf("function error: %d %v %s", code, h, body)
	}
	// A timeout: the emulator's text, then a new environment.
	code, _, body = post(`{"name":"slow","sleepMs":20000}`)
	if code != 200 || body != "Task timed out after 2.00 seconds" {
		t.Fatalf("timeout: %d %q", code, body)
	}
	code, _, body = post(`{"name":"c"}`)
	if code != 200 || greeting(body) != "hello c" {
		t.Fatalf("after the timeout: %d %s", code, body)
	}
	if code, _, _ := post(strings.Repeat("x", 6*1024*1024+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 6 MB + 1 payload: %d, want 413", code)
	}

	cancel() // Ctrl-C
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d after Ctrl-C, want 0:\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not stop after Ctrl-C:\n%s", errb.String())
	}
	log := errb.String()
	for _, want := range []string{
		"5 invocation(s): 3 answered, 1 function error(s), 1 failed",
		"2 execution environment(s) started",
		"REPORT RequestId:", "Init Duration:", "stderr: sleeping",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
}
