package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// childEnv makes TestUnprivilegedChild run: "1" as a user with a
// subordinate id range (starting at subStartEnv), "nosubid" as one without.
const (
	childEnv    = "SANDBOX_TEST_UNPRIV_CHILD"
	subStartEnv = "SANDBOX_TEST_SUBID_START"
)

// TestUnprivileged runs the key sandbox cases as a throwaway user without
// root, through user namespaces: it creates the user, runs this test
// binary as it (TestUnprivilegedChild), and deletes the user.
func TestUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a throwaway user")
	}
	busybox(t)
	for _, prog := range []string{"useradd", "usermod", "userdel", "newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s (newuidmap and newgidmap: Debian package uidmap): %v", prog, err)
		}
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skip("user namespaces are disabled")
	}
	name := fmt.Sprintf("ldtest%d", os.Getpid())
	if out, err := exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// A directory the user owns, with a copy of this binary.
	dir, err := os.MkdirTemp("", "lambdoctor-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sandbox.test")
	if err := copyFile(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(work, uid, gid); err != nil {
		t.Fatal(err)
	}
	child := func(mode string, extra ...string) string {
		t.Helper()
		cmd := exec.Command(bin, "-test.run=^TestUnprivilegedChild$", "-test.v", "-test.count=1")
		cmd.Dir = work
		cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + work,
			"TMPDIR=" + work, childEnv + "=" + mode, marker()}, extra...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestUnprivilegedChild") {
			t.Fatalf("as %s (%s): %v\n%s", name, mode, err, out)
		}
		return string(out)
	}

	// Without a subordinate id range (useradd may have allocated one): a
	// clear error.
	for _, f := range []struct{ path, flag string }{{"/etc/subuid", "--del-subuids"}, {"/etc/subgid", "--del-subgids"}} {
		b, _ := os.ReadFile(f.path)
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Split(line, ":")
			if len(fs) != 3 || fs[0] != name {
				continue
			}
			s, _ := strconv.Atoi(fs[1])
			c, _ := strconv.Atoi(fs[2])
			if out, err := exec.Command("usermod", f.flag, fmt.Sprintf("%d-%d", s, s+c-1), name).CombinedOutput(); err != nil {
				t.Fatalf("usermod: %v: %s", err, out)
			}
		}
	}
	child("nosubid")

	start := 1<<30 + (os.Getpid()%4096)*65536
	ids := fmt.Sprintf("%d-%d", start, start+65535)
	if out, err := exec.Command("usermod", "--add-subuids", ids, "--add-subgids", ids, name).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("usermod", "--del-subuids", ids, "--del-subgids", ids, name).Run()
	})
	out := child("1", subStartEnv+"="+strconv.Itoa(start))
	t.Logf("as %s:\n%s", name, out)
	// The user could remove everything it materialised.
	if ents, _ := os.ReadDir(work); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left behind in the user's temporary directory: %v", names)
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// TestUnprivilegedChild is TestUnprivileged's part that runs as the
// throwaway user.
func TestUnprivilegedChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("run by TestUnprivileged")
	}
	if os.Geteuid() == 0 {
		t.Fatal("running as root")
	}
	if mode == "nosubid" {
		err := sandbox.Supported()
		if !errors.Is(err, sandbox.ErrUnsupported) || !strings.Contains(err.Error(), "usermod --add-subuids 100000-165535 --add-subgids 100000-165535") {
			t.Fatalf("Supported() without a subordinate id range = %v, want what to configure", err)
		}
		d := t.TempDir()
		if err := sandbox.Materialize(context.Background(), buildFS(t, []testimage.File{testimage.Reg("a", 0o644, "")}), d); !errors.Is(err, sandbox.ErrUnsupported) {
			t.Fatalf("Materialize without a subordinate id range = %v, want ErrUnsupported", err)
		}
		return
	}
	if err := sandbox.Supported(); err != nil {
		t.Fatalf("Supported: %v", err)
	}
	subStart, _ := strconv.Atoi(os.Getenv(subStartEnv))
	root := functionRoot(t,
		testimage.Reg("etc/hosts", 0o644, "127.0.0.1 localhost\n"),
		owned(testimage.Dir("var/task/app", 0o755), 1000, 1001),
		owned(testimage.Reg("var/task/app/app.py", 0o640, "print(1)\n"), 1000, 1001),
		owned(testimage.Reg("var/task/mine", 0o600, "lambda's own\n"), sandbox.LambdaUID, sandbox.LambdaGID),
		owned(testimage.Dir("var/secret", 0o700), 0, 0),
		testimage.Dir("opt", 0o755), testimage.Dir("opt/extensions", 0o755),
		testimage.Reg("opt/extensions/ext", 0o755, "#!/bin/sh\necho \"ext $(id -u)\"\n"),
	)
	// On the host: image root is the user, image uids are shifted into its
	// subordinate range.
	if st := lstat(t, filepath.Join(root, "etc/hosts")); int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
		t.Errorf("host owner of /etc/hosts %d:%d, want the user %d:%d", st.Uid, st.Gid, os.Getuid(), os.Getgid())
	}
	if st := lstat(t, filepath.Join(root, "var/task/app/app.py")); int(st.Uid) != subStart+999 || int(st.Gid) != subStart+1000 {
		t.Errorf("host owner of app.py %d:%d, want %d:%d", st.Uid, st.Gid, subStart+999, subStart+1000)
	}

	script := `id -u; id -g; id -G; cat /proc/1/cmdline | tr '\0' ' '; echo
stat -c '%u:%g' /etc/hosts /var/task/app/app.py /var/task/mine /bin/busybox
touch /tmp/ok && echo tmp-writable
touch /x 2>&1 || true
touch /var/task/x 2>&1 || true
ls /dev | tr '\n' ' '; echo
echo hi >/dev/null && echo devnull-ok
head -c 4 /dev/urandom | wc -c
cat /var/task/app/app.py 2>&1 || true
cat /var/task/mine
df -k /tmp | tail -1 | awk '{print $2}'
`
	info, out, errOut := run(t, root, sandbox.Spec{
		Argv: []string{"/bin/busybox", "sh", "-c", script}, Env: []string{"PATH=/bin"}, TmpSizeMB: 16, MemoryMB: 64,
	})
	if info.Code != 0 || info.ExecErr != nil {
		t.Fatalf("exit %+v, stdout %q, stderr %q", info, out, errOut)
	}
	want := []string{
		"993", "990", "990", "lambdoctor-sandbox-init ",
		"0:0", "1000:1001", "993:990", "0:0",
		"tmp-writable",
		"touch: /x: Read-only file system",
		"touch: /var/task/x: Read-only file system",
		"fd full null random stderr stdin stdout urandom zero ",
		"devnull-ok",
		"4",
		"cat: can't open '/var/task/app/app.py': Permission denied",
		"lambda's own",
		"16384",
	}
	lines := strings.Split(out, "\n")
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("output line %d: want %q\nfull output:\n%s\nstderr:\n%s", i, w, out, errOut)
		}
	}
	if m := info.Memory; m == nil || (m.Cgroup == "" && m.NotEnforced == "") {
		t.Errorf("memory stats %+v: want enforced or a reason", m)
	} else {
		t.Logf("memory: cgroup %q, not enforced: %s", m.Cgroup, m.NotEnforced)
	}

	for _, tc := range []struct {
		argv  []string
		dir   string
		op    string
		errno syscall.Errno
	}{
		{argv: []string{"/var/task/private"}, op: "execve", errno: syscall.EACCES},
		{argv: []string{"/bin/busybox", "true"}, dir: "/var/secret", op: "chdir", errno: syscall.EACCES},
		{argv: []string{"/var/task/bootstrap"}, op: "execve", errno: syscall.ENOENT},
	} {
		info, _, _ := run(t, root, sandbox.Spec{Argv: tc.argv, Dir: tc.dir})
		var ee *sandbox.ExecError
		if !errors.As(info.ExecErr, &ee) || ee.Op != tc.op || !errors.Is(ee, tc.errno) {
			t.Errorf("%v in %q: ExecErr %v, want %s %v", tc.argv, tc.dir, info.ExecErr, tc.op, tc.errno)
		}
	}
	info, _, _ = run(t, root, sandbox.Spec{Argv: []string{"/bin/sh", "-c", "exit 3"}})
	if info.Code != 3 {
		t.Errorf("exit 3: got %+v", info)
	}

	// Extensions start through the shim too, before the runtime.
	var xout syncBuffer
	xctx, xcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer xcancel()
	xp, err := sandbox.Start(xctx, sandbox.Spec{Root: root, Dir: "/var/task", Stdout: &xout, Stderr: &xout,
		Env: []string{"PATH=/bin", marker()}, Argv: []string{"/bin/sh", "-c", "echo runtime"},
		Extensions: []string{"/opt/extensions/ext"}})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, xp); ev.Kind != "start" {
		t.Errorf("first extension event %+v", ev)
	}
	if ev := nextEvent(t, xp); ev.Kind != "exit" || ev.Code != 0 {
		t.Errorf("second extension event %+v", ev)
	}
	if err := xp.StartRuntime(); err != nil {
		t.Fatal(err)
	}
	if info, err := xp.Wait(); err != nil || info.Code != 0 || xout.String() != "ext 993\nruntime\n" {
		t.Errorf("with an extension: %+v, %v, output %q", info, err, xout.String())
	}

	// Dialing into the network namespace goes through the shim too, and
	// sandbox.localdomain resolves there.
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer dcancel()
	var dout, derr syncBuffer
	dp, err := sandbox.Start(dctx, sandbox.Spec{Root: root, Dir: "/", ForwardPort: 9001,
		Env: []string{"PATH=/bin", marker()}, Stdout: &dout, Stderr: &derr,
		Argv: []string{"/bin/sh", "-c", "busybox grep sandbox.localdomain /etc/hosts; sleep 30 | busybox nc -l -p 4243"}})
	if err != nil {
		t.Fatal(err)
	}
	var dc net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if dc, err = dp.Dial(dctx, 4243); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dial: %v (output %q %q)", err, dout.String(), derr.String())
		}
	}
	dc.Write([]byte("dialed\n"))
	dc.Close()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(dout.String(), "dialed\n"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the listener got nothing: %q %q", dout.String(), derr.String())
		}
	}
	dp.Kill()
	dp.Wait()
	if !strings.HasPrefix(dout.String(), "127.0.0.1\tsandbox.localdomain\n") {
		t.Errorf("/etc/hosts: %q", dout.String())
	}

	// A network namespace of its own, with the forwarded port, and the
	// process limit (a pids cgroup where the user may create one, else
	// RLIMIT_NPROC).
	fctx, fcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer fcancel()
	var fout, ferr syncBuffer
	p, err := sandbox.Start(fctx, sandbox.Spec{Root: root, Dir: "/var/task", ForwardPort: 9001, MaxProcs: 32,
		Env: []string{"PATH=/bin", marker()}, Stdout: &fout, Stderr: &ferr,
		Argv: []string{"/bin/sh", "-c", `hostname; busybox wget -q -O - http://127.0.0.1:9001/x; echo
n=0; while [ $n -lt 100 ]; do sleep 30 & n=$((n+1)); done`}})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "forwarded")
	})}
	go hs.Serve(p.Forwarded())
	info, err = p.Wait()
	hs.Close()
	lines = strings.Split(fout.String(), "\n")
	if err != nil || len(lines) < 2 || !strings.HasPrefix(lines[0], "169.254.") || lines[1] != "forwarded" {
		t.Errorf("hostname and forwarded port without root: %+v %v, stdout %q, stderr %q", info, err, fout.String(), ferr.String())
	}
	if ps := info.Processes; ps == nil || ps.Enforced == "" || info.Code != 2 || !strings.Contains(ferr.String(), "can't fork") {
		t.Errorf("process limit without root: %+v (%+v), stderr %q", info, ps, ferr.String())
	} else {
		t.Logf("processes limited by %s (%s)", ps.Enforced, ps.NotEnforced)
	}

	// Kill stops the whole sandbox.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf syncBuffer
	p, err = sandbox.Start(ctx, sandbox.Spec{Root: root, Dir: "/var/task", Stdout: &buf, Stderr: &buf, Env: []string{marker()},
		Argv: []string{"/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo started; sleep 1000"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "started") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	info, err = p.Wait()
	if err != nil || !info.Killed || info.Signal != "SIGKILL" || time.Since(start) > 3*time.Second {
		t.Errorf("killed: %+v, %v after %v", info, err, time.Since(start))
	}
	for time.Now().Before(deadline) && userProcs(t) > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if n := userProcs(t); n > 0 {
		t.Errorf("%d processes of the sandbox left behind", n)
	}
}

// userProcs counts the processes with this test's marker (readable by the
// user: its own, in the sandbox's namespace or not).
func userProcs(t *testing.T) int {
	t.Helper()
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && strings.Contains(string(env), marker()+"\x00") {
			n++
		}
	}
	return n
}
