package emulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/lambda"
	"github.com/lambdoctor/lambdoctor/runtimeapi"
)

// InvokePath is the Runtime Interface Emulator's invoke endpoint, the
// path of the Lambda Invoke API for a function named "function": the one
// curl scripts and test suites post events to.
const InvokePath = "/2015-03-31/functions/function/invocations"

// invokeRequest is one event handed to a booted environment; the answer
// comes back on reply.
type invokeRequest struct {
	payload []byte
	reply   chan invokeAnswer
}

// invokeAnswer is how one invoke ended.
type invokeAnswer struct {
	Result     string
	RequestID  string
	Response   json.RawMessage
	Error      *RunError
	DurationMs int64
	// InitMs is the environment's init duration, on its first answer
	// only (-1 otherwise).
	InitMs int64
}

// serve hands each request of invokes to the runtime, one at a time, as
// Lambda does within one execution environment, until the environment
// dies (a timeout, a crash), invokes closes or the context ends.
func (b *booter) serve(invokes <-chan *invokeRequest) {
	first := true
	for {
		var req *invokeRequest
		select {
		case req = <-invokes:
		case <-b.ctx.Done():
			b.out.Result = ResultInterrupted
			return
		case <-b.w.done:
			// Died between invokes: the next request boots anew.
			b.out.Result = ResultExitedDuringInvoke
			b.out.Error = &RunError{Phase: "invoke", Type: "Runtime.ExitError", Message: "Runtime exited " + exitPhrase(b.w.info) + " between invocations"}
			return
		}
		if req == nil {
			return
		}
		b.s.Event = req.payload
		b.out.Result, b.out.Error, b.out.Response, b.out.RequestID, b.out.DurationMs = "", nil, nil, "", nil
		b.invokePhase()
		a := invokeAnswer{Result: b.out.Result, RequestID: b.out.RequestID, Response: b.out.Response, Error: b.out.Error, InitMs: -1}
		if b.out.DurationMs != nil {
			a.DurationMs = *b.out.DurationMs
		}
		if first && b.out.InitMs != nil {
			a.InitMs = *b.out.InitMs
		}
		first = false
		req.reply <- a
		if a.Result != ResultSuccess && a.Result != ResultFunctionError {
			return // the environment is gone (or must be replaced)
		}
	}
}

// Session counts what a listen session did.
type Session struct {
	Invocations, Answered, FunctionErrors, Failed int
	// Inits are the environments booted; InitMs their init durations.
	Inits  int
	InitMs []int64
}

// Listen serves the emulator's invoke endpoint (InvokePath) on ln until
// ctx ends: the first request boots the unpacked image at root in the
// sandbox (init), every request is one invoke of the warm environment,
// and an environment that times out, crashes or fails init is replaced
// on the next request, as Lambda replaces it. The function's output and a
// START/END/REPORT line per invoke go to log. The answers follow the
// emulator: 200 with the function's response; 200 with the error body and
// X-Amz-Function-Error: Unhandled for an error the function posts; 200
// with "Task timed out after N.00 seconds" for a timeout; 502 with the
// error body when init fails or the runtime dies with the event; 413 for a
// payload over 6 MB.
func Listen(ctx context.Context, s Spec, ln net.Listener, log io.Writer) (*Session, error) {
	l := &listener{ctx: ctx, s: s, log: log, sess: &Session{}}
	s.Log = log
	l.s = s
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+InvokePath, l.invoke)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		// An invoke (or the init it waits for) in flight is interrupted;
		// a warm environment between invokes is shut down as Lambda shuts
		// one down (stopEnv).
		l.busyMu.Lock()
		if l.busy != nil {
			l.busy.cancel()
		}
		l.busyMu.Unlock()
	case err = <-done:
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	l.stopEnv()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return l.sess, err
}

// listener is a listen session's state: one environment at a time.
type listener struct {
	ctx context.Context
	s   Spec
	log io.Writer

	mu   sync.Mutex // one invoke at a time, as in one environment
	env  *environment
	sess *Session

	// busy is the environment an invoke is in flight in (or booting
	// for), which the end of the session interrupts.
	busyMu sync.Mutex
	busy   *environment
}

// environment is a booted sandbox serving invokes.
type environment struct {
	invokes chan *invokeRequest
	done    chan bootResult
	cancel  context.CancelFunc
}

type bootResult struct {
	out *Outcome
	err error
}

// start boots a new environment. Its context is not the session's: when
// the session ends between invokes, the environment gets Lambda's Shutdown
// phase (SIGTERM to the runtime, SHUTDOWN to the extensions, their budget)
// before it is torn down, so that what they print as they finish is not
// lost; an invoke in flight is interrupted instead (Listen).
func (l *listener) start() *environment {
	ctx, cancel := context.WithCancel(context.WithoutCancel(l.ctx))
	e := &environment{invokes: make(chan *invokeRequest), done: make(chan bootResult, 1), cancel: cancel}
	go func() {
		out, err := boot(ctx, l.s, e.invokes)
		e.done <- bootResult{out, err}
	}()
	return e
}

// stopEnv ends the environment, if any, and waits for it: no more invokes,
// then its Shutdown phase, bounded by stopGrace.
func (l *listener) stopEnv() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.env; e != nil {
		close(e.invokes)
		select {
		case <-e.done:
		case <-time.After(stopGrace):
			e.cancel()
			<-e.done
		}
		e.cancel()
		l.env = nil
	}
}

// stopGrace bounds the Shutdown phase of a session's last environment:
// Lambda's budget (2 s with external extensions) and time to tear the
// sandbox down.
const stopGrace = runtimeapi.ShutdownBudget + 3*time.Second

func (l *listener) invoke(w http.ResponseWriter, r *http.Request) {
	payload, err := io.ReadAll(io.LimitReader(r.Body, lambda.MaxPayloadBytes+1))
	if err != nil {
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(payload) > lambda.MaxPayloadBytes {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", lambda.MaxPayloadBytes))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		http.Error(w, "the lambdoctor run session is stopping", http.StatusServiceUnavailable)
		return
	}
	l.sess.Invocations++
	if e := l.env; e != nil {
		select {
		case <-e.done:
			// It died between invocations: Lambda boots a new one.
			fmt.Fprintf(l.log, "lambdoctor: the execution environment ended between invocations; starting a new one\n")
			l.env = nil
		default:
		}
	}
	fresh := false
	if l.env == nil {
		l.env, fresh = l.start(), true
		l.sess.Inits++
	}
	e := l.env
	l.busyMu.Lock()
	l.busy = e
	l.busyMu.Unlock()
	defer func() {
		l.busyMu.Lock()
		l.busy = nil
		l.busyMu.Unlock()
	}()
	if l.ctx.Err() != nil {
		e.cancel() // the session ended as this invoke began
	}
	req := &invokeRequest{payload: payload, reply: make(chan invokeAnswer, 1)}
	select {
	case e.invokes <- req:
	case res := <-e.done:
		// Init failed (or the environment died before taking it).
		l.env = nil
		l.sess.Failed++
		l.answerDead(w, res, fresh)
		return
	case <-r.Context().Done():
		return
	}
	var a invokeAnswer
	select {
	case a = <-req.reply:
	case res := <-e.done:
		l.env = nil
		l.sess.Failed++
		l.answerDead(w, res, false)
		return
	}
	initPart := ""
	if a.InitMs >= 0 {
		l.sess.InitMs = append(l.sess.InitMs, a.InitMs)
		initPart = fmt.Sprintf("Init Duration: %d ms\t", a.InitMs)
	}
	fmt.Fprintf(l.log, "START RequestId: %s Version: $LATEST\nEND RequestId: %s\nREPORT RequestId: %s\t%sDuration: %d ms\tMemory Size: %d MB\tResult: %s\n",
		a.RequestID, a.RequestID, a.RequestID, initPart, a.DurationMs, l.s.MemoryMB, a.Result)
	switch a.Result {
	case ResultSuccess:
		l.sess.Answered++
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.Response)
	case ResultFunctionError:
		l.sess.FunctionErrors++
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.Header().Set("Content-Type", "application/json")
		w.Write(errorBody(a.Error))
	case ResultInvokeTimeout:
		l.sess.Failed++
		l.retire()
		w.Write([]byte(fmt.Sprintf("Task timed out after %.2f seconds", l.s.Timeout.Seconds())))
	default:
		l.sess.Failed++
		l.retire()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		w.Write(errorBody(a.Error))
	}
}

// retire waits for the environment that just died (or was stopped after
// a timeout) to be torn down, so that the next request boots a new one.
func (l *listener) retire() {
	if e := l.env; e != nil {
		e.cancel()
		<-e.done
		l.env = nil
	}
}

// answerDead answers a request whose environment ended without taking it
// or answering it: init failed, or the runtime died.
func (l *listener) answerDead(w http.ResponseWriter, res bootResult, initFailed bool) {
	w.Header().Set("Content-Type", "application/json")
	if res.err != nil {
		writeJSONError(w, http.StatusInternalServerError, "Sandbox.Failure", res.err.Error())
		return
	}
	out := res.out
	what := "the execution environment ended"
	if initFailed {
		what = "init failed"
	}
	fmt.Fprintf(l.log, "lambdoctor: %s (%s): the next request starts a new execution environment\n", what, out.Result)
	w.WriteHeader(http.StatusBadGateway)
	w.Write(errorBody(out.Error))
}

// errorBody is the {"errorMessage","errorType"} body of an error.
func errorBody(e *RunError) []byte {
	if e == nil {
		return []byte(`{"errorMessage":"unknown error","errorType":"Runtime.Unknown"}`)
	}
	if len(e.Body) > 0 && json.Valid(e.Body) && e.Body[0] == '{' {
		return e.Body
	}
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{e.Message, e.Type})
	return b
}

func writeJSONError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
	w.Write(b)
}

// lineLog writes a process stream to a shared log a line at a time, each
// line escaped for the terminal (the function's output is the image's
// content, and may hold control sequences) and prefixed by the stream's
// name when it is stderr.
type lineLog struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		// A very long line without a newline: show it in pieces.
		l.emit(string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *lineLog) emit(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s%s\n", l.prefix, termsafe.Line(strings.TrimSuffix(line, "\r")))
}
