package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Supported returns nil when Start can run here, or why not. As root the
// sandbox is built directly; otherwise it runs in a user namespace of its
// own (see userns_linux.go), which needs unprivileged user namespaces,
// newuidmap and newgidmap, and a subordinate id range of the user.
func Supported() error {
	for _, ns := range []string{"mnt", "pid", "uts", "net"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			return fmt.Errorf("%w: the kernel has no %s namespaces (%v)", ErrUnsupported, ns, err)
		}
	}
	if unprivileged() {
		_, err := checkUserns()
		return err
	}
	return nil
}

// initConfig is what Start sends the init on fd 3.
type initConfig struct {
	Root      string
	Argv      []string
	Env       []string
	Dir       string
	UID, GID  int
	TmpSizeMB int
	// Userns is true when the init runs in the user namespace of the
	// unprivileged path: device nodes are bind-mounted from the host.
	Userns bool
	// Hostname is set in the init's UTS namespace.
	Hostname string
	// OwnNetwork is true when the init is in a network namespace of its
	// own: it brings the loopback interface up, and listens on
	// 127.0.0.1:ForwardPort (when not 0) for the host (forward_linux.go).
	OwnNetwork  bool
	ForwardPort int
	// Extensions are started first; the runtime then waits for the
	// start byte (startRuntimeByte) on the configuration pipe.
	Extensions []string `json:",omitempty"`
	// NprocLimit, when not 0, is the RLIMIT_NPROC the function gets (where
	// no pids cgroup limits the sandbox).
	NprocLimit int
}

// message is one JSON line the init writes on fd 4.
type message struct {
	// "exec", "exec-error", "exit", "setup-error"; for extensions
	// "ext-start", "ext-error" (as exec-error), "ext-exit" (as exit) and
	// "ext-out" (a line of output)
	Kind string `json:"kind"`
	Path string `json:"path,omitempty"`
	// exec: the function's oom_score_adj
	OOMScoreAdj int `json:"oomScoreAdj,omitempty"`
	// exec-error
	Op                string `json:"op,omitempty"`
	Errno             int    `json:"errno,omitempty"`
	Exists            bool   `json:"exists,omitempty"`
	Interpreter       string `json:"interpreter,omitempty"`
	InterpreterExists bool   `json:"interpreterExists,omitempty"`
	// exit
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"`
	// setup-error; ext-out: the line
	Msg string `json:"msg,omitempty"`
	// ext-out: "stdout" or "stderr"
	Stream string `json:"stream,omitempty"`
}

// Process is a function started in a sandbox.
type Process struct {
	cmd      *exec.Cmd
	msgs     chan struct{} // closed when the status pipe is drained
	exited   chan struct{} // closed when Wait's cmd.Wait returned
	waitOnce sync.Once
	info     ExitInfo
	err      error

	mu      sync.Mutex
	killed  bool
	history []message

	// cg is the sandbox's cgroup (nil when unlimited); mem and procs are
	// what Wait reports about memory and processes.
	cg    *runCgroup
	mem   *MemoryStats
	procs *ProcessStats
	// fwd accepts the connections made to Spec.ForwardPort (nil without);
	// dialer connects to ports inside the sandbox (with fwd).
	fwd    *forwardListener
	dialer *sandboxDialer

	// With extensions: cfgW stays open for StartRuntime and
	// TerminateRuntime once cfgSent is closed; extEvents carries
	// ExtensionEvents; extOut and extErr get the extensions' output.
	cfgW           *os.File
	cfgSent        chan struct{}
	runtimeStarted bool
	extEvents      chan ExtensionEvent
	extOut, extErr io.Writer
	// runtimeExited is closed when the function (the runtime) exited.
	runtimeExited     chan struct{}
	runtimeExitedOnce sync.Once
}

// RuntimeExited is closed once the function (the runtime) exited: with
// extensions after TerminateRuntime, before the sandbox ends.
func (p *Process) RuntimeExited() <-chan struct{} { return p.runtimeExited }

// TerminateRuntime sends SIGTERM to the runtime of a sandbox with
// extensions, as Lambda's shutdown does; once it exits, the extensions
// live on until they exit or Kill.
func (p *Process) TerminateRuntime() error {
	return p.command(terminateRuntimeByte, "terminating the runtime")
}

// KillRuntime sends SIGKILL to a runtime TerminateRuntime did not end.
func (p *Process) KillRuntime() error {
	return p.command(killRuntimeByte, "killing the runtime")
}

func (p *Process) command(b byte, what string) error {
	if p.cfgSent == nil {
		return errors.New(what + ": the sandbox has no extensions")
	}
	<-p.cfgSent
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfgW == nil || !p.runtimeStarted {
		return errors.New(what + ": not started, or the sandbox is gone")
	}
	if _, err := p.cfgW.Write([]byte{b}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ExtensionEvents delivers the starts and exits of Spec.Extensions, in
// order; it is closed when the sandbox is gone (nil without extensions).
func (p *Process) ExtensionEvents() <-chan ExtensionEvent { return p.extEvents }

// StartRuntime starts the function of a sandbox with Spec.Extensions (the
// others start it at once). It may be called once.
func (p *Process) StartRuntime() error {
	if p.cfgSent == nil {
		return errors.New("starting the runtime: the sandbox has no extensions, its runtime started with it")
	}
	<-p.cfgSent
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfgW == nil || p.runtimeStarted {
		return errors.New("starting the runtime: already started, or the sandbox is gone")
	}
	if _, err := p.cfgW.Write([]byte{startRuntimeByte}); err != nil {
		return fmt.Errorf("starting the runtime: %w", err)
	}
	p.runtimeStarted = true
	return nil
}

func (p *Process) closeCfg() {
	if p.cfgSent == nil {
		return
	}
	<-p.cfgSent
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfgW != nil {
		p.cfgW.Close()
		p.cfgW = nil
	}
}

// Forwarded accepts the connections the function makes to
// 127.0.0.1:Spec.ForwardPort in its network namespace (nil when the
// sandbox has none: HostNetwork, or no ForwardPort). Its Accept fails once
// the sandbox is gone; Wait closes it.
func (p *Process) Forwarded() net.Listener {
	if p.fwd == nil {
		return nil
	}
	return p.fwd
}

// Dial connects to 127.0.0.1:port in the sandbox's network namespace,
// where its processes listen (an extension's Telemetry API listener, for
// one): the sandbox's init makes the connection and hands it over. Without
// a namespace of its own (HostNetwork) the port is the host's. It fails
// once the sandbox is gone.
func (p *Process) Dial(ctx context.Context, port int) (net.Conn, error) {
	if p.dialer == nil {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	return p.dialer.dial(ctx, port)
}

// Pid is the host PID of the sandbox's init, the function's parent (without
// root: of the shim that started the init in its user namespace).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Start starts s.Argv inside s.Root like Lambda (see the package
// documentation). A function that cannot be executed is not an error of
// Start: Wait reports it in ExitInfo.ExecErr. When ctx is done the sandbox
// is killed.
func Start(ctx context.Context, s Spec) (*Process, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return nil, errors.New("starting the sandbox: no command (ENTRYPOINT and CMD are empty)")
	}
	if !filepath.IsAbs(s.Root) {
		return nil, fmt.Errorf("starting the sandbox: root %q is not absolute", s.Root)
	}
	if fi, err := os.Lstat(s.Root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("starting the sandbox: root %s is not a directory", s.Root)
	}
	if s.ForwardPort < 0 || s.ForwardPort > 65535 {
		return nil, fmt.Errorf("starting the sandbox: forwarded port %d is not a TCP port", s.ForwardPort)
	}
	cfg := initConfig{Root: filepath.Clean(s.Root), Argv: s.Argv, Env: s.Env, Dir: s.Dir,
		UID: s.UID, GID: s.GID, TmpSizeMB: s.TmpSizeMB, Userns: unprivileged(),
		Hostname: s.Hostname, OwnNetwork: !s.HostNetwork, Extensions: s.Extensions}
	if cfg.Hostname == "" {
		cfg.Hostname = LambdaHostname()
	}
	if cfg.OwnNetwork {
		cfg.ForwardPort = s.ForwardPort
	}
	if cfg.Dir == "" {
		cfg.Dir = "/"
	}
	if cfg.UID == 0 && cfg.GID == 0 {
		cfg.UID, cfg.GID = LambdaUID, LambdaGID
	}
	if cfg.TmpSizeMB <= 0 {
		cfg.TmpSizeMB = 512
	}
	var us *usernsSetup
	if cfg.Userns {
		// The shim creates the mount points, as root of its namespace.
		var err error
		if us, err = checkUserns(); err != nil {
			return nil, err
		}
	} else if err := mountPoints(cfg.Root); err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	var cg *runCgroup
	var mem *MemoryStats
	var procs *ProcessStats
	if s.MemoryMB > 0 || s.MaxProcs > 0 {
		limit := int64(s.MemoryMB) << 20
		var memErr, pidsErr error
		cg, memErr, pidsErr = newRunCgroup(limit, s.MaxProcs)
		if s.MemoryMB > 0 {
			mem = &MemoryStats{LimitBytes: limit}
			if memErr != nil {
				mem.NotEnforced = memErr.Error()
			}
		}
		if s.MaxProcs > 0 {
			procs = &ProcessStats{Limit: s.MaxProcs}
			if pidsErr != nil {
				// RLIMIT_NPROC counts every process of the function's uid
				// on the machine (in its user namespace): a fallback only.
				cfg.NprocLimit = s.MaxProcs
				procs.Enforced = "RLIMIT_NPROC"
				procs.NotEnforced = "no pids cgroup: " + pidsErr.Error()
			}
		}
	}
	cleanupCg := func() {
		if cg != nil {
			cg.remove()
		}
	}
	blob, err := json.Marshal(cfg)
	if err != nil {
		cleanupCg()
		return nil, err
	}
	var fwdHost, fwdInit, dialHost, dialInit *os.File
	if cfg.ForwardPort > 0 {
		if fwdHost, fwdInit, err = newForwardPair(); err != nil {
			cleanupCg()
			return nil, err
		}
		defer fwdInit.Close()
		if dialHost, dialInit, err = newForwardPair(); err != nil {
			fwdHost.Close()
			cleanupCg()
			return nil, err
		}
		defer dialInit.Close()
	}
	closeFwd := func() {
		if fwdHost != nil {
			fwdHost.Close()
			dialHost.Close()
		}
	}

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		cleanupCg()
		closeFwd()
		return nil, err
	}
	defer cfgR.Close()
	statR, statW, err := os.Pipe()
	if err != nil {
		cfgW.Close()
		cleanupCg()
		closeFwd()
		return nil, err
	}
	defer statW.Close()

	var cmd *exec.Cmd
	var sh *shim
	if us != nil {
		extra := []*os.File{cfgR, statW}
		if fwdInit != nil {
			extra = append(extra, fwdInit, dialInit)
		}
		sh, err = us.startShim(extra, s.Stdout, s.Stderr)
		if sh != nil {
			cmd = sh.cmd
		}
	} else {
		cmd = initCommand(cfgR, statW, fwdInit, dialInit, cfg.OwnNetwork, s.Stdout, s.Stderr)
		err = cmd.Start()
	}
	if err != nil {
		cfgW.Close()
		statR.Close()
		cleanupCg()
		closeFwd()
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	// The init waits for its configuration (written below) before it sets
	// anything up or starts the function: move it (or the shim that starts
	// it) into the cgroup first, so the function and all it forks are
	// limited from their first instruction.
	if cg != nil {
		if err := cg.add(cmd.Process.Pid); err != nil {
			cg.remove()
			if cg.mem != nil {
				mem.NotEnforced = err.Error()
			}
			if cg.pids != nil {
				cfg.NprocLimit = s.MaxProcs
				procs.Enforced, procs.NotEnforced = "RLIMIT_NPROC", "no pids cgroup: "+err.Error()
				if blob, err = json.Marshal(cfg); err != nil {
					cmd.Process.Kill()
					cmd.Wait()
					closeFwd()
					return nil, err
				}
			}
			cg = nil
		} else {
			if cg.mem != nil {
				mem.Cgroup = fmt.Sprintf("v%d", cg.mem.version)
			}
			if cg.pids != nil {
				procs.Enforced = fmt.Sprintf("cgroup v%d pids.max", cg.pids.version)
			}
		}
	}
	if sh != nil {
		// Any failure shows as a setup error or an early exit of the shim.
		_ = sh.send(shimOp{Op: "start", Root: cfg.Root, OwnNetwork: cfg.OwnNetwork, Forward: fwdInit != nil})
	}
	p := &Process{cmd: cmd, msgs: make(chan struct{}), exited: make(chan struct{}), cg: cg, mem: mem, procs: procs,
		runtimeExited: make(chan struct{}), extOut: s.ExtStdout, extErr: s.ExtStderr}
	if p.extOut == nil {
		p.extOut = s.Stdout
	}
	if p.extErr == nil {
		p.extErr = s.Stderr
	}
	if fwdHost != nil {
		if p.fwd, err = newForwardListener(fwdHost, cfg.ForwardPort); err == nil {
			p.dialer, err = newSandboxDialer(dialHost)
		} else {
			dialHost.Close()
		}
		if err != nil {
			if p.fwd != nil {
				p.fwd.Close()
			}
			cmd.Process.Kill()
			cmd.Wait()
			cfgW.Close()
			statR.Close()
			cleanupCg()
			return nil, fmt.Errorf("starting the sandbox: %w", err)
		}
	}
	if len(cfg.Extensions) > 0 {
		p.cfgW, p.cfgSent = cfgW, make(chan struct{})
		p.extEvents = make(chan ExtensionEvent, 2*len(cfg.Extensions))
	}
	go p.readStatus(statR)
	go func() {
		// A failure shows as a setup error of the init.
		cfgW.Write(append(blob, '\n'))
		if p.cfgSent == nil {
			cfgW.Close()
		} else {
			close(p.cfgSent)
		}
	}()
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				p.Kill()
			case <-p.exited:
			}
		}()
	}
	return p, nil
}

// initCommand is the sandbox's init, to be started by root (of the host
// or of the shim's user namespace), with the forwarding socket (nil
// without) and in a network namespace of its own when ownNet.
func initCommand(cfgR, statW, fwd, dial *os.File, ownNet bool, stdout, stderr io.Writer) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"lambdoctor-sandbox-init"}
	cmd.Env = []string{initEnv + "=1"}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{cfgR, statW}
	if fwd != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, fwd, dial)
	}
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS)
	if ownNet {
		flags |= syscall.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: flags,
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	// The function's stdout and stderr close when the PID namespace dies;
	// never hang on them longer than this after the init exits.
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// mountPoints makes sure root/tmp, root/proc and root/dev are real
// directories (Lambda mounts over them whatever the image holds there).
func mountPoints(root string) error {
	for _, name := range []string{"tmp", "proc", "dev"} {
		p := filepath.Join(root, name)
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("replacing /%s: %w", name, err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return err
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("creating mount point /%s: %w", name, err)
		}
	}
	return nil
}

func (p *Process) readStatus(r *os.File) {
	defer close(p.msgs)
	defer r.Close()
	if p.extEvents != nil {
		defer close(p.extEvents)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m message
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		switch m.Kind {
		case "ext-out":
			w := p.extOut
			if m.Stream == "stderr" {
				w = p.extErr
			}
			if w != nil {
				w.Write([]byte(m.Msg + "\n"))
			}
			continue
		case "exit":
			p.runtimeExitedOnce.Do(func() { close(p.runtimeExited) })
		}
		p.mu.Lock()
		p.history = append(p.history, m)
		p.mu.Unlock()
		if p.extEvents == nil {
			continue
		}
		ev := ExtensionEvent{Path: m.Path}
		switch m.Kind {
		case "ext-start":
			ev.Kind = "start"
		case "ext-error":
			ev.Kind = "launch-error"
			ev.Err = &ExecError{Op: m.Op, Path: m.Path, Err: syscall.Errno(m.Errno),
				Exists: m.Exists, Interpreter: m.Interpreter, InterpreterExists: m.InterpreterExists}
		case "ext-exit":
			ev.Kind, ev.Code, ev.Signal = "exit", m.Code, m.Signal
		default:
			continue
		}
		select { // two events per extension at most: never blocks
		case p.extEvents <- ev:
		default:
		}
	}
	io.Copy(io.Discard, r)
}

// Kill stops the whole sandbox: the init is killed, and the kernel kills
// every process of its PID namespace with it. Mounts vanish with the
// namespace. Kill may be called at any time, more than once.
func (p *Process) Kill() error {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	err := p.cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// Wait waits for the function (and the sandbox) to end and says how it
// did. The error is non-nil only when the sandbox itself failed (its
// mounts could not be set up, or its init died unexpectedly); a function
// that could not be executed, exited non-zero or was killed is described
// by ExitInfo. Wait may be called more than once.
func (p *Process) Wait() (ExitInfo, error) {
	p.waitOnce.Do(func() {
		werr := p.cmd.Wait()
		// The init is gone, and with it every process of its PID
		// namespace: the cgroup is empty.
		var cgErr error
		if p.cg != nil {
			if p.cg.mem != nil {
				st := p.cg.memStats()
				p.mem = &st
			}
			if p.cg.pids != nil {
				st := p.cg.procStats()
				p.procs = &st
			}
			cgErr = p.cg.remove()
		}
		if p.fwd != nil {
			p.fwd.Close()
			p.dialer.close()
		}
		p.closeCfg()
		p.runtimeExitedOnce.Do(func() { close(p.runtimeExited) })
		close(p.exited)
		<-p.msgs
		p.info, p.err = p.result(werr)
		p.info.Memory = p.mem
		p.info.Processes = p.procs
		if cgErr != nil && p.err == nil {
			p.err = cgErr
		}
	})
	return p.info, p.err
}

func (p *Process) result(werr error) (ExitInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	info := ExitInfo{Code: -1, Killed: p.killed}
	var exited, started bool
	for _, m := range p.history {
		switch m.Kind {
		case "exec":
			info.ExecPath = m.Path
			info.OOMScoreAdj = m.OOMScoreAdj
			started = true
		case "exec-error":
			info.ExecPath = m.Path
			info.ExecErr = &ExecError{Op: m.Op, Path: m.Path, Err: syscall.Errno(m.Errno),
				Exists: m.Exists, Interpreter: m.Interpreter, InterpreterExists: m.InterpreterExists}
			return info, nil
		case "exit":
			info.Code, info.Signal, exited = m.Code, m.Signal, true
		case "setup-error":
			return info, fmt.Errorf("setting up the sandbox: %s", m.Msg)
		}
	}
	if exited {
		return info, nil
	}
	// The init died before the function ended: killed by Kill (or by
	// Ctrl-C), or crashed.
	if ps := p.cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			info.Signal = signalName(ws.Signal())
		}
	}
	if info.Killed {
		if info.Signal == "" {
			info.Signal = "SIGKILL"
		}
		return info, nil
	}
	if started && info.Signal != "" {
		// The function ran, and its sandbox died under it: the kernel
		// (the OOM killer of the host) or someone else killed the init.
		info.InitDied = true
		return info, nil
	}
	if werr == nil {
		werr = errors.New("exited without a status")
	}
	return info, fmt.Errorf("sandbox init: %w", werr)
}

// signalName is "SIGKILL" for syscall.SIGKILL.
func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGABRT: "SIGABRT", syscall.SIGALRM: "SIGALRM", syscall.SIGBUS: "SIGBUS",
	syscall.SIGFPE: "SIGFPE", syscall.SIGHUP: "SIGHUP", syscall.SIGILL: "SIGILL",
	syscall.SIGINT: "SIGINT", syscall.SIGKILL: "SIGKILL", syscall.SIGPIPE: "SIGPIPE",
	syscall.SIGQUIT: "SIGQUIT", syscall.SIGSEGV: "SIGSEGV", syscall.SIGSYS: "SIGSYS",
	syscall.SIGTERM: "SIGTERM", syscall.SIGTRAP: "SIGTRAP", syscall.SIGUSR1: "SIGUSR1",
	syscall.SIGUSR2: "SIGUSR2", syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
}
