//go:build linux

package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/report"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// These tests boot real functions: a Go function built with aws-lambda-go,
// and the AWS docs' shell runtime on Debian's busybox-static. They need
// Linux, root, the go command and /bin/busybox (busybox-static); they skip
// without them, unless LAMBDOCTOR_REQUIRE_SANDBOX=1 (set by .ci/run), which
// makes a missing piece a failure.

func requireSandbox(t *testing.T) {
	t.Helper()
	missing := func(why string) { sandboxMissing(t, why) }
	if err := sandbox.Supported(); err != nil {
		missing(err.Error())
	}
	if _, err := exec.LookPath("go"); err != nil {
		missing("the go command is not on PATH to build the test function")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		missing("/bin/busybox is missing (apt-get install busybox-static)")
	}
}

// sandboxMissing skips t for why, or fails it under
// LAMBDOCTOR_REQUIRE_SANDBOX=1.
func sandboxMissing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("LAMBDOCTOR_REQUIRE_SANDBOX") == "1" {
		t.Fatalf("LAMBDOCTOR_REQUIRE_SANDBOX=1 but %s", why)
	}
	t.Skip(why)
}

var (
	goFnMu   sync.Mutex
	goFnBins = map[string][]byte{}
)

// goFunction builds cmd/testdata/gofn (a main package using
// github.com/aws/aws-lambda-go's lambda.Start) for linux/goarch, once per
// test process.
func goFunction(t *testing.T, goarch string) []byte {
	t.Helper()
	goFnMu.Lock()
	defer goFnMu.Unlock()
	if b, ok := goFnBins[goarch]; ok {
		return b
	}
	dir, err := os.MkdirTemp("", "lambdoctor-gofn-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "bootstrap")
	c := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	c.Dir = filepath.Join("testdata", "gofn")
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOWORK=off", "GOFLAGS=-mod=mod")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("building the Go function for %s: %v\n%s", goarch, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	goFnBins[goarch] = b
	return b
}

// goImage is a Go function image as AWS documents it for provided.al2023:
// the binary as /var/task/bootstrap, ENTRYPOINT on it.
func goImage(t *testing.T, bin []byte, mode int64, env ...string) v1.Image {
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Entrypoint: []string{"/var/task/bootstrap"},
			WorkingDir: "/var/task",
			Env:        append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...),
		},
		Layers: [][]testimage.File{{
			testimage.Dir("etc", 0), testimage.Dir("etc/ssl", 0), testimage.Dir("etc/ssl/certs", 0),
			testimage.Reg("etc/ssl/certs/ca-certificates.crt", 0o644, caBundle),
			testimage.Dir("tmp", 0o1777),
			testimage.Dir("var", 0), testimage.Dir("var/task", 0),
			testimage.Reg("var/task/bootstrap", mode, string(bin)),
		}},
	})
}

// busyboxLayer is Debian's busybox-static with the applets the shell
// runtimes use.
func busyboxLayer(t *testing.T) []testimage.File {
	t.Helper()
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	files := []testimage.File{testimage.Dir("bin", 0), testimage.Reg("bin/busybox", 0o755, string(b)),
		testimage.Dir("tmp", 0o1777), testimage.Dir("etc", 0)}
	for _, applet := range []string{"sh", "cat", "cut", "echo", "grep", "mktemp", "sleep", "tr", "wget", "rm", "touch"} {
		files = append(files, testimage.Symlink("bin/"+applet, "busybox"))
	}
	return files
}

// The AWS docs' shell runtime (the seed's loop, see shellBootstrap) with
// busybox wget instead of curl: wget -S prints the response headers.
const busyboxBootstrap = `#!/bin/sh

set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(wget -q -S -O - "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next" 2>"$HEADERS")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  wget -q -O /dev/null --post-data "$RESPONSE" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"
done
`

// shellImage is a busybox image running bootstrap from /var/runtime with
// function.sh in /var/task and CMD ["function.handler"].
func shellImage(t *testing.T, bootstrap string, bootstrapMode int64, function string) v1.Image {
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LAMBDA_TASK_ROOT=/var/task"},
			Entrypoint: []string{"/var/runtime/bootstrap"},
			Cmd:        []string{"function.handler"},
			WorkingDir: "/var/task",
		},
		Layers: [][]testimage.File{
			busyboxLayer(t),
			{testimage.Dir("var", 0), testimage.Dir("var/runtime", 0), testimage.Reg("var/runtime/bootstrap", bootstrapMode, bootstrap),
				testimage.Dir("var/task", 0), testimage.Reg("var/task/function.sh", 0o755, function)},
		},
	})
}

// runResult is one `lambdoctor run --format json` in process.
type runResult struct {
	code    int
	doc     emulate.Doc
	stderr  string
	elapsed time.Duration
}

func runImage(t *testing.T, ctx context.Context, img v1.Image, args ...string) runResult {
	t.Helper()
	ref := writeArchive(t, img)
	s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	start := time.Now()
	code := Run(ctx, append(append([]string{"run", "--format", "json"}, args...), ref), s)
	r := runResult{code: code, stderr: errb.String(), elapsed: time.Since(start)}
	if err := json.Unmarshal(out.Bytes(), &r.doc); err != nil {
		t.Fatalf("exit %d, stdout is not the JSON report: %v\n%s\nstderr: %s", code, err, out.String(), errb.String())
	}
	if r.doc.Run == nil {
		t.Fatalf("no run in the report:\n%s", out.String())
	}
	return r
}

// isolate points the temporary directory at a fresh directory and checks,
// when the test ends, that run left nothing behind: no temporary
// directory, no process of the sandbox, no mount.
func isolate(t *testing.T) {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	before := sandboxProcesses()
	inMemory := memoryRunDirs(t)
	t.Cleanup(func() {
		assertNoLeaks(t, tmp, before)
		for _, d := range memoryRunDirs(t) {
			if !slices.Contains(inMemory, d) {
				t.Errorf("run directory left behind in memory: %s", d)
			}
		}
	})
}

// memoryBases are the tmpfs directories run may unpack into (see
// sandbox.MemoryBase): $XDG_RUNTIME_DIR and /dev/shm.
func memoryBases() []string {
	var bases []string
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		bases = append(bases, d)
	}
	return append(bases, "/dev/shm")
}

// memoryRunDirs are the run directories in memoryBases.
func memoryRunDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, b := range memoryBases() {
		m, err := filepath.Glob(filepath.Join(b, "lambdoctor-run-*"))
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, m...)
	}
	return dirs
}

func assertNoLeaks(t *testing.T, tmp string, before map[int]bool) {
	t.Helper()
	var left []string
	deadline := time.Now().Add(3 * time.Second)
	for {
		left = left[:0]
		for pid := range sandboxProcesses() {
			if !before[pid] {
				cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
				left = append(left, strconv.Itoa(pid)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("processes of the sandbox left running: %v", left)
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "lambdoctor-") {
			t.Errorf("temporary directory left behind: %s", filepath.Join(tmp, e.Name()))
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mounts, []byte("lambdoctor-run-")) {
		t.Errorf("mount left behind:\n%s", mounts)
	}
	if left := runCgroups(mounts); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
}

// runCgroups are the per-run cgroups (lambdoctor-<pid>-<random>) this test
// process created that still exist, in every mounted cgroup hierarchy.
func runCgroups(mountinfo []byte) []string {
	prefix := "lambdoctor-" + strconv.Itoa(os.Getpid()) + "-"
	var left []string
	for _, line := range strings.Split(string(mountinfo), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, pf := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(pf) < 1 || (pf[0] != "cgroup" && pf[0] != "cgroup2") {
			continue
		}
		filepath.WalkDir(f[4], func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), prefix) {
				left = append(left, p)
			}
			return nil
		})
	}
	return left
}

// sandboxProcesses are the live processes of a sandbox: its init (started
// with LAMBDOCTOR_SANDBOX_INIT=1) and the functions (their environment
// names the function lambdoctor-run).
func sandboxProcesses() map[int]bool {
	out := map[int]bool{}
	parent := map[int]int{}
	var candidates []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after
		// the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		parent[pid] = ppid
		if fields[0] == "Z" {
			continue
		}
		env, err := os.ReadFile("/proc/" + d.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == "LAMBDOCTOR_SANDBOX_INIT=1" || string(kv) == "AWS_LAMBDA_FUNCTION_NAME="+emulate.FunctionName {
				candidates = append(candidates, pid)
				break
			}
		}
	}
	// Only this test process's own: other test binaries (the sandbox
	// package's, run at the same time by go test ./...) start sandboxes
	// too. This process is a child subreaper (adoptOrphans), so what a
	// killed run leaves behind is still its descendant.
	self := os.Getpid()
	for _, pid := range candidates {
		for p, hops := parent[pid], 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == self {
				out[pid] = true
				break
			}
		}
	}
	return out
}

// adoptOrphans makes this test process a child subreaper (prctl
// PR_SET_CHILD_SUBREAPER): processes a killed lambdoctor leaves behind are
// re-parented to it rather than to PID 1, so sandboxProcesses still finds
// them.
func adoptOrphans() {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		panic(err)
	}
}

func diagnosisKeys(r runResult) []string {
	var keys []string
	for _, d := range r.doc.Run.Diagnosis {
		keys = append(keys, d.Key)
	}
	return keys
}

func findDiagnosis(t *testing.T, r runResult, key string) emulate.Diagnosis {
	t.Helper()
	for _, d := range r.doc.Run.Diagnosis {
		if d.Key == key {
			return d
		}
	}
	t.Fatalf("no diagnosis %q; have %v\nrun: %+v", key, diagnosisKeys(r), r.doc.Run)
	return emulate.Diagnosis{}
}

func TestRunGoFunction(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	bin := goFunction(t, runtime.GOARCH)
	r := runImage(t, context.Background(), goImage(t, bin, 0o755), "--event", writeEvent(t, `{"name":"x"}`))
	run := r.doc.Run
	if r.code != ExitOK || run.Result != emulate.ResultSuccess {
		t.Fatalf("exit %d, result %q, want 0 and success; run: %+v\nfindings: %+v\nstderr: %s", r.code, run.Result, run, r.doc.Findings, r.stderr)
	}
	var resp struct {
		Greeting string `json:"greeting"`
		UID      int    `json:"uid"`
		GID      int    `json:"gid"`
	}
	if err := json.Unmarshal(run.Response, &resp); err != nil {
		t.Fatalf("response %s: %v", run.Response, err)
	}
	if resp.Greeting != "hello x" || resp.UID != 993 || resp.GID != 990 {
		t.Errorf("response %s, want hello x from uid 993 gid 990", run.Response)
	}
	if run.InitMs == nil || run.RequestID == "" || run.Exit == nil || !run.Exit.StoppedByLambdoctor {
		t.Errorf("initMs %v, requestId %q, exit %+v: want init timed, a request ID, stopped by lambdoctor", run.InitMs, run.RequestID, run.Exit)
	}
	kinds := []string{}
	for _, e := range run.Timeline {
		kinds = append(kinds, e.Kind)
	}
	for _, k := range []string{"started", "init-done", "invoke", "response", "stopped"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("timeline %v lacks %q", kinds, k)
		}
	}
	if len(run.Diagnosis) != 0 {
		t.Errorf("diagnosis of a good function: %+v", run.Diagnosis)
	}
	if m := run.Memory; m == nil || m.SizeMB != 128 {
		t.Errorf("memory %+v, want the default size of 128 MB", m)
	} else if !m.Enforced {
		t.Logf("memory limit not enforced here: %s", m.NotEnforced)
	} else if m.MaxUsedMB == nil || *m.MaxUsedMB <= 0 || *m.MaxUsedMB > 128 || m.OOMKills != 0 {
		t.Errorf("memory %+v: want Max Memory Used within 1-128 MB and no OOM kill", m)
	} else {
		t.Logf("Max Memory Used: %d MB (cgroup %s)", *m.MaxUsedMB, m.Cgroup)
	}
	// The overhead beyond the function's own start: unpacking a 12 MB image,
	// the sandbox, the API. Generous for a loaded CI machine.
	if r.elapsed > 5*time.Second {
		t.Errorf("run took %s", r.elapsed)
	}
	t.Logf("run took %s, init %d ms", r.elapsed, *run.InitMs)
}

// A handler that allocates more than --memory is killed by the OOM killer
// (Lambda: Runtime.OutOfMemory, "Runtime exited with error: signal:
// killed"), and the diagnosis says so, linked to no check.
func TestRunOutOfMemory(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	bin := goFunction(t, runtime.GOARCH)
	r := runImage(t, context.Background(), goImage(t, bin, 0o755),
		"--memory", "128", "--timeout", "20s", "--event", writeEvent(t, `{"name":"x","allocateMB":400}`))
	run := r.doc.Run
	if run.Memory == nil {
		t.Fatalf("no memory in the report: %+v", run)
	}
	if !run.Memory.Enforced {
		sandboxMissing(t, "the memory limit is not enforced here: "+run.Memory.NotEnforced)
	}
	if r.code != ExitFindings || run.Result != emulate.ResultExitedDuringInvoke {
		t.Fatalf("exit %d, result %q; want 1 and %s\nrun: %+v\nstderr: %s", r.code, run.Result, emulate.ResultExitedDuringInvoke, run, r.stderr)
	}
	if run.Error == nil || run.Error.Type != "Runtime.OutOfMemory" || run.Error.Message != emulate.OOMMessage {
		t.Errorf("error %+v, want Runtime.OutOfMemory: %s", run.Error, emulate.OOMMessage)
	}
	if run.Exit == nil || run.Exit.Signal != "SIGKILL" || run.Exit.StoppedByLambdoctor {
		t.Errorf("exit %+v, want killed by SIGKILL (not by lambdoctor)", run.Exit)
	}
	// The peak the kernel reports varies with what it reclaimed before the
	// kill; what matters is that the limit held and the kill was counted.
	if m := run.Memory; m.OOMKills < 1 || m.MaxUsedMB == nil || *m.MaxUsedMB > 130 {
		t.Errorf("memory %+v: want an OOM kill with Max Memory Used at most the 128 MB limit", m)
	}
	d := findDiagnosis(t, r, "out-of-memory")
	if len(d.Checks) != 0 || len(d.FoundBy) != 0 || !strings.Contains(d.Detail, "Runtime.OutOfMemory") {
		t.Errorf("diagnosis %+v: want Runtime.OutOfMemory, linked to no check", d)
	}
	for _, k := range diagnosisKeys(r) {
		if k == "exited-during-invoke" {
			t.Errorf("the OOM kill is also diagnosed as a plain crash: %v", diagnosisKeys(r))
		}
	}
	if r.elapsed > 15*time.Second {
		t.Errorf("run took %s", r.elapsed)
	}
}

func writeEvent(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunShellRuntimeOnBusybox(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	r := runImage(t, context.Background(), shellImage(t, busyboxBootstrap, 0o755, functionSh), "--event", writeEvent(t, `{"name":"x"}`))
	run := r.doc.Run
	if r.code != ExitOK || run.Result != emulate.ResultSuccess {
		t.Fatalf("exit %d, result %q; run: %+v\nstderr: %s", r.code, run.Result, run, r.stderr)
	}
	var got string
	if err := json.Unmarshal(run.Response, &got); err != nil {
		t.Fatalf("response %s is not a string: %v", run.Response, err)
	}
	if got != `Echoing request: '{"name":"x"}'` {
		t.Errorf("response %q", got)
	}
	// function.sh echoes the event to stderr.
	if !slices.Contains(run.StderrTail, `{"name":"x"}`) {
		t.Errorf("stderr tail %q lacks the event", run.StderrTail)
	}
}

// The broken variants: each must fail for its own reason, named by the
// diagnosis and linked to the check that finds it statically.
func TestRunBrokenFunctions(t *testing.T) {
	requireSandbox(t)
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	if other == "" {
		t.Skipf("no cross architecture for %s", runtime.GOARCH)
	}
	tests := []struct {
		name    string
		img     func(t *testing.T) v1.Image
		args    []string
		result  string
		key     string
		check   string // in the diagnosis' checks
		foundBy string // also located by the static checks
	}{
		{
			name: "missing interpreter",
			img: func(t *testing.T) v1.Image {
				return shellImage(t, "#!/bin/bash\necho never\n", 0o755, functionSh)
			},
			result: emulate.ResultStartFailed, key: "bad-interpreter", check: "LD207", foundBy: "LD207",
		},
		{
			name: "binary for the other architecture",
			img: func(t *testing.T) v1.Image {
				return goImage(t, goFunction(t, other), 0o755)
			},
			result: emulate.ResultStartFailed, key: "exec-format-error", check: "LD301", foundBy: "LD301",
		},
		{
			name: "handler mode 0600",
			img: func(t *testing.T) v1.Image {
				return goImage(t, goFunction(t, runtime.GOARCH), 0o600)
			},
			result: emulate.ResultStartFailed, key: "exec-permission-denied", check: "LD203", foundBy: "LD203",
		},
		{
			name: "writes outside /tmp",
			img: func(t *testing.T) v1.Image {
				return goImage(t, goFunction(t, runtime.GOARCH), 0o755, "GOFN_MODE=erofs")
			},
			result: emulate.ResultExitedDuringInit, key: "read-only-filesystem", check: "LD502",
		},
		{
			name: "never calls next",
			img: func(t *testing.T) v1.Image {
				return shellImage(t, "#!/bin/sh\necho starting a server that is not a runtime\nexec sleep 600\n", 0o755, functionSh)
			},
			args:   []string{"--init-timeout", "1s"},
			result: emulate.ResultInitTimeout, key: "init-timeout", check: "LD401", foundBy: "LD401",
		},
		{
			name: "reports an init error",
			img: func(t *testing.T) v1.Image {
				return shellImage(t, `#!/bin/sh
wget -q -O /dev/null --header "Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError" \
  --post-data '{"errorMessage":"Unable to import module '\''function'\'': No module named '\''requests'\''","errorType":"Runtime.ImportModuleError"}' \
  "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error"
exit 1
`, 0o755, functionSh)
			},
			result: emulate.ResultInitError, key: "import-module-error", check: "LD402",
		},
		{
			name: "exits without calling next",
			img: func(t *testing.T) v1.Image {
				return shellImage(t, "#!/bin/sh\necho done\n", 0o755, functionSh)
			},
			result: emulate.ResultExitedDuringInit, key: "exited-without-next", check: "LD401",
		},
		{
			name: "handler error",
			img: func(t *testing.T) v1.Image {
				return shellImage(t, strings.Replace(busyboxBootstrap, "/response", "/error", 1), 0o755, functionSh)
			},
			result: emulate.ResultFunctionError,
		},
		{
			name: "handler hangs",
			img: func(t *testing.T) v1.Image {
				return shellImage(t, busyboxBootstrap, 0o755, "handler () {\n  sleep 600\n}\n")
			},
			args:   []string{"--timeout", "1s"},
			result: emulate.ResultInvokeTimeout, key: "invoke-timeout",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			img := tt.img(t)
			r := runImage(t, context.Background(), img, tt.args...)
			run := r.doc.Run
			if r.code != ExitFindings || run.Result != tt.result {
				t.Fatalf("exit %d, result %q; want 1 and %q\nrun: %+v\nstderr: %s", r.code, run.Result, tt.result, run, r.stderr)
			}
			if r.elapsed > 10*time.Second {
				t.Errorf("run took %s", r.elapsed)
			}
			if tt.key == "" {
				return
			}
			d := findDiagnosis(t, r, tt.key)
			if tt.check != "" && !slices.Contains(d.Checks, tt.check) {
				t.Errorf("diagnosis %s links %v, want %s", d.Key, d.Checks, tt.check)
			}
			if tt.foundBy != "" && !slices.Contains(d.FoundBy, tt.foundBy) {
				t.Errorf("diagnosis %s found by %v, want %s (static findings: %v)", d.Key, d.FoundBy, tt.foundBy, findingIDs(r.doc.Findings))
			}
		})
	}
}

func findingIDs(fs []report.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

// Interrupting run (Ctrl-C: the command's context ends) while the function
// hangs in init stops everything.
func TestRunInterruptedInProcess(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	img := shellImage(t, "#!/bin/sh\nexec sleep 600\n", 0o755, functionSh)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	r := runImage(t, ctx, img, "--init-timeout", "60s")
	if r.code != ExitLoad || r.doc.Run.Result != emulate.ResultInterrupted {
		t.Fatalf("exit %d, result %q; want 3 and interrupted", r.code, r.doc.Run.Result)
	}
	if r.elapsed > 6*time.Second {
		t.Errorf("interrupted run took %s to stop", r.elapsed)
	}
}

// SIGINT to the real binary while the handler hangs: the report is
// printed, and nothing is left behind.
func TestRunCtrlCBinary(t *testing.T) {
	requireSandbox(t)
	bin := filepath.Join(lambdoctorBin(t), "lambdoctor")
	isolate(t)
	ref := writeArchive(t, shellImage(t, busyboxBootstrap, 0o755, "handler () {\n  echo handling >&2\n  sleep 600\n}\n"))
	c := exec.Command(bin, "run", "--timeout", "60s", "--format", "json", ref)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	c.Dir = t.TempDir()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	// Wait until the function has the event in hand.
	deadline := time.Now().Add(15 * time.Second)
	for len(sandboxProcesses()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := c.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.Process.Kill()
		<-done
		t.Fatalf("lambdoctor run did not stop within 10s of SIGINT\nstderr: %s", errb.String())
	}
	if c.ProcessState.ExitCode() != ExitLoad {
		t.Errorf("exit %d after SIGINT, want %d\nstderr: %s", c.ProcessState.ExitCode(), ExitLoad, errb.String())
	}
	var doc emulate.Doc
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Run == nil {
		t.Fatalf("no JSON report after SIGINT (%v):\n%s\nstderr: %s", err, out.String(), errb.String())
	}
	if doc.Run.Result != emulate.ResultInterrupted || !slices.Contains(doc.Run.StderrTail, "handling") {
		t.Errorf("result %q, stderr %q: want interrupted, with the handler's output", doc.Run.Result, doc.Run.StderrTail)
	}
	t.Logf("stopped %s after SIGINT", time.Since(start))
}
