// Package emulate is `lambdoctor run`: it boots an unpacked image the way
// Lambda does (the sandbox, the Runtime API, the init and invoke limits),
// sends it one event, and says what happened: the outcome (Boot), its
// diagnosis linked to the checks (Diagnose) and the report (Doc,
// WriteText). The command line, the loading and the unpacking stay in
// cmd and inspect.
package emulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/lambda"
	"github.com/lambdoctor/lambdoctor/runtimeapi"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// How a run ended: Outcome.Result.
const (
	ResultSuccess            = "success"              // the function answered the event
	ResultFunctionError      = "function-error"       // it posted /invocation/{id}/error
	ResultInitError          = "init-error"           // it posted /init/error
	ResultStartFailed        = "start-failed"         // its command could not be executed
	ResultExitedDuringInit   = "exited-during-init"   // it exited before calling /next
	ResultInitTimeout        = "init-timeout"         // no /next within the init limit
	ResultExitedDuringInvoke = "exited-during-invoke" // it exited with the event in hand
	ResultInvokeTimeout      = "invoke-timeout"       // no answer within the function timeout
	ResultInterrupted        = "interrupted"          // Ctrl-C or SIGTERM
	ResultExtensionFailed    = "extension-failed"     // an extension of /opt/extensions could not launch, crashed or reported an error
)

// Spec is what boot starts.
type Spec struct {
	// Root is the unpacked root filesystem.
	Root string
	// Argv is what Lambda starts: ENTRYPOINT + CMD after the ImageConfig
	// overrides, and the working directory.
	Argv analyze.Argv
	// ImageEnv is the image's ENV; Env the function's --env K=V.
	ImageEnv []string
	Env      []string
	// Event is the payload of the one invoke.
	Event []byte
	// MemoryMB and TmpSizeMB are the function's memory and /tmp sizes.
	MemoryMB  int
	TmpSizeMB int
	// Timeout is the invoke's limit, InitTimeout the init phase's.
	Timeout     time.Duration
	InitTimeout time.Duration
	// HostNetwork shares the host's network instead of a namespace with
	// only loopback.
	HostNetwork bool
	// Log, when set, receives the function's output as it comes (a
	// listen session).
	Log io.Writer
}

// runtimeAPIPort is where the function finds the Runtime API in its own
// network namespace, as on Lambda (AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001).
const runtimeAPIPort = 9001

// Outcome is what happened when the function was booted; its JSON form
// is the report's "run" object (docs/run.md).
type Outcome struct {
	Command    []string  `json:"command"`
	WorkingDir string    `json:"workingDir"`
	UID        int       `json:"uid"`
	GID        int       `json:"gid"`
	Started    time.Time `json:"started"`
	// InitMs is the Init phase's duration, Lambda's Init Duration: from
	// the start until the runtime and every registered extension called
	// next; nil (null) when init never finished.
	InitMs *int64 `json:"initMs"`
	Result string `json:"result"`
	// RequestID and DurationMs describe the invoke, when there was one.
	RequestID  string `json:"requestId,omitempty"`
	DurationMs *int64 `json:"durationMs,omitempty"`
	// Response is the function's answer: embedded as JSON when it is valid
	// JSON, else as a string; null when it did not answer.
	Response json.RawMessage `json:"response"`
	Error    *RunError       `json:"error"`
	Exit     *Exit           `json:"exit"`
	// StdoutTail and StderrTail are the last lines of the function's
	// output (at most 40 each); StdoutLines and StderrLines count all.
	StdoutTail  []string    `json:"stdoutTail"`
	StderrTail  []string    `json:"stderrTail"`
	StdoutLines int         `json:"stdoutLines"`
	StderrLines int         `json:"stderrLines"`
	Timeline    []Event     `json:"timeline"`
	Diagnosis   []Diagnosis `json:"diagnosis"`
	Notes       []string    `json:"notes"`
	// Memory is the memory size, whether it was enforced, and the most
	// the function used.
	Memory *Memory `json:"memory"`
	// Processes is the process limit and what it saw.
	Processes *Processes `json:"processes"`
	// Network is "none" (a network namespace of its own) or "host";
	// Hostname the function's hostname.
	Network  string `json:"network"`
	Hostname string `json:"hostname"`
	// RootFS is the kept root filesystem (--keep).
	RootFS string `json:"rootfs,omitempty"`
	// Unpack says how and where the root filesystem was written.
	Unpack *Unpack `json:"unpack,omitempty"`
	// Subscriptions are the extensions' Telemetry and Logs API
	// subscriptions and what was delivered to them.
	Subscriptions []Subscription `json:"subscriptions"`
	// Shutdown is how the environment was shut down; nil when the
	// function had ended by itself or the run was interrupted.
	Shutdown *Shutdown `json:"shutdown"`

	// Not reported as such: what diagnose reads.
	execErr  error
	initDied bool
	// failedExtension names the extension of ResultExtensionFailed.
	failedExtension string
	logMatches      []logMatch
}

// RunError is an error the function reported, or why it could not start.
type RunError struct {
	// Phase is "start", "init" or "invoke".
	Phase   string `json:"phase"`
	Type    string `json:"type"`
	Message string `json:"message"`
	// Body is the error document the runtime posted, embedded like
	// Response.
	Body json.RawMessage `json:"body,omitempty"`
}

// Exit says how the process ended.
type Exit struct {
	// Code is the exit status; -1 when a signal ended it or it never
	// started.
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"`
	// StoppedByLambdoctor is true when run ended it (after the invoke, on a
	// timeout, or when interrupted) rather than it exiting by itself.
	StoppedByLambdoctor bool `json:"stoppedByLambdoctor"`
	// ExecError is why its command could not be executed, e.g. "execve
	// /var/task/bootstrap: exec format error"; ExecPath is the program.
	ExecError string `json:"execError,omitempty"`
	ExecPath  string `json:"execPath,omitempty"`
}

// Memory is the function's memory size and what the sandbox saw of it.
type Memory struct {
	// SizeMB is --memory.
	SizeMB int `json:"sizeMB"`
	// Enforced is true when the sandbox was limited to SizeMB (no swap)
	// by a cgroup; Cgroup is then "v2" or "v1". NotEnforced says why not.
	Enforced    bool   `json:"enforced"`
	Cgroup      string `json:"cgroup,omitempty"`
	NotEnforced string `json:"notEnforced,omitempty"`
	// MaxUsedMB is the peak usage of the sandbox, rounded up like
	// Lambda's "Max Memory Used"; null when unknown (not enforced).
	MaxUsedMB *int64 `json:"maxUsedMB"`
	// OOMKills counts the processes the kernel's OOM killer killed for
	// reaching the limit.
	OOMKills int `json:"oomKills"`
}

// Processes is Lambda's limit on processes and threads and what the
// sandbox saw of it.
type Processes struct {
	Limit int `json:"limit"`
	// Enforced says how: "cgroup v2 pids.max", "cgroup v1 pids.max" or
	// "RLIMIT_NPROC"; NotEnforced why no pids cgroup was used.
	Enforced    string `json:"enforced,omitempty"`
	NotEnforced string `json:"notEnforced,omitempty"`
	// Peak is the most processes and threads at once (null when unknown).
	Peak *int `json:"peak"`
	// LimitHits counts the forks refused at the limit (cgroup only).
	LimitHits int `json:"limitHits"`
}

func processesOutcome(st *sandbox.ProcessStats) *Processes {
	if st == nil {
		return nil
	}
	p := &Processes{Limit: st.Limit, Enforced: st.Enforced, NotEnforced: st.NotEnforced, LimitHits: st.LimitHits}
	if st.Peak > 0 {
		peak := st.Peak
		p.Peak = &peak
	}
	return p
}

// OOMMessage is how Lambda reports a runtime the OOM killer killed
// (errorType Runtime.OutOfMemory).
const OOMMessage = "Runtime exited with error: signal: killed"

// Event is one line of the timeline.
type Event struct {
	// AtMs is the time since the process started.
	AtMs      int64  `json:"atMs"`
	Kind      string `json:"kind"`
	RequestID string `json:"requestId,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// jsonOrString embeds b as JSON when it is valid JSON, else as a string.
func jsonOrString(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b))
	return s
}

// procWatch waits for the sandboxed process once, for several readers.
type procWatch struct {
	done chan struct{}
	at   time.Time // when Wait returned
	info sandbox.ExitInfo
	err  error
}

func watch(p *sandbox.Process) *procWatch {
	w := &procWatch{done: make(chan struct{})}
	go func() {
		w.info, w.err = p.Wait()
		w.at = time.Now()
		close(w.done)
	}()
	return w
}

func (w *procWatch) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// errProcessExited cancels an invoke when the function dies with the event.
var errProcessExited = errors.New("the function's process exited")

// boot starts the function in the sandbox against a Runtime API server,
// waits for init, sends the event and stops everything. The error is for
// failures of lambdoctor or the machine; everything the function does is
// in the outcome.
func Boot(ctx context.Context, s Spec) (*Outcome, error) {
	return boot(ctx, s, nil)
}

// boot is Boot; with invokes, it serves the requests it receives there
// after init (see serve) instead of sending s.Event once.
func boot(ctx context.Context, s Spec, invokes <-chan *invokeRequest) (*Outcome, error) {
	// Without root the root filesystem belongs to the sandbox's user
	// namespace until it is given back (a no-op as root).
	defer sandbox.Release(s.Root)
	// The host side listens on a free loopback port: the function reaches
	// it there with --network host, else through the port forwarded into
	// its network namespace.
	handler := ""
	if len(s.Argv.Cmd) > 0 {
		handler = s.Argv.Cmd[0]
	}
	exts, extErr := listExtensions(s.Root)
	names := make([]string, len(exts))
	for i, p := range exts {
		names[i] = path.Base(p)
	}
	srv, err := runtimeapi.New(runtimeapi.Options{
		Addr: "127.0.0.1:0", FunctionName: FunctionName, MemoryMB: s.MemoryMB, Region: runRegion,
		Handler: handler, Extensions: names,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the Runtime API server: %w", err)
	}
	defer srv.Close()
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("starting the Runtime API server: %w", err)
	}
	out := &Outcome{
		Command: s.Argv.Args(), WorkingDir: s.Argv.WorkingDir,
		UID: lambda.UID, GID: lambda.GID,
		StdoutTail: []string{}, StderrTail: []string{},
		Timeline: []Event{}, Diagnosis: []Diagnosis{}, Notes: []string{}, Subscriptions: []Subscription{},
		Network: "none", Hostname: sandbox.LambdaHostname(),
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", runtimeAPIPort)
	if s.HostNetwork {
		out.Network, apiAddr = "host", srv.Addr()
	}
	if s.Argv.Empty() {
		out.Started = time.Now()
		out.Result = ResultStartFailed
		out.Error = &RunError{Phase: "start", Type: "Runtime.InvalidEntrypoint", Message: "the image has no ENTRYPOINT and no CMD: there is nothing to start"}
		return out, nil
	}
	if extErr != nil {
		out.Notes = append(out.Notes, fmt.Sprintf("%s could not be listed, so no extension was started: %v", extensionsDir, extErr))
	}
	if len(exts) > maxExtensions {
		// The emulator fails the init at the 11th (core.MaxAgentsAllowed).
		out.Started = time.Now()
		out.Result = ResultExtensionFailed
		out.Error = &RunError{Phase: "init", Type: runtimeapi.ErrorTypeExtensionLaunchError,
			Message: fmt.Sprintf("%s holds %d extensions: Lambda launches at most %d (TooManyExtensions), so extension %s fails to launch", extensionsDir, len(exts), maxExtensions, names[maxExtensions])}
		return out, nil
	}
	stdout, stderr := newTailWriter("stdout", tailLines), newTailWriter("stderr", tailLines)
	// The Telemetry and Logs API subscribers get the function's lines and
	// the extensions', told apart.
	fnLog := func(w io.Writer) io.Writer {
		return io.MultiWriter(w, &telemetryLines{srv: srv, category: runtimeapi.TypeFunction})
	}
	extLog := func(w io.Writer) io.Writer {
		return io.MultiWriter(w, &telemetryLines{srv: srv, category: runtimeapi.TypeExtension})
	}
	spec := sandbox.Spec{
		Root: s.Root, Argv: s.Argv.Args(), Dir: s.Argv.WorkingDir,
		Env: lambdaEnv(s.ImageEnv, s.Env, apiAddr, handler, s.MemoryMB),
		UID: lambda.UID, GID: lambda.GID,
		TmpSizeMB: s.TmpSizeMB, MemoryMB: s.MemoryMB, MaxProcs: sandbox.MaxProcsLambda,
		HostNetwork: s.HostNetwork, Hostname: out.Hostname,
		Stdout: stdout, Stderr: stderr,
		Extensions: exts,
	}
	if s.Log != nil {
		// A listen session shows the function's output as it comes, as
		// the emulator does.
		mu := &sync.Mutex{}
		spec.Stdout = io.MultiWriter(stdout, &lineLog{mu: mu, w: s.Log})
		spec.Stderr = io.MultiWriter(stderr, &lineLog{mu: mu, w: s.Log, prefix: "stderr: "})
		spec.ExtStdout = io.MultiWriter(stdout, &lineLog{mu: mu, w: s.Log})
		spec.ExtStderr = io.MultiWriter(stderr, &lineLog{mu: mu, w: s.Log, prefix: "stderr: "})
	} else {
		spec.ExtStdout, spec.ExtStderr = stdout, stderr
	}
	spec.Stdout, spec.Stderr = fnLog(spec.Stdout), fnLog(spec.Stderr)
	spec.ExtStdout, spec.ExtStderr = extLog(spec.ExtStdout), extLog(spec.ExtStderr)
	if !s.HostNetwork {
		spec.ForwardPort = runtimeAPIPort
	}
	out.Started = time.Now()
	srv.InitStarted(out.Started)
	proc, err := sandbox.Start(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	// The extensions' telemetry listeners are in the sandbox's network.
	srv.SetDialer(proc.Dial)
	if ln := proc.Forwarded(); ln != nil {
		if err := srv.Serve(ln); err != nil {
			proc.Kill()
			proc.Wait()
			return nil, fmt.Errorf("serving the Runtime API in the sandbox: %w", err)
		}
	}
	if len(exts) > 0 {
		go pumpExtensionEvents(proc, srv)
	}
	w := watch(proc)
	var killedByUs bool
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if !w.exited() {
				killedByUs = true
				_ = proc.Kill()
			}
			<-w.done
		})
	}
	defer stop()

	b := &booter{ctx: ctx, srv: srv, w: w, s: s, out: out, proc: proc, extensions: names,
		initDeadline: out.Started.Add(s.InitTimeout), runtimeRunning: len(exts) == 0}
	if len(exts) > 0 {
		b.extensionsPhase()
	}
	if out.Result == "" {
		b.initPhase()
	}
	switch {
	case out.Result != "":
	case invokes != nil:
		b.serve(invokes)
	default:
		b.invokePhase()
	}
	b.shutdownPhase()
	stop()
	out.Subscriptions = subscriptionsOutcome(srv.Subscriptions())
	srv.Close()
	if sd := out.Shutdown; sd != nil {
		sd.DurationMs = w.at.Sub(sd.start).Milliseconds()
	}

	// The process is gone and its pipes drained: the output is complete.
	out.StdoutTail, out.StdoutLines = stdout.tail()
	out.StderrTail, out.StderrLines = stderr.tail()
	out.logMatches = append(stdout.matches(), stderr.matches()...)
	info := w.info
	ex := &Exit{Code: info.Code, Signal: info.Signal, StoppedByLambdoctor: killedByUs || b.killedByUs || (info.Killed && ctx.Err() != nil)}
	if info.ExecErr != nil {
		out.execErr = info.ExecErr
		ex.ExecError = info.ExecErr.Error()
		ex.ExecPath = info.ExecPath
		ex.StoppedByLambdoctor = false
	}
	out.Exit = ex
	out.Memory = memoryOutcome(s.MemoryMB, info.Memory)
	out.Processes = processesOutcome(info.Processes)
	out.initDied = info.InitDied
	if info.OOMScoreAdj > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("the function ran with oom_score_adj %d instead of Lambda's 0: this machine does not give lambdoctor CAP_SYS_RESOURCE, so the sandbox's init could not lower its own score and raised the function's instead, to keep the OOM killer off the init; it only changes which process an OOM killer picks first", info.OOMScoreAdj))
	}
	if out.Memory.OOMKills > 0 && out.Error != nil && info.Signal == "SIGKILL" &&
		(out.Result == ResultExitedDuringInit || out.Result == ResultExitedDuringInvoke) {
		out.Error.Type, out.Error.Message = "Runtime.OutOfMemory", OOMMessage
	}
	if w.err != nil && info.ExecErr == nil && out.Result == ResultStartFailed {
		out.Error = &RunError{Phase: "start", Type: "Runtime.Unknown", Message: w.err.Error()}
	}
	out.Timeline = timeline(out.Started, srv.Events(), out, w)
	return out, nil
}

// memoryOutcome reports the memory size and what the sandbox's cgroup saw.
func memoryOutcome(sizeMB int, st *sandbox.MemoryStats) *Memory {
	m := &Memory{SizeMB: sizeMB}
	if st == nil {
		m.NotEnforced = "no memory limit was requested"
		return m
	}
	m.Cgroup, m.Enforced, m.NotEnforced, m.OOMKills = st.Cgroup, st.Cgroup != "", st.NotEnforced, st.OOMKills
	if m.Enforced && st.PeakBytes > 0 {
		mb := (st.PeakBytes + 1<<20 - 1) >> 20
		m.MaxUsedMB = &mb
	}
	return m
}

// booter carries one boot's state through its phases.
type booter struct {
	ctx  context.Context
	srv  *runtimeapi.Server
	w    *procWatch
	s    Spec
	out  *Outcome
	proc *sandbox.Process
	// extensions are the names of the external extensions started.
	extensions []string
	// initDeadline ends the init phase, extensions' registration included.
	initDeadline time.Time
	// runtimeRunning is set once the runtime was started; killedByUs when
	// the shutdown sent it SIGTERM.
	runtimeRunning bool
	killedByUs     bool
	// invokes counts the invocations sent.
	invokes int
}

// initPhase waits until init is complete: the runtime's first /next and,
// with extensions, each one's first event/next. Anything else ends the run.
func (b *booter) initPhase() {
	timer := time.NewTimer(time.Until(b.initDeadline))
	defer timer.Stop()
	ictx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	complete := make(chan error, 1)
	go func() { complete <- b.srv.WaitInitComplete(ictx) }()
	var xe *runtimeapi.ExtensionError
	select {
	case err := <-complete:
		if errors.As(err, &xe) {
			b.extensionFailed("init", xe)
			return
		}
		if err != nil { // only ctx's end: interrupted
			b.out.Result = ResultInterrupted
			return
		}
		// Init ends when the runtime and every registered extension
		// called next (KindInitComplete), not at the runtime's /next.
		ms := time.Since(b.out.Started).Milliseconds()
		for _, e := range b.srv.Events() {
			if e.Kind == runtimeapi.KindInitComplete {
				ms = e.At.Sub(b.out.Started).Milliseconds()
			}
		}
		b.out.InitMs = &ms
	case r := <-b.srv.InitError():
		b.initError(r)
	case <-b.w.done:
		// An init error posted just before the exit explains it better.
		select {
		case r := <-b.srv.InitError():
			b.initError(r)
			return
		default:
		}
		if b.w.info.ExecErr != nil || b.w.err != nil {
			b.out.Result = ResultStartFailed
			if b.w.info.ExecErr != nil {
				b.out.Error = &RunError{Phase: "start", Type: "Runtime.InvalidEntrypoint", Message: b.w.info.ExecErr.Error()}
			}
			return
		}
		b.out.Result = ResultExitedDuringInit
		b.out.Error = &RunError{Phase: "init", Type: "Runtime.ExitError", Message: "Runtime exited " + exitPhrase(b.w.info) + " before calling /runtime/invocation/next"}
	case <-timer.C:
		b.srv.Mark(runtimeapi.KindInitTimeout, "", nil)
		b.out.Result = ResultInitTimeout
		why := "no call to /runtime/invocation/next"
		select {
		case <-b.srv.InitDone():
			b.out.failedExtension = strings.Join(b.notReady(), ", ")
			why = "the runtime called /runtime/invocation/next, but extension " + strings.Join(b.notReady(), ", ") + " never called /extension/event/next"
		default:
		}
		b.out.Error = &RunError{Phase: "init", Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("INIT_REPORT Init Duration: %d ms Phase: init Status: timeout (%s within %s)", b.s.InitTimeout.Milliseconds(), why, b.s.InitTimeout)}
	case <-b.ctx.Done():
		b.out.Result = ResultInterrupted
	}
}

func (b *booter) initError(r runtimeapi.Result) {
	b.out.Result = ResultInitError
	b.out.Error = errorFromResult("init", r)
}

// errorFromResult reads the {"errorMessage","errorType"} body a runtime
// posts.
func errorFromResult(phase string, r runtimeapi.Result) *RunError {
	e := &RunError{Phase: phase, Type: r.ErrorType, Body: jsonOrString(r.ErrorBody)}
	var body struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(r.ErrorBody, &body) == nil {
		e.Message = body.ErrorMessage
		if e.Type == "" {
			e.Type = body.ErrorType
		}
	} else {
		e.Message = strings.TrimSpace(string(r.ErrorBody))
	}
	if e.Type == "" {
		e.Type = "Unhandled"
	}
	return e
}

// invokePhase sends the event and waits for the answer, the timeout, the
// process's death or an interruption.
func (b *booter) invokePhase() {
	deadline := time.Now().Add(b.s.Timeout)
	ictx, cancel := context.WithCancelCause(b.ctx)
	defer cancel(nil)
	ictx, cancelT := context.WithDeadline(ictx, deadline)
	defer cancelT()
	go func() {
		select {
		case <-b.w.done:
			cancel(errProcessExited)
		case <-ictx.Done():
		}
	}()
	if len(b.extensions) > 0 {
		// An extension that crashes or reports an error fails the invoke.
		go func() {
			var xe *runtimeapi.ExtensionError
			if err := b.srv.WaitExtensionFailure(ictx); errors.As(err, &xe) {
				cancel(xe)
			}
		}()
	}
	start := time.Now()
	res, err := b.srv.Invoke(ictx, runtimeapi.Invocation{
		Payload:     b.s.Event,
		Deadline:    deadline,
		FunctionARN: fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", runRegion, FunctionName),
	})
	d := time.Since(start).Milliseconds()
	b.out.DurationMs = &d
	b.out.RequestID = res.RequestID
	if b.out.RequestID == "" {
		for _, e := range b.srv.Events() {
			if e.Kind == runtimeapi.KindInvoke {
				b.out.RequestID = e.RequestID
			}
		}
	}
	if err == nil && len(b.extensions) > 0 {
		// The invoke is complete when every extension subscribed to
		// INVOKE asks for its next event, within the same deadline.
		err = b.srv.WaitExtensionsIdle(ictx)
		if errors.Is(err, context.DeadlineExceeded) {
			b.srv.Mark(runtimeapi.KindInvokeTimeout, res.RequestID, nil)
		}
		if err != nil {
			res = runtimeapi.Result{RequestID: res.RequestID}
		}
		d := time.Since(start).Milliseconds()
		b.out.DurationMs = &d
	}
	var xe *runtimeapi.ExtensionError
	b.invokes++
	defer func() { b.report(b.invokes == 1, time.Since(start)) }()
	switch {
	case errors.As(err, &xe) || errors.As(context.Cause(ictx), &xe):
		b.extensionFailed("invoke", xe)
	case err == nil && res.Kind == "response":
		b.out.Result = ResultSuccess
		b.out.Response = jsonOrString(res.Response)
		if b.out.Response == nil {
			b.out.Response = json.RawMessage("null")
		}
	case err == nil:
		b.out.Result = ResultFunctionError
		b.out.Error = errorFromResult("invoke", res)
	case errors.Is(err, runtimeapi.ErrInitFailed):
		b.initError(res)
	case b.ctx.Err() != nil:
		b.out.Result = ResultInterrupted
	case errors.Is(context.Cause(ictx), errProcessExited):
		b.out.Result = ResultExitedDuringInvoke
		b.out.Error = &RunError{Phase: "invoke", Type: "Runtime.ExitError", Message: "Runtime exited " + exitPhrase(b.w.info) + " with the event in hand, before answering"}
	case errors.Is(err, context.DeadlineExceeded):
		b.out.Result = ResultInvokeTimeout
		b.out.Error = &RunError{Phase: "invoke", Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %.2f seconds", b.s.Timeout.Seconds())}
		if res.Kind == "" && b.runtimeAnswered(b.out.RequestID) {
			b.out.Error.Message += " (the runtime answered; extension " + strings.Join(b.notReady(), ", ") + " did not call /extension/event/next again)"
		}
	default:
		b.out.Result = ResultFunctionError
		b.out.Error = &RunError{Phase: "invoke", Type: "Runtime.Unknown", Message: err.Error()}
	}
}

// exitPhrase says how a process ended: "with exit status 1", "on signal
// SIGSEGV".
func exitPhrase(info sandbox.ExitInfo) string {
	if info.Signal != "" {
		return "on signal " + info.Signal
	}
	return fmt.Sprintf("with exit status %d", info.Code)
}

// timeline merges the Runtime API's events with the process's start and
// end, as offsets from the start.
func timeline(started time.Time, events []runtimeapi.Event, out *Outcome, w *procWatch) []Event {
	tl := []Event{{AtMs: 0, Kind: "started", Detail: strings.Join(quoteArgs(out.Command), " ")}}
	for _, e := range events {
		if e.Kind == runtimeapi.KindListening || e.Kind == runtimeapi.KindNext {
			continue
		}
		ev := Event{AtMs: e.At.Sub(started).Milliseconds(), Kind: e.Kind, RequestID: e.RequestID}
		switch e.Kind {
		case runtimeapi.KindInitDone:
			ev.Detail = "the runtime called /runtime/invocation/next"
		case runtimeapi.KindInvoke:
			ev.Detail = fmt.Sprintf("event sent (%d bytes)", len(e.Body))
		case runtimeapi.KindResponse:
			ev.Detail = fmt.Sprintf("%d bytes", len(e.Body))
		case runtimeapi.KindError, runtimeapi.KindInitError, runtimeapi.KindRejected:
			ev.Detail = termsafe.Clip(strings.TrimSpace(string(e.Body)), 200)
		case runtimeapi.KindExtStart:
			ev.Detail = e.Extension + " started"
		case runtimeapi.KindExtLaunchErr:
			ev.Detail = termsafe.Clip(e.Extension+": "+string(e.Body), 200)
		case runtimeapi.KindExtRegister:
			ev.Detail = e.Extension + " registered for " + strings.ReplaceAll(string(e.Body), ",", ", ")
			if len(e.Body) == 0 {
				ev.Detail = e.Extension + " registered for no events"
			}
		case runtimeapi.KindExtNext:
			ev.Detail = e.Extension + " called /extension/event/next"
		case runtimeapi.KindExtEvent:
			var x struct {
				EventType      string `json:"eventType"`
				ShutdownReason string `json:"shutdownReason"`
			}
			_ = json.Unmarshal(e.Body, &x)
			ev.Detail = x.EventType + " sent to " + e.Extension
			if x.ShutdownReason != "" {
				ev.Detail += " (" + x.ShutdownReason + ")"
			}
		case runtimeapi.KindExtInitError, runtimeapi.KindExtExitError:
			ev.Detail = termsafe.Clip(e.Extension+": "+string(e.Body), 200)
		case runtimeapi.KindExtExit:
			ev.Detail = termsafe.Clip(e.Extension+" exited: "+string(e.Body), 200)
		case runtimeapi.KindShutdown:
			ev.Detail = "SHUTDOWN (" + string(e.Body) + ")"
			if out.Shutdown != nil {
				ev.Detail += fmt.Sprintf(", %d ms budget", out.Shutdown.BudgetMs)
			}
		case runtimeapi.KindInitComplete:
			if !hasExtensionEvents(events) {
				continue // the same moment as init-done
			}
			ev.Detail = "the runtime and every registered extension called next: init is complete"
		case runtimeapi.KindSubscribe:
			ev.Detail = termsafe.Clip(e.Extension+" subscribed to the "+string(e.Body), 300)
		case runtimeapi.KindTelemetryUndelivered:
			ev.Detail = termsafe.Clip(e.Extension+": "+string(e.Body), 300)
		case KindRuntimeSignal:
			ev.Detail = "the runtime was sent " + string(e.Body)
		}
		tl = append(tl, ev)
	}
	end := Event{AtMs: w.at.Sub(started).Milliseconds(), Kind: "exited"}
	switch {
	case out.Exit == nil:
	case out.Exit.ExecError != "":
		end.Kind, end.Detail = "exec-failed", out.Exit.ExecError
	case out.Exit.StoppedByLambdoctor:
		end.Kind, end.Detail = "stopped", "by lambdoctor"
	default:
		end.Detail = strings.TrimPrefix(exitPhrase(w.info), "with ")
	}
	return append(tl, end)
}

// hasExtensionEvents tells whether an extension registered.
func hasExtensionEvents(events []runtimeapi.Event) bool {
	for _, e := range events {
		if e.Kind == runtimeapi.KindExtRegister {
			return true
		}
	}
	return false
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			b, _ := json.Marshal(a)
			a = string(b)
		}
		out[i] = a
	}
	return out
}
