package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startExt starts a server that expects the external extensions names.
func startExt(t *testing.T, names ...string) (*Server, *rt, *rt) {
	t.Helper()
	s, err := New(Options{FunctionName: "hello", Region: "eu-west-1", Handler: "main.handler", Extensions: names})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c := &http.Client{}
	return s, &rt{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime", c: c},
		&rt{t: t, base: "http://" + s.Addr() + "/2020-01-01/extension", c: c}
}

func register(x *rt, name, body string) reply {
	return x.do("POST", "/register", map[string]string{HeaderExtensionName: name}, []byte(body))
}

// nextAsync calls event/next for extension id in the background.
func nextAsync(x *rt, id string) <-chan reply {
	ch := make(chan reply, 1)
	go func() { ch <- x.do("GET", "/event/next", map[string]string{HeaderExtensionID: id}, nil) }()
	return ch
}

func got(t *testing.T, ch <-chan reply) reply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no reply")
		return reply{}
	}
}

func notYet(t *testing.T, ch <-chan reply) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("next answered too early: %d %s", r.status, r.body)
	case <-time.After(50 * time.Millisecond):
	}
}

func wantForbidden(t *testing.T, r reply, typ, msg string) {
	t.Helper()
	if r.status != http.StatusForbidden {
		t.Fatalf("status %d (%s), want 403", r.status, r.body)
	}
	var eb errorBody
	if err := json.Unmarshal(r.body, &eb); err != nil {
		t.Fatal(err)
	}
	if eb.ErrorType != typ || !strings.Contains(eb.ErrorMessage, msg) {
		t.Errorf("error %+v, want type %s and a message with %q", eb, typ, msg)
	}
}

func TestExtensionLifecycle(t *testing.T) {
	s, r, x := startExt(t, "logger")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	regDone := make(chan error, 1)
	go func() { regDone <- s.WaitExtensionsRegistered(ctx) }()
	select {
	case err := <-regDone:
		t.Fatalf("registered before any register: %v", err)
	case <-time.After(30 * time.Millisecond):
	}

	reg := register(x, "logger", `{"events":["INVOKE","SHUTDOWN"]}`)
	if reg.status != http.StatusOK {
		t.Fatalf("register: %d %s", reg.status, reg.body)
	}
	id := reg.header.Get(HeaderExtensionID)
	if !uuidRE.MatchString(id) {
		t.Fatalf("identifier %q", id)
	}
	assertJSON(t, reg.body, `{"functionName":"hello","functionVersion":"$LATEST","handler":"main.handler"}`)
	if err := <-regDone; err != nil {
		t.Fatal(err)
	}

	// Init is complete only once the runtime and the extension called next.
	initDone := make(chan error, 1)
	go func() { initDone <- s.WaitInitComplete(ctx) }()
	rtNext := make(chan reply, 1)
	go func() { rtNext <- r.next() }()
	<-s.InitDone()
	select {
	case err := <-initDone:
		t.Fatalf("init complete before the extension's next: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	xNext := nextAsync(x, id)
	if err := <-initDone; err != nil {
		t.Fatal(err)
	}
	// Registration is closed now.
	wantForbidden(t, register(x, "late", `{"events":["INVOKE"]}`), ErrorTypeExtensionRegClosed, "Extension registration closed already")
	notYet(t, xNext)

	// An invocation reaches the runtime and the extension.
	out := invokeAsync(s, ctx, Invocation{RequestID: "req-1", Payload: []byte(`{}`)})
	rn := got(t, rtNext)
	ev := got(t, xNext)
	if rn.header.Get(HeaderRequestID) != "req-1" || ev.status != http.StatusOK {
		t.Fatalf("runtime got %s, extension %d %s", rn.header.Get(HeaderRequestID), ev.status, ev.body)
	}
	var inv struct {
		EventType          string `json:"eventType"`
		DeadlineMs         int64  `json:"deadlineMs"`
		RequestID          string `json:"requestId"`
		InvokedFunctionArn string `json:"invokedFunctionArn"`
		Tracing            struct{ Type, Value string }
	}
	if err := json.Unmarshal(ev.body, &inv); err != nil {
		t.Fatal(err)
	}
	if inv.EventType != "INVOKE" || inv.RequestID != "req-1" || inv.DeadlineMs == 0 ||
		inv.InvokedFunctionArn != "arn:aws:lambda:eu-west-1:000000000000:function:hello" ||
		inv.Tracing.Type != "X-Amzn-Trace-Id" || !strings.HasPrefix(inv.Tracing.Value, "Root=1-") {
		t.Errorf("INVOKE event %s", ev.body)
	}
	if ev.header.Get(HeaderExtensionEventID) == "" {
		t.Error("no Lambda-Extension-Event-Identifier")
	}
	r.respond("req-1", []byte(`"ok"`))
	if o := wait(t, out); o.err != nil {
		t.Fatal(o.err)
	}
	// The invocation is complete only when the extension called next again.
	idle := make(chan error, 1)
	go func() { idle <- s.WaitExtensionsIdle(ctx) }()
	select {
	case err := <-idle:
		t.Fatalf("idle while the extension handles INVOKE: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	xNext = nextAsync(x, id)
	if err := <-idle; err != nil {
		t.Fatal(err)
	}

	// SHUTDOWN, then the extension exits: Shutdown returns at once.
	shut := make(chan []string, 1)
	go func() { shut <- s.Shutdown(ctx, "spindown") }()
	ev = got(t, xNext)
	assertJSONKeys(t, ev.body, map[string]any{"eventType": "SHUTDOWN", "shutdownReason": "spindown"})
	s.ExtensionExited("logger", "exit status 0")
	select {
	case left := <-shut:
		if len(left) != 0 {
			t.Errorf("left %v", left)
		}
	case <-time.After(time.Second):
		t.Fatal("Shutdown waited after the extension exited")
	}

	k := kinds(s.Events())
	for _, want := range []string{"extension-register", "extension-next", "init-done", "extension-event", "shutdown", "extension-exit"} {
		if !strings.Contains(k, want) {
			t.Errorf("timeline %s lacks %s", k, want)
		}
	}
	for _, e := range s.Events() {
		if strings.HasPrefix(e.Kind, "extension-") && e.Extension != "logger" {
			t.Errorf("event %s names %q", e.Kind, e.Extension)
		}
	}
}

func assertJSONKeys(t *testing.T, b []byte, want map[string]any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (in %s)", k, m[k], v, b)
		}
	}
	if d, _ := m["deadlineMs"].(float64); d < float64(time.Now().UnixMilli()) {
		t.Errorf("deadlineMs %v not in the future", m["deadlineMs"])
	}
}

func TestExtensionRegisterErrors(t *testing.T) {
	_, _, x := startExt(t, "ext")
	wantForbidden(t, register(x, "", `{"events":["INVOKE"]}`), ErrorTypeExtensionInvalidName, "Empty extension name")
	wantForbidden(t, register(x, "ext", `{"events":["INVOKE","BOGUS"]}`), ErrorTypeExtensionInvalidEvent, "BOGUS: ErrorInvalidEventType")
	wantForbidden(t, register(x, "ext", `not json`), ErrorTypeInvalidRequestFormat, "")
	wantForbidden(t, register(x, "ext", `{"events":[],"configurationKeys":["a"]}`), ErrorTypeInvalidRequestFormat, "configurationKeys are deprecated")
	// An internal extension (not a file of /opt/extensions) may not take SHUTDOWN.
	wantForbidden(t, register(x, "inproc", `{"events":["SHUTDOWN"]}`), ErrorTypeExtensionInvalidEvent, "ShutdownEventNotSupportedForInternalExtension")
	if r := register(x, "ext", `{"events":["INVOKE"]}`); r.status != http.StatusOK {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	wantForbidden(t, register(x, "ext", `{"events":["INVOKE"]}`), ErrorTypeExtensionInvalidState, "State transition from Registered to Registered failed for extension ext")

	next := func(id string) reply {
		return x.do("GET", "/event/next", map[string]string{HeaderExtensionID: id}, nil)
	}
	wantForbidden(t, next(""), ErrorTypeExtensionMissingID, "Missing Lambda-Extension-Identifier header")
	wantForbidden(t, next("nope"), ErrorTypeExtensionInvalidID, "Invalid Lambda-Extension-Identifier")
	wantForbidden(t, next("00000000-0000-4000-8000-000000000000"), ErrorTypeExtensionUnknownID, "Unknown extension")
}

func TestExtensionInitErrorFailsInit(t *testing.T) {
	s, _, x := startExt(t, "ext")
	id := register(x, "ext", `{"events":["INVOKE"]}`).header.Get(HeaderExtensionID)
	post := func(path, typ string) reply {
		h := map[string]string{HeaderExtensionID: id}
		if typ != "" {
			h[HeaderExtensionErrorType] = typ
		}
		return x.do("POST", path, h, []byte(`{}`))
	}
	wantForbidden(t, post("/init/error", ""), ErrorTypeExtensionMissingHeader, "Lambda-Extension-Function-Error-Type not found")
	if r := post("/init/error", "Extension.ConfigMissing"); r.status != http.StatusAccepted {
		t.Fatalf("init/error: %d %s", r.status, r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.WaitInitComplete(ctx)
	var xe *ExtensionError
	if !errors.As(err, &xe) || xe.Name != "ext" || xe.Type != ErrorTypeExtensionInitError || xe.Detail != "Extension.ConfigMissing" {
		t.Fatalf("WaitInitComplete = %v", err)
	}
	wantForbidden(t, post("/exit/error", "X"), ErrorTypeExtensionInvalidState, "State transition from InitError to ExitError")
}

func TestExtensionExitBeforeRegisterIsCrash(t *testing.T) {
	s, _, _ := startExt(t, "a", "b")
	s.ExtensionExited("b", "exit status 2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.WaitExtensionsRegistered(ctx)
	var xe *ExtensionError
	if !errors.As(err, &xe) || xe.Name != "b" || xe.Type != ErrorTypeExtensionCrash || xe.Detail != "exit status 2" {
		t.Fatalf("WaitExtensionsRegistered = %v", err)
	}
	if !strings.Contains(err.Error(), "extension b exited (exit status 2): Extension.Crash") {
		t.Errorf("message %q", err)
	}
}

func TestExtensionNeverRegistersTimesOut(t *testing.T) {
	s, _, _ := startExt(t, "slow")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.WaitExtensionsRegistered(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitExtensionsRegistered = %v", err)
	}
}

func TestShutdownBudget(t *testing.T) {
	s, _, x := startExt(t, "stuck")
	id := register(x, "stuck", `{"events":["SHUTDOWN"]}`).header.Get(HeaderExtensionID)
	xNext := nextAsync(x, id)
	start := time.Now()
	left := s.Shutdown(context.Background(), "spindown")
	if d := time.Since(start); d < ShutdownBudget-100*time.Millisecond || d > ShutdownBudget+time.Second {
		t.Errorf("Shutdown took %v, want about %v", d, ShutdownBudget)
	}
	if len(left) != 1 || left[0] != "stuck" {
		t.Errorf("left %v", left)
	}
	if ev := got(t, xNext); !strings.Contains(string(ev.body), `"SHUTDOWN"`) {
		t.Errorf("event %s", ev.body)
	}
}

func TestExtensionNotSubscribedToInvokeStaysIdle(t *testing.T) {
	s, r, x := startExt(t, "quiet")
	id := register(x, "quiet", `{"events":["SHUTDOWN"]}`).header.Get(HeaderExtensionID)
	xNext := nextAsync(x, id)
	rtNext := make(chan reply, 1)
	go func() { rtNext <- r.next() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitInitComplete(ctx); err != nil {
		t.Fatal(err)
	}
	out := invokeAsync(s, ctx, Invocation{RequestID: "r"})
	got(t, rtNext)
	r.respond("r", []byte(`1`))
	wait(t, out)
	if err := s.WaitExtensionsIdle(ctx); err != nil {
		t.Fatal(err)
	}
	notYet(t, xNext)
}

func TestExtensionLaunchFailed(t *testing.T) {
	s, _, _ := startExt(t, "a")
	s.ExtensionLaunchFailed("a", "fork/exec /opt/extensions/a: permission denied")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.WaitExtensionFailure(ctx)
	var xe *ExtensionError
	if !errors.As(err, &xe) || xe.Type != ErrorTypeExtensionLaunchError || xe.Name != "a" {
		t.Fatalf("WaitExtensionFailure = %v", err)
	}
	if k := kinds(s.Events()); !strings.Contains(k, KindExtLaunchErr) {
		t.Errorf("timeline %s", k)
	}
}
