//go:build linux

package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/emulate"
)

// The function has a network namespace of its own: a service on the host's
// loopback is out of its reach unless --network host, and the Runtime API
// works either way.
func TestRunNetworkIsolation(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "host-secret")
	})}
	go hs.Serve(ln)
	defer hs.Close()
	function := fmt.Sprintf(`handler () {
  out=$(wget -q -O - http://%s/ 2>/dev/null) || out=unreachable
  echo "{\"service\":\"$out\",\"api\":\"$AWS_LAMBDA_RUNTIME_API\",\"hostname\":\"$(busybox hostname)\"}"
}
`, ln.Addr())
	img := shellImage(t, busyboxBootstrap, 0o755, function)
	type answer struct{ Service, API, Hostname string }
	for _, tc := range []struct {
		args    []string
		network string
		service string
	}{
		{nil, "none", "unreachable"},
		{[]string{"--network", "host"}, "host", "host-secret"},
	} {
		r := runImage(t, context.Background(), img, tc.args...)
		run := r.doc.Run
		if r.code != ExitOK || run.Result != emulate.ResultSuccess {
			t.Fatalf("%v: exit %d, result %q; run %+v\nstderr: %s", tc.args, r.code, run.Result, run, r.stderr)
		}
		var a answer
		if err := json.Unmarshal(run.Response, &a); err != nil {
			t.Fatalf("%v: response %s: %v", tc.args, run.Response, err)
		}
		if a.Service != tc.service {
			t.Errorf("%v: the host's loopback service: got %q, want %q", tc.args, a.Service, tc.service)
		}
		if tc.network == "none" && a.API != "127.0.0.1:9001" {
			t.Errorf("AWS_LAMBDA_RUNTIME_API %q, want 127.0.0.1:9001 as on Lambda", a.API)
		}
		if run.Network != tc.network || a.Hostname != run.Hostname || !strings.HasPrefix(a.Hostname, "169.254.") {
			t.Errorf("%v: network %q hostname %q (function saw %q)", tc.args, run.Network, run.Hostname, a.Hostname)
		}
	}
	s, _, errb := streams(nil)
	if code := Run(context.Background(), []string{"run", "--network", "bridge", "x.tar"}, s); code != ExitUsage || !strings.Contains(errb.String(), `unknown --network "bridge" (want none or host)`) {
		t.Errorf("--network bridge: exit %d, %q", code, errb.String())
	}
}

// A fork storm stops at Lambda's 1,024 processes and threads: the
// diagnosis names the limit, the sandbox's init survives (no LD201 "no
// command" as when the init was OOM-killed), and nothing is left behind.
func TestRunForkStorm(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	function := `handler () {
  n=0
  while [ $n -lt 3000 ]; do sleep 30 </dev/null >/dev/null 2>&1 & n=$((n+1)); done
  echo '{"forked":'$n'}'
}
`
	img := shellImage(t, busyboxBootstrap, 0o755, function)
	// 1,024 busybox processes need more than 128 MB: at the default memory
	// size the storm is OOM-killed first (as it would be on Lambda), and
	// the init, spared by the OOM killer, still reports it.
	r := runImage(t, context.Background(), img, "--timeout", "60s")
	if keys := diagnosisKeys(r); !slices.Contains(keys, "out-of-memory") && !slices.Contains(keys, "process-limit") ||
		slices.Contains(keys, "no-command") || slices.Contains(keys, "sandbox-died") || r.doc.Run.Result != emulate.ResultExitedDuringInvoke {
		t.Errorf("storm at 128 MB: result %q, diagnosis %v", r.doc.Run.Result, keys)
	}
	r = runImage(t, context.Background(), img, "--timeout", "60s", "--memory", "1024")
	run := r.doc.Run
	keys := diagnosisKeys(r)
	if r.code != ExitFindings || run.Result == emulate.ResultSuccess || slices.Contains(keys, "no-command") || slices.Contains(keys, "sandbox-died") {
		t.Fatalf("exit %d, result %q, diagnosis %v; want a failed invoke blamed on the process limit\nrun: %+v", r.code, run.Result, keys, run)
	}
	d := findDiagnosis(t, r, "process-limit")
	if !strings.Contains(d.Failure, "1024") || !strings.Contains(d.Evidence, "1024") {
		t.Errorf("process-limit diagnosis does not name the limit: %+v", d)
	}
	p := run.Processes
	if p == nil || p.Limit != 1024 || p.Enforced == "" {
		t.Fatalf("processes: %+v", p)
	}
	if strings.HasPrefix(p.Enforced, "cgroup") && (p.LimitHits < 1 || p.Peak == nil || *p.Peak != 1024) {
		t.Errorf("pids cgroup stats: %+v", *p)
	}
	t.Logf("result %s, diagnosis %v, evidence %q, memory %+v", run.Result, keys, d.Evidence, *run.Memory)
}
