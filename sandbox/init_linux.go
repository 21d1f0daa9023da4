package sandbox

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/lambdoctor/lambdoctor/lambda"
)

// MaybeInit turns the process into the sandbox's init when Start launched
// it (and returns otherwise). Call it first thing in main, and in TestMain
// of tests that call Start.
func MaybeInit() {
	maybeShim()
	if os.Getenv(initEnv) != "1" {
		return
	}
	os.Unsetenv(initEnv)
	if os.Getpid() != 1 {
		// Not started by Start (which makes it PID 1 of a new namespace):
		// the variable leaked from the user's environment.
		return
	}
	os.Exit(runInit())
}

// Descriptors Start hands the init.
const (
	configFD = 3
	statusFD = 4
)

// runInit is the init's main.
func runInit() int {
	syscall.CloseOnExec(configFD)
	syscall.CloseOnExec(statusFD)
	status := os.NewFile(statusFD, "status")
	var sendMu sync.Mutex // the extensions' output is sent from goroutines
	send := func(m message) {
		b, _ := json.Marshal(m)
		sendMu.Lock()
		defer sendMu.Unlock()
		status.Write(append(b, '\n'))
	}
	var cfg initConfig
	// The configuration is one JSON line; with extensions, one more byte
	// on the same pipe starts the runtime (Process.StartRuntime).
	cfgR := bufio.NewReader(os.NewFile(configFD, "config"))
	line, err := cfgR.ReadBytes('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err == nil {
		err = json.Unmarshal(line, &cfg)
	}
	if err != nil {
		send(message{Kind: "setup-error", Msg: fmt.Sprintf("reading the configuration: %v", err)})
		return 1
	}
	if err := setupNetwork(cfg); err != nil {
		send(message{Kind: "setup-error", Msg: err.Error()})
		return 1
	}
	if err := setupRoot(cfg); err != nil {
		send(message{Kind: "setup-error", Msg: err.Error()})
		return 1
	}
	// The function, not its reaper, must die when the sandbox runs out of
	// memory, or the report would lose how the function ended. The
	// function inherits the OOM score of its parent at fork. With
	// CAP_SYS_RESOURCE (root, unless the machine drops it) the function
	// gets the default score, 0, as any process on Lambda, and the init
	// -1000 (never chosen) once the function runs. Without it a score can
	// only be raised (and lowered back to where it was): the function then
	// gets 1000 (chosen first) and the init stays at 0.
	protect := writeOOMScoreAdj("-1000") == nil
	childScore := func() {
		if protect {
			_ = writeOOMScoreAdj("0")
		} else {
			_ = writeOOMScoreAdj("1000")
		}
	}
	initScore := func() {
		if protect {
			_ = writeOOMScoreAdj("-1000")
		} else {
			_ = writeOOMScoreAdj("0")
		}
	}
	limit := func(pid int) bool {
		if cfg.NprocLimit <= 0 {
			return true
		}
		if err := setNprocLimit(pid, cfg.NprocLimit); err != nil {
			send(message{Kind: "setup-error", Msg: fmt.Sprintf("limiting the function to %d processes (RLIMIT_NPROC): %v", cfg.NprocLimit, err)})
			return false
		}
		return true
	}
	exits, forked := startReaper()
	// After the configuration the host sends commands, one byte each:
	// startRuntimeByte, then terminateRuntimeByte.
	start, terminate, kill := make(chan bool, 1), make(chan struct{}, 1), make(chan struct{}, 1)
	go func() {
		started := false
		for {
			b, err := cfgR.ReadByte()
			switch {
			case err != nil:
				if !started {
					start <- false
				}
				return
			case b == startRuntimeByte && !started:
				started = true
				start <- true
			case b == terminateRuntimeByte:
				select {
				case terminate <- struct{}{}:
				default:
				}
			case b == killRuntimeByte:
				select {
				case kill <- struct{}{}:
				default:
				}
			}
		}
	}()
	// Extensions start first, as on Lambda: the host starts the runtime
	// once they registered. Their exits are reported until the end, each
	// after the rest of its output.
	exts := map[int]*extProc{}
	extExited := func(e exitStatus) {
		x := exts[e.pid]
		delete(exts, e.pid)
		x.drained()
		send(message{Kind: "ext-exit", Path: x.path, Code: e.code, Signal: e.sig})
	}
	if len(cfg.Extensions) > 0 {
		childScore()
		for _, p := range cfg.Extensions {
			x, m := startExtension(cfg, p, send)
			if x != nil {
				forked()
				if !limit(x.pid) {
					return 1 // the PID namespace dies with its init
				}
				exts[x.pid] = x
			}
			send(m)
		}
		initScore()
	wait:
		for {
			select {
			case ok := <-start:
				if !ok {
					// The host is gone or gave up: nothing more to start.
					return 0
				}
				break wait
			case e := <-exits:
				if exts[e.pid] != nil {
					extExited(e)
				}
			}
		}
	}
	childScore()
	pid, m := startFunction(cfg)
	if m.Kind == "exec" {
		m.OOMScoreAdj = readOOMScoreAdj()
	}
	initScore()
	if pid > 0 {
		forked()
		if !limit(pid) {
			return 1
		}
	}
	send(m)
	if pid <= 0 {
		return 0
	}
	// The runtime's exit ends the sandbox, unless the host is shutting it
	// down (terminateRuntimeByte: SIGTERM to the runtime, as Lambda's
	// shutdown does): the extensions then live on to handle SHUTDOWN,
	// until they exit or the host kills the sandbox.
	terminating, runtimeDone := false, false
	for {
		select {
		case <-terminate:
			if !terminating && !runtimeDone {
				terminating = true
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		case <-kill:
			if terminating && !runtimeDone {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		case e := <-exits:
			switch {
			case e.pid == 0:
				send(message{Kind: "exit", Code: e.code, Signal: e.sig})
				return 0
			case e.pid == pid:
				send(message{Kind: "exit", Code: e.code, Signal: e.sig})
				if !terminating || len(exts) == 0 {
					return 0
				}
				runtimeDone = true
			case exts[e.pid] != nil:
				extExited(e)
				if runtimeDone && len(exts) == 0 {
					return 0
				}
			}
		}
	}
}

// startRuntimeByte, written on the configuration pipe, starts the runtime
// of a sandbox with extensions; terminateRuntimeByte sends the runtime
// SIGTERM and keeps the extensions alive after it exits; killRuntimeByte
// then sends it SIGKILL.
const (
	startRuntimeByte     = 'g'
	terminateRuntimeByte = 't'
	killRuntimeByte      = 'k'
)

// readOOMScoreAdj is the init's own score (what the function inherited
// at fork), 0 when unknown.
func readOOMScoreAdj() int {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func writeOOMScoreAdj(v string) error {
	f, err := os.OpenFile("/proc/self/oom_score_adj", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// setNprocLimit sets RLIMIT_NPROC of process pid (prlimit(2)): set in the
// function rather than in the init, whose own threads it would count.
func setNprocLimit(pid, n int) error {
	lim := syscall.Rlimit{Cur: uint64(n), Max: uint64(n)}
	const rlimitNproc = 6
	_, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), rlimitNproc,
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// setupRoot builds the mounts in the init's private mount namespace and
// makes cfg.Root the root.
func setupRoot(cfg initConfig) error {
	root := cfg.Root
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Mount(root, root, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting the root: %w", err)
	}
	for _, name := range []string{"proc", "tmp", "dev"} {
		if fi, err := os.Lstat(filepath.Join(root, name)); err != nil || !fi.IsDir() {
			return fmt.Errorf("mount point /%s is not a directory", name)
		}
	}
	if err := syscall.Mount("proc", filepath.Join(root, "proc"), "proc",
		syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if err := syscall.Mount("tmpfs", filepath.Join(root, "tmp"), "tmpfs",
		syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%dm,mode=1777", cfg.TmpSizeMB)); err != nil {
		return fmt.Errorf("mounting /tmp: %w", err)
	}
	if err := setupDev(filepath.Join(root, "dev"), cfg.Userns); err != nil {
		return err
	}
	setupHosts(root)
	var keep uintptr
	if cfg.Userns {
		// In a user namespace the flags of the host's mount are locked:
		// keep them.
		keep = lockedFlags(root)
	}
	if err := syscall.Mount("", root, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|
		syscall.MS_NOSUID|syscall.MS_NODEV|keep, ""); err != nil {
		return fmt.Errorf("making the root read-only: %w", err)
	}
	if err := syscall.Chdir(root); err != nil {
		return fmt.Errorf("entering the root: %w", err)
	}
	if perr := syscall.PivotRoot(".", "."); perr == nil {
		// The old root is now stacked on the new one: detach it.
		if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("detaching the old root: %w", err)
		}
	} else {
		// pivot_root is refused on an initramfs root: move the mount
		// over / and chroot instead.
		if err := syscall.Mount(".", "/", "", syscall.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving the root: %w (pivot_root: %v)", err, perr)
		}
		if err := syscall.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
	}
	if err := syscall.Chdir("/"); err != nil {
		return fmt.Errorf("entering the root: %w", err)
	}
	const prSetNoNewPrivs = 38
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("setting no_new_privs: %w", e)
	}
	return nil
}

// sandboxDomain is the name an extension's Telemetry API listener is
// reached at (http://sandbox.localdomain:PORT,
// https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html).
const sandboxDomain = "sandbox.localdomain"

// setupHosts makes sandboxDomain resolve to the loopback inside the
// sandbox, where the extensions listen: /etc/hosts is the image's with the
// line "127.0.0.1 sandbox.localdomain" added (unless it names it already),
// bind-mounted read-only over the image's. An image without /etc/hosts gets
// an empty one created as the mount point, with localhost too. Nothing is
// done when /etc or /etc/hosts is a symbolic link or not what it should
// be (a directory, a regular file): they would resolve outside the root.
// It runs before the root is made read-only, with the /tmp tmpfs mounted.
func setupHosts(root string) {
	etc := filepath.Join(root, "etc")
	if fi, err := os.Lstat(etc); err != nil || !fi.IsDir() {
		return
	}
	hosts := filepath.Join(etc, "hosts")
	var content []byte
	fi, err := os.Lstat(hosts)
	switch {
	case err == nil && fi.Mode().IsRegular():
		f, err := os.OpenFile(hosts, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return
		}
		content, err = io.ReadAll(io.LimitReader(f, 1<<20))
		f.Close()
		if err != nil {
			return
		}
	case errors.Is(err, os.ErrNotExist):
		f, err := os.OpenFile(hosts, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			return
		}
		f.Close()
		content = []byte("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
	default:
		return
	}
	for _, line := range strings.Split(string(content), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if f := strings.Fields(line); len(f) > 1 && slices.Contains(f[1:], sandboxDomain) {
			return
		}
	}
	if len(content) > 0 && content[len(content)-1] != '\n' {
		content = append(content, '\n')
	}
	content = append(content, "127.0.0.1\t"+sandboxDomain+"\n"...)
	// The new file is made in the sandbox's /tmp, a tmpfs only this mount
	// namespace sees, and unlinked once mounted: the function never sees it.
	src := filepath.Join(root, "tmp", ".lambdoctor-hosts")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		return
	}
	defer os.Remove(src)
	if syscall.Mount(src, hosts, "", syscall.MS_BIND, "") != nil {
		return
	}
	_ = syscall.Mount("", hosts, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, "")
}

// lockedFlags are the mount flags of the mount holding dir that a
// remount in a user namespace must keep.
func lockedFlags(dir string) uintptr {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0
	}
	const (
		stNoexec     = 0x8
		stNoatime    = 0x400
		stNodiratime = 0x800
		stRelatime   = 0x1000
	)
	var f uintptr
	for st_, ms := range map[int64]uintptr{stNoexec: syscall.MS_NOEXEC, stNoatime: syscall.MS_NOATIME,
		stNodiratime: syscall.MS_NODIRATIME, stRelatime: syscall.MS_RELATIME} {
		if int64(st.Flags)&st_ != 0 {
			f |= ms
		}
	}
	return f
}

// setupDev mounts a small tmpfs on dir with the device nodes Lambda gives
// functions: created, or bind-mounted from the host's in a user namespace
// (where mknod is not allowed).
func setupDev(dir string, bind bool) error {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC,
		"size=64k,mode=755"); err != nil {
		return fmt.Errorf("mounting /dev: %w", err)
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, d := range []struct {
		name         string
		major, minor int
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}} {
		if bind {
			p := filepath.Join(dir, d.name)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
			if err != nil {
				return fmt.Errorf("creating /dev/%s: %w", d.name, err)
			}
			f.Close()
			if err := syscall.Mount("/dev/"+d.name, p, "", syscall.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind-mounting /dev/%s: %w", d.name, err)
			}
			continue
		}
		dev := d.major<<8 | d.minor
		if err := syscall.Mknod(filepath.Join(dir, d.name), syscall.S_IFCHR|0o666, dev); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", d.name, err)
		}
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", name, err)
		}
	}
	return nil
}

// startFunction starts the function as cfg.UID:cfg.GID in cfg.Dir, once the
// init is inside the root. It returns the function's PID and the message
// to send, or 0 and an exec-error message.
func startFunction(cfg initConfig) (int, message) {
	dir := path.Clean("/" + cfg.Dir)
	if err := checkDir(dir, cfg.UID, cfg.GID); err != nil {
		return 0, execErrorMessage("chdir", dir, err, false)
	}
	prog, err := lookPath(cfg.Argv[0], dir, cfg.Env)
	if err != nil {
		return 0, execErrorMessage("lookup", cfg.Argv[0], err, false)
	}
	devnull, err := os.Open("/dev/null")
	if err != nil {
		return 0, message{Kind: "setup-error", Msg: fmt.Sprintf("opening /dev/null: %v", err)}
	}
	defer devnull.Close()
	pid, err := syscall.ForkExec(prog, cfg.Argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   cfg.Env,
		Files: []uintptr{devnull.Fd(), 1, 2},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		},
	})
	if err != nil {
		_, serr := os.Stat(absIn(dir, prog))
		return 0, execErrorMessage("execve", absIn(dir, prog), err, serr == nil)
	}
	return pid, message{Kind: "exec", Path: absIn(dir, prog)}
}

// extProc is a running extension: its PID, path, and the end of its
// output (closed once its stdout and stderr are read to the end).
type extProc struct {
	pid  int
	path string
	done chan struct{}
}

// drained waits, briefly, until the output of an exited extension is
// sent: a child it left behind may hold its pipes open.
func (x *extProc) drained() {
	select {
	case <-x.done:
	case <-time.After(200 * time.Millisecond):
	}
}

// maxExtLine is the longest piece of an extension's line sent as one
// message on the status pipe; longer lines are cut in pieces.
const maxExtLine = 64 << 10

// relayOutput sends every line read from r as an "ext-out" message of
// extension p on stream ("stdout" or "stderr").
func relayOutput(r *os.File, p, stream string, send func(message)) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxExtLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			send(message{Kind: "ext-out", Path: p, Stream: stream, Msg: strings.TrimSuffix(string(line), "\n")})
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// startExtension starts the extension at path p (inside the root) as
// Lambda does: no arguments, the function's user, the root directory as the
// working directory (the emulator's supervisor starts extensions with no
// working directory: "If nil, root of the domain"), and the function's
// environment without the variables the emulator keeps from extensions
// (rapidcore/env: AWS_XRAY_CONTEXT_MISSING and every name starting with
// "_"). Its stdout and stderr are pipes of the init, whose lines go to
// the host as "ext-out" messages, so that the host tells them from the
// function's. It returns the running extension and an "ext-start" message,
// or nil and an "ext-error" message.
func startExtension(cfg initConfig, p string, send func(message)) (*extProc, message) {
	var env []string
	for _, kv := range cfg.Env {
		if strings.HasPrefix(kv, "_") || strings.HasPrefix(kv, "AWS_XRAY_CONTEXT_MISSING=") {
			continue
		}
		env = append(env, kv)
	}
	devnull, err := os.Open("/dev/null")
	if err != nil {
		return nil, message{Kind: "setup-error", Msg: fmt.Sprintf("opening /dev/null: %v", err)}
	}
	defer devnull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, message{Kind: "setup-error", Msg: fmt.Sprintf("creating a pipe: %v", err)}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, message{Kind: "setup-error", Msg: fmt.Sprintf("creating a pipe: %v", err)}
	}
	pid, err := syscall.ForkExec(p, []string{p}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []uintptr{devnull.Fd(), outW.Fd(), errW.Fd()},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		},
	})
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		_, serr := os.Stat(p)
		m := execErrorMessage("execve", p, err, serr == nil)
		m.Kind = "ext-error"
		return nil, m
	}
	x := &extProc{pid: pid, path: p, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); relayOutput(outR, p, "stdout", send) }()
	go func() { defer wg.Done(); relayOutput(errR, p, "stderr", send) }()
	go func() { wg.Wait(); close(x.done) }()
	return x, message{Kind: "ext-start", Path: p}
}

// absIn is p made absolute from dir.
func absIn(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(dir, p)
}

func execErrorMessage(op, p string, err error, exists bool) message {
	m := message{Kind: "exec-error", Op: op, Path: p, Exists: exists}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		m.Errno = int(errno)
	} else {
		m.Errno = int(syscall.EINVAL)
	}
	if op == "execve" && exists && m.Errno == int(syscall.ENOENT) {
		m.Interpreter = interpreterOf(p)
		if m.Interpreter != "" {
			_, serr := os.Stat(m.Interpreter)
			m.InterpreterExists = serr == nil
		}
	}
	return m
}

// interpreterOf returns the shebang interpreter or ELF PT_INTERP of the
// file p, "" if it has none.
func interpreterOf(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if line, ok := bytes.CutPrefix(head, []byte("#!")); ok {
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		fields := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) > 0 {
			return fields[0]
		}
		return ""
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return ""
	}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP {
			b, err := io.ReadAll(io.LimitReader(prog.Open(), 4096))
			if err != nil {
				return ""
			}
			return string(bytes.TrimRight(b, "\x00"))
		}
	}
	return ""
}

// checkDir reports whether uid:gid (without supplementary groups) can
// enter dir: it must exist, be a directory, and every component must be
// searchable.
func checkDir(dir string, uid, gid int) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return syscall.ENOTDIR
	}
	p := "/"
	for _, c := range append([]string{""}, strings.Split(strings.TrimPrefix(dir, "/"), "/")...) {
		p = path.Join(p, c)
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return err
		}
		var bit uint32 = 0o001
		switch {
		case int(st.Uid) == uid:
			bit = 0o100
		case int(st.Gid) == gid:
			bit = 0o010
		}
		if st.Mode&bit == 0 {
			return syscall.EACCES
		}
	}
	return nil
}

// lookPath finds the program like Lambda's launcher: a name with a slash
// is used as is (relative to dir), others are searched in the PATH of env.
func lookPath(name, dir string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar := lambda.DefaultPATH
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, d := range filepath.SplitList(pathVar) {
		if d == "" {
			d = "."
		}
		p := path.Join(absIn(dir, d), name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", syscall.ENOENT
}

// exitStatus is how a child of the init ended; pid 0 when waiting failed
// (sig then says why).
type exitStatus struct {
	pid, code int
	sig       string
}

// startReaper waits for every child of the init, the orphans of the PID
// namespace included, and hands each exit to the channel. forked must be
// called after each fork: with no children left the reaper waits for it.
func startReaper() (exits <-chan exitStatus, forked func()) {
	ch := make(chan exitStatus, 64)
	kick := make(chan struct{}, 1)
	go func() {
		for {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(-1, &ws, 0, nil)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.ECHILD:
				<-kick
				continue
			case err != nil:
				ch <- exitStatus{code: -1, sig: "lost: " + err.Error()}
				return
			}
			e := exitStatus{pid: wpid, code: ws.ExitStatus()}
			if ws.Signaled() {
				e.code, e.sig = -1, signalName(ws.Signal())
			}
			ch <- e
		}
	}()
	return ch, func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
}
