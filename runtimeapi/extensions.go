package runtimeapi

// The Extensions API (version 2020-01-01), served on the same listener as
// the Runtime API, as Lambda does. The behaviour follows the public API
// reference (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html)
// and the Runtime Interface Emulator (internal/lambda/rapi/handler/agent*.go,
// internal/lambda/core/externalagent.go, internal/lambda/rapid/handlers.go):
//
//   - An external extension is an executable of /opt/extensions; its name is
//     the file's base name (Options.Extensions). Any other name registers an
//     internal extension (one the runtime process started), which may
//     subscribe to INVOKE only.
//   - Registration closes when the runtime calls its first /next; a later
//     register is answered 403 Extension.RegistrationClosed.
//   - Init is complete when the runtime and every registered extension have
//     called next; an invocation is complete when the runtime answered and
//     every extension subscribed to INVOKE called next again.
//   - SHUTDOWN is delivered to the extensions subscribed to it, with a 2 s
//     budget (ShutdownBudget).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// ExtensionsVersion is the Extensions API version; its paths start with it.
const ExtensionsVersion = "2020-01-01"

// Header names of the Extensions API.
const (
	HeaderExtensionName      = "Lambda-Extension-Name"
	HeaderExtensionID        = "Lambda-Extension-Identifier"
	HeaderExtensionErrorType = "Lambda-Extension-Function-Error-Type"
	HeaderExtensionEventID   = "Lambda-Extension-Event-Identifier"
)

// Event types an extension subscribes to.
const (
	EventInvoke   = "INVOKE"
	EventShutdown = "SHUTDOWN"
)

// Error types of the Extensions API's 403 answers (the RIE's
// rapi/handler/constants.go) and of an init or invocation that an extension
// failed (the RIE's fatalerror package).
const (
	ErrorTypeExtensionMissingID       = "Extension.MissingExtensionIdentifier"
	ErrorTypeExtensionInvalidID       = "Extension.InvalidExtensionIdentifier"
	ErrorTypeExtensionInvalidName     = "Extension.InvalidExtensionName"
	ErrorTypeExtensionRegClosed       = "Extension.RegistrationClosed"
	ErrorTypeExtensionUnknownID       = "Extension.UnknownExtensionIdentifier"
	ErrorTypeExtensionInvalidState    = "Extension.InvalidExtensionState"
	ErrorTypeExtensionMissingHeader   = "Extension.MissingHeader"
	ErrorTypeExtensionInvalidEvent    = "Extension.InvalidEventType"
	ErrorTypeInvalidRequestFormat     = "InvalidRequestFormat"
	ErrorTypeExtensionInitError       = "Extension.InitError"
	ErrorTypeExtensionExitError       = "Extension.ExitError"
	ErrorTypeExtensionCrash           = "Extension.Crash"
	ErrorTypeExtensionLaunchError     = "Extension.LaunchError"
	stateTransitionFailedForExtension = "State transition from %s to %s failed for extension %s. Error: State transition is not allowed"
)

// Timeline kinds of the Extensions API. Event.Extension names the extension.
const (
	KindExtRegister  = "extension-register"     // POST /extension/register accepted; Body is the events subscribed to, comma-separated
	KindExtNext      = "extension-next"         // the extension called GET /extension/event/next
	KindExtEvent     = "extension-event"        // an event was handed to the extension; Body is the event JSON
	KindExtInitError = "extension-init-error"   // POST /extension/init/error; Body is the error type
	KindExtExitError = "extension-exit-error"   // POST /extension/exit/error; Body is the error type
	KindExtExit      = "extension-exit"         // recorded by ExtensionExited; Body is how it ended
	KindShutdown     = "shutdown"               // Shutdown began; Body is the reason
	KindExtStart     = "extension-start"        // recorded by ExtensionStarted
	KindExtLaunchErr = "extension-launch-error" // recorded by ExtensionLaunchFailed; Body says why
)

// ShutdownBudget is how long the Shutdown phase lasts with external
// extensions registered, and ShutdownBudgetInternal with internal ones only
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-shutdown:
// 2,000 ms and 500 ms; with no extension there is no Shutdown phase, the
// runtime is killed at once).
const (
	ShutdownBudget         = 2 * time.Second
	ShutdownBudgetInternal = 500 * time.Millisecond
)

// Extension states, named as in the RIE (core/externalagent_states.go).
const (
	extStateRegistered = "Registered"
	extStateReady      = "Ready"
	extStateRunning    = "Running"
	extStateInitError  = "InitError"
	extStateExitError  = "ExitError"
	extStateExited     = "Exited"
)

// ExtensionError is how Wait methods report an extension that failed: it
// posted init/error or exit/error, or exited before shutdown.
type ExtensionError struct {
	Name string
	// Type is Extension.InitError, Extension.ExitError or Extension.Crash.
	Type string
	// Detail is the extension's own error type (the
	// Lambda-Extension-Function-Error-Type header), or how it exited.
	Detail string
}

func (e *ExtensionError) Error() string {
	switch e.Type {
	case ErrorTypeExtensionInitError:
		return fmt.Sprintf("extension %s reported an init error (%s): %s", e.Name, e.Detail, e.Type)
	case ErrorTypeExtensionExitError:
		return fmt.Sprintf("extension %s reported an exit error (%s): %s", e.Name, e.Detail, e.Type)
	case ErrorTypeExtensionLaunchError:
		return fmt.Sprintf("extension %s could not be launched (%s): %s", e.Name, e.Detail, e.Type)
	}
	return fmt.Sprintf("extension %s exited (%s): %s", e.Name, e.Detail, e.Type)
}

// ExtensionInfo describes one extension, as Extensions returns it.
type ExtensionInfo struct {
	Name     string
	ID       string
	External bool
	Events   []string
	State    string
}

type extension struct {
	name     string
	id       string
	external bool
	invoke   bool
	shutdown bool
	state    string
	errType  string
	pending  [][]byte      // events not yet handed to a next
	wake     chan struct{} // capacity 1: pending grew or the server closes
	// nexts counts the extension's next calls; shutdownDone is set when it
	// called next again after SHUTDOWN, or exited.
	nexts        int
	shutdownSent bool
	shutdownDone bool
}

func (e *extension) events() []string {
	var ev []string
	if e.invoke {
		ev = append(ev, EventInvoke)
	}
	if e.shutdown {
		ev = append(ev, EventShutdown)
	}
	return ev
}

func (e *extension) push(b []byte) {
	e.pending = append(e.pending, b)
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// changedLocked wakes every Wait method; called after any extension state
// change, with s.mu held.
func (s *Server) changedLocked() {
	close(s.extChanged)
	s.extChanged = make(chan struct{})
}

func (s *Server) extensionRoutes(mux *http.ServeMux) {
	p := "/" + ExtensionsVersion + "/extension"
	mux.HandleFunc("POST "+p+"/register", s.handleRegister)
	mux.HandleFunc("GET "+p+"/event/next", s.handleExtNext)
	mux.HandleFunc("POST "+p+"/init/error", s.handleExtError(extStateInitError, KindExtInitError))
	mux.HandleFunc("POST "+p+"/exit/error", s.handleExtError(extStateExitError, KindExtExitError))
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get(HeaderExtensionName)
	if name == "" {
		s.reject(w, "", http.StatusForbidden, ErrorTypeExtensionInvalidName, "Empty extension name")
		return
	}
	body, _, err := readLimited(r.Body, 1<<20)
	if err != nil {
		s.reject(w, "", http.StatusBadRequest, ErrorTypeTruncatedHTTPRequest, "HTTP request detected as truncated")
		return
	}
	var req struct {
		Events            []string `json:"events"`
		ConfigurationKeys []string `json:"configurationKeys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		s.reject(w, "", http.StatusForbidden, ErrorTypeInvalidRequestFormat, err.Error())
		return
	}
	if len(req.ConfigurationKeys) != 0 {
		s.reject(w, "", http.StatusForbidden, ErrorTypeInvalidRequestFormat, "configurationKeys are deprecated; use environment variables instead")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	external := false
	for _, n := range s.opts.Extensions {
		if n == name {
			external = true
		}
	}
	ext := &extension{name: name, external: external, state: extStateRegistered, wake: make(chan struct{}, 1)}
	for _, e := range req.Events {
		switch {
		case e == EventInvoke:
			ext.invoke = true
		case e == EventShutdown && external:
			ext.shutdown = true
		case e == EventShutdown:
			s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionInvalidEvent, e+": ShutdownEventNotSupportedForInternalExtension")
			return
		default:
			s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionInvalidEvent, e+": ErrorInvalidEventType")
			return
		}
	}
	if s.isClosed() {
		s.renderShuttingDown(w)
		return
	}
	if s.regClosed {
		s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionRegClosed, "Extension registration closed already")
		return
	}
	if old := s.extByName[name]; old != nil {
		if external {
			s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionInvalidState,
				fmt.Sprintf(stateTransitionFailedForExtension, old.state, extStateRegistered, name))
		} else {
			s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionInvalidState, "Extension with this name already registered")
		}
		return
	}
	ext.id = newUUID()
	s.exts = append(s.exts, ext)
	s.extByName[name] = ext
	s.extByID[ext.id] = ext
	s.recordExtLocked(KindExtRegister, name, "", []byte(strings.Join(ext.events(), ",")))
	s.changedLocked()

	w.Header().Set(HeaderExtensionID, ext.id)
	writeJSON(w, http.StatusOK, map[string]string{
		"functionName":    s.opts.FunctionName,
		"functionVersion": s.opts.FunctionVersion,
		"handler":         s.opts.Handler,
	})
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// extensionLocked finds the extension of the request's identifier header, or
// answers 403 as the RIE's AgentUniqueIdentifierHeaderValidator does.
func (s *Server) extensionLocked(w http.ResponseWriter, r *http.Request) *extension {
	id := r.Header.Get(HeaderExtensionID)
	switch {
	case id == "":
		s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionMissingID, "Missing Lambda-Extension-Identifier header")
		return nil
	case !uuidRE.MatchString(id):
		s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionInvalidID, "Invalid Lambda-Extension-Identifier")
		return nil
	}
	ext := s.extByID[strings.ToLower(id)]
	if ext == nil {
		s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionUnknownID, "Unknown extension "+id)
	}
	return ext
}

// handleExtNext serves GET /extension/event/next: the extension is ready;
// it blocks until an event is pending for it or the server closes.
func (s *Server) handleExtNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		s.renderShuttingDown(w)
		return
	}
	ext := s.extensionLocked(w, r)
	if ext == nil {
		s.mu.Unlock()
		return
	}
	if ext.state == extStateInitError || ext.state == extStateExitError || ext.state == extStateExited {
		s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionInvalidState,
			fmt.Sprintf(stateTransitionFailedForExtension, ext.state, extStateReady, ext.name))
		s.mu.Unlock()
		return
	}
	ext.state = extStateReady
	ext.nexts++
	if ext.shutdownSent && len(ext.pending) == 0 {
		ext.shutdownDone = true
	}
	s.recordExtLocked(KindExtNext, ext.name, "", nil)
	if ext.nexts == 1 {
		s.emitLocked(TypePlatform, "platform.extension", time.Now(), map[string]any{
			"name": ext.name, "state": "Ready", "events": ext.events()})
	}
	s.checkInitCompleteLocked()
	s.changedLocked()
	s.mu.Unlock()

	for {
		s.mu.Lock()
		if len(ext.pending) > 0 && ext.state == extStateReady {
			b := ext.pending[0]
			ext.pending = ext.pending[1:]
			ext.state = extStateRunning
			var ev struct {
				RequestID string `json:"requestId"`
			}
			_ = json.Unmarshal(b, &ev)
			s.recordExtLocked(KindExtEvent, ext.name, ev.RequestID, b)
			s.changedLocked()
			s.mu.Unlock()
			w.Header().Set(HeaderExtensionEventID, newUUID())
			writeRaw(w, http.StatusOK, b)
			return
		}
		s.mu.Unlock()
		select {
		case <-ext.wake:
		case <-s.closed:
			s.renderShuttingDown(w)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// handleExtError serves POST /extension/init/error and /exit/error.
func (s *Server) handleExtError(target, kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.isClosed() {
			s.renderShuttingDown(w)
			return
		}
		ext := s.extensionLocked(w, r)
		if ext == nil {
			return
		}
		typ := r.Header.Get(HeaderExtensionErrorType)
		if typ == "" {
			s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionMissingHeader, HeaderExtensionErrorType+" not found")
			return
		}
		allowed := ext.state != extStateInitError && ext.state != extStateExitError && ext.state != extStateExited
		if target == extStateInitError && s.initCompleteLocked() {
			allowed = false
		}
		if !allowed {
			s.rejectLocked(w, "", http.StatusForbidden, ErrorTypeExtensionInvalidState,
				fmt.Sprintf(stateTransitionFailedForExtension, ext.state, target, ext.id))
			return
		}
		ext.state = target
		ext.errType = typ
		s.recordExtLocked(kind, ext.name, "", []byte(typ))
		s.changedLocked()
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
	}
}

func (s *Server) recordExtLocked(kind, name, requestID string, body []byte) {
	s.recordLocked(kind, requestID, body)
	s.events[len(s.events)-1].Extension = name
}

// initCompleteLocked: the runtime called /next and every registered
// extension called next at least once.
func (s *Server) initCompleteLocked() bool {
	if !s.regClosed {
		return false
	}
	for _, e := range s.exts {
		if e.nexts == 0 {
			return false
		}
	}
	return true
}

// failedLocked is the first extension that failed, if any.
func (s *Server) failedLocked() error {
	for _, name := range s.opts.Extensions {
		if why, ok := s.launchErrs[name]; ok {
			return &ExtensionError{Name: name, Type: ErrorTypeExtensionLaunchError, Detail: why}
		}
	}
	for _, e := range s.exts {
		switch e.state {
		case extStateInitError:
			return &ExtensionError{Name: e.name, Type: ErrorTypeExtensionInitError, Detail: e.errType}
		case extStateExitError:
			return &ExtensionError{Name: e.name, Type: ErrorTypeExtensionExitError, Detail: e.errType}
		case extStateExited:
			if !e.shutdownSent {
				return &ExtensionError{Name: e.name, Type: ErrorTypeExtensionCrash, Detail: e.errType}
			}
		}
	}
	for _, name := range s.opts.Extensions {
		if why, ok := s.exitedUnregistered[name]; ok {
			return &ExtensionError{Name: name, Type: ErrorTypeExtensionCrash, Detail: why}
		}
	}
	return nil
}

// waitFor waits until cond (called with s.mu held) holds, an extension
// fails (an *ExtensionError), ctx ends or the server closes.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if err := s.failedLocked(); err != nil {
			s.mu.Unlock()
			return err
		}
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch := s.extChanged
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return ErrClosed
		}
	}
}

// WaitExtensionsRegistered waits until every external extension named in
// Options.Extensions has registered. An external extension that exits first
// (ExtensionExited) ends the wait with an *ExtensionError of type
// Extension.Crash.
func (s *Server) WaitExtensionsRegistered(ctx context.Context) error {
	return s.waitFor(ctx, func() bool {
		for _, n := range s.opts.Extensions {
			if s.extByName[n] == nil {
				return false
			}
		}
		return true
	})
}

// WaitInitComplete waits until init is complete: the runtime called its
// first /next (InitDone) and every registered extension called next.
func (s *Server) WaitInitComplete(ctx context.Context) error {
	return s.waitFor(ctx, s.initCompleteLocked)
}

// WaitExtensionsIdle waits until every registered extension is waiting in
// next with no event pending: after an invocation the runtime answered, it
// is complete when this returns.
func (s *Server) WaitExtensionsIdle(ctx context.Context) error {
	return s.waitFor(ctx, func() bool {
		for _, e := range s.exts {
			if e.state != extStateReady || len(e.pending) > 0 {
				return false
			}
		}
		return true
	})
}

// deliverInvokeLocked queues the INVOKE event of inv for every extension
// subscribed to it; called when the runtime takes the invocation.
func (s *Server) deliverInvokeLocked(inv Invocation) {
	var ev []byte
	for _, e := range s.exts {
		if !e.invoke || e.state == extStateExited {
			continue
		}
		if ev == nil {
			ev, _ = json.Marshal(map[string]any{
				"eventType":          EventInvoke,
				"deadlineMs":         inv.Deadline.UnixMilli(),
				"requestId":          inv.RequestID,
				"invokedFunctionArn": inv.FunctionARN,
				"tracing":            map[string]string{"type": "X-Amzn-Trace-Id", "value": inv.TraceID},
			})
		}
		e.push(ev)
	}
	if ev != nil {
		s.changedLocked()
	}
}

// Shutdown delivers SHUTDOWN (with reason: "spindown", "timeout" or
// "failure", as Lambda sends) to every extension subscribed to it and waits
// until each has called next again or exited (ExtensionExited), for at most
// ShutdownBudget or until ctx ends. It returns the names of the extensions
// that had not finished. Registration closes.
func (s *Server) Shutdown(ctx context.Context, reason string) []string {
	return s.ShutdownBy(ctx, reason, time.Now().Add(ShutdownBudget))
}

// ShutdownBy is Shutdown with the deadline given. The events the
// Telemetry and Logs API subscribers have buffered are delivered first
// (platform.report of the last invocation among them), as Lambda flushes
// them at shutdown.
func (s *Server) ShutdownBy(ctx context.Context, reason string, deadline time.Time) []string {
	fctx, cancel := context.WithDeadline(ctx, deadline)
	s.FlushTelemetry(fctx)
	cancel()
	s.mu.Lock()
	s.regClosed = true
	s.shuttingDown = true
	s.recordLocked(KindShutdown, "", []byte(reason))
	ev, _ := json.Marshal(map[string]any{
		"eventType":      EventShutdown,
		"shutdownReason": reason,
		"deadlineMs":     deadline.UnixMilli(),
	})
	for _, e := range s.exts {
		if !e.shutdown || e.state == extStateExited {
			continue
		}
		e.shutdownSent = true
		e.push(ev)
	}
	s.changedLocked()
	s.mu.Unlock()

	ctx, cancel = context.WithDeadline(ctx, deadline)
	defer cancel()
	for {
		s.mu.Lock()
		var left []string
		for _, e := range s.exts {
			if e.shutdownSent && !e.shutdownDone {
				left = append(left, e.name)
			}
		}
		ch := s.extChanged
		s.mu.Unlock()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return left
		case <-s.closed:
			return left
		}
	}
}

// ExtensionExited records that the process of the external extension name
// ended (how says how, "exit status 1" for one). Before Shutdown that fails
// init or the invocation in flight with Extension.Crash.
func (s *Server) ExtensionExited(name, how string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordExtLocked(KindExtExit, name, "", []byte(how))
	if e := s.extByName[name]; e != nil {
		if e.state != extStateInitError && e.state != extStateExitError {
			e.state = extStateExited
			e.errType = how
		}
		if e.shutdownSent {
			e.shutdownDone = true
		}
	} else if !s.shuttingDown {
		s.exitedUnregistered[name] = how
	}
	s.changedLocked()
}

// ExtensionStarted records that the process of the external extension name
// started.
func (s *Server) ExtensionStarted(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordExtLocked(KindExtStart, name, "", nil)
}

// ExtensionLaunchFailed records that the external extension name could not
// be launched (why: "fork/exec /opt/extensions/x: permission denied"): the
// Wait methods then fail with Extension.LaunchError.
func (s *Server) ExtensionLaunchFailed(name, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordExtLocked(KindExtLaunchErr, name, "", []byte(why))
	s.launchErrs[name] = why
	s.changedLocked()
}

// WaitExtensionFailure waits until an extension fails and returns its
// *ExtensionError, or ctx's error or ErrClosed.
func (s *Server) WaitExtensionFailure(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return false })
}

// Extensions returns the registered extensions, in registration order.
func (s *Server) Extensions() []ExtensionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ExtensionInfo, 0, len(s.exts))
	for _, e := range s.exts {
		out = append(out, ExtensionInfo{Name: e.name, ID: e.id, External: e.external, Events: e.events(), State: e.state})
	}
	return out
}
