package emulate

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/lambda"
	"github.com/lambdoctor/lambdoctor/report"
	"github.com/lambdoctor/lambdoctor/runtimeapi"
	"github.com/lambdoctor/lambdoctor/sandbox"
	"github.com/lambdoctor/lambdoctor/triage"
)

// maxTailLine bounds one kept output line.
const maxTailLine = 4096

// logMatch is an output line the triage table recognised.
type logMatch struct {
	stream  string
	text    string
	pattern *triage.Pattern
	subject string
}

// tailWriter keeps the last lines of a stream in a ring, bounded in lines
// and bytes, and classifies every complete line with the triage table (the
// first line of each kind is kept).
type tailWriter struct {
	stream string
	mu     sync.Mutex
	ring   []string
	next   int // where the next line goes in ring
	full   bool
	total  int
	cur    []byte // the incomplete last line (at most maxTailLine)
	cut    bool   // cur was cut at maxTailLine
	seen   map[string]bool
	found  []logMatch
}

func newTailWriter(stream string, lines int) *tailWriter {
	return &tailWriter{stream: stream, ring: make([]string, lines), seen: map[string]bool{}}
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxTailLine - len(t.cur); room < len(chunk) {
			t.cur = append(t.cur, chunk[:max(room, 0)]...)
			t.cut = true
		} else {
			t.cur = append(t.cur, chunk...)
		}
		if i < 0 {
			break
		}
		t.endLine()
		p = p[i+1:]
	}
	return n, nil
}

func (t *tailWriter) endLine() {
	line := strings.TrimRight(string(t.cur), "\r")
	if t.cut {
		line += "…"
	}
	t.cur, t.cut = t.cur[:0], false
	t.total++
	t.ring[t.next] = line
	t.next = (t.next + 1) % len(t.ring)
	if t.next == 0 {
		t.full = true
	}
	if p, subject := triage.Classify(line); p != nil && !p.Benign && !t.seen[p.Key] {
		t.seen[p.Key] = true
		t.found = append(t.found, logMatch{stream: t.stream, text: line, pattern: p, subject: subject})
	}
}

// tail returns the last lines (an unterminated last line included) and the
// number of lines written.
func (t *tailWriter) tail() ([]string, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.cur) > 0 {
		t.endLine()
	}
	var out []string
	if t.full {
		out = append(out, t.ring[t.next:]...)
	}
	out = append(out, t.ring[:t.next]...)
	if out == nil {
		out = []string{}
	}
	return out, t.total
}

func (t *tailWriter) matches() []logMatch {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.found)
}

// Diagnosis is one cause run names for what it saw.
type Diagnosis struct {
	// Key is a stable kebab-case name ("exec-format-error"); for causes
	// read from the output it is the triage pattern's key.
	Key     string `json:"key"`
	Failure string `json:"failure"`
	// Detail says what exactly happened here and how it is usually fixed.
	Detail string `json:"detail"`
	// Evidence is what shows it: the errno, the output line, the error
	// body.
	Evidence string `json:"evidence,omitempty"`
	// Checks are the IDs of the checks that detect this cause in an image.
	Checks []string `json:"checks"`
	// FoundBy are those of Checks whose static run on this image reported
	// a finding: the cause, located.
	FoundBy []string `json:"foundBy"`
}

// Diagnose names the causes of what the run saw: how the command failed to
// execute, how init or the invoke ended, and the output lines and error
// bodies the triage table recognises. Each cause is linked to the checks
// that explain it and to the static findings that located it.
func Diagnose(run *Outcome, fsys *imagefs.FS, static *report.Report) []Diagnosis {
	var ds []Diagnosis
	add := func(d Diagnosis) {
		for _, have := range ds {
			if have.Key == d.Key {
				return
			}
		}
		ds = append(ds, d)
	}
	// A fork storm first: what follows from it (a failed fork in the
	// output, an OOM kill) is its consequence.
	if d, ok := processLimitDiagnosis(run); ok {
		add(d)
	}
	if d, ok := startDiagnosis(run, fsys); ok {
		add(d)
	}
	if run.initDied {
		add(Diagnosis{Key: "sandbox-died", Failure: "the sandbox was killed under the function",
			Detail:   "the sandbox's init (the function's parent, PID 1 of its namespace) was killed from outside while the function ran, and the whole sandbox with it: by the host's OOM killer when the machine itself ran out of memory, or by another process. Nothing in the image shows this.",
			Evidence: "init: " + run.Exit.Signal, Checks: []string{}})
	}
	if run.Error != nil && (run.Result == ResultInitError || run.Result == ResultFunctionError) {
		for _, d := range bodyDiagnoses(run.Error) {
			add(d)
		}
		if run.Result == ResultInitError {
			add(Diagnosis{Key: "init-error", Failure: "the runtime reported an init error",
				Detail:   "the runtime started and called /runtime/init/error: it could not load the handler or its dependencies. The error body says why.",
				Evidence: errorEvidence(run.Error), Checks: []string{"LD402", "LD403"}})
		}
	}
	oom := run.Memory != nil && run.Memory.OOMKills > 0
	if oom {
		add(oomDiagnosis(run.Memory, run.Processes))
	}
	for _, m := range run.logMatches {
		add(Diagnosis{Key: m.pattern.Key, Failure: m.pattern.Failure, Detail: m.pattern.Explanation,
			Evidence: m.stream + ": " + termsafe.Clip(m.text, 240), Checks: slices.Clone(m.pattern.Checks)})
	}
	if d, ok := endDiagnosis(run, oom); ok {
		add(d)
	}
	return located(ds, static)
}

// startDiagnosis explains a command that could not be started.
func startDiagnosis(run *Outcome, fsys *imagefs.FS) (Diagnosis, bool) {
	switch {
	case run.execErr != nil:
		return execDiagnosis(run, fsys), true
	case run.Result == ResultStartFailed && run.Error != nil && len(run.Command) == 0:
		return Diagnosis{Key: "no-command", Failure: "there is no command to start", Detail: run.Error.Message,
			Checks: []string{"LD201"}}, true
	case run.Result == ResultStartFailed && run.Error != nil:
		// Not the image: the sandbox itself could not be set up.
		return Diagnosis{Key: "sandbox-failed", Failure: "the sandbox could not start the function",
			Detail:   "lambdoctor could not set up the sandbox on this machine (not a property of the image); the evidence says what failed.",
			Evidence: termsafe.Clip(run.Error.Message, 240), Checks: []string{}}, true
	}
	return Diagnosis{}, false
}

// endDiagnosis explains how init or the invoke ended: a timeout, or an
// exit (unless the OOM killer, already named, caused it).
func endDiagnosis(run *Outcome, oom bool) (Diagnosis, bool) {
	switch run.Result {
	case ResultInitTimeout:
		if run.failedExtension != "" {
			return Diagnosis{Key: "extension-init-timeout", Failure: "extension " + run.failedExtension + " did not finish its init within the init limit",
				Detail:   "Lambda starts the extensions of /opt/extensions before the runtime and waits, within the init limit, for each to call /extension/register and then /extension/event/next. This one never did: it is stuck in its own init, waits for something unreachable, or is not an extension at all (a program or library dropped in /opt/extensions). The function fails its init the same way on Lambda.",
				Evidence: run.Error.Message, Checks: []string{"LD504"}}, true
		}
		return Diagnosis{Key: "init-timeout", Failure: "init did not finish within the init limit",
			Detail:   "the process kept running but never called /runtime/invocation/next: nothing in the image talks to the Runtime API (a web server without the Lambda Web Adapter, a missing runtime interface client), or init is too slow (heavy imports, model loading). On Lambda, init is retried inside the first invoke with the function timeout, and fails the same way.",
			Evidence: run.Error.Message, Checks: []string{"LD401"}}, true
	case ResultExitedDuringInit:
		if oom {
			break
		}
		return Diagnosis{Key: "exited-without-next", Failure: "the process exited without calling /runtime/invocation/next",
			Detail:   "Lambda reports Runtime.ExitError (\"Runtime exited without providing a reason\" when it exits 0): the program ran and exited before taking an event. Either it is not a runtime (a script, a CLI, a missing runtime interface client), or it failed during init; its output says which.",
			Evidence: run.Error.Message, Checks: []string{"LD401", "LD304", "LD207"}}, true
	case ResultExitedDuringInvoke:
		if oom {
			break
		}
		d := Diagnosis{Key: "exited-during-invoke", Failure: "the process died with the event in hand",
			Detail: "the function crashed or exited while handling the event; Lambda reports Runtime.ExitError and starts a new environment for the next event.", Evidence: run.Error.Message, Checks: []string{}}
		if run.Exit != nil && run.Exit.Signal == "SIGKILL" && (run.Memory == nil || !run.Memory.Enforced) {
			d.Detail += " A SIGKILL is what the kernel's out-of-memory killer sends (Runtime.OutOfMemory); the memory limit was not enforced here, so this was not it."
		}
		return d, true
	case ResultExtensionFailed:
		return extensionDiagnosis(run), true
	case ResultInvokeTimeout:
		return Diagnosis{Key: "invoke-timeout", Failure: "the function did not answer within its timeout",
			Detail:   "the handler ran past the function timeout (or waits on something that never answers, such as a network call without a timeout). Raise --timeout, or look at what the handler waits for.",
			Evidence: run.Error.Message, Checks: []string{}}, true
	}
	return Diagnosis{}, false
}

// extensionDiagnosis explains an extension's failure, named after the
// emulator's error type: Extension.LaunchError, Extension.Crash,
// Extension.InitError, Extension.ExitError.
func extensionDiagnosis(run *Outcome) Diagnosis {
	name := run.failedExtension
	d := Diagnosis{Key: strings.ToLower(strings.ReplaceAll(run.Error.Type, ".", "-")), Evidence: run.Error.Message, Checks: []string{}}
	switch run.Error.Type {
	case runtimeapi.ErrorTypeExtensionLaunchError:
		d.Failure = "extension " + name + " could not be launched"
		d.Detail = "Lambda starts every file of /opt/extensions before the runtime; this one could not be executed (not executable by the sandbox user, a missing interpreter, the wrong architecture, or more than 10 extensions), so init fails with Extension.LaunchError and the runtime never starts."
		d.Checks = []string{"LD504", "LD301"}
	case runtimeapi.ErrorTypeExtensionInitError:
		d.Failure = "extension " + name + " reported an init error"
		d.Detail = "the extension called /extension/init/error: it could not initialise (a missing configuration or credential, usually); its output says why. Lambda fails init with Extension.InitError."
	case runtimeapi.ErrorTypeExtensionExitError:
		d.Failure = "extension " + name + " reported an exit error"
		d.Detail = "the extension called /extension/exit/error; Lambda fails the environment with Extension.ExitError. Its output says why."
	default:
		d.Failure = "extension " + name + " exited before the environment shut down"
		d.Detail = "an extension must register with /extension/register and then loop on /extension/event/next until SHUTDOWN; this one exited first (it crashed, or it is not an extension: a plain program or library dropped in /opt/extensions). Lambda reports Extension.Crash and the function fails with it. Its output says why; remove it from /opt/extensions if it is not an extension."
		d.Checks = []string{"LD504"}
	}
	return d
}

// located fills each diagnosis's FoundBy: its checks that have a finding
// (not suppressed) in the static report. Lists are never nil.
func located(ds []Diagnosis, static *report.Report) []Diagnosis {
	found := map[string]bool{}
	for _, f := range static.Findings {
		if !f.Suppressed {
			found[f.ID] = true
		}
	}
	for i := range ds {
		if ds[i].Checks == nil {
			ds[i].Checks = []string{}
		}
		ds[i].FoundBy = []string{}
		for _, id := range ds[i].Checks {
			if found[id] {
				ds[i].FoundBy = append(ds[i].FoundBy, id)
			}
		}
	}
	if ds == nil {
		ds = []Diagnosis{}
	}
	return ds
}

// forkFailure matches what programs print when fork or clone fails with
// EAGAIN: "can't fork: Resource temporarily unavailable" (sh), "fork:
// retry: Resource temporarily unavailable" (bash), "runtime: failed to
// create new OS thread" (Go), "pthread_create failed: Resource
// temporarily unavailable" (glibc users).
func forkFailure(line string) bool {
	l := strings.ToLower(line)
	return strings.Contains(l, "failed to create new os thread") ||
		strings.Contains(l, "resource temporarily unavailable") && (strings.Contains(l, "fork") ||
			strings.Contains(l, "thread") || strings.Contains(l, "clone") || strings.Contains(l, "spawn"))
}

// processLimitDiagnosis names Lambda's limit of processes and threads when
// the function ran into it: the pids cgroup counted refused forks, or
// (under RLIMIT_NPROC, which counts nothing) the output shows a fork that
// failed for want of resources.
func processLimitDiagnosis(run *Outcome) (Diagnosis, bool) {
	p := run.Processes
	if p == nil {
		return Diagnosis{}, false
	}
	var evidence string
	if p.LimitHits > 0 {
		evidence = fmt.Sprintf("%s: %d %s refused at the limit of %d", p.Enforced, p.LimitHits,
			plural(p.LimitHits, "fork", "forks"), p.Limit)
		if p.Peak != nil {
			evidence += fmt.Sprintf(" (peak %d processes and threads)", *p.Peak)
		}
	} else if p.Enforced == "RLIMIT_NPROC" {
		for _, line := range append(slices.Clone(run.StderrTail), run.StdoutTail...) {
			if forkFailure(line) {
				evidence = fmt.Sprintf("RLIMIT_NPROC %d; output: %s", p.Limit, termsafe.Clip(line, 200))
				break
			}
		}
	}
	if evidence == "" {
		return Diagnosis{}, false
	}
	return Diagnosis{Key: "process-limit", Failure: fmt.Sprintf("the function reached Lambda's limit of %d processes and threads", p.Limit),
		Detail:   fmt.Sprintf("Lambda allows %d processes and threads per execution environment (\"Processes and threads: 1,024\", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); past it fork and thread creation fail with EAGAIN (\"Resource temporarily unavailable\"). A fork storm, a runaway worker pool, or a thread per task without a bound does this: bound the pool (multiprocessing processes=, GOMAXPROCS, UV_THREADPOOL_SIZE, an executor's max workers) and reap children. Nothing in the image shows this.", p.Limit),
		Evidence: evidence, Checks: []string{}}, true
}

// oomDiagnosis explains an OOM kill in the sandbox's memory cgroup. No
// check can see it in an image.
func oomDiagnosis(m *Memory, procs *Processes) Diagnosis {
	evidence := fmt.Sprintf("memory cgroup %s: %d OOM %s at the %d MB limit", m.Cgroup, m.OOMKills,
		plural(m.OOMKills, "kill", "kills"), m.SizeMB)
	if m.MaxUsedMB != nil {
		evidence += fmt.Sprintf(", Max Memory Used: %d MB", *m.MaxUsedMB)
	}
	if p := procs; p != nil && p.Peak != nil && *p.Peak >= p.Limit/4 {
		evidence += fmt.Sprintf(", with %d processes and threads at the peak", *p.Peak)
	}
	return Diagnosis{Key: "out-of-memory", Failure: "the function ran out of memory",
		Detail:   fmt.Sprintf("the function used more than its memory size of %d MB and the kernel's OOM killer killed it, as on Lambda, which reports Runtime.OutOfMemory (%q), often with Max Memory Used equal to Memory Size. Raise the function's MemorySize (--memory here) or make it use less (stream instead of buffering, free caches, lower a runtime heap limit such as NODE_OPTIONS=--max-old-space-size or JAVA_TOOL_OPTIONS=-Xmx below the memory size). Nothing in the image shows this.", m.SizeMB, OOMMessage),
		Evidence: evidence, Checks: []string{}}
}

func errorEvidence(e *RunError) string {
	s := e.Type
	if e.Message != "" {
		s += ": " + e.Message
	}
	return termsafe.Clip(s, 240)
}

// bodyDiagnoses classifies an error the runtime posted: its type and
// message, line by line.
func bodyDiagnoses(e *RunError) []Diagnosis {
	var ds []Diagnosis
	text := e.Type + ": " + e.Message
	for _, line := range strings.Split(text, "\n") {
		p, _ := triage.Classify(line)
		if p == nil || p.Benign {
			continue
		}
		ds = append(ds, Diagnosis{Key: p.Key, Failure: p.Failure, Detail: p.Explanation,
			Evidence: e.Phase + " error: " + termsafe.Clip(strings.TrimSpace(line), 240), Checks: slices.Clone(p.Checks)})
	}
	return ds
}

// execDiagnosis explains why the command could not be executed, from the
// errno and what the image holds at the path.
func execDiagnosis(run *Outcome, fsys *imagefs.FS) Diagnosis {
	err := run.execErr
	var ee *sandbox.ExecError
	op, p := "execve", run.Exit.ExecPath
	exists, interp, interpExists := true, "", true
	if errors.As(err, &ee) {
		op, exists, interp, interpExists = ee.Op, ee.Exists, ee.Interpreter, ee.InterpreterExists
		if ee.Path != "" {
			p = ee.Path
		}
	}
	evidence := err.Error()
	var head []byte
	var entry *imagefs.Entry
	if p != "" && op != "chdir" {
		if r := fsys.Resolve(p); r.Err == nil && r.Entry != nil {
			entry = r.Entry
			head = fsys.Head(r.Final)
		}
	}
	format := analyze.SniffFormat(head)
	switch {
	case op == "chdir":
		return Diagnosis{Key: "invalid-working-dir", Failure: "the working directory cannot be entered",
			Detail:   fmt.Sprintf("WORKDIR %s does not exist or is not searchable by the sandbox user; Docker creates a missing working directory, Lambda does not (Runtime.InvalidWorkingDir).", p),
			Evidence: evidence, Checks: []string{"LD206", "LD501"}}
	case errors.Is(err, syscall.ENOENT) && (!exists || op == "lookup"):
		return Diagnosis{Key: "exec-not-found", Failure: "the command does not exist",
			Detail:   fmt.Sprintf("%s is not in the image (or is a dangling symlink, or not on PATH): Lambda fails with IMAGE Launch error: fork/exec %s: no such file or directory (Runtime.InvalidEntrypoint).", p, p),
			Evidence: evidence, Checks: []string{"LD202", "LD201"}}
	case errors.Is(err, syscall.ENOENT) && interp != "" && interpExists:
		return Diagnosis{Key: "interpreter-cannot-start", Failure: "the program's interpreter exists but cannot start",
			Detail:   fmt.Sprintf("%s exists and so does its interpreter %s, yet the kernel reports no such file or directory: the interpreter's own loader or interpreter is missing (a chain of #! lines, or a dynamically linked interpreter without its libc).", p, interp),
			Evidence: evidence, Checks: []string{"LD303", "LD207"}}
	case errors.Is(err, syscall.ENOENT) && strings.HasSuffix(interp, "\r"):
		return Diagnosis{Key: "shebang-crlf", Failure: "the script's #! line ends in CRLF",
			Detail:   fmt.Sprintf("%s exists, but its #! line was saved with Windows line endings, so the interpreter's name ends in \\r and no such file exists. Convert it to LF.", p),
			Evidence: evidence, Checks: []string{"LD208", "LD207"}}
	case errors.Is(err, syscall.ENOENT) && (format == analyze.FormatScript || interp != "" && !strings.Contains(path.Base(interp), "ld-")):
		return Diagnosis{Key: "bad-interpreter", Failure: "the script's #! interpreter does not exist",
			Detail:   fmt.Sprintf("%s exists, but the kernel reports no such file or directory because its interpreter %s is not in the image (e.g. #!/bin/bash on Alpine or busybox).", p, orUnknown(interp)),
			Evidence: evidence, Checks: []string{"LD207", "LD208"}}
	case errors.Is(err, syscall.ENOENT):
		return Diagnosis{Key: "elf-interpreter-missing", Failure: "the program's ELF loader does not exist",
			Detail:   fmt.Sprintf("%s exists, but the kernel reports no such file or directory because its dynamic loader (PT_INTERP %s) is not in the image: a glibc binary on Alpine or scratch, or the reverse. Build it statically (CGO_ENABLED=0) or for the image's libc.", p, orUnknown(interp)),
			Evidence: evidence, Checks: []string{"LD303", "LD207"}}
	case errors.Is(err, syscall.ENOEXEC):
		d := Diagnosis{Key: "exec-format-error", Failure: "the command is not a program this machine can execute",
			Evidence: evidence, Checks: []string{"LD301", "LD302", "LD102", "LD207"}}
		switch format {
		case analyze.FormatELF:
			if info, perr := analyze.ParseELF(head); perr == nil {
				d.Detail = fmt.Sprintf("%s is %s, which the kernel refuses here (exec format error): build it for the function's architecture (GOARCH, --platform linux/amd64 or linux/arm64) and set Architectures to match.", p, info.Describe())
				d.Checks = []string{"LD301", "LD102"}
			}
		case analyze.FormatMachO, analyze.FormatPE, analyze.FormatZip:
			d.Detail = fmt.Sprintf("%s is a %s file, not a Linux program.", p, format)
			d.Checks = []string{"LD302"}
		case analyze.FormatUnknown:
			d.Detail = fmt.Sprintf("%s is neither an ELF program nor a script with a #! line (a script without #! cannot be executed directly).", p)
			d.Checks = []string{"LD302", "LD207"}
		}
		if d.Detail == "" {
			d.Detail = fmt.Sprintf("the kernel refused to execute %s: a binary for another architecture, a non-Linux binary, or a script without #!.", p)
		}
		return d
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		what := p
		if entry != nil {
			what = fmt.Sprintf("%s (%s, owner %d:%d)", p, analyze.ModeString(entry), entry.UID, entry.GID)
		}
		return Diagnosis{Key: "exec-permission-denied", Failure: "the sandbox user cannot execute the command",
			Detail:   fmt.Sprintf("Lambda runs the function as uid %d gid %d, which owns nothing in the image, so only the \"other\" bits count: %s needs o+rx and every directory above it o+x (COPY --chmod=755). A directory, or a file on a noexec mount, fails the same way.", lambda.UID, lambda.GID, what),
			Evidence: evidence, Checks: []string{"LD203", "LD501"}}
	}
	return Diagnosis{Key: "exec-failed", Failure: "the command could not be executed",
		Detail: fmt.Sprintf("executing %s failed: %v.", p, err), Evidence: evidence, Checks: []string{"LD202", "LD203"}}
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
