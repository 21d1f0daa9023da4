package runtimeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// stateTransitionFailed is the RIE's 403 message
// (lambda/rapi/handler/constants.go), with core.ErrNotAllowed's text.
const stateTransitionFailed = "State transition from %s to %s failed for runtime. Error: State transition is not allowed"

// drainLimit bounds how much of an oversized body is read only to count it.
const drainLimit = 64 << 20

type errorBody struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	p := "/" + Version + "/runtime"
	mux.HandleFunc("GET "+p+"/invocation/next", s.handleNext)
	mux.HandleFunc("POST "+p+"/invocation/{id}/response", s.handleResponse)
	mux.HandleFunc("POST "+p+"/invocation/{id}/error", s.handleError)
	mux.HandleFunc("POST "+p+"/init/error", s.handleInitError)
	s.extensionRoutes(mux)
	s.telemetryRoutes(mux)
	mux.HandleFunc("/", s.handleUnknown)
	return mux
}

// handleNext serves GET /runtime/invocation/next: the first call ends init;
// every call blocks until an invocation is queued or the server closes.
func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		s.renderShuttingDown(w)
		return
	}
	if s.state == stateInitError {
		s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeInvalidStateTransition,
			fmt.Sprintf(stateTransitionFailed, s.state, stateReady))
		s.mu.Unlock()
		return
	}
	s.recordLocked(KindNext, "", nil)
	if s.state == stateStarted {
		close(s.initDone)
		s.recordLocked(KindInitDone, "", nil)
		// Registration closes when the runtime is ready (the RIE's
		// registrationService.TurnOff in doRuntimeDomainInit).
		s.regClosed = true
		s.emitLocked(TypePlatform, "platform.initRuntimeDone", time.Now(), map[string]any{
			"initializationType": "on-demand", "phase": "init", "status": "success"})
		s.checkInitCompleteLocked()
		s.changedLocked()
	}
	s.state = stateReady
	s.mu.Unlock()

	for {
		select {
		case c := <-s.queue:
			s.mu.Lock()
			if c.status != callQueued { // its Invoke gave up
				s.mu.Unlock()
				continue
			}
			c.status = callDelivered
			c.deliveredAt = time.Now()
			inv := c.inv
			s.recordLocked(KindInvoke, inv.RequestID, inv.Payload)
			s.emitLocked(TypePlatform, "platform.start", c.deliveredAt, map[string]any{
				"requestId": inv.RequestID, "version": s.opts.FunctionVersion,
				"tracing": map[string]string{"type": "X-Amzn-Trace-Id", "value": inv.TraceID}})
			s.deliverInvokeLocked(inv)
			s.mu.Unlock()

			h := w.Header()
			h.Set(HeaderRequestID, inv.RequestID)
			h.Set(HeaderDeadlineMs, strconv.FormatInt(inv.Deadline.UnixMilli(), 10))
			h.Set(HeaderInvokedFunctionARN, inv.FunctionARN)
			h.Set(HeaderTraceID, inv.TraceID)
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", strconv.Itoa(len(inv.Payload)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(inv.Payload)
			return
		case <-s.closed:
			s.renderShuttingDown(w)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// handleResponse serves POST /runtime/invocation/{id}/response.
func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	const target = "InvocationResponse"
	body, total, ok := s.readAnswer(w, r, id, target)
	if !ok {
		return
	}
	res := Result{RequestID: id, Kind: "response", Response: body}
	status, reply := http.StatusAccepted, any(map[string]string{"status": "OK"})
	if total > MaxResponseSize {
		msg := fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", total, MaxResponseSize)
		eb, _ := json.Marshal(errorBody{ErrorMessage: msg, ErrorType: ErrorTypeResponseSizeTooLarge})
		res = Result{RequestID: id, Kind: "error", ErrorType: ErrorTypeResponseSizeTooLarge, ErrorBody: eb}
		status = http.StatusRequestEntityTooLarge
		reply = errorBody{
			ErrorMessage: fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponseSize),
			ErrorType:    ErrorTypeRequestEntityTooLarge,
		}
	} else if et := r.Trailer.Get(HeaderFunctionErrorType); et != "" {
		// A streamed response that failed midway reports its error in trailers.
		res = Result{RequestID: id, Kind: "error", ErrorType: et, ErrorBody: body}
	}

	s.finish(w, id, target, res, status, reply)
}

// handleError serves POST /runtime/invocation/{id}/error.
func (s *Server) handleError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	const target = "InvocationErrorResponse"
	body, _, ok := s.readAnswer(w, r, id, target)
	if !ok {
		return
	}
	res := Result{RequestID: id, Kind: "error", ErrorType: errorType(r, body), ErrorBody: body}

	s.finish(w, id, target, res, http.StatusAccepted, map[string]string{"status": "OK"})
}

// readAnswer checks that invocation id may still move to target, then reads
// the request body (at most MaxResponseSize bytes are kept; total counts
// them all). It has replied to the runtime when ok is false.
func (s *Server) readAnswer(w http.ResponseWriter, r *http.Request, id, target string) (body []byte, total int64, ok bool) {
	s.mu.Lock()
	_, ok = s.answerableLocked(w, id, target)
	s.mu.Unlock()
	if !ok {
		return nil, 0, false
	}
	body, total, err := readLimited(r.Body, MaxResponseSize)
	if err != nil {
		s.reject(w, id, http.StatusBadRequest, ErrorTypeTruncatedHTTPRequest, "HTTP request detected as truncated")
		return nil, 0, false
	}
	return body, total, true
}

// finish records res for invocation id, unless another answer won the race
// while the body was read, and replies with status and reply.
func (s *Server) finish(w http.ResponseWriter, id, target string, res Result, status int, reply any) {
	s.mu.Lock()
	c, ok := s.answerableLocked(w, id, target)
	if !ok {
		s.mu.Unlock()
		return
	}
	s.finishLocked(c, res)
	s.mu.Unlock()
	writeJSON(w, status, reply)
}

// handleInitError serves POST /runtime/init/error, allowed only before the
// first /next.
func (s *Server) handleInitError(w http.ResponseWriter, r *http.Request) {
	const target = stateInitError
	s.mu.Lock()
	if s.state != stateStarted {
		s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeInvalidStateTransition, fmt.Sprintf(stateTransitionFailed, s.state, target))
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	body, _, err := readLimited(r.Body, MaxResponseSize)
	if err != nil {
		s.reject(w, "", http.StatusBadRequest, ErrorTypeTruncatedHTTPRequest, "HTTP request detected as truncated")
		return
	}
	res := Result{Kind: "error", ErrorType: errorType(r, body), ErrorBody: body}

	s.mu.Lock()
	if s.state != stateStarted { // lost a race with /next or another init error
		s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeInvalidStateTransition, fmt.Sprintf(stateTransitionFailed, s.state, target))
		s.mu.Unlock()
		return
	}
	s.state = stateInitError
	s.initResult = &res
	s.recordLocked(KindInitError, "", body)
	s.emitLocked(TypePlatform, "platform.initRuntimeDone", time.Now(), map[string]any{
		"initializationType": "on-demand", "phase": "init", "status": "error", "errorType": res.ErrorType})
	// Invocations waiting for a /next will never get one.
	for id, c := range s.calls {
		if c.status == callQueued {
			c.status = callAnswered
			r := res
			r.RequestID = id
			c.done <- outcome{res: r, err: ErrInitFailed}
		}
	}
	s.initErr <- res // capacity 1; reached once, guarded by the state
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

// handleUnknown answers any other path or method 404, as the RIE's router
// does, and records it: a runtime calling a wrong path is a diagnosis.
func (s *Server) handleUnknown(w http.ResponseWriter, r *http.Request) {
	s.Mark(KindRejected, "", []byte(r.Method+" "+r.URL.Path))
	http.NotFound(w, r)
}

// answerableLocked checks that id is the invocation in flight and still
// unanswered; otherwise it answers the request (400 InvalidRequestID or 403
// InvalidStateTransition) and returns false.
func (s *Server) answerableLocked(w http.ResponseWriter, id, target string) (*call, bool) {
	c := s.calls[id]
	switch {
	case s.isClosed():
		s.renderShuttingDown(w)
		return nil, false
	case c == nil || c.status == callQueued || c.status == callAbandoned:
		s.rejectLocked(w, id, http.StatusBadRequest, ErrorTypeInvalidRequestID, "Invalid request ID")
		return nil, false
	case c.status == callAnswered:
		s.rejectLocked(w, id, http.StatusForbidden, ErrorTypeInvalidStateTransition, fmt.Sprintf(stateTransitionFailed, stateResponseSent, target))
		return nil, false
	}
	return c, true
}

func (s *Server) finishLocked(c *call, res Result) {
	c.status = callAnswered
	s.state = stateResponseSent
	now := time.Now()
	rec := map[string]any{"requestId": res.RequestID, "status": "success",
		"metrics": map[string]any{"durationMs": durationMs(now.Sub(c.deliveredAt)), "producedBytes": len(res.Response)}}
	if res.Kind == "response" {
		s.recordLocked(KindResponse, res.RequestID, res.Response)
	} else {
		s.recordLocked(KindError, res.RequestID, res.ErrorBody)
		rec["status"], rec["errorType"] = "error", res.ErrorType
	}
	s.emitLocked(TypePlatform, "platform.runtimeDone", now, rec)
	s.emitLocked(TypePlatform, "platform.end", now, map[string]any{"requestId": res.RequestID})
	c.done <- outcome{res: res}
}

func (s *Server) reject(w http.ResponseWriter, id string, status int, typ, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectLocked(w, id, status, typ, msg)
}

func (s *Server) rejectLocked(w http.ResponseWriter, id string, status int, typ, msg string) {
	b, _ := json.Marshal(errorBody{ErrorMessage: msg, ErrorType: typ})
	s.recordLocked(KindRejected, id, b)
	writeRaw(w, status, b)
}

func (s *Server) renderShuttingDown(w http.ResponseWriter) {
	writeJSON(w, http.StatusInternalServerError, errorBody{
		ErrorMessage: "the runtime API server is shutting down",
		ErrorType:    ErrorTypeInternalServerError,
	})
}

func (s *Server) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errorMessage":"Internal Server Error","errorType":"InternalServerError"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// Never append to b: it may be shared (one INVOKE event for every
	// extension).
	out := make([]byte, len(b)+1)
	copy(out, b)
	out[len(b)] = '\n'
	_, _ = w.Write(out)
}

// readLimited reads up to limit bytes of r; past that it only counts (up to
// drainLimit more) so the caller can say how large the body was. total is
// the number of bytes seen. An early EOF (a truncated request) is an error.
func readLimited(r io.Reader, limit int64) (body []byte, total int64, err error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, n, err
	}
	if n <= limit {
		return buf.Bytes(), n, nil
	}
	m, err := io.Copy(io.Discard, io.LimitReader(r, drainLimit))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, n + m, err
	}
	return buf.Bytes()[:limit], n + m, nil
}

// errorType is the Lambda-Runtime-Function-Error-Type header or, without
// one, the errorType field of a JSON body.
func errorType(r *http.Request, body []byte) string {
	if t := r.Header.Get(HeaderFunctionErrorType); t != "" {
		return t
	}
	var eb struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &eb) == nil {
		return eb.ErrorType
	}
	return ""
}
