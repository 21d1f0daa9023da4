package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/runtimeapi"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// How a run ended: runOutcome.Result.
const (
	resultSuccess            = "success"              // the function answered the event
	resultFunctionError      = "function-error"       // it posted /invocation/{id}/error
	resultInitError          = "init-error"           // it posted /init/error
	resultStartFailed        = "start-failed"         // its command could not be executed
	resultExitedDuringInit   = "exited-during-init"   // it exited before calling /next
	resultInitTimeout        = "init-timeout"         // no /next within the init limit
	resultExitedDuringInvoke = "exited-during-invoke" // it exited with the event in hand
	resultInvokeTimeout      = "invoke-timeout"       // no answer within the function timeout
	resultInterrupted        = "interrupted"          // Ctrl-C or SIGTERM
)

// bootSpec is what boot starts.
type bootSpec struct {
	root        string
	argv        analyze.Argv
	imageEnv    []string
	env         []string
	event       []byte
	memoryMB    int
	tmpSizeMB   int
	timeout     time.Duration
	initTimeout time.Duration
	hostNetwork bool
}

// runtimeAPIPort is where the function finds the Runtime API in its own
// network namespace, as on Lambda (AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001).
const runtimeAPIPort = 9001

// runOutcome is what happened when the function was booted; its JSON form
// is the report's "run" object (docs/run.md).
type runOutcome struct {
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
	Error    *runError       `json:"error"`
	Exit     *runExit        `json:"exit"`
	// StdoutTail and StderrTail are the last lines of the function's
	// output (at most 40 each); StdoutLines and StderrLines count all.
	StdoutTail  []string       `json:"stdoutTail"`
	StderrTail  []string       `json:"stderrTail"`
	StdoutLines int            `json:"stdoutLines"`
	StderrLines int            `json:"stderrLines"`
	Timeline    []runEvent     `json:"timeline"`
	Diagnosis   []runDiagnosis `json:"diagnosis"`
	Notes       []string       `json:"notes"`
	// Memory is the memory size, whether it was enforced, and the most
	// the function used.
	Memory *runMemory `json:"memory"`
	// Processes is the process limit and what it saw.
	Processes *runProcesses `json:"processes"`
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

// runError is an error the function reported, or why it could not start.
type runError struct {
	// Phase is "start", "init" or "invoke".
	Phase   string `json:"phase"`
	Type    string `json:"type"`
	Message string `json:"message"`
	// Body is the error document the runtime posted, embedded like
	// Response.
	Body json.RawMessage `json:"body,omitempty"`
}

// runExit says how the process ended.
type runExit struct {
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

// runMemory is the function's memory size and what the sandbox saw of it.
type runMemory struct {
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

// runProcesses is Lambda's limit on processes and threads and what the
// sandbox saw of it.
type runProcesses struct {
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

func processesOutcome(st *sandbox.ProcessStats) *runProcesses {
	if st == nil {
		return nil
	}
	p := &runProcesses{Limit: st.Limit, Enforced: st.Enforced, NotEnforced: st.NotEnforced, LimitHits: st.LimitHits}
	if st.Peak > 0 {
		peak := st.Peak
		p.Peak = &peak
	}
	return p
}

// oomMessage is how Lambda reports a runtime the OOM killer killed
// (errorType Runtime.OutOfMemory).
const oomMessage = "Runtime exited with error: signal: killed"

// runEvent is one line of the timeline.
type runEvent struct {
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
func boot(ctx context.Context, s bootSpec) (*runOutcome, error) {
	// Without root the root filesystem belongs to the sandbox's user
	// namespace until it is given back (a no-op as root).
	defer sandbox.Release(s.root)
	// The host side listens on a free loopback port: the function reaches
	// it there with --network host, else through the port forwarded into
	// its network namespace.
	srv, err := runtimeapi.New(runtimeapi.Options{
		Addr: "127.0.0.1:0", FunctionName: functionName, MemoryMB: s.memoryMB, Region: runRegion,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the Runtime API server: %w", err)
	}
	defer srv.Close()
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("starting the Runtime API server: %w", err)
	}

	handler := ""
	if len(s.argv.Cmd) > 0 {
		handler = s.argv.Cmd[0]
	}
	out := &runOutcome{
		Command: s.argv.Args(), WorkingDir: s.argv.WorkingDir,
		UID: sandbox.LambdaUID, GID: sandbox.LambdaGID,
		StdoutTail: []string{}, StderrTail: []string{},
		Timeline: []runEvent{}, Diagnosis: []runDiagnosis{}, Notes: []string{},
		Network: "none", Hostname: sandbox.LambdaHostname(),
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", runtimeAPIPort)
	if s.hostNetwork {
		out.Network, apiAddr = "host", srv.Addr()
	}
	if s.argv.Empty() {
		out.Started = time.Now()
		out.Result = resultStartFailed
		out.Error = &runError{Phase: "start", Type: "Runtime.InvalidEntrypoint", Message: "the image has no ENTRYPOINT and no CMD: there is nothing to start"}
		return out, nil
	}
	stdout, stderr := newTailWriter("stdout", tailLines), newTailWriter("stderr", tailLines)
	spec := sandbox.Spec{
		Root: s.root, Argv: s.argv.Args(), Dir: s.argv.WorkingDir,
		Env: lambdaEnv(s.imageEnv, s.env, apiAddr, handler, s.memoryMB),
		UID: sandbox.LambdaUID, GID: sandbox.LambdaGID,
		TmpSizeMB: s.tmpSizeMB, MemoryMB: s.memoryMB, MaxProcs: sandbox.MaxProcsLambda,
		HostNetwork: s.hostNetwork, Hostname: out.Hostname,
		Stdout: stdout, Stderr: stderr,
	}
	if !s.hostNetwork {
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
	if out.Result == "" {
		b.invokePhase()
	}
	stop()
	srv.Close()

	// The process is gone and its pipes drained: the output is complete.
	out.StdoutTail, out.StdoutLines = stdout.tail()
	out.StderrTail, out.StderrLines = stderr.tail()
	out.logMatches = append(stdout.matches(), stderr.matches()...)
	info := w.info
	ex := &runExit{Code: info.Code, Signal: info.Signal, StoppedByLambdoctor: killedByUs || (info.Killed && ctx.Err() != nil)}
	if info.ExecErr != nil {
		out.execErr = info.ExecErr
		ex.ExecError = info.ExecErr.Error()
		ex.ExecPath = info.ExecPath
		ex.StoppedByLambdoctor = false
	}
	out.Exit = ex
	out.Memory = memoryOutcome(s.memoryMB, info.Memory)
	out.Processes = processesOutcome(info.Processes)
	out.initDied = info.InitDied
	if info.OOMScoreAdj > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("the function ran with oom_score_adj %d instead of Lambda's 0: this machine does not give lambdoctor CAP_SYS_RESOURCE, so the sandbox's init could not lower its own score and raised the function's instead, to keep the OOM killer off the init; it only changes which process an OOM killer picks first", info.OOMScoreAdj))
	}
	if out.Memory.OOMKills > 0 && out.Error != nil && info.Signal == "SIGKILL" &&
		(out.Result == resultExitedDuringInit || out.Result == resultExitedDuringInvoke) {
		out.Error.Type, out.Error.Message = "Runtime.OutOfMemory", oomMessage
	}
	if w.err != nil && info.ExecErr == nil && out.Result == resultStartFailed {
		out.Error = &runError{Phase: "start", Type: "Runtime.Unknown", Message: w.err.Error()}
	}
	out.Timeline = timeline(out.Started, srv.Events(), out, w)
	return out, nil
}

// memoryOutcome reports the memory size and what the sandbox's cgroup saw.
func memoryOutcome(sizeMB int, st *sandbox.MemoryStats) *runMemory {
	m := &runMemory{SizeMB: sizeMB}
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
	s   bootSpec
	out *runOutcome
}

// initPhase waits for the first /next; anything else ends the run.
func (b *booter) initPhase() {
	timer := time.NewTimer(b.s.initTimeout)
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
			b.out.Result = resultStartFailed
			if b.w.info.ExecErr != nil {
				b.out.Error = &runError{Phase: "start", Type: "Runtime.InvalidEntrypoint", Message: b.w.info.ExecErr.Error()}
			}
			return
		}
		b.out.Result = resultExitedDuringInit
		b.out.Error = &runError{Phase: "init", Type: "Runtime.ExitError", Message: "Runtime exited " + exitPhrase(b.w.info) + " before calling /runtime/invocation/next"}
	case <-timer.C:
		b.srv.Mark(runtimeapi.KindInitTimeout, "", nil)
		b.out.Result = resultInitTimeout
		b.out.Error = &runError{Phase: "init", Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("INIT_REPORT Init Duration: %d ms Phase: init Status: timeout (no call to /runtime/invocation/next within %s)", b.s.initTimeout.Milliseconds(), b.s.initTimeout)}
	case <-b.ctx.Done():
		b.out.Result = resultInterrupted
	}
}

func (b *booter) initError(r runtimeapi.Result) {
	b.out.Result = resultInitError
	b.out.Error = errorFromResult("init", r)
}

// errorFromResult reads the {"errorMessage","errorType"} body a runtime
// posts.
func errorFromResult(phase string, r runtimeapi.Result) *runError {
	e := &runError{Phase: phase, Type: r.ErrorType, Body: jsonOrString(r.ErrorBody)}
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
	deadline := time.Now().Add(b.s.timeout)
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
		Payload:     b.s.event,
		Deadline:    deadline,
		FunctionARN: fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", runRegion, functionName),
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
		b.out.Result = resultSuccess
		b.out.Response = jsonOrString(res.Response)
		if b.out.Response == nil {
			b.out.Response = json.RawMessage("null")
		}
	case err == nil:
		b.out.Result = resultFunctionError
		b.out.Error = errorFromResult("invoke", res)
	case errors.Is(err, runtimeapi.ErrInitFailed):
		b.initError(res)
	case b.ctx.Err() != nil:
		b.out.Result = resultInterrupted
	case errors.Is(context.Cause(ictx), errProcessExited):
		b.out.Result = resultExitedDuringInvoke
		b.out.Error = &runError{Phase: "invoke", Type: "Runtime.ExitError", Message: "Runtime exited " + exitPhrase(b.w.info) + " with the event in hand, before answering"}
	case errors.Is(err, context.DeadlineExceeded):
		b.out.Result = resultInvokeTimeout
		b.out.Error = &runError{Phase: "invoke", Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %.2f seconds", b.s.timeout.Seconds())}
	default:
		b.out.Result = resultFunctionError
		b.out.Error = &runError{Phase: "invoke", Type: "Runtime.Unknown", Message: err.Error()}
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
func timeline(started time.Time, events []runtimeapi.Event, out *runOutcome, w *procWatch) []runEvent {
	tl := []runEvent{{AtMs: 0, Kind: "started", Detail: strings.Join(quoteArgs(out.Command), " ")}}
	for _, e := range events {
		if e.Kind == runtimeapi.KindListening || e.Kind == runtimeapi.KindNext {
			continue
		}
		ev := runEvent{AtMs: e.At.Sub(started).Milliseconds(), Kind: e.Kind, RequestID: e.RequestID}
		switch e.Kind {
		case runtimeapi.KindInitDone:
			ev.Detail = "the runtime called /runtime/invocation/next"
		case runtimeapi.KindInvoke:
			ev.Detail = fmt.Sprintf("event sent (%d bytes)", len(e.Body))
		case runtimeapi.KindResponse:
			ev.Detail = fmt.Sprintf("%d bytes", len(e.Body))
		case runtimeapi.KindError, runtimeapi.KindInitError, runtimeapi.KindRejected:
			ev.Detail = clip(strings.TrimSpace(string(e.Body)), 200)
		}
		tl = append(tl, ev)
	}
	end := runEvent{AtMs: w.at.Sub(started).Milliseconds(), Kind: "exited"}
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

// clip shortens s to at most n bytes, then "…", without splitting a UTF-8
// sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return s[:n] + "…"
}
