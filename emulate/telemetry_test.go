package emulate

import (
	"testing"

	"github.com/lambdoctor/lambdoctor/runtimeapi"
)

func TestShutdownLine(t *testing.T) {
	ms := int64(3)
	for _, c := range []struct {
		sd   Shutdown
		want string
	}{
		{Shutdown{Reason: "spindown", Runtime: "SIGKILL", DurationMs: 2}, "no extension: the runtime got SIGKILL at once; 2 ms"},
		{Shutdown{Reason: "spindown", BudgetMs: 2000, Runtime: "SIGTERM", RuntimeExitMs: &ms, DurationMs: 9}, "spindown, 2000 ms budget; the runtime got SIGTERM and exited after 3 ms; 9 ms"},
		{Shutdown{Reason: "timeout", BudgetMs: 500, Runtime: "SIGTERM, then SIGKILL", Unfinished: []string{"a", "b"}, DurationMs: 501},
			"timeout, 500 ms budget; the runtime got SIGTERM, then SIGKILL; extension a, b unfinished; 501 ms"},
	} {
		if got := shutdownLine(&c.sd); got != c.want {
			t.Errorf("shutdownLine(%+v) = %q, want %q", c.sd, got, c.want)
		}
	}
}

func TestSubscriptionsOutcome(t *testing.T) {
	got := subscriptionsOutcome([]runtimeapi.Subscription{
		{Extension: "a", API: "telemetry", Types: []string{"platform"}, Protocol: "HTTP", Port: 8080, Path: "/x", MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 1000, Batches: 2, Events: 5},
		{Extension: "b", API: "logs", Types: []string{"function"}, Protocol: "TCP", Port: 9000, Failed: 1, LastError: "connection refused"},
	})
	if len(got) != 2 || got[0].Destination != "http://sandbox.localdomain:8080/x" || got[0].Events != 5 || got[0].Batches != 2 ||
		got[1].Destination != "tcp://sandbox.localdomain:9000" || got[1].FailedBatches != 1 || got[1].LastError != "connection refused" {
		t.Errorf("subscriptionsOutcome = %+v", got)
	}
	if got := count(1, "batch", "batches") + ", " + count(3, "batch", "batches"); got != "1 batch, 3 batches" {
		t.Errorf("count: %q", got)
	}
}
