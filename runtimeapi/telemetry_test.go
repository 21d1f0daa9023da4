package runtimeapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// subscribeAs sends a subscription body to api ("telemetry" or "logs") as
// extension id.
func subscribeAs(t *testing.T, s *Server, api, id, body string) reply {
	t.Helper()
	path := "/2022-07-01/telemetry"
	if api == "logs" {
		path = "/2020-08-15/logs"
	}
	c := &rt{t: t, base: "http://" + s.Addr(), c: &http.Client{}}
	h := map[string]string{}
	if id != "" {
		h[HeaderExtensionID] = id
	}
	return c.do("PUT", path, h, []byte(body))
}

func wantValidation(t *testing.T, r reply, msg string) {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d (%s), want 400", r.status, r.body)
	}
	var eb errorBody
	if err := json.Unmarshal(r.body, &eb); err != nil {
		t.Fatal(err)
	}
	if eb.ErrorType != ErrorTypeValidation || !strings.Contains(eb.ErrorMessage, msg) {
		t.Errorf("error %+v, want ValidationError with %q", eb, msg)
	}
}

const goodHTTP = `{"schemaVersion":"2022-12-13","types":["platform","function"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/lambda"}}`

func TestSubscriptionValidation(t *testing.T) {
	s, _, x := startExt(t, "tel")
	id := register(x, "tel", `{"events":["INVOKE"]}`).header.Get(HeaderExtensionID)

	wantForbidden(t, subscribeAs(t, s, "telemetry", "", goodHTTP), ErrorTypeExtensionMissingID, "Missing Lambda-Extension-Identifier")
	wantForbidden(t, subscribeAs(t, s, "telemetry", "6f0ad1c0-0b8f-4a39-9d9e-0c0c7d1f3f4a", goodHTTP), ErrorTypeExtensionUnknownID, "Unknown extension")
	wantForbidden(t, subscribeAs(t, s, "logs", "not-a-uuid", goodHTTP), ErrorTypeExtensionInvalidID, "Invalid Lambda-Extension-Identifier")

	for _, c := range []struct{ api, body, msg string }{
		{"telemetry", `{`, "Invalid JSON"},
		{"telemetry", `{"types":["platform"],"destination":{"protocol":"TCP","port":8080}}`, "schemaVersion is required"},
		{"telemetry", `{"schemaVersion":"2021-01-01","types":["platform"],"destination":{"protocol":"TCP","port":8080}}`, `schemaVersion "2021-01-01" is not one of`},
		{"telemetry", `{"schemaVersion":"2022-07-01","destination":{"protocol":"TCP","port":8080}}`, "types is required"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":[],"destination":{"protocol":"TCP","port":8080}}`, "at least one"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform","metrics"],"destination":{"protocol":"TCP","port":8080}}`, `"metrics" is not one of`},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"]}`, "destination is required"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"UDP","port":8080}}`, `protocol "UDP" is not HTTP or TCP`},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"port":8080}}`, "destination.protocol is required"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP"}}`, "destination.URI is required"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://localhost:8080"}}`, "host must be sandbox.localdomain"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"https://sandbox.localdomain:8080"}}`, "only http is supported"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9001"}}`, "port 9001 is reserved"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"TCP"}}`, "destination.port is required"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"TCP","port":70000}}`, "destination.port is required"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"TCP","port":8080},"buffering":{"maxItems":999}}`, "buffering.maxItems 999 is out of range: the minimum is 1000, the maximum 10000"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"TCP","port":8080},"buffering":{"maxBytes":2000000}}`, "buffering.maxBytes 2000000 is out of range: the minimum is 262144, the maximum 1048576"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"TCP","port":8080},"buffering":{"timeoutMs":10}}`, "buffering.timeoutMs 10 is out of range: the minimum is 25, the maximum 30000"},
		{"telemetry", `{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"TCP","port":8080},"buffering":{"timeoutMs":"100"}}`, "buffering.timeoutMs must be an integer"},
		{"logs", `{"types":["platform"],"destination":{"protocol":"TCP","port":8080},"buffering":{"timeoutMs":30001}}`, "buffering.timeoutMs 30001 is out of range"},
	} {
		wantValidation(t, subscribeAs(t, s, c.api, id, c.body), c.msg)
	}
	if subs := s.Subscriptions(); len(subs) != 0 {
		t.Fatalf("refused subscriptions were kept: %+v", subs)
	}

	// Defaults: the Telemetry API buffers 1,000 events, the Logs API
	// 10,000; both 262,144 bytes and 1,000 ms.
	r := subscribeAs(t, s, "telemetry", id, goodHTTP)
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `"OK"` {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	subs := s.Subscriptions()
	if len(subs) != 1 || subs[0].Extension != "tel" || subs[0].Protocol != "HTTP" || subs[0].Port != 8080 || subs[0].Path != "/lambda" ||
		subs[0].MaxItems != 1000 || subs[0].MaxBytes != 262144 || subs[0].TimeoutMs != 1000 || strings.Join(subs[0].Types, ",") != "platform,function" {
		t.Errorf("subscription %+v", subs)
	}
	// Again, with the same API: it replaces the subscription.
	r = subscribeAs(t, s, "telemetry", id, `{"schemaVersion":"2025-01-29","types":["extension"],"buffering":{"maxItems":5000},"destination":{"protocol":"TCP","port":4000}}`)
	if r.status != http.StatusOK {
		t.Fatalf("subscribe again: %d %s", r.status, r.body)
	}
	if subs := s.Subscriptions(); len(subs) != 1 || subs[0].Protocol != "TCP" || subs[0].Port != 4000 || subs[0].MaxItems != 5000 {
		t.Errorf("subscription %+v", subs)
	}
	// With the other API: refused.
	wantValidation(t, subscribeAs(t, s, "logs", id, `{"types":["platform"],"destination":{"protocol":"TCP","port":8080}}`), "already subscribed with the Telemetry API")
}

func TestLogsAPIDefaults(t *testing.T) {
	s, _, x := startExt(t, "logger")
	id := register(x, "logger", `{"events":[]}`).header.Get(HeaderExtensionID)
	r := subscribeAs(t, s, "logs", id, `{"types":["function"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1234"}}`)
	if r.status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	subs := s.Subscriptions()
	if len(subs) != 1 || subs[0].API != "logs" || subs[0].MaxItems != 10000 || subs[0].Path != "/" || subs[0].Port != 1234 {
		t.Errorf("subscription %+v", subs)
	}
}

// After init (the runtime and every extension called next), subscriptions
// are closed: 403 Telemetry.SubscriptionClosed, Logs.SubscriptionClosed.
func TestSubscriptionClosedAfterInit(t *testing.T) {
	s, r, x := startExt(t, "tel")
	id := register(x, "tel", `{"events":["INVOKE"]}`).header.Get(HeaderExtensionID)
	n := nextAsync(x, id)
	rn := make(chan reply, 1)
	go func() { rn <- r.next() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitInitComplete(ctx); err != nil {
		t.Fatal(err)
	}
	wantForbidden(t, subscribeAs(t, s, "telemetry", id, goodHTTP), ErrorTypeTelemetryClosed, "Telemetry API subscription is closed")
	wantForbidden(t, subscribeAs(t, s, "logs", id, `{"types":["platform"],"destination":{"protocol":"TCP","port":8080}}`), ErrorTypeLogsClosed, "Logs API subscription is closed")
	_ = s.Close()
	<-n
	<-rn
}

// Delivery, end to end against a real listener: the events of init before
// the subscription come first, then the invocation's; each subscriber gets
// only its types; the HTTP batches are JSON arrays POSTed to the path, the
// TCP ones NDJSON; Close ends every delivery goroutine.
func TestTelemetryDelivery(t *testing.T) {
	s, r, x := startExt(t, "http-ext", "tcp-ext")
	var mu sync.Mutex
	var httpGot []map[string]any
	var paths []string
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var evs []map[string]any
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Errorf("batch is not a JSON array: %s", b)
		}
		mu.Lock()
		httpGot = append(httpGot, evs...)
		paths = append(paths, req.Method+" "+req.URL.Path)
		mu.Unlock()
	})}
	go hs.Serve(hl)
	defer hs.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	var tcpLines []string
	tcpDone := make(chan struct{})
	go func() {
		defer close(tcpDone)
		c, err := tl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			mu.Lock()
			tcpLines = append(tcpLines, sc.Text())
			mu.Unlock()
		}
	}()
	hport := hl.Addr().(*net.TCPAddr).Port
	tport := tl.Addr().(*net.TCPAddr).Port
	var dialed []int
	s.SetDialer(func(ctx context.Context, port int) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, port)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	})

	s.InitStarted(time.Now())
	hid := register(x, "http-ext", `{"events":["INVOKE"]}`).header.Get(HeaderExtensionID)
	tid := register(x, "tcp-ext", `{"events":["INVOKE"]}`).header.Get(HeaderExtensionID)
	s.LogLine(TypeFunction, time.Now(), "function says hi during init")
	if r := subscribeAs(t, s, "telemetry", hid, `{"schemaVersion":"2022-12-13","types":["platform","function"],"buffering":{"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:`+strconv.Itoa(hport)+`/in"}}`); r.status != 200 {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	if r := subscribeAs(t, s, "logs", tid, `{"types":["extension"],"buffering":{"timeoutMs":25},"destination":{"protocol":"TCP","port":`+strconv.Itoa(tport)+`}}`); r.status != 200 {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	s.LogLine(TypeExtension, time.Now(), "tcp-ext: ready")
	hn, tn := nextAsync(x, hid), nextAsync(x, tid)
	for ready := 0; ready < 2; {
		ready = 0
		for _, e := range s.Extensions() {
			if e.State == "Ready" {
				ready++
			}
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	inv := invokeAsync(s, ctx, Invocation{Payload: []byte(`{}`)})
	nr := r.next()
	id := nr.header.Get(HeaderRequestID)
	got(t, hn)
	got(t, tn)
	s.LogLine(TypeFunction, time.Now(), "handling "+id)
	r.respond(id, []byte(`"ok"`))
	wait(t, inv)

	// The batches go out 25 ms after their first event.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n, m := len(httpGot), len(tcpLines)
		mu.Unlock()
		if n >= 8 && m >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	var types []string
	for _, ev := range httpGot {
		types = append(types, ev["type"].(string))
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", ev["time"].(string)); err != nil {
			t.Errorf("time %v: %v", ev["time"], err)
		}
	}
	want := "platform.initStart,function,platform.telemetrySubscription,platform.extension,platform.extension,platform.initRuntimeDone,platform.initReport,platform.start,function,platform.runtimeDone"
	if got := strings.Join(types, ","); got != want {
		t.Errorf("HTTP subscriber got %s\nwant %s", got, want)
	}
	if len(httpGot) > 1 && httpGot[1]["record"] != "function says hi during init" {
		t.Errorf("function line %+v", httpGot[1])
	}
	for _, p := range paths {
		if p != "POST /in" {
			t.Errorf("delivered with %s", p)
		}
	}
	if len(tcpLines) != 1 || !strings.Contains(tcpLines[0], `"type":"extension","record":"tcp-ext: ready"`) {
		t.Errorf("TCP subscriber got %q", tcpLines)
	}
	mu.Unlock()

	// platform.report, emitted by the caller, arrives with a flush.
	s.Emit("platform.report", time.Now(), map[string]any{"requestId": id, "status": "success"})
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.FlushTelemetry(fctx)
	fcancel()
	mu.Lock()
	if last := httpGot[len(httpGot)-1]; last["type"] != "platform.report" {
		t.Errorf("after the flush, the last event is %+v", last)
	}
	mu.Unlock()
	for _, sub := range s.Subscriptions() {
		if sub.Failed != 0 || sub.Batches == 0 {
			t.Errorf("subscription %+v", sub)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The TCP connection closes with the server.
	select {
	case <-tcpDone:
	case <-time.After(5 * time.Second):
		t.Error("the TCP connection outlived the server")
	}
}

// A listener that is not there: the batch is counted as failed and the
// timeline says why.
func TestTelemetryUndelivered(t *testing.T) {
	s, _, x := startExt(t, "tel")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there any more
	id := register(x, "tel", `{"events":["INVOKE"]}`).header.Get(HeaderExtensionID)
	if r := subscribeAs(t, s, "telemetry", id, `{"schemaVersion":"2022-07-01","types":["platform"],"buffering":{"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:`+strconv.Itoa(port)+`"}}`); r.status != 200 {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if subs := s.Subscriptions(); subs[0].Failed > 0 {
			if !strings.Contains(subs[0].LastError, "connection refused") {
				t.Errorf("last error %q", subs[0].LastError)
			}
			for _, e := range s.Events() {
				if e.Kind == KindTelemetryUndelivered && e.Extension == "tel" && strings.Contains(string(e.Body), "not delivered to http://sandbox.localdomain:") {
					return
				}
			}
			t.Fatalf("no %s event: %+v", KindTelemetryUndelivered, s.Events())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the batch neither failed nor was delivered: %+v", s.Subscriptions())
}
