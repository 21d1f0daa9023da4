package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Supported returns nil when Start can run here, or why not. As root the
// sandbox is built directly; otherwise it runs in a user namespace of its
// own (see userns_linux.go), which needs unprivileged user namespaces,
// newuidmap and newgidmap, and a subordinate id range of the user.
func Supported() error {
	for _, ns := range []string{"mnt", "pid"} {
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
	// ProtectInit keeps the kernel's OOM killer off the init (the
	// function, not the reaper, must die when the sandbox runs out of
	// memory).
	ProtectInit bool
	// Userns is true when the init runs in the user namespace of the
	// unprivileged path: device nodes are bind-mounted from the host.
	Userns bool
}

// message is one JSON line the init writes on fd 4.
type message struct {
	Kind string `json:"kind"` // "exec", "exec-error", "exit", "setup-error"
	Path string `json:"path,omitempty"`
	// exec-error
	Op                string `json:"op,omitempty"`
	Errno             int    `json:"errno,omitempty"`
	Exists            bool   `json:"exists,omitempty"`
	Interpreter       string `json:"interpreter,omitempty"`
	InterpreterExists bool   `json:"interpreterExists,omitempty"`
	// exit
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"`
	// setup-error
	Msg string `json:"msg,omitempty"`
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

	// cg is the sandbox's memory cgroup (nil when unlimited); mem is what
	// Wait reports about memory.
	cg  *memCgroup
	mem *MemoryStats
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
	cfg := initConfig{Root: filepath.Clean(s.Root), Argv: s.Argv, Env: s.Env, Dir: s.Dir,
		UID: s.UID, GID: s.GID, TmpSizeMB: s.TmpSizeMB, ProtectInit: s.MemoryMB > 0,
		Userns: unprivileged()}
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
	blob, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgR.Close()
	statR, statW, err := os.Pipe()
	if err != nil {
		cfgW.Close()
		return nil, err
	}
	defer statW.Close()

	var cg *memCgroup
	var mem *MemoryStats
	if s.MemoryMB > 0 {
		limit := int64(s.MemoryMB) << 20
		mem = &MemoryStats{LimitBytes: limit}
		var err error
		if cg, err = newMemCgroup(limit); err != nil {
			mem.NotEnforced = err.Error()
		}
	}
	var cmd *exec.Cmd
	var sh *shim
	if us != nil {
		sh, err = us.startShim([]*os.File{cfgR, statW}, s.Stdout, s.Stderr)
		if sh != nil {
			cmd = sh.cmd
		}
	} else {
		cmd = initCommand(cfgR, statW, s.Stdout, s.Stderr)
		err = cmd.Start()
	}
	if err != nil {
		cfgW.Close()
		statR.Close()
		if cg != nil {
			cg.remove()
		}
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	// The init waits for its configuration (written below) before it sets
	// anything up or starts the function: move it (or the shim that starts
	// it) into the cgroup first, so the function and all it forks are
	// limited from their first instruction.
	if cg != nil {
		if err := cg.add(cmd.Process.Pid); err != nil {
			mem.NotEnforced = err.Error()
			cg.remove()
			cg = nil
		} else {
			mem.Cgroup = fmt.Sprintf("v%d", cg.version)
		}
	}
	if sh != nil {
		// Any failure shows as a setup error or an early exit of the shim.
		_ = sh.send(shimOp{Op: "start", Root: cfg.Root})
	}
	p := &Process{cmd: cmd, msgs: make(chan struct{}), exited: make(chan struct{}), cg: cg, mem: mem}
	go p.readStatus(statR)
	go func() {
		defer cfgW.Close()
		cfgW.Write(blob) // a failure shows as a setup error of the init
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
// or of the shim's user namespace).
func initCommand(cfgR, statW *os.File, stdout, stderr io.Writer) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"lambdoctor-sandbox-init"}
	cmd.Env = []string{initEnv + "=1"}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{cfgR, statW}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
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
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m message
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		p.mu.Lock()
		p.history = append(p.history, m)
		p.mu.Unlock()
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
			st := p.cg.stats()
			p.mem = &st
			cgErr = p.cg.remove()
		}
		close(p.exited)
		<-p.msgs
		p.info, p.err = p.result(werr)
		p.info.Memory = p.mem
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
	var exited bool
	for _, m := range p.history {
		switch m.Kind {
		case "exec":
			info.ExecPath = m.Path
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
