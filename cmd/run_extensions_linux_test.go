//go:build linux

package cmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

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
// /opt/extensions.
func goImageWithExtensions(t *testing.T, exts map[string][]byte) v1.Image {
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
		layer = append(layer, testimage.Reg("opt/extensions/"+name, 0o755, string(b)))
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
}
