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
	"github.com/lambdoctor/lambdoctor/report"
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

// An extension subscribed to the Telemetry API (HTTP) or the Logs API
// (TCP) gets, at its listener inside the sandbox (sandbox.localdomain),
// the platform's events, the function's log lines and its own; the run
// shows the subscription, shuts down with SIGTERM to the runtime, and
// counts the init until the extension called next.
func TestRunTelemetryExtension(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	for _, mode := range []string{"telemetry", "logs"} {
		t.Run(mode, func(t *testing.T) {
			img := goImageWithExtensions(t, map[string][]byte{"tel-ext": goExtension(t, mode)})
			r := runImage(t, context.Background(), img, "--event", writeEvent(t, `{"name":"x","sleepMs":1}`))
			run := r.doc.Run
			if r.code != ExitOK || run.Result != emulate.ResultSuccess {
				t.Fatalf("exit %d, result %q, want 0 and success; error %+v\ntimeline %+v\nstdout %q\nstderr %q", r.code, run.Result, run.Error, run.Timeline, run.StdoutTail, run.StderrTail)
			}
			out := strings.Join(run.StdoutTail, "\n")
			if !strings.Contains(out, `tel-ext: subscribed: 200 "OK"`) {
				t.Fatalf("the subscription failed:\n%s\nstderr %q", out, run.StderrTail)
			}
			id := run.RequestID
			want := []string{
				"tel-ext: TELEMETRY platform.start " + id,
				"tel-ext: TELEMETRY platform.runtimeDone " + id + " success",
				"tel-ext: TELEMETRY platform.report " + id + " success",
				"tel-ext: TELEMETRY function sleeping",
				"tel-ext: TELEMETRY extension tel-ext: registered",
			}
			if mode == "telemetry" {
				want = append(want,
					"tel-ext: TELEMETRY platform.initStart init",
					"tel-ext: TELEMETRY platform.initRuntimeDone init success",
					"tel-ext: TELEMETRY platform.initReport init success",
					"tel-ext: TELEMETRY platform.telemetrySubscription tel-ext",
					"tel-ext: TELEMETRY platform.extension tel-ext")
			} else {
				want = append(want, "tel-ext: TELEMETRY platform.end "+id, "tel-ext: TELEMETRY platform.logsSubscription tel-ext")
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("the extension did not receive %q:\n%s\nsubscriptions %+v", w, out, run.Subscriptions)
				}
			}
			if strings.Contains(out, "(bad time") {
				t.Errorf("an event's time is not Lambda's format:\n%s", out)
			}
			if mode == "logs" && strings.Contains(out, "TELEMETRY platform.initStart") {
				t.Errorf("the Logs API delivered a Telemetry API event:\n%s", out)
			}
			if len(run.Subscriptions) != 1 {
				t.Fatalf("subscriptions %+v, want one", run.Subscriptions)
			}
			sub := run.Subscriptions[0]
			wantDst := "http://sandbox.localdomain:4243/telemetry"
			if mode == "logs" {
				wantDst = "tcp://sandbox.localdomain:4243"
			}
			if sub.Extension != "tel-ext" || sub.API != mode || sub.Destination != wantDst || sub.Events < len(want) || sub.FailedBatches != 0 || sub.TimeoutMs != 25 {
				t.Errorf("subscription %+v", sub)
			}
			if !timelineHas(run, runtimeapi.KindSubscribe, "tel-ext subscribed to the ") {
				t.Errorf("timeline lacks the subscription: %+v", run.Timeline)
			}
			// Lambda's shutdown with an extension: SIGTERM to the runtime
			// (which aws-lambda-go does not catch), then SHUTDOWN.
			sd := run.Shutdown
			if sd == nil || sd.Runtime != "SIGTERM" || sd.RuntimeExitMs == nil || sd.BudgetMs != 2000 || sd.Reason != "spindown" || len(sd.Unfinished) != 0 {
				t.Errorf("shutdown %+v", sd)
			}
			if run.Exit == nil || run.Exit.Signal != "SIGTERM" || !run.Exit.StoppedByLambdoctor {
				t.Errorf("exit %+v, want SIGTERM by lambdoctor", run.Exit)
			}
			if !timelineHas(run, emulate.KindRuntimeSignal, "the runtime was sent SIGTERM") || !timelineHas(run, runtimeapi.KindExtExit, "tel-ext exited: exit status 0") {
				t.Errorf("timeline %+v", run.Timeline)
			}
			// The text report says it too.
			var text strings.Builder
			doc := emulate.NewDoc(r.doc.Tool, &report.Report{Tool: r.doc.Tool, Image: r.doc.Image, Findings: r.doc.Findings, Checks: r.doc.Checks, Summary: r.doc.Summary}, run)
			if err := emulate.WriteText(&text, doc, report.Options{}); err != nil {
				t.Fatal(err)
			}
			api := map[string]string{"telemetry": "Telemetry API", "logs": "Logs API"}[mode]
			for _, w := range []string{
				"  telemetry tel-ext: " + api + ", platform, function, extension to " + wantDst + ": ",
				"  shutdown  spindown, 2000 ms budget; the runtime got SIGTERM and exited after ",
			} {
				if !strings.Contains(text.String(), w) {
					t.Errorf("the text report lacks %q:\n%s", w, text.String())
				}
			}
			// The init lasts until the extension's first next, which comes
			// after its subscription.
			var complete, subscribed int64 = -1, -1
			for _, e := range run.Timeline {
				switch e.Kind {
				case runtimeapi.KindInitComplete:
					complete = e.AtMs
				case runtimeapi.KindSubscribe:
					subscribed = e.AtMs
				}
			}
			if run.InitMs == nil || complete < 0 || *run.InitMs != complete || complete < subscribed {
				t.Errorf("initMs %v, init-complete at %d ms, subscribed at %d ms", run.InitMs, complete, subscribed)
			}
		})
	}
}

// A runtime that ignores SIGTERM is killed after its share of the shutdown
// budget (300 ms with an external extension), and the extension still gets
// SHUTDOWN; a function
// without extensions has no Shutdown phase: SIGKILL at once.
func TestRunShutdownSignals(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	t.Run("runtime ignores SIGTERM", func(t *testing.T) {
		img := goImageWithExtensions(t, map[string][]byte{"good-ext": goExtension(t, "register")})
		r := runImage(t, context.Background(), img, "--env", "GOFN_MODE=nosigterm", "--event", writeEvent(t, `{"name":"x"}`))
		run := r.doc.Run
		if r.code != ExitOK || run.Result != emulate.ResultSuccess {
			t.Fatalf("exit %d, result %q; error %+v", r.code, run.Result, run.Error)
		}
		sd := run.Shutdown
		if sd == nil || sd.Runtime != "SIGTERM, then SIGKILL" || sd.RuntimeExitMs != nil || sd.BudgetMs != 2000 || len(sd.Unfinished) != 0 {
			t.Fatalf("shutdown %+v", sd)
		}
		// 300 ms between SIGTERM and SIGKILL, and SHUTDOWN only after.
		var term, kill, shut int64 = -1, -1, -1
		for _, e := range run.Timeline {
			switch {
			case e.Kind == emulate.KindRuntimeSignal && e.Detail == "the runtime was sent SIGTERM":
				term = e.AtMs
			case e.Kind == emulate.KindRuntimeSignal && strings.HasPrefix(e.Detail, "the runtime was sent SIGKILL (the runtime did not exit within its share"):
				kill = e.AtMs
			case e.Kind == runtimeapi.KindShutdown:
				shut = e.AtMs
			}
		}
		if term < 0 || kill-term < 290 || kill-term > 1200 || shut < kill {
			t.Errorf("SIGTERM at %d ms, SIGKILL at %d ms, SHUTDOWN at %d ms: %+v", term, kill, shut, run.Timeline)
		}
		if run.Exit == nil || run.Exit.Signal != "SIGKILL" || !run.Exit.StoppedByLambdoctor {
			t.Errorf("exit %+v", run.Exit)
		}
		if !timelineHas(run, runtimeapi.KindExtExit, "good-ext exited: exit status 0") {
			t.Errorf("the extension did not finish SHUTDOWN: %+v", run.Timeline)
		}
	})
	t.Run("no extension", func(t *testing.T) {
		r := runImage(t, context.Background(), goImage(t, goFunction(t, runtime.GOARCH), 0o755), "--event", writeEvent(t, `{"name":"x"}`))
		run := r.doc.Run
		if r.code != ExitOK || run.Result != emulate.ResultSuccess {
			t.Fatalf("exit %d, result %q; error %+v", r.code, run.Result, run.Error)
		}
		if sd := run.Shutdown; sd == nil || sd.Runtime != "SIGKILL" || sd.BudgetMs != 0 {
			t.Errorf("shutdown %+v", sd)
		}
		if !timelineHas(run, emulate.KindRuntimeSignal, "SIGKILL (no extension registered") || timelineHas(run, runtimeapi.KindInitComplete, "") {
			t.Errorf("timeline %+v", run.Timeline)
		}
		if run.Exit == nil || run.Exit.Signal != "SIGKILL" {
			t.Errorf("exit %+v", run.Exit)
		}
	})
}
