package runtimeapi

// The Telemetry API (version 2022-07-01) and the older Logs API (version
// 2020-08-15): an extension subscribes, during init, to the platform's
// events, the function's log lines and the extensions' log lines, and the
// server delivers them in batches to a listener of the extension inside the
// execution environment. The behaviour follows the public references
// (https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html,
// https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api-reference.html,
// https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html,
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-logs-api.html) and
// the Runtime Interface Emulator's implementation
// (internal/lambda-managed-instances/aws-lambda-rie/internal/telemetry:
// the subscription schema, the ValidationError answers, the destination
// host sandbox.localdomain, the batches):
//
//   - PUT /2022-07-01/telemetry and PUT /2020-08-15/logs, with the
//     Lambda-Extension-Identifier of a registered extension (403 otherwise),
//     and a body {schemaVersion, types, destination, buffering}. A body that
//     does not validate is answered 400 ValidationError; a subscription
//     after init is complete 403 Telemetry.SubscriptionClosed (or
//     Logs.SubscriptionClosed); success 200 "OK". Subscribing again with the
//     same API replaces the subscription; with the other API it is refused
//     (400 ValidationError), as the documentation says it returns an error.
//   - Events are buffered per subscriber and sent when maxItems or maxBytes
//     is reached or timeoutMs after the first event of the batch, and
//     before SHUTDOWN. HTTP destinations get a POST of a JSON array to
//     http://sandbox.localdomain:PORT/PATH; TCP destinations one JSON
//     object a line. The events of init that came before the subscription
//     (platform.initStart first) are delivered too.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API versions of the subscription endpoints.
const (
	TelemetryVersion = "2022-07-01"
	LogsVersion      = "2020-08-15"
)

// Telemetry types (categories) an extension subscribes to.
const (
	TypePlatform  = "platform"
	TypeFunction  = "function"
	TypeExtension = "extension"
)

// Error types of the subscription endpoints.
const (
	ErrorTypeValidation      = "ValidationError"
	ErrorTypeTelemetryClosed = "Telemetry.SubscriptionClosed"
	ErrorTypeLogsClosed      = "Logs.SubscriptionClosed"
)

// Timeline kinds of the subscriptions. Event.Extension names the
// extension.
const (
	KindSubscribe            = "telemetry-subscribe"   // an extension subscribed; Body describes the subscription
	KindTelemetryUndelivered = "telemetry-undelivered" // a batch could not be delivered; Body says why
)

const (
	apiTelemetry = "telemetry"
	apiLogs      = "logs"
	// sandboxDomain is the only host an HTTP destination may name.
	sandboxDomain = "sandbox.localdomain"
	// reservedPort is the Runtime API's port in the execution environment
	// ("Lambda reserves port 9001", the Logs API reference).
	reservedPort = 9001
	// The events of init kept for subscribers still to come.
	backlogMaxEvents = 10000
	backlogMaxBytes  = 4 << 20
	// deliveryTimeout bounds one batch's delivery.
	deliveryTimeout     = 5 * time.Second
	telemetryTimeFormat = "2006-01-02T15:04:05.000Z"
	maxSubscriptionBody = 64 << 10
	schemaVersions      = "2022-07-01, 2022-12-13, 2025-01-29"
)

// Buffering limits and defaults of the two APIs (the references'
// "buffering" sections): maxItems, maxBytes and timeoutMs.
type bufferingLimits struct {
	minItems, maxItems, defItems int
	minBytes, maxBytes, defBytes int
	minMs, maxMs, defMs          int
}

var limitsOf = map[string]bufferingLimits{
	apiTelemetry: {1000, 10000, 1000, 262144, 1048576, 262144, 25, 30000, 1000},
	apiLogs:      {1000, 10000, 10000, 262144, 1048576, 262144, 25, 30000, 1000},
}

// Subscription describes one extension's subscription, as Subscriptions
// returns it.
type Subscription struct {
	Extension string
	// API is "telemetry" (2022-07-01) or "logs" (2020-08-15).
	API   string
	Types []string
	// Protocol is "HTTP" or "TCP"; Port and Path where the events go.
	Protocol  string
	Port      int
	Path      string
	MaxItems  int
	MaxBytes  int
	TimeoutMs int
	// Batches and Events count what was delivered; Failed the batches that
	// could not be, and LastError why the last one failed.
	Batches   int
	Events    int
	Failed    int
	LastError string
}

// Dialer connects to a TCP port on the loopback interface of the execution
// environment (inside the sandbox's network namespace), where an
// extension's telemetry listener is.
type Dialer func(ctx context.Context, port int) (net.Conn, error)

type telemetryEvent struct {
	Time   string `json:"time"`
	Type   string `json:"type"`
	Record any    `json:"record"`
}

type queued struct {
	category string // platform, function or extension
	typ      string
	b        []byte
}

type subscriber struct {
	s    *Server
	conf Subscription

	mu        sync.Mutex
	buf       []queued
	bufBytes  int
	wake      chan struct{}      // capacity 1
	flushReq  chan chan struct{} // a flush, answered by closing the channel
	tcp       net.Conn
	transport *http.Transport
}

// SetDialer sets how the server reaches the extensions' telemetry
// listeners (by default, 127.0.0.1 of the host: the network the server
// itself is on).
func (s *Server) SetDialer(d Dialer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dial = d
}

func (s *Server) dialer() Dialer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dial != nil {
		return s.dial
	}
	return func(ctx context.Context, port int) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
}

func (s *Server) telemetryRoutes(mux *http.ServeMux) {
	for _, p := range []string{"/" + TelemetryVersion + "/telemetry", "/" + TelemetryVersion + "/telemetry/{$}"} {
		mux.HandleFunc("PUT "+p, s.handleSubscribe(apiTelemetry))
	}
	for _, p := range []string{"/" + LogsVersion + "/logs", "/" + LogsVersion + "/logs/{$}"} {
		mux.HandleFunc("PUT "+p, s.handleSubscribe(apiLogs))
	}
}

// subscriptionRequest is the body of both APIs.
type subscriptionRequest struct {
	SchemaVersion *string         `json:"schemaVersion"`
	Types         []string        `json:"types"`
	Destination   json.RawMessage `json:"destination"`
	Buffering     json.RawMessage `json:"buffering"`
}

// parseSubscription validates a subscription body of api and returns the
// subscription it asks for, or the ValidationError message.
func parseSubscription(api string, body []byte) (Subscription, string) {
	var req subscriptionRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return Subscription{}, "Invalid JSON: " + err.Error()
	}
	sub := Subscription{API: api}
	if api == apiTelemetry {
		switch {
		case req.SchemaVersion == nil:
			return sub, "schemaVersion is required (one of " + schemaVersions + ")"
		case !slices.Contains([]string{"2022-07-01", "2022-12-13", "2025-01-29"}, *req.SchemaVersion):
			return sub, fmt.Sprintf("schemaVersion %q is not one of %s", *req.SchemaVersion, schemaVersions)
		}
	}
	if req.Types == nil {
		return sub, "types is required: an array of platform, function and extension"
	}
	if len(req.Types) == 0 {
		return sub, "types must name at least one of platform, function and extension"
	}
	for _, t := range req.Types {
		if t != TypePlatform && t != TypeFunction && t != TypeExtension {
			return sub, fmt.Sprintf("types: %q is not one of platform, function and extension", t)
		}
		if !slices.Contains(sub.Types, t) {
			sub.Types = append(sub.Types, t)
		}
	}
	if len(req.Destination) == 0 || string(req.Destination) == "null" {
		return sub, "destination is required"
	}
	var dst struct {
		Protocol string          `json:"protocol"`
		URI      *string         `json:"URI"`
		Port     json.RawMessage `json:"port"`
	}
	if err := json.Unmarshal(req.Destination, &dst); err != nil {
		return sub, "destination: " + err.Error()
	}
	switch dst.Protocol {
	case "HTTP":
		if dst.URI == nil || *dst.URI == "" {
			return sub, "destination.URI is required with protocol HTTP"
		}
		u, err := url.Parse(*dst.URI)
		if err != nil {
			return sub, "could not parse destination.URI: " + err.Error()
		}
		if u.Scheme != "http" {
			return sub, fmt.Sprintf("destination.URI %q: only http is supported", *dst.URI)
		}
		if h := u.Hostname(); h != sandboxDomain && h != "sandbox" {
			return sub, "destination.URI host must be " + sandboxDomain
		}
		sub.Protocol, sub.Port, sub.Path = "HTTP", 80, u.EscapedPath()
		if u.RawQuery != "" {
			sub.Path += "?" + u.RawQuery
		}
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return sub, fmt.Sprintf("destination.URI port %q is not a TCP port", p)
			}
			sub.Port = n
		}
		if sub.Path == "" {
			sub.Path = "/"
		}
	case "TCP":
		var n int
		if len(dst.Port) == 0 || json.Unmarshal(dst.Port, &n) != nil || n < 1 || n > 65535 {
			return sub, "destination.port is required with protocol TCP: an integer from 1 to 65535"
		}
		sub.Protocol, sub.Port = "TCP", n
	case "":
		return sub, "destination.protocol is required: HTTP or TCP"
	default:
		return sub, fmt.Sprintf("destination.protocol %q is not HTTP or TCP", dst.Protocol)
	}
	if sub.Port == reservedPort {
		return sub, fmt.Sprintf("destination port %d is reserved by Lambda for its APIs", reservedPort)
	}
	lim := limitsOf[api]
	sub.MaxItems, sub.MaxBytes, sub.TimeoutMs = lim.defItems, lim.defBytes, lim.defMs
	if len(req.Buffering) != 0 && string(req.Buffering) != "null" {
		var b map[string]json.RawMessage
		if err := json.Unmarshal(req.Buffering, &b); err != nil {
			return sub, "buffering: " + err.Error()
		}
		for _, f := range []struct {
			name     string
			min, max int
			dst      *int
		}{
			{"maxItems", lim.minItems, lim.maxItems, &sub.MaxItems},
			{"maxBytes", lim.minBytes, lim.maxBytes, &sub.MaxBytes},
			{"timeoutMs", lim.minMs, lim.maxMs, &sub.TimeoutMs},
		} {
			raw, ok := b[f.name]
			if !ok {
				continue
			}
			var n int
			if json.Unmarshal(raw, &n) != nil {
				return sub, fmt.Sprintf("buffering.%s must be an integer from %d to %d", f.name, f.min, f.max)
			}
			if n < f.min || n > f.max {
				return sub, fmt.Sprintf("buffering.%s %d is out of range: the minimum is %d, the maximum %d", f.name, n, f.min, f.max)
			}
			*f.dst = n
		}
	}
	return sub, ""
}

func (s *Server) handleSubscribe(api string) http.HandlerFunc {
	closedType, closedMsg := ErrorTypeTelemetryClosed, "Telemetry API subscription is closed"
	if api == apiLogs {
		closedType, closedMsg = ErrorTypeLogsClosed, "Logs API subscription is closed"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.isClosed() {
			s.mu.Unlock()
			s.renderShuttingDown(w)
			return
		}
		ext := s.extensionLocked(w, r)
		s.mu.Unlock()
		if ext == nil {
			return
		}
		body, total, err := readLimited(r.Body, maxSubscriptionBody)
		if err != nil {
			s.reject(w, "", http.StatusBadRequest, ErrorTypeValidation, "Failed to read request body: "+err.Error())
			return
		}
		if total > maxSubscriptionBody {
			s.reject(w, "", http.StatusBadRequest, ErrorTypeValidation, fmt.Sprintf("the request body (%d bytes) is over %d bytes", total, maxSubscriptionBody))
			return
		}
		conf, msg := parseSubscription(api, body)
		if msg != "" {
			s.reject(w, "", http.StatusBadRequest, ErrorTypeValidation, msg)
			return
		}
		conf.Extension = ext.name

		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case s.isClosed():
			s.renderShuttingDown(w)
			return
		case s.initCompleteLocked() || s.shuttingDown:
			s.rejectLocked(w, "", http.StatusForbidden, closedType, closedMsg)
			return
		}
		old := s.subs[ext.name]
		if old != nil && old.conf.API != api {
			other := "Telemetry API"
			if old.conf.API == apiLogs {
				other = "Logs API"
			}
			s.rejectLocked(w, "", http.StatusBadRequest, ErrorTypeValidation,
				fmt.Sprintf("extension %s already subscribed with the %s: an extension subscribes with one of the two APIs", ext.name, other))
			return
		}
		sub := old
		if sub == nil {
			sub = &subscriber{s: s, wake: make(chan struct{}, 1), flushReq: make(chan chan struct{})}
			s.subs[ext.name] = sub
			s.subOrder = append(s.subOrder, ext.name)
			s.subWG.Add(1)
			go sub.run()
		}
		sub.mu.Lock()
		sub.conf.Extension, sub.conf.API, sub.conf.Types = conf.Extension, conf.API, conf.Types
		sub.conf.Protocol, sub.conf.Port, sub.conf.Path = conf.Protocol, conf.Port, conf.Path
		sub.conf.MaxItems, sub.conf.MaxBytes, sub.conf.TimeoutMs = conf.MaxItems, conf.MaxBytes, conf.TimeoutMs
		sub.mu.Unlock()
		s.recordExtLocked(KindSubscribe, ext.name, "", []byte(describeSubscription(conf)))
		if old == nil {
			// What happened in init so far, platform.initStart first.
			for _, q := range s.backlog {
				sub.push(q)
			}
		}
		typ := "platform.telemetrySubscription"
		if api == apiLogs {
			typ = "platform.logsSubscription"
		}
		s.emitLocked(TypePlatform, typ, time.Now(), map[string]any{"name": ext.name, "state": "Subscribed", "types": conf.Types})
		writeRaw(w, http.StatusOK, []byte(`"OK"`))
	}
}

// describeSubscription is the timeline's detail of a subscription.
func describeSubscription(c Subscription) string {
	name := "Telemetry API"
	if c.API == apiLogs {
		name = "Logs API"
	}
	dst := fmt.Sprintf("HTTP %s:%d%s", sandboxDomain, c.Port, c.Path)
	if c.Protocol == "TCP" {
		dst = fmt.Sprintf("TCP port %d", c.Port)
	}
	return fmt.Sprintf("%s: %s to %s (batches of up to %d events, %d bytes, %d ms)",
		name, strings.Join(c.Types, ", "), dst, c.MaxItems, c.MaxBytes, c.TimeoutMs)
}

// Emit sends a platform event (typ "platform.initStart", ...) with its
// record to the subscribers of the platform type, at time at.
func (s *Server) Emit(typ string, at time.Time, record any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(TypePlatform, typ, at, record)
}

// LogLine sends one line the function (category "function") or an
// extension ("extension") wrote to the subscribers of that type.
func (s *Server) LogLine(category string, at time.Time, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(category, category, at, line)
}

// logsAPITypes are the platform events the Logs API delivers (the rest are
// the Telemetry API's).
var logsAPITypes = map[string]bool{
	"platform.start": true, "platform.end": true, "platform.report": true,
	"platform.extension": true, "platform.logsSubscription": true, "platform.runtimeDone": true,
	"platform.fault": true,
}

func (s *Server) emitLocked(category, typ string, at time.Time, record any) {
	if s.isClosed() || len(s.subOrder) == 0 && (s.initComplete || s.shuttingDown) {
		return // nobody subscribed, and nobody can any more
	}
	b, err := json.Marshal(telemetryEvent{Time: at.UTC().Format(telemetryTimeFormat), Type: typ, Record: record})
	if err != nil {
		return
	}
	q := queued{category: category, typ: typ, b: b}
	if !s.initCompleteLocked() && !s.shuttingDown && len(s.backlog) < backlogMaxEvents && s.backlogBytes+len(b) <= backlogMaxBytes {
		s.backlog = append(s.backlog, q)
		s.backlogBytes += len(b)
	}
	for _, name := range s.subOrder {
		s.subs[name].push(q)
	}
}

// push queues q when the subscription covers it.
func (sub *subscriber) push(q queued) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !slices.Contains(sub.conf.Types, q.category) {
		return
	}
	if q.category == TypePlatform {
		if sub.conf.API == apiLogs && !logsAPITypes[q.typ] {
			return
		}
		if sub.conf.API == apiTelemetry && (q.typ == "platform.end" || q.typ == "platform.logsSubscription") {
			return
		}
	}
	sub.buf = append(sub.buf, q)
	sub.bufBytes += len(q.b)
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// run batches and delivers the subscriber's events until the server
// closes.
func (sub *subscriber) run() {
	defer sub.s.subWG.Done()
	defer sub.closeConns()
	var timer *time.Timer
	var tc <-chan time.Time
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
		}
		timer, tc = nil, nil
	}
	defer stopTimer()
	for {
		var flushed chan struct{}
		select {
		case <-sub.wake:
		case <-tc:
			stopTimer()
			sub.deliver(true)
		case flushed = <-sub.flushReq:
		case <-sub.s.closed:
			return
		}
		if flushed != nil {
			stopTimer()
			for sub.deliver(true) {
			}
			close(flushed)
			continue
		}
		for sub.deliver(false) { // full batches
		}
		sub.mu.Lock()
		pending, ms := len(sub.buf) > 0, sub.conf.TimeoutMs
		sub.mu.Unlock()
		switch {
		case !pending:
			stopTimer()
		case tc == nil:
			timer = time.NewTimer(time.Duration(ms) * time.Millisecond)
			tc = timer.C
		}
	}
}

// deliver sends one batch: a full one, or (all) whatever is buffered. It
// tells whether it sent anything.
func (sub *subscriber) deliver(all bool) bool {
	sub.mu.Lock()
	n, size := 0, 0
	for n < len(sub.buf) && n < sub.conf.MaxItems && size < sub.conf.MaxBytes {
		size += len(sub.buf[n].b)
		n++
	}
	full := n == sub.conf.MaxItems || size >= sub.conf.MaxBytes
	if n == 0 || (!all && !full) {
		sub.mu.Unlock()
		return false
	}
	batch := make([][]byte, n)
	for i := range batch {
		batch[i] = sub.buf[i].b
	}
	sub.buf = append([]queued(nil), sub.buf[n:]...)
	sub.bufBytes -= size
	conf := sub.conf
	sub.mu.Unlock()

	ctx, cancel := context.WithTimeout(sub.s.deliveryCtx, deliveryTimeout)
	defer cancel()
	var err error
	if conf.Protocol == "TCP" {
		err = sub.sendTCP(ctx, conf, batch)
	} else {
		err = sub.sendHTTP(ctx, conf, batch)
	}
	if err != nil {
		// Once SHUTDOWN is sent (or the extension exited) the listener
		// may be gone with the environment: such a batch is dropped, not
		// counted as a failure.
		sub.s.mu.Lock()
		e := sub.s.extByName[conf.Extension]
		teardown := sub.s.shuttingDown || sub.s.isClosed() || e != nil && e.state == extStateExited
		if !teardown {
			sub.s.recordExtLocked(KindTelemetryUndelivered, conf.Extension, "",
				[]byte(fmt.Sprintf("%d events not delivered to %s: %v", n, destination(conf), err)))
		}
		sub.s.mu.Unlock()
		if teardown {
			return true
		}
	}
	sub.mu.Lock()
	if err != nil {
		sub.conf.Failed++
		sub.conf.LastError = err.Error()
	} else {
		sub.conf.Batches++
		sub.conf.Events += n
	}
	sub.mu.Unlock()
	return true
}

func destination(c Subscription) string {
	if c.Protocol == "TCP" {
		return fmt.Sprintf("TCP port %d", c.Port)
	}
	return fmt.Sprintf("http://%s:%d%s", sandboxDomain, c.Port, c.Path)
}

func (sub *subscriber) sendHTTP(ctx context.Context, conf Subscription, batch [][]byte) error {
	if sub.transport == nil {
		dial := sub.s.dialer()
		sub.transport = &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dial(ctx, conf.Port)
			},
			DisableKeepAlives:     true,
			ResponseHeaderTimeout: deliveryTimeout,
		}
	}
	var body bytes.Buffer
	body.WriteByte('[')
	for i, b := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(b)
	}
	body.WriteByte(']')
	u := fmt.Sprintf("http://%s:%d%s", sandboxDomain, conf.Port, conf.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: sub.transport}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 400 {
		return fmt.Errorf("the listener answered %s", resp.Status)
	}
	return nil
}

func (sub *subscriber) sendTCP(ctx context.Context, conf Subscription, batch [][]byte) error {
	if sub.tcp == nil {
		c, err := sub.s.dialer()(ctx, conf.Port)
		if err != nil {
			return err
		}
		sub.tcp = c
	}
	var buf bytes.Buffer
	for _, b := range batch {
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if d, ok := ctx.Deadline(); ok {
		_ = sub.tcp.SetWriteDeadline(d)
	}
	if _, err := sub.tcp.Write(buf.Bytes()); err != nil {
		sub.tcp.Close()
		sub.tcp = nil
		return err
	}
	return nil
}

func (sub *subscriber) closeConns() {
	if sub.tcp != nil {
		sub.tcp.Close()
	}
	if sub.transport != nil {
		sub.transport.CloseIdleConnections()
	}
}

// FlushTelemetry delivers what every subscriber has buffered, and waits
// until it is sent or ctx ends.
func (s *Server) FlushTelemetry(ctx context.Context) {
	s.mu.Lock()
	subs := make([]*subscriber, 0, len(s.subOrder))
	for _, n := range s.subOrder {
		subs = append(subs, s.subs[n])
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			select {
			case sub.flushReq <- done:
			case <-ctx.Done():
				return
			case <-s.closed:
				return
			}
			select {
			case <-done:
			case <-ctx.Done():
			case <-s.closed:
			}
		}()
	}
	wg.Wait()
}

// Subscriptions returns the Telemetry and Logs API subscriptions, in the
// order they were made.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, 0, len(s.subOrder))
	for _, n := range s.subOrder {
		sub := s.subs[n]
		sub.mu.Lock()
		c := sub.conf
		c.Types = slices.Clone(c.Types)
		sub.mu.Unlock()
		out = append(out, c)
	}
	return out
}
