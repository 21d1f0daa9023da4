//go:build linux

package cmd

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/runtimeapi"
)

var goExtBins = map[string][]byte{}

// goExtension builds cmd/testdata/goext (a real extension on the Extensions
// API) in mode ("register", "silent" or "crash"), once per mode.
func goExtension(t *testing.T, mode string) []byte {
	t.Helper()
	goFnMu.Lock()
	defer goFnMu.Unlock()
	if b, ok := goExtBins[mode]; ok {
		return b
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "ext")
	c := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -X main.mode="+mode, "-o", out, ".")
	c.Dir = filepath.Join("testdata", "goext")
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("building the Go extension (%s): %v\n%s", mode, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	goExtBins[mode] = b
	return b
}

// goImageWithExtensions is goImage with extensions (name → binary) in
// /opt/extensions, executable but for those named in nonExec (mode 0644).
func goImageWithExtensions(t *testing.T, exts map[string][]byte, nonExec ...string) v1.Image {
	t.Helper()
	layer := []testimage.File{
		testimage.Dir("etc", 0), testimage.Dir("etc/ssl", 0), testimage.Dir("etc/ssl/certs", 0),
		testimage.Reg("etc/ssl/certs/ca-certificates.crt", 0o644, caBundle),
		testimage.Dir("tmp", 0o1777),
		testimage.Dir("var", 0), testimage.Dir("var/task", 0),
		testimage.Reg("var/task/bootstrap", 0o755, string(goFunction(t, runtime.GOARCH))),
		testimage.Dir("opt", 0o755), testimage.Dir("opt/extensions", 0o755),
	}
	for name, b := range exts {
		mode := int64(0o755)
		if slices.Contains(nonExec, name) {
			mode = 0o644
		}
		layer = append(layer, testimage.Reg("opt/extensions/"+name, mode, string(b)))
	}
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Entrypoint: []string{"/var/task/bootstrap"},
			WorkingDir: "/var/task",
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		Layers: [][]testimage.File{layer},
	})
}

func timelineHas(run *emulate.Outcome, kind, detail string) bool {
	for _, e := range run.Timeline {
		if e.Kind == kind && strings.Contains(e.Detail, detail) {
			return true
		}
	}
	return false
}

// A function with a well-behaved extension: the extension starts before
// the runtime, registers, gets the INVOKE and the SHUTDOWN, and the run is
// a success with all of it on the timeline.
func TestRunWithExtension(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	img := goImageWithExtensions(t, map[string][]byte{"good-ext": goExtension(t, "register")})
	r := runImage(t, context.Background(), img, "--event", writeEvent(t, `{"name":"x"}`))
	run := r.doc.Run
	if r.code != ExitOK || run.Result != emulate.ResultSuccess {
		t.Fatalf("exit %d, result %q, want 0 and success; error %+v\ntimeline %+v\nstdout %q\nstderr: %s", r.code, run.Result, run.Error, run.Timeline, run.StdoutTail, r.stderr)
	}
	for _, want := range [][2]string{
		{runtimeapi.KindExtStart, "good-ext started"},
		{runtimeapi.KindExtRegister, "good-ext registered for INVOKE, SHUTDOWN"},
		{runtimeapi.KindExtEvent, "INVOKE sent to good-ext"},
		{runtimeapi.KindShutdown, "SHUTDOWN (spindown)"},
		{runtimeapi.KindExtEvent, "SHUTDOWN sent to good-ext (spindown)"},
		{runtimeapi.KindExtExit, "good-ext exited: exit status 0"},
	} {
		if !timelineHas(run, want[0], want[1]) {
			t.Errorf("timeline lacks %s %q: %+v", want[0], want[1], run.Timeline)
		}
	}
	// The extension registered before the runtime started: its
	// registration comes before the runtime's first /next.
	var reg, ready int
	for i, e := range run.Timeline {
		switch e.Kind {
		case runtimeapi.KindExtRegister:
			reg = i
		case runtimeapi.KindInitDone:
			ready = i
		}
	}
	if reg >= ready {
		t.Errorf("registration (%d) after the runtime's init-done (%d): %+v", reg, ready, run.Timeline)
	}
	out := strings.Join(run.StdoutTail, "\n")
	for _, want := range []string{"good-ext: registered", "good-ext: INVOKE " + run.RequestID, "good-ext: SHUTDOWN spindown"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if len(run.Diagnosis) != 0 {
		t.Errorf("diagnosis of a good function: %+v", run.Diagnosis)
	}
}

// An extension that never registers fails init (within --init-timeout) and
// the runtime never starts; one that exits fails it with Extension.Crash;
// both named. Nothing is left behind.
func TestRunWithBrokenExtension(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	t.Run("never registers", func(t *testing.T) {
		img := goImageWithExtensions(t, map[string][]byte{"a-good": goExtension(t, "register"), "b-silent": goExtension(t, "silent")})
		r := runImage(t, context.Background(), img, "--init-timeout", "2s", "--event", writeEvent(t, `{"name":"x"}`))
		run := r.doc.Run
		if r.code == ExitOK || run.Result != emulate.ResultInitTimeout || run.Error == nil {
			t.Fatalf("exit %d, result %q, error %+v: want an init timeout", r.code, run.Result, run.Error)
		}
		if !strings.Contains(run.Error.Message, "extension b-silent did not register") || run.Error.Type != "Sandbox.Timedout" {
			t.Errorf("error %+v does not name b-silent", run.Error)
		}
		if timelineHas(run, runtimeapi.KindInitDone, "") {
			t.Errorf("the runtime ran: %+v", run.Timeline)
		}
		if !timelineHas(run, runtimeapi.KindExtRegister, "a-good registered") {
			t.Errorf("timeline lacks a-good's registration: %+v", run.Timeline)
		}
		if !slices.ContainsFunc(run.Diagnosis, func(d emulate.Diagnosis) bool {
			return d.Key == "extension-init-timeout" && strings.Contains(d.Failure, "extension b-silent")
		}) {
			t.Errorf("diagnosis does not name b-silent: %+v", run.Diagnosis)
		}
	})
	t.Run("crashes", func(t *testing.T) {
		img := goImageWithExtensions(t, map[string][]byte{"crasher": goExtension(t, "crash")})
		r := runImage(t, context.Background(), img, "--event", writeEvent(t, `{"name":"x"}`))
		run := r.doc.Run
		if r.code == ExitOK || run.Result != emulate.ResultExtensionFailed || run.Error == nil {
			t.Fatalf("exit %d, result %q, error %+v: want an extension failure", r.code, run.Result, run.Error)
		}
		if run.Error.Type != runtimeapi.ErrorTypeExtensionCrash || !strings.Contains(run.Error.Message, "extension crasher exited (exit status 3)") {
			t.Errorf("error %+v", run.Error)
		}
		if len(run.Diagnosis) == 0 || run.Diagnosis[0].Key != "extension-crash" || !strings.Contains(run.Diagnosis[0].Failure, "crasher") {
			t.Errorf("diagnosis %+v", run.Diagnosis)
		}
		if !timelineHas(run, runtimeapi.KindExtExit, "crasher exited: exit status 3") {
			t.Errorf("timeline %+v", run.Timeline)
		}
	})
	t.Run("cannot launch", func(t *testing.T) {
		img := goImageWithExtensions(t, map[string][]byte{"noexec": goExtension(t, "register")}, "noexec")
		r := runImage(t, context.Background(), img, "--event", writeEvent(t, `{"name":"x"}`))
		run := r.doc.Run
		if r.code == ExitOK || run.Result != emulate.ResultExtensionFailed || run.Error == nil {
			t.Fatalf("exit %d, result %q, error %+v: want an extension failure", r.code, run.Result, run.Error)
		}
		if run.Error.Type != runtimeapi.ErrorTypeExtensionLaunchError || !strings.Contains(run.Error.Message, "extension noexec could not be launched (fork/exec /opt/extensions/noexec: permission denied)") {
			t.Errorf("error %+v", run.Error)
		}
		if len(run.Diagnosis) == 0 || run.Diagnosis[0].Key != "extension-launcherror" || !slices.Contains(run.Diagnosis[0].FoundBy, "LD504") {
			t.Errorf("diagnosis %+v: want extension-launcherror located by LD504", run.Diagnosis)
		}
		if timelineHas(run, runtimeapi.KindInitDone, "") {
			t.Errorf("the runtime ran: %+v", run.Timeline)
		}
	})
}

// A --listen session keeps the extension of its warm environment: each
// event reaches it, and each answer waits until it asked for the next.
func TestRunListenWithExtension(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	ref := writeArchive(t, goImageWithExtensions(t, map[string][]byte{"good-ext": goExtension(t, "register")}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url, errb, done := startListen(t, ctx, ref)
	for _, name := range []string{"a", "b", "c"} {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"name":"`+name+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "hello "+name) {
			t.Fatalf("event %s: %d %s\n%s", name, resp.StatusCode, b, errb.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d after Ctrl-C:\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not stop after Ctrl-C:\n%s", errb.String())
	}
	log := errb.String()
	if n := strings.Count(log, "good-ext: INVOKE "); n != 3 {
		t.Errorf("the extension saw %d INVOKE events, want 3:\n%s", n, log)
	}
	if !strings.Contains(log, "1 execution environment(s) started") {
		t.Errorf("stderr:\n%s", log)
	}
}
