package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rt is a test runtime: it talks to the server over real HTTP, as a
// function's runtime interface client would.
type rt struct {
	t    *testing.T
	base string
	c    *http.Client
}

func start(t *testing.T) (*Server, *rt) {
	t.Helper()
	s, err := New(Options{FunctionName: "hello", Region: "eu-west-1", MemoryMB: 256})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, &rt{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime", c: &http.Client{}}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r *rt) do(method, path string, header map[string]string, body []byte) reply {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := r.c.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func (r *rt) next() reply { return r.do("GET", "/invocation/next", nil, nil) }

func (r *rt) respond(id string, body []byte) reply {
	return r.do("POST", "/invocation/"+id+"/response", nil, body)
}

// invokeAsync runs Invoke in the background.
func invokeAsync(s *Server, ctx context.Context, inv Invocation) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := s.Invoke(ctx, inv)
		ch <- outcome{res, err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("Invoke did not return")
		return outcome{}
	}
}

func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("body = %s, want %s", gb, wb)
	}
}

func kinds(ev []Event) string {
	var k []string
	for _, e := range ev {
		k = append(k, e.Kind)
	}
	return strings.Join(k, ",")
}

func TestHappyPath(t *testing.T) {
	s, r := start(t)
	select {
	case <-s.InitDone():
		t.Fatal("init done before any /next")
	default:
	}
	deadline := time.Now().Add(4 * time.Second).Truncate(time.Millisecond)
	ch := invokeAsync(s, context.Background(), Invocation{Payload: []byte(`{"name":"world"}`), Deadline: deadline})

	n := r.next()
	if n.status != http.StatusOK {
		t.Fatalf("next: %d %s", n.status, n.body)
	}
	select {
	case <-s.InitDone():
	default:
		t.Fatal("InitDone not closed after the first /next")
	}
	if string(n.body) != `{"name":"world"}` {
		t.Errorf("payload = %q", n.body)
	}
	id := n.header.Get("Lambda-Runtime-Aws-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("request id %q is not a UUID v4", id)
	}
	if got := n.header.Get("Lambda-Runtime-Deadline-Ms"); got != strconv.FormatInt(deadline.UnixMilli(), 10) {
		t.Errorf("deadline header = %q, want %d", got, deadline.UnixMilli())
	}
	if got := n.header.Get("Lambda-Runtime-Invoked-Function-Arn"); got != "arn:aws:lambda:eu-west-1:000000000000:function:hello" {
		t.Errorf("ARN = %q", got)
	}
	if got := n.header.Get("Lambda-Runtime-Trace-Id"); !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(got) {
		t.Errorf("trace id = %q", got)
	}
	if ct := n.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type = %q", ct)
	}

	resp := r.respond(id, []byte(`"hello world"`))
	if resp.status != http.StatusAccepted {
		t.Fatalf("response: %d %s", resp.status, resp.body)
	}
	assertJSON(t, resp.body, `{"status":"OK"}`)

	o := wait(t, ch)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Kind != "response" || string(o.res.Response) != `"hello world"` || o.res.RequestID != id {
		t.Errorf("result = %+v", o.res)
	}
	if got, want := kinds(s.Events()), "listening,next,init-done,init-complete,invoke,response"; got != want {
		t.Errorf("timeline = %s, want %s", got, want)
	}
	ev := s.Events()
	if string(ev[0].Body) != s.Addr() || ev[4].RequestID != id || string(ev[5].Body) != `"hello world"` {
		t.Errorf("events = %+v", ev)
	}
	for i := 1; i < len(ev); i++ {
		if ev[i].At.Before(ev[i-1].At) {
			t.Errorf("event %d is earlier than event %d", i, i-1)
		}
	}

	// The runtime loops: a second invocation with explicit fields.
	ch = invokeAsync(s, context.Background(), Invocation{RequestID: "req-2", Payload: []byte(`{}`),
		FunctionARN: "arn:aws:lambda:eu-west-1:123456789012:function:hello:live", TraceID: "Root=1-00000000-000000000000000000000000"})
	n = r.next()
	if n.header.Get("Lambda-Runtime-Aws-Request-Id") != "req-2" ||
		n.header.Get("Lambda-Runtime-Invoked-Function-Arn") != "arn:aws:lambda:eu-west-1:123456789012:function:hello:live" ||
		n.header.Get("Lambda-Runtime-Trace-Id") != "Root=1-00000000-000000000000000000000000" {
		t.Errorf("second invocation headers = %v", n.header)
	}
	r.respond("req-2", []byte(`2`))
	if o := wait(t, ch); o.err != nil || string(o.res.Response) != "2" {
		t.Errorf("second invocation = %+v, %v", o.res, o.err)
	}
}

func TestErrorPost(t *testing.T) {
	tests := []struct {
		name     string
		header   map[string]string
		body     string
		wantType string
	}{
		{"header", map[string]string{"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
			`{"errorMessage":"Unable to import module 'app': No module named 'requests'","errorType":"Runtime.ImportModuleError","stackTrace":[]}`,
			"Runtime.ImportModuleError"},
		{"type from the body", nil, `{"errorMessage":"boom","errorType":"ValueError"}`, "ValueError"},
		{"not JSON, no header", nil, `segfault`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := start(t)
			ch := invokeAsync(s, context.Background(), Invocation{RequestID: "r1", Payload: []byte(`{}`)})
			r.next()
			got := r.do("POST", "/invocation/r1/error", tt.header, []byte(tt.body))
			if got.status != http.StatusAccepted {
				t.Fatalf("error post: %d %s", got.status, got.body)
			}
			assertJSON(t, got.body, `{"status":"OK"}`)
			o := wait(t, ch)
			if o.err != nil {
				t.Fatal(o.err)
			}
			if o.res.Kind != "error" || o.res.ErrorType != tt.wantType || string(o.res.ErrorBody) != tt.body || o.res.Response != nil {
				t.Errorf("result = %+v", o.res)
			}
			if got, want := kinds(s.Events()), "listening,next,init-done,init-complete,invoke,error"; got != want {
				t.Errorf("timeline = %s, want %s", got, want)
			}
		})
	}
}

func TestInitError(t *testing.T) {
	s, r := start(t)
	// An invocation already waiting when init fails is answered with the
	// init error.
	queued := invokeAsync(s, context.Background(), Invocation{RequestID: "early", Payload: []byte(`{}`)})
	time.Sleep(20 * time.Millisecond)

	body := `{"errorMessage":"Cannot find module 'app'","errorType":"Runtime.ImportModuleError"}`
	got := r.do("POST", "/init/error", map[string]string{"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"}, []byte(body))
	if got.status != http.StatusAccepted {
		t.Fatalf("init error: %d %s", got.status, got.body)
	}
	assertJSON(t, got.body, `{"status":"OK"}`)

	select {
	case res := <-s.InitError():
		if res.Kind != "error" || res.ErrorType != "Runtime.ImportModuleError" || string(res.ErrorBody) != body {
			t.Errorf("init error result = %+v", res)
		}
	case <-time.After(time.Second):
		t.Fatal("InitError not delivered")
	}
	o := wait(t, queued)
	if !errors.Is(o.err, ErrInitFailed) || o.res.RequestID != "early" || o.res.ErrorType != "Runtime.ImportModuleError" {
		t.Errorf("queued invoke = %+v, %v", o.res, o.err)
	}
	if _, err := s.Invoke(context.Background(), Invocation{Payload: []byte(`{}`)}); !errors.Is(err, ErrInitFailed) {
		t.Errorf("Invoke after init error: %v", err)
	}

	// A second init error, and /next, are refused.
	second := r.do("POST", "/init/error", nil, []byte(`{}`))
	if second.status != http.StatusForbidden {
		t.Errorf("second init error: %d", second.status)
	}
	assertJSON(t, second.body, `{"errorMessage":"State transition from InitError to InitError failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}`)
	n := r.next()
	if n.status != http.StatusForbidden {
		t.Errorf("next after init error: %d", n.status)
	}
	assertJSON(t, n.body, `{"errorMessage":"State transition from InitError to Ready failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}`)
	select {
	case <-s.InitDone():
		t.Error("InitDone closed after an init error")
	default:
	}
	if got, want := kinds(s.Events()), "listening,init-error,rejected,rejected"; got != want {
		t.Errorf("timeline = %s, want %s", got, want)
	}
}

func TestInitErrorAfterInit(t *testing.T) {
	s, r := start(t)
	ch := invokeAsync(s, context.Background(), Invocation{RequestID: "r1", Payload: []byte(`{}`)})
	r.next()
	got := r.do("POST", "/init/error", nil, []byte(`{"errorMessage":"late","errorType":"X"}`))
	if got.status != http.StatusForbidden {
		t.Fatalf("init error after /next: %d", got.status)
	}
	assertJSON(t, got.body, `{"errorMessage":"State transition from Ready to InitError failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}`)
	select {
	case res := <-s.InitError():
		t.Errorf("InitError delivered %+v", res)
	default:
	}
	r.respond("r1", []byte(`1`))
	if o := wait(t, ch); o.err != nil || o.res.Kind != "response" {
		t.Errorf("invoke = %+v, %v", o.res, o.err)
	}
}

func TestUnknownRequestID(t *testing.T) {
	s, r := start(t)
	const invalid = `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`

	// Before any invocation.
	got := r.respond("nope", []byte(`1`))
	if got.status != http.StatusBadRequest {
		t.Errorf("response for unknown id before init: %d", got.status)
	}
	assertJSON(t, got.body, invalid)

	ch := invokeAsync(s, context.Background(), Invocation{RequestID: "real", Payload: []byte(`{}`)})
	r.next()
	for _, path := range []string{"/invocation/other/response", "/invocation/other/error"} {
		got := r.do("POST", path, nil, []byte(`{}`))
		if got.status != http.StatusBadRequest {
			t.Errorf("%s: %d", path, got.status)
		}
		assertJSON(t, got.body, invalid)
	}
	// The invocation in flight is unaffected.
	r.respond("real", []byte(`"ok"`))
	if o := wait(t, ch); o.err != nil || string(o.res.Response) != `"ok"` {
		t.Errorf("invoke = %+v, %v", o.res, o.err)
	}
	var rejected []string
	for _, e := range s.Events() {
		if e.Kind == KindRejected {
			rejected = append(rejected, e.RequestID)
		}
	}
	if strings.Join(rejected, ",") != "nope,other,other" {
		t.Errorf("rejected = %v", rejected)
	}
}

func TestQueuedButNotDeliveredIsNotAnswerable(t *testing.T) {
	s, r := start(t)
	ch := invokeAsync(s, context.Background(), Invocation{RequestID: "guess", Payload: []byte(`{}`)})
	time.Sleep(20 * time.Millisecond)
	if got := r.respond("guess", []byte(`1`)); got.status != http.StatusBadRequest {
		t.Errorf("answer before /next: %d %s", got.status, got.body)
	}
	r.next()
	r.respond("guess", []byte(`1`))
	if o := wait(t, ch); o.err != nil || string(o.res.Response) != "1" {
		t.Errorf("invoke = %+v, %v", o.res, o.err)
	}
}

func TestPostTwice(t *testing.T) {
	for _, second := range []string{"response", "error"} {
		t.Run(second, func(t *testing.T) {
			s, r := start(t)
			ch := invokeAsync(s, context.Background(), Invocation{RequestID: "r1", Payload: []byte(`{}`)})
			r.next()
			if got := r.respond("r1", []byte(`"first"`)); got.status != http.StatusAccepted {
				t.Fatalf("first: %d", got.status)
			}
			got := r.do("POST", "/invocation/r1/"+second, nil, []byte(`"second"`))
			if got.status != http.StatusForbidden {
				t.Errorf("second post: %d %s", got.status, got.body)
			}
			target := map[string]string{"response": "InvocationResponse", "error": "InvocationErrorResponse"}[second]
			assertJSON(t, got.body, fmt.Sprintf(`{"errorMessage":"State transition from RuntimeResponseSentState to %s failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}`, target))
			if o := wait(t, ch); string(o.res.Response) != `"first"` {
				t.Errorf("result = %+v", o.res)
			}
		})
	}
}

func TestResponseTooLarge(t *testing.T) {
	s, r := start(t)
	ch := invokeAsync(s, context.Background(), Invocation{RequestID: "big", Payload: []byte(`{}`)})
	r.next()
	got := r.respond("big", make([]byte, MaxResponseSize+1))
	if got.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d", got.status)
	}
	assertJSON(t, got.body, `{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}`)
	o := wait(t, ch)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Kind != "error" || o.res.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Errorf("result = %+v", o.res)
	}
	assertJSON(t, o.res.ErrorBody, `{"errorMessage":"Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}`)

	// Exactly at the limit is fine.
	ch = invokeAsync(s, context.Background(), Invocation{RequestID: "max", Payload: []byte(`{}`)})
	r.next()
	if got := r.respond("max", make([]byte, MaxResponseSize)); got.status != http.StatusAccepted {
		t.Errorf("at the limit: %d", got.status)
	}
	if o := wait(t, ch); len(o.res.Response) != MaxResponseSize {
		t.Errorf("response length = %d", len(o.res.Response))
	}
}

func TestInvokePayloadTooLarge(t *testing.T) {
	s, _ := start(t)
	_, err := s.Invoke(context.Background(), Invocation{Payload: make([]byte, MaxInvokePayloadSize+1)})
	if !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("err = %v", err)
	}
}

func TestDuplicateRequestID(t *testing.T) {
	s, r := start(t)
	ch := invokeAsync(s, context.Background(), Invocation{RequestID: "same", Payload: []byte(`{}`)})
	r.next()
	r.respond("same", []byte(`1`))
	wait(t, ch)
	if _, err := s.Invoke(context.Background(), Invocation{RequestID: "same"}); !errors.Is(err, ErrDuplicateRequestID) {
		t.Errorf("err = %v", err)
	}
}

func TestCloseUnblocksNext(t *testing.T) {
	s, r := start(t)
	got := make(chan reply, 1)
	go func() { got <- r.next() }()
	// Wait until the /next is being served.
	for !strings.Contains(kinds(s.Events()), "next") {
		time.Sleep(time.Millisecond)
	}
	waiting := invokeAsync(s, context.Background(), Invocation{RequestID: "never", Payload: []byte(`{}`)})
	// The queued invocation goes to the waiting /next: answer nothing, and
	// block a second /next instead.
	first := <-got
	if first.status != http.StatusOK {
		t.Fatalf("first next: %d", first.status)
	}
	go func() { got <- r.next() }()
	for strings.Count(kinds(s.Events()), "next") < 2 {
		time.Sleep(time.Millisecond)
	}

	began := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case rep := <-got:
		if rep.status != http.StatusInternalServerError {
			t.Errorf("blocked next: %d %s", rep.status, rep.body)
		}
		assertJSON(t, rep.body, `{"errorMessage":"the runtime API server is shutting down","errorType":"InternalServerError"}`)
	case <-time.After(2 * time.Second):
		t.Fatal("/next still blocked after Close")
	}
	if o := wait(t, waiting); !errors.Is(o.err, ErrClosed) {
		t.Errorf("Invoke after Close: %v", o.err)
	}
	if _, err := s.Invoke(context.Background(), Invocation{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke on a closed server: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond); err == nil {
		t.Error("still listening after Close")
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestCloseWithoutStart(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("addr = %q", addr)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Error("still listening after Close")
	}
	if o := s.Options(); o.FunctionName != "function" || o.Region != "us-east-1" || o.MemoryMB != 128 {
		t.Errorf("defaults = %+v", o)
	}
}

func TestInvokeTimeout(t *testing.T) {
	s, r := start(t)
	ch := invokeAsync(s, context.Background(), Invocation{RequestID: "slow", Payload: []byte(`{}`), Deadline: time.Now().Add(100 * time.Millisecond)})
	r.next() // takes it and never answers in time
	o := wait(t, ch)
	if !errors.Is(o.err, context.DeadlineExceeded) || o.res.RequestID != "slow" {
		t.Fatalf("invoke = %+v, %v", o.res, o.err)
	}
	// A late answer is refused.
	if got := r.respond("slow", []byte(`1`)); got.status != http.StatusBadRequest {
		t.Errorf("late response: %d", got.status)
	}
	if got, want := kinds(s.Events()), "listening,next,init-done,init-complete,invoke,invoke-timeout,rejected"; got != want {
		t.Errorf("timeline = %s, want %s", got, want)
	}

	// The context's deadline becomes the invocation's.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	ch = invokeAsync(s, ctx, Invocation{RequestID: "ctx", Payload: []byte(`{}`)})
	n := r.next()
	if got := n.header.Get("Lambda-Runtime-Deadline-Ms"); got != strconv.FormatInt(want.UnixMilli(), 10) {
		t.Errorf("deadline = %s, want %d", got, want.UnixMilli())
	}
	if o := wait(t, ch); !errors.Is(o.err, context.DeadlineExceeded) {
		t.Errorf("err = %v", o.err)
	}
}

func TestAbandonedInvocationIsSkipped(t *testing.T) {
	s, r := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch := invokeAsync(s, ctx, Invocation{RequestID: "gone", Payload: []byte(`"gone"`)})
	time.Sleep(20 * time.Millisecond)
	cancel()
	if o := wait(t, ch); !errors.Is(o.err, context.Canceled) {
		t.Fatalf("err = %v", o.err)
	}
	ch = invokeAsync(s, context.Background(), Invocation{RequestID: "kept", Payload: []byte(`"kept"`)})
	n := r.next()
	if id := n.header.Get("Lambda-Runtime-Aws-Request-Id"); id != "kept" {
		t.Errorf("next delivered %q", id)
	}
	r.respond("kept", []byte(`1`))
	wait(t, ch)
	if strings.Contains(kinds(s.Events()), "invoke-timeout") {
		t.Error("a cancelled invocation was recorded as a timeout")
	}
}

func TestUnknownPath(t *testing.T) {
	s, r := start(t)
	resp, err := http.Get("http://" + s.Addr() + "/2015-03-31/functions/function/invocations")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d", resp.StatusCode)
	}
	if got := r.do("POST", "/invocation/next", nil, nil); got.status != http.StatusNotFound {
		t.Errorf("POST next = %d", got.status)
	}
	ev := s.Events()
	if len(ev) != 3 || ev[1].Kind != KindRejected || string(ev[1].Body) != "GET /2015-03-31/functions/function/invocations" {
		t.Errorf("events = %+v", ev)
	}
}

func TestTruncatedRequest(t *testing.T) {
	s, r := start(t)
	ch := invokeAsync(s, context.Background(), Invocation{RequestID: "t1", Payload: []byte(`{}`)})
	r.next()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /2018-06-01/runtime/invocation/t1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	conn.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(b), "HTTP/1.1 400") || !strings.Contains(string(b), `"errorType":"TruncatedHTTPRequest"`) {
		t.Errorf("reply = %q", b)
	}
	// The invocation can still be answered properly.
	r.respond("t1", []byte(`"whole"`))
	if o := wait(t, ch); string(o.res.Response) != `"whole"` {
		t.Errorf("result = %+v", o.res)
	}
}

func TestMark(t *testing.T) {
	s, _ := start(t)
	s.Mark(KindInitTimeout, "", []byte("10s"))
	ev := s.Events()
	if ev[len(ev)-1].Kind != KindInitTimeout || string(ev[len(ev)-1].Body) != "10s" {
		t.Errorf("events = %+v", ev)
	}
	// Events is a copy.
	ev[0].Kind = "changed"
	ev[0].Body[0] = 'X'
	if e := s.Events()[0]; e.Kind != KindListening || e.Body[0] == 'X' {
		t.Error("Events shares memory with the server")
	}
}

// TestConcurrency drives a looping runtime while many goroutines invoke,
// post stray answers and read the timeline; run it with -race.
func TestConcurrency(t *testing.T) {
	s, r := start(t)
	done := make(chan struct{})
	var loop sync.WaitGroup
	loop.Add(1)
	go func() { // the runtime: next, echo, repeat
		defer loop.Done()
		for {
			req, _ := http.NewRequest("GET", r.base+"/invocation/next", nil)
			resp, err := r.c.Do(req)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return
			}
			id := resp.Header.Get(HeaderRequestID)
			path := "/invocation/" + id + "/response"
			if strings.HasSuffix(id, "-err") {
				path = "/invocation/" + id + "/error"
			}
			resp, err = r.c.Post(r.base+path, "application/json", bytes.NewReader(body))
			if err != nil {
				return
			}
			resp.Body.Close()
		}
	}()

	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("req-%d", i)
			if i%4 == 0 {
				id += "-err"
			}
			payload := []byte(strconv.Quote(id))
			res, err := s.Invoke(context.Background(), Invocation{RequestID: id, Payload: payload, Deadline: time.Now().Add(10 * time.Second)})
			if err != nil {
				t.Errorf("%s: %v", id, err)
				return
			}
			got := res.Response
			if res.Kind == "error" {
				got = res.ErrorBody
			}
			if res.RequestID != id || !bytes.Equal(got, payload) {
				t.Errorf("%s: result %+v", id, res)
			}
		}()
	}
	var noise sync.WaitGroup
	noise.Add(1)
	go func() { // stray posts and timeline reads
		defer noise.Done()
		c := &http.Client{}
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			resp, err := c.Post(fmt.Sprintf("%s/invocation/stray-%d/response", r.base, i), "application/json", strings.NewReader("1"))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("stray post: %d", resp.StatusCode)
				}
			}
			_ = s.Events()
		}
	}()
	wg.Wait()
	close(done)
	noise.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	loop.Wait()

	counts := map[string]int{}
	for _, e := range s.Events() {
		counts[e.Kind]++
	}
	if counts[KindInvoke] != 40 || counts[KindResponse] != 30 || counts[KindError] != 10 || counts[KindInitDone] != 1 {
		t.Errorf("event counts = %v", counts)
	}
}

// A streamed response that fails midway reports the error in trailers.
func TestResponseErrorTrailer(t *testing.T) {
	s, r := start(t)
	ch := invokeAsync(s, context.Background(), Invocation{RequestID: "st", Payload: []byte(`{}`)})
	r.next()
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", r.base+"/invocation/st/response", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Trailer = http.Header{HeaderFunctionErrorType: nil}
	go func() {
		_, _ = pw.Write([]byte("partial"))
		req.Trailer.Set(HeaderFunctionErrorType, "Runtime.StreamError")
		_ = pw.Close()
	}()
	resp, err := r.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("status = %d", resp.StatusCode)
	}
	o := wait(t, ch)
	if o.res.Kind != "error" || o.res.ErrorType != "Runtime.StreamError" || string(o.res.ErrorBody) != "partial" {
		t.Errorf("result = %+v", o.res)
	}
}

// Serve adds a listener (a sandbox's forwarded connections): the runtime
// talks to the same environment through it, and Close stops it too.
func TestServeMoreListeners(t *testing.T) {
	s, _ := start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != nil {
		t.Fatal(err)
	}
	r := &rt{t: t, base: "http://" + ln.Addr().String() + "/2018-06-01/runtime", c: &http.Client{}}
	ch := invokeAsync(s, context.Background(), Invocation{Payload: []byte(`{"a":1}`)})
	n := r.next()
	if n.status != 200 || string(n.body) != `{"a":1}` {
		t.Fatalf("next through the added listener: %d %q", n.status, n.body)
	}
	if rep := r.respond(n.header.Get(HeaderRequestID), []byte(`"ok"`)); rep.status != 202 {
		t.Fatalf("response: %d %s", rep.status, rep.body)
	}
	if o := wait(t, ch); o.err != nil || string(o.res.Response) != `"ok"` {
		t.Fatalf("Invoke: %+v", o)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Errorf("the added listener still accepts after Close")
	}
	if err := s.Serve(ln); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	u, _ := New(Options{})
	defer u.Close()
	if err := u.Serve(ln); err == nil {
		t.Errorf("Serve before Start: no error")
	}
}
