// Package sandbox materialises an image's merged root filesystem on disk and
// starts a program inside it the way AWS Lambda does: a private mount, PID,
// UTS and (unless asked otherwise) network namespace, a read-only root, an empty size-limited tmpfs /tmp, a fresh
// /proc, a minimal /dev, the sandbox user (uid 993, gid 990) whatever the
// image's USER says, and the working directory as cwd.
//
// Start re-executes the running binary as a small init (PID 1 of the new PID
// namespace) that sets the mounts up, drops privileges for the function,
// reaps orphans and reports back how the function's execve failed or how it
// exited. Every binary that calls Start must call MaybeInit first thing in
// main (and in TestMain for tests).
//
// Only Linux is supported; elsewhere Supported says why and Start fails.
package sandbox

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lambdoctor/lambdoctor/internal/bytesize"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// The sandbox identity of Lambda functions, whatever USER the image sets.
const (
	LambdaUID = lambda.UID
	LambdaGID = lambda.GID
)

// LambdaHostname is a hostname of the shape Lambda's execution
// environments report: a link-local IPv4 address, 169.254.x.y (x and y
// random, 1-254). This shape is what functions commonly print on Lambda;
// AWS does not document the hostname, so it is unconfirmed.
func LambdaHostname() string {
	b := make([]byte, 2)
	rand.Read(b)
	return fmt.Sprintf("169.254.%d.%d", 1+int(b[0])%254, 1+int(b[1])%254)
}

// initEnv is the environment marker that turns the binary into the
// sandbox's init (see MaybeInit).
const initEnv = "LAMBDOCTOR_SANDBOX_INIT"

// ErrUnsupported is returned (wrapped) by Start and Materialize where the
// sandbox cannot run; Supported explains why.
var ErrUnsupported = errors.New("sandbox not supported here")

// Spec describes the program to start.
type Spec struct {
	// Root is the materialised root filesystem (see Materialize). Start
	// creates the mount points /tmp, /proc and /dev in it when the image
	// lacks them, replacing non-directories there.
	Root string
	// Argv is ENTRYPOINT + CMD. Argv[0] is taken as is when it holds a
	// slash (relative to Dir when relative), otherwise looked up in the
	// PATH of Env inside Root.
	Argv []string
	// Env is the complete environment of the function.
	Env []string
	// Dir is the working directory inside Root ("/" when empty).
	Dir string
	// UID and GID the function runs as (LambdaUID and LambdaGID when both
	// are zero; supplementary groups are always cleared).
	UID, GID int
	// TmpSizeMB is the size of the /tmp tmpfs (512 when 0).
	TmpSizeMB int
	// MemoryMB is the function's memory size (no limit when 0). Start puts
	// the sandbox in a cgroup of its own limited to it, without swap (cgroup
	// v2 memory.max, else the v1 memory controller), so the kernel's OOM
	// killer kills the function when it uses more, as Lambda does. Where no
	// cgroup memory controller is usable the function runs unlimited and
	// ExitInfo.Memory says why. Callers also pass it to the function's
	// environment (AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
	MemoryMB int
	// MaxProcs limits the processes and threads of the sandbox (no limit
	// when 0): the pids controller of its cgroup (pids.max, v2 or v1), or,
	// where none is usable, RLIMIT_NPROC of the function's uid.
	// ExitInfo.Processes says which, and how often the limit was hit.
	MaxProcs int
	// HostNetwork shares the host's network namespace with the function (its
	// interfaces, and every service listening on its loopback). By default
	// the sandbox has a network namespace of its own with only a loopback
	// interface, up.
	HostNetwork bool
	// ForwardPort, without HostNetwork, is a TCP port the init listens on
	// at 127.0.0.1 inside the sandbox's network namespace: every connection
	// made to it is handed, as it is, to the host side, where
	// Process.Forwarded accepts it (0: none).
	ForwardPort int
	// Hostname is the sandbox's hostname, in a UTS namespace of its own
	// (LambdaHostname() when empty).
	Hostname string
	// Extensions are the external extensions to start before the function
	// (paths inside Root, in the order to start them: Lambda's order is
	// the name order of /opt/extensions). Each runs like the function (its
	// user, no stdin; its output goes to ExtStdout and ExtStderr) with no
	// arguments, in /, with the function's environment less
	// AWS_XRAY_CONTEXT_MISSING and the names starting with "_". With
	// extensions the function (the runtime) starts
	// only at Process.StartRuntime: Lambda starts it once the extensions
	// registered. Process.ExtensionEvents reports their starts and exits.
	Extensions []string
	// Stdout and Stderr receive the function's output (discarded when nil).
	// Its stdin is /dev/null.
	Stdout, Stderr io.Writer
	// ExtStdout and ExtStderr receive the extensions' output, a line per
	// Write (Stdout and Stderr when nil). The sandbox's init reads it from
	// pipes of its own, so that it is told from the function's.
	ExtStdout, ExtStderr io.Writer
}

// ExtensionEvent is a start, a failed start or an exit of an extension's
// process.
type ExtensionEvent struct {
	// Path is the extension's path inside the root.
	Path string
	// Kind is "start", "launch-error" (Err says why) or "exit" (Code and
	// Signal say how).
	Kind   string
	Err    *ExecError
	Code   int
	Signal string
}

// MaxProcsLambda is Lambda's limit on processes and threads per execution
// environment ("Processes and threads: 1,024",
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
const MaxProcsLambda = 1024

// ExitInfo says how the function ended.
type ExitInfo struct {
	// Code is the exit status, -1 when the process was killed by a signal
	// or never started.
	Code int
	// Signal names the signal that killed it ("SIGKILL", "SIGSEGV"), "" if
	// it exited.
	Signal string
	// Killed is true when the sandbox was stopped by Kill (or by the
	// context given to Start).
	Killed bool
	// ExecErr is why the function could not start (nil if its execve
	// succeeded): an *ExecError, errors.Is-comparable with the errno
	// (syscall.ENOENT, syscall.ENOEXEC, syscall.EACCES, ...).
	ExecErr error
	// ExecPath is the path inside the root the function was (or would
	// have been) executed from, after the PATH lookup.
	ExecPath string
	// Memory is what the memory cgroup saw; nil when Spec.MemoryMB was 0.
	Memory *MemoryStats
	// Processes is how the number of processes was limited and what the
	// limit saw; nil when Spec.MaxProcs was 0.
	Processes *ProcessStats
	// OOMScoreAdj is the function's oom_score_adj when it started: 0 as on
	// Lambda, or 1000 where the init could not lower its own below the
	// function's (no CAP_SYS_RESOURCE) and raised the function's instead.
	OOMScoreAdj int
	// InitDied is true when the sandbox's init (the function's parent) died
	// while the function ran, killed by something other than Kill: the
	// whole sandbox died with it. Signal is then the init's signal.
	InitDied bool
}

// ProcessStats describes the process limit of a sandbox and what it saw.
type ProcessStats struct {
	// Limit is Spec.MaxProcs.
	Limit int
	// Enforced says how: "cgroup v2 pids.max", "cgroup v1 pids.max" or
	// "RLIMIT_NPROC"; "" when not at all (NotEnforced says why).
	Enforced    string
	NotEnforced string
	// Peak is the most processes and threads the sandbox had at once (the
	// cgroup's pids.peak; 0 when unknown).
	Peak int
	// LimitHits counts the forks and clones refused because the cgroup's
	// limit was reached (pids.events "max"; 0 and unknown with
	// RLIMIT_NPROC).
	LimitHits int
}

// MemoryStats describes the memory limit of a sandbox and what it saw.
type MemoryStats struct {
	// Cgroup is "v2" or "v1" when the limit was enforced, "" when not
	// (NotEnforced says why).
	Cgroup      string
	NotEnforced string
	// LimitBytes is the limit applied (Spec.MemoryMB).
	LimitBytes int64
	// PeakBytes is the most memory the sandbox (the function, its
	// children and the small init) used at once, page cache and /tmp
	// (a tmpfs) included; 0 when unknown.
	PeakBytes int64
	// OOMKills counts the processes the kernel's OOM killer killed in the
	// sandbox because it reached the limit.
	OOMKills int
	// LimitHits counts how often usage hit the limit (memory.failcnt, or
	// the "max" of memory.events); reclaim may have avoided a kill.
	LimitHits int64
}

// ExecError is a start-time failure of the function: the working directory
// could not be entered, the program was not found in PATH, or execve
// failed.
type ExecError struct {
	// Op is "chdir" (the working directory), "lookup" (PATH search) or
	// "execve".
	Op string
	// Path is the directory or program inside the root.
	Path string
	// Err is the errno.
	Err error
	// Exists is true when Path exists in the root (as seen by root): an
	// ENOENT from execve then means its interpreter (shebang or ELF
	// PT_INTERP) is missing.
	Exists bool
	// Interpreter is, for an ENOENT from execve of an existing file, the
	// shebang line's interpreter or the ELF PT_INTERP of Path.
	Interpreter string
	// InterpreterExists tells whether Interpreter exists in the root.
	InterpreterExists bool
}

func (e *ExecError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Op, e.Path, e.Err)
	if e.Interpreter != "" && !e.InterpreterExists {
		msg += fmt.Sprintf(" (interpreter %q does not exist)", e.Interpreter)
	}
	return msg
}

func (e *ExecError) Unwrap() error { return e.Err }

// Skip is an entry Materialize did not write.
type Skip struct {
	Path   string
	Reason string
}

// Report says what Materialize wrote and skipped.
type Report struct {
	Files, Dirs, Symlinks, Hardlinks int
	Skipped                          []Skip
}

// NoMemoryError says why a tree cannot be unpacked into memory.
type NoMemoryError struct {
	Need int64
	// Reasons says, per candidate directory, why it was not taken.
	Reasons []string
}

func (e *NoMemoryError) Error() string {
	return fmt.Sprintf("no tmpfs can hold the %s tree: %s", bytesize.Decimal(e.Need), strings.Join(e.Reasons, "; "))
}
