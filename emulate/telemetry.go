package emulate

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/lambdoctor/lambdoctor/runtimeapi"
)

// Subscription is an extension's Telemetry or Logs API subscription and
// what was delivered to it; its JSON form is an element of the report's
// "subscriptions".
type Subscription struct {
	Extension string `json:"extension"`
	// API is "telemetry" (2022-07-01) or "logs" (2020-08-15).
	API         string   `json:"api"`
	Types       []string `json:"types"`
	Destination string   `json:"destination"`
	MaxItems    int      `json:"maxItems"`
	MaxBytes    int      `json:"maxBytes"`
	TimeoutMs   int      `json:"timeoutMs"`
	// Batches and Events count what was delivered, FailedBatches what
	// could not be (LastError says why).
	Batches       int    `json:"batches"`
	Events        int    `json:"events"`
	FailedBatches int    `json:"failedBatches"`
	LastError     string `json:"lastError,omitempty"`
}

func subscriptionsOutcome(subs []runtimeapi.Subscription) []Subscription {
	out := make([]Subscription, 0, len(subs))
	for _, s := range subs {
		dst := fmt.Sprintf("http://sandbox.localdomain:%d%s", s.Port, s.Path)
		if s.Protocol == "TCP" {
			dst = fmt.Sprintf("tcp://sandbox.localdomain:%d", s.Port)
		}
		out = append(out, Subscription{Extension: s.Extension, API: s.API, Types: s.Types, Destination: dst,
			MaxItems: s.MaxItems, MaxBytes: s.MaxBytes, TimeoutMs: s.TimeoutMs,
			Batches: s.Batches, Events: s.Events, FailedBatches: s.Failed, LastError: s.LastError})
	}
	return out
}

// Shutdown is how the execution environment was shut down, as Lambda
// does (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-shutdown,
// AWS's graceful-shutdown sample https://github.com/aws-samples/graceful-shutdown-with-aws-lambda,
// and the emulator's rapid/shutdown.go): with no extension the runtime is
// killed at once; with extensions the runtime gets SIGTERM and its share
// of the budget to exit before SIGKILL, then the extensions subscribed to
// SHUTDOWN get it, and whatever is left when the budget is spent is
// killed.
type Shutdown struct {
	// Reason is the SHUTDOWN event's: "spindown", "timeout" or "failure".
	Reason string `json:"reason"`
	// BudgetMs is the Shutdown phase's limit: 2000 with external
	// extensions, 500 with internal ones only, 0 without extensions.
	BudgetMs int64 `json:"budgetMs"`
	// Runtime is what the runtime was sent: "SIGKILL" (no extensions),
	// "SIGTERM" (it exited), "SIGTERM, then SIGKILL" (it did not exit in
	// its share of the budget), or "" when it was not running.
	Runtime string `json:"runtime"`
	// RuntimeExitMs is how long after SIGTERM the runtime exited.
	RuntimeExitMs *int64 `json:"runtimeExitMs,omitempty"`
	// DurationMs is how long the phase took, up to the sandbox's end.
	DurationMs int64 `json:"durationMs"`
	// Unfinished names the extensions that had not finished handling
	// SHUTDOWN within the budget.
	Unfinished []string `json:"unfinished"`

	start time.Time
}

// The runtime's time between SIGTERM and SIGKILL: "For a function with
// external extensions, Lambda reserves up to 300 ms (500 ms for a runtime
// with an internal extension) for the runtime process to perform a
// graceful shutdown" (the sources of Shutdown); with internal extensions
// only, the whole 500 ms budget.
const (
	runtimeShutdownShare         = 300 * time.Millisecond
	runtimeShutdownShareInternal = 500 * time.Millisecond
)

// telemetryLines sends each line written to it to the Telemetry and Logs
// API subscribers as a line of category ("function" or "extension"). It is
// used by one goroutine at a time.
type telemetryLines struct {
	srv      *runtimeapi.Server
	category string
	buf      []byte
}

func (t *telemetryLines) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		t.srv.LogLine(t.category, time.Now(), strings.TrimSuffix(string(t.buf[:i]), "\r"))
		t.buf = t.buf[i+1:]
	}
	if len(t.buf) > 256<<10 {
		// A very long line without a newline: sent in pieces.
		t.srv.LogLine(t.category, time.Now(), string(t.buf))
		t.buf = t.buf[:0]
	}
	return len(p), nil
}

// report sends platform.report for the invocation that just ended (its
// duration d, the init's when it is the environment's first).
func (b *booter) report(first bool, d time.Duration) {
	if b.out.RequestID == "" {
		return
	}
	status := "success"
	switch b.out.Result {
	case ResultSuccess:
	case ResultInvokeTimeout:
		status = "timeout"
	case ResultFunctionError:
		status = "error"
	default:
		status = "failure"
	}
	ms := float64(d.Microseconds()) / 1000
	metrics := map[string]any{"durationMs": ms, "billedDurationMs": int64((d + time.Millisecond - 1) / time.Millisecond), "memorySizeMB": b.s.MemoryMB}
	if first && b.out.InitMs != nil {
		metrics["initDurationMs"] = float64(*b.out.InitMs)
	}
	rec := map[string]any{"requestId": b.out.RequestID, "status": status, "metrics": metrics}
	if b.out.Error != nil && status != "success" {
		rec["errorType"] = b.out.Error.Type
	}
	b.srv.Emit("platform.report", time.Now(), rec)
}

// shutdownPhase shuts the environment down as Lambda does (see Shutdown)
// with Lambda's reason ("spindown" after a good run, "timeout" after one,
// "failure" otherwise); the sandbox is killed afterwards.
func (b *booter) shutdownPhase() {
	if b.w.exited() || b.ctx.Err() != nil {
		return
	}
	reason := "failure"
	switch b.out.Result {
	case ResultSuccess, ResultFunctionError:
		reason = "spindown"
	case ResultInitTimeout, ResultInvokeTimeout:
		reason = "timeout"
	}
	start := time.Now()
	sd := &Shutdown{Reason: reason, Unfinished: []string{}, start: start}
	b.out.Shutdown = sd
	exts := b.srv.Extensions()
	if len(exts) == 0 {
		// No Shutdown phase: the runtime is killed with the sandbox.
		if b.runtimeRunning {
			sd.Runtime = "SIGKILL"
			b.srv.Mark(KindRuntimeSignal, "", []byte("SIGKILL (no extension registered: no Shutdown phase)"))
		}
		return
	}
	external, internal := false, false
	for _, e := range exts {
		external = external || e.External
		internal = internal || !e.External
	}
	budget, share := runtimeapi.ShutdownBudgetInternal, runtimeShutdownShareInternal
	if external {
		budget = runtimeapi.ShutdownBudget
		if !internal {
			share = runtimeShutdownShare
		}
	}
	sd.BudgetMs = budget.Milliseconds()
	deadline := start.Add(budget)
	if b.runtimeRunning {
		select {
		case <-b.proc.RuntimeExited():
		default:
			if err := b.proc.TerminateRuntime(); err == nil {
				b.killedByUs = true
				sd.Runtime = "SIGTERM"
				b.srv.Mark(KindRuntimeSignal, "", []byte("SIGTERM"))
				timer := time.NewTimer(share)
				select {
				case <-b.proc.RuntimeExited():
					ms := time.Since(start).Milliseconds()
					sd.RuntimeExitMs = &ms
				case <-timer.C:
					sd.Runtime = "SIGTERM, then SIGKILL"
					b.srv.Mark(KindRuntimeSignal, "", []byte("SIGKILL (the runtime did not exit within its share of the budget)"))
					_ = b.proc.KillRuntime()
				case <-b.w.done:
				case <-b.ctx.Done():
				}
				timer.Stop()
			}
		}
	}
	left := b.srv.ShutdownBy(b.ctx, reason, deadline)
	if left != nil {
		sd.Unfinished = left
		b.out.Notes = append(b.out.Notes, fmt.Sprintf("extension %s did not finish handling SHUTDOWN within Lambda's %s budget (%d ms): Lambda kills it then, as run did",
			strings.Join(left, ", "), budget, time.Since(start).Milliseconds()))
	}
}

// KindRuntimeSignal is the timeline's kind for a signal the Shutdown
// phase sent the runtime; its detail names it.
const KindRuntimeSignal = "runtime-signal"
