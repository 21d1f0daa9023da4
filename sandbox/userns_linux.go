package sandbox

// The unprivileged path: without root, the sandbox runs in a user namespace
// of its own in which the invoking user is root (inside uid/gid 0) and its
// subordinate ids (/etc/subuid, /etc/subgid) are uids and gids 1 to 65536,
// written by newuidmap and newgidmap (Debian package uidmap). Image files
// owned by root are then owned by the invoking user on the host, those of
// the Lambda user 993 by its subordinate uid 992 past the start of its
// range: ownership inside the sandbox is exactly that of the image.
//
// A "shim" does the privileged work in that namespace: this binary re-
// executed with CLONE_NEWUSER, which waits for the parent to write the id
// mappings, re-executes itself once more to gain the namespace's
// capabilities (those granted at clone time are dropped by the first
// execve, which ran before the mapping existed), then performs one
// operation: set the owners of a materialised tree, give a tree back to
// the invoking user (Release), or start the sandbox's init exactly as root
// does.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// usernsEnv marks the shim: "1" before the id mappings are written, "2"
// once it has re-executed itself as root of its user namespace.
const usernsEnv = "LAMBDOCTOR_SANDBOX_USERNS"

// shimParentEnv passes the shim's parent PID over its re-execution.
const shimParentEnv = "LAMBDOCTOR_SANDBOX_SHIM_PARENT"

// setPdeathsig makes the kernel SIGKILL this process when its parent dies.
func setPdeathsig() error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); e != 0 {
		return e
	}
	return nil
}

// subIDCount is how many subordinate ids are mapped (inside 1..65536).
const subIDCount = 65536

// Where the unprivileged path reads its settings (variables for tests).
var (
	subUIDPath = "/etc/subuid"
	subGIDPath = "/etc/subgid"
)

// unprivileged is true when the sandbox runs in a user namespace of its
// own (not root).
func unprivileged() bool { return os.Geteuid() != 0 }

// idRange is a mapping of inside ids start.. to host ids host...
type idRange struct{ host, count int }

// usernsSetup is what the shim's mappings are built from.
type usernsSetup struct {
	uid, gid       int
	subUID, subGID idRange
	newuidmap      string
	newgidmap      string
}

var (
	usernsOnce sync.Once
	usernsCfg  *usernsSetup
	usernsErr  error
)

// checkUserns returns the mapping setup when the unprivileged path can run
// here, else why not (wrapping ErrUnsupported). The result is cached.
func checkUserns() (*usernsSetup, error) {
	usernsOnce.Do(func() {
		usernsCfg, usernsErr = probeUserns()
		if usernsErr != nil {
			usernsErr = fmt.Errorf("%w: lambdoctor run needs root, or unprivileged user namespaces: %v", ErrUnsupported, usernsErr)
		}
	})
	return usernsCfg, usernsErr
}

func probeUserns() (*usernsSetup, error) {
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		return nil, fmt.Errorf("the kernel has no user namespaces (%v); run it with sudo", err)
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil {
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n <= 0 {
			return nil, errors.New("user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0); run it with sudo, or enable them: sysctl -w user.max_user_namespaces=15000")
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return nil, errors.New("unprivileged user namespaces are disabled (/proc/sys/kernel/unprivileged_userns_clone is 0); run it with sudo, or enable them: sysctl -w kernel.unprivileged_userns_clone=1")
	}
	s := &usernsSetup{uid: os.Getuid(), gid: os.Getgid()}
	for _, p := range []*string{&s.newuidmap, &s.newgidmap} {
		name := "newuidmap"
		if p == &s.newgidmap {
			name = "newgidmap"
		}
		path, err := exec.LookPath(name)
		if err != nil {
			if _, serr := os.Stat("/usr/bin/" + name); serr != nil {
				return nil, fmt.Errorf("%s is not installed (it maps the sandbox's uids and gids); run it with sudo, or install it: apt-get install uidmap", name)
			}
			path = "/usr/bin/" + name
		}
		*p = path
	}
	name := strconv.Itoa(s.uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	var err error
	if s.subUID, err = subIDRange(subUIDPath, name, s.uid); err != nil {
		return nil, err
	}
	if s.subGID, err = subIDRange(subGIDPath, name, s.uid); err != nil {
		return nil, err
	}
	if s.subUID.count == 0 || s.subGID.count == 0 {
		what := "/etc/subuid"
		if s.subUID.count != 0 {
			what = "/etc/subgid"
		}
		return nil, fmt.Errorf("user %s has no subordinate id range of %d ids in %s, which the sandbox needs to give image files their owners and to run as uid %d gid %d; as root, run: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s (or run lambdoctor with sudo)",
			name, subIDCount, what, LambdaUID, LambdaGID, name)
	}
	// The probe: a shim that reaches root in its user namespace.
	if _, err := s.run(shimOp{Op: "probe"}); err != nil {
		return nil, fmt.Errorf("cannot create a user namespace with the ids of %s: %v; run it with sudo", name, err)
	}
	return s, nil
}

// subIDRange finds the first range of subIDCount ids of the user (by name
// or uid) in an /etc/subuid-style file; count is 0 when there is none.
func subIDRange(path, name string, uid int) (idRange, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return idRange{}, nil
	}
	if err != nil {
		return idRange{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != strconv.Itoa(uid)) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 == nil && err2 == nil && start > 0 && count >= subIDCount {
			return idRange{host: start, count: subIDCount}, nil
		}
	}
	return idRange{}, sc.Err()
}

// shimOp is what the shim is asked to do.
type shimOp struct {
	Op   string // "probe", "chown", "release" or "start"
	Root string
	// OwnNetwork and Forward ("start"): the init gets a network namespace
	// of its own, and the forwarding socket (the shim's descriptor 6).
	OwnNetwork, Forward bool `json:",omitempty"`
	// Owners are the owners to set ("chown").
	Owners []owner `json:",omitempty"`
}

// owner is the owner of one entry of a tree, relative to its root.
type owner struct {
	Name     string `json:"n"`
	UID, GID int
}

// shim is a started shim.
type shim struct {
	cmd *exec.Cmd
	ctl *os.File // where its operation is written, once mapped
}

// startShim starts the shim in a new user namespace and writes its id
// mappings; extra become its descriptors 4 and up. The caller sends the
// operation with send.
func (s *usernsSetup) startShim(extra []*os.File, stdout, stderr io.Writer) (*shim, error) {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer ctlR.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"lambdoctor-sandbox-userns"}
	cmd.Env = []string{usernsEnv + "=1"}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = append([]*os.File{ctlR}, extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER,
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		ctlW.Close()
		return nil, fmt.Errorf("creating a user namespace: %w", err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	for _, m := range []struct {
		prog    string
		own     int
		sub     idRange
		subFile string
	}{{s.newuidmap, s.uid, s.subUID, subUIDPath}, {s.newgidmap, s.gid, s.subGID, subGIDPath}} {
		out, err := exec.Command(m.prog, pid, "0", strconv.Itoa(m.own), "1",
			"1", strconv.Itoa(m.sub.host), strconv.Itoa(m.sub.count)).CombinedOutput()
		if err != nil {
			ctlW.Close()
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("%s (with the range in %s): %v: %s", filepath.Base(m.prog), m.subFile, err, bytes.TrimSpace(out))
		}
	}
	return &shim{cmd: cmd, ctl: ctlW}, nil
}

// send lets the shim go on with op.
func (sh *shim) send(op shimOp) error {
	defer sh.ctl.Close()
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	_, err = sh.ctl.Write(append([]byte{'g'}, b...))
	return err
}

// run runs a shim operation to its end; the error carries what the shim
// printed.
func (s *usernsSetup) run(op shimOp) ([]byte, error) {
	var out bytes.Buffer
	sh, err := s.startShim(nil, &out, &out)
	if err != nil {
		return nil, err
	}
	serr := sh.send(op)
	if err := sh.cmd.Wait(); err != nil {
		if msg := bytes.TrimSpace(out.Bytes()); len(msg) > 0 {
			return nil, errors.New(string(msg))
		}
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	return out.Bytes(), nil
}

// Release gives a root filesystem materialised without root back to the
// invoking user: every entry is owned by it again and every directory is
// writable by it, so it can be removed (os.RemoveAll) or kept. Call it
// once the sandbox has ended. As root it does nothing.
func Release(dir string) error {
	if !unprivileged() {
		return nil
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s, err := checkUserns()
	if err != nil {
		return err
	}
	if _, err := s.run(shimOp{Op: "release", Root: dir}); err != nil {
		return fmt.Errorf("giving %s back: %w", dir, err)
	}
	return nil
}

// maybeShim runs the shim's stages when this process is one.
func maybeShim() {
	switch os.Getenv(usernsEnv) {
	case "1":
		// Wait for the mappings, then become root of the namespace.
		b := make([]byte, 1)
		if n, _ := os.NewFile(configFD, "control").Read(b); n != 1 {
			os.Exit(1)
		}
		os.Setenv(usernsEnv, "2")
		os.Setenv(shimParentEnv, strconv.Itoa(os.Getppid()))
		err := syscall.Exec("/proc/self/exe", os.Args, os.Environ())
		fmt.Fprintf(os.Stderr, "re-executing in the user namespace: %v\n", err)
		os.Exit(1)
	case "2":
		os.Unsetenv(usernsEnv)
		// This execve made the shim root of its namespace: the kernel
		// cleared its parent-death signal with the change of credentials
		// (prctl(2), PR_SET_PDEATHSIG). Set it again, then make sure the
		// parent did not die before that, or a kill -9 of lambdoctor
		// would leave the shim and the sandbox it starts running.
		ppid, _ := strconv.Atoi(os.Getenv(shimParentEnv))
		os.Unsetenv(shimParentEnv)
		if err := setPdeathsig(); err != nil {
			fmt.Fprintf(os.Stderr, "setting the parent-death signal: %v\n", err)
			os.Exit(1)
		}
		if os.Getppid() != ppid {
			os.Exit(1)
		}
		os.Exit(runShim())
	}
}

func runShim() int {
	syscall.CloseOnExec(configFD)
	var op shimOp
	blob, err := io.ReadAll(os.NewFile(configFD, "control"))
	if err == nil {
		err = json.Unmarshal(blob, &op)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "reading the operation: %v\n", err)
		return 1
	}
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "not root in the user namespace (uid %d)\n", os.Geteuid())
		return 1
	}
	switch op.Op {
	case "probe":
		return 0
	case "chown":
		err = shimChown(op)
	case "release":
		err = shimRelease(op.Root)
	case "start":
		return shimStart(op)
	default:
		err = fmt.Errorf("unknown operation %q", op.Op)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func shimChown(op shimOp) error {
	root, err := os.OpenRoot(op.Root)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, o := range op.Owners {
		if err := root.Lchown(o.Name, o.UID, o.GID); err != nil {
			if errors.Is(err, syscall.EINVAL) {
				return fmt.Errorf("chown /%s to %d:%d: only ids 0 to %d are mapped without root", o.Name, o.UID, o.GID, subIDCount)
			}
			return fmt.Errorf("chown /%s: %w", o.Name, err)
		}
	}
	return nil
}

func shimRelease(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, 0, 0); err != nil {
			return err
		}
		if d.IsDir() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return os.Chmod(p, fi.Mode().Perm()|fs.ModeSticky&fi.Mode()|0o700)
		}
		return nil
	})
}

// shimStart starts the init as Start does as root, with descriptors 4
// (configuration), 5 (status), 6 and 7 (forwarding and dialing, with
// op.Forward), and
// lives as long as it does.
func shimStart(op shimOp) int {
	cfgR, statW := os.NewFile(4, "config"), os.NewFile(5, "status")
	syscall.CloseOnExec(4)
	syscall.CloseOnExec(5)
	var fwd, dial *os.File
	if op.Forward {
		fwd, dial = os.NewFile(6, "forward"), os.NewFile(7, "dial")
		syscall.CloseOnExec(6)
		syscall.CloseOnExec(7)
	}
	fail := func(err error) int {
		b, _ := json.Marshal(message{Kind: "setup-error", Msg: err.Error()})
		statW.Write(append(b, '\n'))
		return 1
	}
	if err := mountPoints(op.Root); err != nil {
		return fail(err)
	}
	cmd := initCommand(cfgR, statW, fwd, dial, op.OwnNetwork, os.Stdout, os.Stderr)
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting the init: %w", err))
	}
	cfgR.Close()
	statW.Close()
	if fwd != nil {
		fwd.Close()
		dial.Close()
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return 1
	}
	if err != nil {
		return 1
	}
	return 0
}
