// Package runtimeapi serves the AWS Lambda Runtime API (version 2018-06-01)
// on loopback, so that `lambdoctor run` can boot a function image the way
// Lambda does and watch what its runtime does.
//
// The behaviour follows the public API reference and the Runtime Interface
// Emulator's rapi package (aws/aws-lambda-runtime-interface-emulator,
// lambda/rapi): the paths, the invocation headers, 202 {"status":"OK"} for
// accepted posts, 400 InvalidRequestID for a request ID that is not the
// invocation in flight, 403 InvalidStateTransition for a post the runtime's
// state does not allow (a second answer, an init error after init), 413
// RequestEntityTooLarge for a response over 6 MB, and the
// {"errorMessage","errorType"} error body.
//
// One Server serves one execution environment: invocations are handed to the
// runtime one /next at a time, as Lambda (default capacity) does.
package runtimeapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lambdoctor/lambdoctor/lambda"
)

// Version is the Runtime API version the server implements; every path
// starts with it.
const Version = "2018-06-01"

// Payload limits, as Lambda enforces them.
const (
	// MaxResponseSize is the largest response a runtime may post: 6 MB plus
	// 100 bytes (the RIE's interop.MaxPayloadSize, 6291556 bytes).
	MaxResponseSize = 6*1024*1024 + 100
	// MaxInvokePayloadSize is the largest synchronous invocation payload
	// Lambda accepts (6 MB, 6291456 bytes).
	MaxInvokePayloadSize = lambda.MaxPayloadBytes
	// DefaultTimeout is Lambda's default function timeout, used for an
	// invocation that carries neither a deadline nor a context deadline.
	DefaultTimeout = 3 * time.Second
)

// Header names of the Runtime API.
const (
	HeaderRequestID          = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs         = "Lambda-Runtime-Deadline-Ms"
	HeaderInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID            = "Lambda-Runtime-Trace-Id"
	HeaderFunctionErrorType  = "Lambda-Runtime-Function-Error-Type"
)

// Error types the server answers with, as in the RIE's rendering package.
const (
	ErrorTypeInvalidRequestID       = "InvalidRequestID"
	ErrorTypeInvalidStateTransition = "InvalidStateTransition"
	ErrorTypeRequestEntityTooLarge  = "RequestEntityTooLarge"
	ErrorTypeTruncatedHTTPRequest   = "TruncatedHTTPRequest"
	ErrorTypeInternalServerError    = "InternalServerError"
	// ErrorTypeResponseSizeTooLarge is the invocation's error type when the
	// runtime posted a response over MaxResponseSize.
	ErrorTypeResponseSizeTooLarge = "Function.ResponseSizeTooLarge"
)

// Event kinds recorded in the timeline.
const (
	KindListening     = "listening"      // the server accepts connections; Body is the address
	KindNext          = "next"           // the runtime called GET /next
	KindInitDone      = "init-done"      // the first /next: init is over
	KindInitError     = "init-error"     // POST /runtime/init/error; Body is the error body
	KindInvoke        = "invoke"         // an invocation was handed to a /next; Body is the payload
	KindResponse      = "response"       // POST /response accepted; Body is the response
	KindError         = "error"          // POST /error accepted (or a response too large); Body is the error body
	KindInitTimeout   = "init-timeout"   // recorded by the caller through Mark
	KindInvokeTimeout = "invoke-timeout" // Invoke's deadline passed before the runtime answered
	KindRejected      = "rejected"       // a request the API refused; Body is the error body it answered
	// KindInitComplete: the runtime and every registered extension called
	// next; the init phase ends here (Lambda's Init Duration).
	KindInitComplete = "init-complete"
)

// Sentinel errors of Invoke.
var (
	// ErrClosed is returned once the server is closed.
	ErrClosed = errors.New("runtime API server closed")
	// ErrInitFailed is returned by Invoke when the runtime posted an init
	// error before it took the invocation; the Result carries that error.
	ErrInitFailed = errors.New("runtime reported an init error")
	// ErrPayloadTooLarge is returned for an invocation payload over
	// MaxInvokePayloadSize.
	ErrPayloadTooLarge = errors.New("invocation payload too large")
	// ErrDuplicateRequestID is returned for a request ID already used.
	ErrDuplicateRequestID = errors.New("duplicate request ID")
)

// Event is one entry of the timeline.
type Event struct {
	At        time.Time
	Kind      string
	RequestID string
	Body      []byte
	// Extension is the extension's name, for the Extensions API's kinds.
	Extension string
}

// Invocation is one event sent to the function. Empty fields get defaults in
// Invoke: a random UUID request ID, a deadline from the context (or
// DefaultTimeout), an ARN built from the options, and a fresh X-Ray trace ID.
type Invocation struct {
	RequestID   string
	Payload     []byte
	Deadline    time.Time
	FunctionARN string
	TraceID     string
}

// Result is how an invocation (or init) ended, as the runtime reported it.
type Result struct {
	RequestID string
	// Response is the body of POST /response.
	Response []byte
	// ErrorType is the Lambda-Runtime-Function-Error-Type header of the
	// error post or, without one, the "errorType" field of its JSON body.
	ErrorType string
	// ErrorBody is the body of POST /error or /init/error.
	ErrorBody []byte
	// Kind is "response" or "error" (also "error" for an init error).
	Kind string
}

// Options configure a Server.
type Options struct {
	// Addr to listen on; "127.0.0.1:0" (a free loopback port) when empty.
	Addr string
	// FunctionName, Region and the account 000000000000 make the default
	// function ARN. Defaults: "function", "us-east-1".
	FunctionName string
	// MemoryMB is the configured memory, kept for the caller's report
	// (Options()); the API itself does not use it. Default 128.
	MemoryMB int
	Region   string
	// FunctionVersion and Handler are answered to an extension's register
	// (defaults "$LATEST" and "").
	FunctionVersion string
	Handler         string
	// Extensions are the names (base names) of the external extensions,
	// the executables of /opt/extensions.
	Extensions []string
}

// runtime states, named as in the RIE (lambda/core/runtime_state_names.go)
// so that 403 messages read the same.
const (
	stateStarted      = "Started"
	stateInitError    = "InitError"
	stateReady        = "Ready"
	stateResponseSent = "RuntimeResponseSentState"
)

// call status
const (
	callQueued = iota
	callDelivered
	callAnswered
	callAbandoned
)

type outcome struct {
	res Result
	err error
}

type call struct {
	inv         Invocation
	status      int
	deliveredAt time.Time
	done        chan outcome // buffered, one send
}

// Server is a Runtime API endpoint for one execution environment. It is safe
// for concurrent use.
type Server struct {
	opts Options
	ln   net.Listener
	srv  *http.Server

	queue     chan *call
	closed    chan struct{}
	closeOnce sync.Once
	served    chan struct{}  // closed when Serve returns
	extra     sync.WaitGroup // the Serve calls of more listeners (Serve)

	initDone chan struct{}
	initErr  chan Result

	mu         sync.Mutex
	started    bool
	state      string
	calls      map[string]*call
	initResult *Result
	events     []Event

	// Extensions API (extensions.go)
	exts               []*extension
	extByName          map[string]*extension
	extByID            map[string]*extension
	extChanged         chan struct{}
	regClosed          bool
	shuttingDown       bool
	exitedUnregistered map[string]string
	launchErrs         map[string]string
	// initComplete is set when the runtime and every registered extension
	// called next (KindInitComplete); initStart when InitStarted was called.
	initComplete bool
	initStart    time.Time

	// Telemetry and Logs API (telemetry.go)
	dial           Dialer
	subs           map[string]*subscriber
	subOrder       []string
	subWG          sync.WaitGroup
	backlog        []queued
	backlogBytes   int
	deliveryCtx    context.Context
	deliveryCancel context.CancelFunc
}

// New binds the listener (so Addr is known at once) but does not serve until
// Start.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.FunctionName == "" {
		opts.FunctionName = "function"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.FunctionVersion == "" {
		opts.FunctionVersion = "$LATEST"
	}
	if opts.MemoryMB <= 0 {
		opts.MemoryMB = 128
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening for the runtime API on %s: %w", opts.Addr, err)
	}
	s := &Server{
		opts:     opts,
		ln:       ln,
		queue:    make(chan *call, 64),
		closed:   make(chan struct{}),
		served:   make(chan struct{}),
		initDone: make(chan struct{}),
		initErr:  make(chan Result, 1),
		state:    stateStarted,
		calls:    map[string]*call{},

		extByName:          map[string]*extension{},
		extByID:            map[string]*extension{},
		extChanged:         make(chan struct{}),
		exitedUnregistered: map[string]string{},
		launchErrs:         map[string]string{},
		subs:               map[string]*subscriber{},
	}
	s.deliveryCtx, s.deliveryCancel = context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		// /next is a long poll: no read or write timeout.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return s, nil
}

// Options returns the options with defaults applied.
func (s *Server) Options() Options { return s.opts }

// Addr is host:port, the value for AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// FunctionARN is the ARN sent with invocations that carry none.
func (s *Server) FunctionARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", s.opts.Region, s.opts.FunctionName)
}

// Start serves the API in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	if s.started {
		return errors.New("runtime API server already started")
	}
	s.started = true
	s.recordLocked(KindListening, "", []byte(s.Addr()))
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(s.ln) // http.ErrServerClosed after Close
	}()
	return nil
}

// Serve serves the API on one more listener, in the background, until
// Close: the connections a function makes inside a sandbox's own network
// namespace, forwarded out of it (sandbox.Process.Forwarded). The server
// must be started.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	if !s.started {
		return errors.New("runtime API server not started")
	}
	s.recordLocked(KindListening, "", []byte(ln.Addr().String()))
	s.extra.Add(1)
	go func() {
		defer s.extra.Done()
		_ = s.srv.Serve(ln) // ends with the listener, or at Close
	}()
	return nil
}

// Close stops the server: a blocked /next is answered 500, a waiting Invoke
// returns ErrClosed, and the listener is closed. It is idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.closed)
		started := s.started
		s.mu.Unlock()
		// The telemetry deliveries end with the server.
		s.deliveryCancel()
		defer s.subWG.Wait()
		if !started {
			err = s.ln.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if e := s.srv.Shutdown(ctx); e != nil {
			err = s.srv.Close()
		}
		<-s.served
		s.extra.Wait()
	})
	return err
}

// InitDone is closed at the first GET /next: the runtime finished init.
func (s *Server) InitDone() <-chan struct{} { return s.initDone }

// InitError delivers the runtime's POST /runtime/init/error (at most once).
func (s *Server) InitError() <-chan Result { return s.initErr }

// Events returns a copy of the timeline so far.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		if e.Body != nil {
			e.Body = append([]byte(nil), e.Body...)
		}
		out[i] = e
	}
	return out
}

// InitStarted records when the execution environment's init began (the
// sandbox started): it is sent as platform.initStart, and the init's
// duration (platform.initReport) counts from it.
func (s *Server) InitStarted(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initStart = at
	s.emitLocked(TypePlatform, "platform.initStart", at, map[string]any{
		"initializationType": "on-demand", "phase": "init",
		"functionName": s.opts.FunctionName, "functionVersion": s.opts.FunctionVersion})
}

// checkInitCompleteLocked records KindInitComplete (and sends
// platform.initReport) the moment init is complete.
func (s *Server) checkInitCompleteLocked() {
	if s.initComplete || !s.initCompleteLocked() {
		return
	}
	now := time.Now()
	s.recordLocked(KindInitComplete, "", nil)
	rec := map[string]any{"initializationType": "on-demand", "phase": "init", "status": "success"}
	if !s.initStart.IsZero() {
		rec["metrics"] = map[string]any{"durationMs": durationMs(now.Sub(s.initStart))}
	}
	s.emitLocked(TypePlatform, "platform.initReport", now, rec)
	// Subscriptions are closed from now on: the backlog has no more use.
	s.initComplete = true
	s.backlog, s.backlogBytes = nil, 0
}

// durationMs is d in milliseconds with three decimals, as Lambda's
// telemetry metrics give it.
func durationMs(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// Mark records an event the caller observed (KindInitTimeout, for one) in the
// same timeline.
func (s *Server) Mark(kind, requestID string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(kind, requestID, body)
}

func (s *Server) recordLocked(kind, requestID string, body []byte) {
	var b []byte
	if body != nil {
		b = append([]byte(nil), body...)
	}
	s.events = append(s.events, Event{At: time.Now(), Kind: kind, RequestID: requestID, Body: b})
}

// Invoke queues inv for the runtime's next GET /next and waits until the
// runtime posts its response or error, the invocation's deadline passes, ctx
// ends, or the server closes. A deadline passing is recorded as
// KindInvokeTimeout and returned as context.DeadlineExceeded (wrapped).
func (s *Server) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	if len(inv.Payload) > MaxInvokePayloadSize {
		return Result{RequestID: inv.RequestID}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrPayloadTooLarge, len(inv.Payload), MaxInvokePayloadSize)
	}
	if inv.RequestID == "" {
		inv.RequestID = newUUID()
	}
	if inv.FunctionARN == "" {
		inv.FunctionARN = s.FunctionARN()
	}
	if inv.TraceID == "" {
		inv.TraceID = newTraceID()
	}
	if inv.Deadline.IsZero() {
		if d, ok := ctx.Deadline(); ok {
			inv.Deadline = d
		} else {
			inv.Deadline = time.Now().Add(DefaultTimeout)
		}
	}
	if inv.Payload == nil {
		inv.Payload = []byte{}
	}
	ctx, cancel := context.WithDeadline(ctx, inv.Deadline)
	defer cancel()

	c := &call{inv: inv, done: make(chan outcome, 1)}
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return Result{RequestID: inv.RequestID}, ErrClosed
	default:
	}
	if s.initResult != nil {
		r := *s.initResult
		s.mu.Unlock()
		r.RequestID = inv.RequestID
		return r, ErrInitFailed
	}
	if _, dup := s.calls[inv.RequestID]; dup {
		s.mu.Unlock()
		return Result{RequestID: inv.RequestID}, fmt.Errorf("%w: %s", ErrDuplicateRequestID, inv.RequestID)
	}
	s.calls[inv.RequestID] = c
	s.mu.Unlock()

	select {
	case s.queue <- c:
	case <-ctx.Done():
		return s.abandon(c, ctx.Err())
	case <-s.closed:
		return s.abandon(c, ErrClosed)
	}

	select {
	case o := <-c.done:
		return o.res, o.err
	case <-ctx.Done():
		return s.abandon(c, ctx.Err())
	case <-s.closed:
		return s.abandon(c, ErrClosed)
	}
}

// abandon gives up on c, unless its answer raced in.
func (s *Server) abandon(c *call, cause error) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case o := <-c.done:
		return o.res, o.err
	default:
	}
	c.status = callAbandoned
	id := c.inv.RequestID
	if errors.Is(cause, context.DeadlineExceeded) {
		s.recordLocked(KindInvokeTimeout, id, nil)
	}
	return Result{RequestID: id}, fmt.Errorf("invocation %s: %w", id, cause)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTraceID makes an X-Ray trace header in Lambda's form:
// Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0.
func newTraceID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0",
		time.Now().Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:20]))
}
