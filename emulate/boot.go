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
	// InitMs is the time from the start to the first call to /next; nil
	// (null) when init never finished.
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

	// Not reported as such: what diagnose reads.
	execErr    error
	initDied   bool
	logMatches []logMatch
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
	srv, err := runtimeapi.New(runtimeapi.Options{
		Addr: "127.0.0.1:0", FunctionName: FunctionName, MemoryMB: s.MemoryMB, Region: runRegion,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the Runtime API server: %w", err)
	}
	defer srv.Close()
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("starting the Runtime API server: %w", err)
	}

	handler := ""
	if len(s.Argv.Cmd) > 0 {
		handler = s.Argv.Cmd[0]
	}
	out := &Outcome{
		Command: s.Argv.Args(), WorkingDir: s.Argv.WorkingDir,
		UID: lambda.UID, GID: lambda.GID,
		StdoutTail: []string{}, StderrTail: []string{},
		Timeline: []Event{}, Diagnosis: []Diagnosis{}, Notes: []string{},
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
	stdout, stderr := newTailWriter("stdout", tailLines), newTailWriter("stderr", tailLines)
	spec := sandbox.Spec{
		Root: s.Root, Argv: s.Argv.Args(), Dir: s.Argv.WorkingDir,
		Env: lambdaEnv(s.ImageEnv, s.Env, apiAddr, handler, s.MemoryMB),
		UID: lambda.UID, GID: lambda.GID,
		TmpSizeMB: s.TmpSizeMB, MemoryMB: s.MemoryMB, MaxProcs: sandbox.MaxProcsLambda,
		HostNetwork: s.HostNetwork, Hostname: out.Hostname,
		Stdout: stdout, Stderr: stderr,
	}
	if s.Log != nil {
		// A listen session shows the function's output as it comes, as
		// the emulator does.
		mu := &sync.Mutex{}
		spec.Stdout = io.MultiWriter(stdout, &lineLog{mu: mu, w: s.Log})
		spec.Stderr = io.MultiWriter(stderr, &lineLog{mu: mu, w: s.Log, prefix: "stderr: "})
	}
	if !s.HostNetwork {
		spec.ForwardPort = runtimeAPIPort
	}
	out.Started = time.Now()
	proc, err := sandbox.Start(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	if ln := proc.Forwarded(); ln != nil {
		if err := srv.Serve(ln); err != nil {
			proc.Kill()
			proc.Wait()
			return nil, fmt.Errorf("serving the Runtime API in the sandbox: %w", err)
		}
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

	b := &booter{ctx: ctx, srv: srv, w: w, s: s, out: out}
	b.initPhase()
	switch {
	case out.Result != "":
	case invokes != nil:
		b.serve(invokes)
	default:
		b.invokePhase()
	}
	stop()
	srv.Close()

	// The process is gone and its pipes drained: the output is complete.
	out.StdoutTail, out.StdoutLines = stdout.tail()
	out.StderrTail, out.StderrLines = stderr.tail()
	out.logMatches = append(stdout.matches(), stderr.matches()...)
	info := w.info
	ex := &Exit{Code: info.Code, Signal: info.Signal, StoppedByLambdoctor: killedByUs || (info.Killed && ctx.Err() != nil)}
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
	ctx context.Context
	srv *runtimeapi.Server
	w   *procWatch
	s   Spec
	out *Outcome
}

// initPhase waits for the first /next; anything else ends the run.
func (b *booter) initPhase() {
	timer := time.NewTimer(b.s.InitTimeout)
	defer timer.Stop()
	select {
	case <-b.srv.InitDone():
		ms := time.Since(b.out.Started).Milliseconds()
		for _, e := range b.srv.Events() {
			if e.Kind == runtimeapi.KindInitDone {
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
		b.out.Error = &RunError{Phase: "init", Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("INIT_REPORT Init Duration: %d ms Phase: init Status: timeout (no call to /runtime/invocation/next within %s)", b.s.InitTimeout.Milliseconds(), b.s.InitTimeout)}
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
	switch {
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
