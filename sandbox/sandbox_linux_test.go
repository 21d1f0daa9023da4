package sandbox_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.MaybeInit()
	if root := os.Getenv(helperEnv); root != "" {
		os.Exit(helper(root))
	}
	os.Exit(m.Run())
}

// helperEnv makes the test binary a lambdoctor stand-in that starts a
// hanging function in the root it names, prints the init's PID and waits
// to be killed.
const helperEnv = "SANDBOX_TEST_HELPER_ROOT"

// marker is in the environment of every function these tests start, so
// leftovers are told apart from other programs running as the Lambda user
// (other test binaries on the same machine).
func marker() string {
	id := os.Getenv("SANDBOX_TEST_MARKER")
	if id == "" {
		id = strconv.Itoa(os.Getpid())
	}
	return "SANDBOX_TEST_MARKER=" + id
}

func helper(root string) int {
	p, err := sandbox.Start(context.Background(), sandbox.Spec{
		Root: root, Dir: "/var/task", Env: []string{marker()},
		Argv: []string{"/bin/sh", "-c", "sleep 1000 & sleep 1000"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(p.Pid())
	p.Wait()
	return 0
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// requireSandbox skips t where the sandbox cannot run (not root).
func requireSandbox(t *testing.T) {
	t.Helper()
	if err := sandbox.Supported(); err != nil {
		t.Skipf("sandbox not available: %v", err)
	}
}

// buildFS builds the merged view of an image made of layers.
func buildFS(t *testing.T, layers ...[]testimage.File) *imagefs.FS {
	t.Helper()
	img := testimage.Image(t, testimage.Spec{Layers: layers})
	si, err := source.FromV1("test", source.Registry, img)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := imagefs.Build(context.Background(), si.Layers, imagefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func owned(f testimage.File, uid, gid int) testimage.File {
	f.UID, f.GID = uid, gid
	return f
}

// rootfsDir is an empty directory for a root filesystem inside a private
// temporary directory.
func rootfsDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	// Without root, the tree must be given back before TempDir's cleanup
	// (which runs after this) can remove it.
	t.Cleanup(func() {
		if err := sandbox.Release(d); err != nil {
			t.Errorf("Release: %v", err)
		}
	})
	return d
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}

func TestMaterialize(t *testing.T) {
	requireSandbox(t) // chown needs root
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	fsys := buildFS(t,
		[]testimage.File{
			testimage.Dir("etc", 0o755),
			testimage.Reg("etc/hosts", 0o644, "127.0.0.1 localhost\n"),
			testimage.Dir("var", 0o755),
			owned(testimage.Dir("var/task", 0o750), 1000, 1001),
			owned(testimage.Reg("var/task/app.py", 0o640, "print(1)\n"), 1000, 1001),
			testimage.Reg("var/task/secret", 0o600, "s"),
			testimage.Reg("usr/bin/sudo", 0o4755, "#!/bin/sh\n"),
			testimage.Reg("usr/bin/wall", 0o2755, "#!/bin/sh\n"),
			testimage.Dir("var/cache", 0o1777),
			testimage.Dir("ro", 0o555),
			testimage.Reg("ro/file", 0o444, "locked"),
			testimage.Symlink("usr/bin/python3", "/usr/bin/python3.12"),
			testimage.Symlink("usr/bin/rel", "../../etc/hosts"),
			testimage.Symlink("dangling", "/nowhere/at/all"),
			testimage.Reg("usr/bin/python3.12", 0o755, "\x7fELF"),
			testimage.Hardlink("usr/bin/python3.12-copy", "usr/bin/python3.12"),
			{Path: "dev/null", Type: tar.TypeChar, Mode: 0o666},
			{Path: "run/fifo", Type: tar.TypeFifo, Mode: 0o644},
		},
		// A hostile layer: files written "through" symlinks that point out
		// of the root on the host.
		[]testimage.File{
			testimage.Symlink("evil", "/etc"),
			testimage.Reg("evil/lambdoctor-owned", 0o644, "pwned"),
			testimage.Symlink("up", "../../../../../../.."),
			testimage.Reg("up/escaped", 0o644, "pwned"),
			testimage.Symlink("hostpasswd", "/etc/passwd"),
		},
	)
	dir := rootfsDir(t)
	rep, err := sandbox.MaterializeReport(context.Background(), fsys, dir)
	if err != nil {
		t.Fatalf("Materialize: %v", err)
	}

	// Nothing escaped.
	for _, p := range []string{"/etc/lambdoctor-owned", "/escaped", filepath.Join(filepath.Dir(dir), "escaped")} {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			t.Errorf("%s was written outside the root", p)
		}
	}
	if b, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(b, hostPasswd) {
		t.Errorf("host /etc/passwd changed")
	}
	// What was written through the links landed inside, chroot-style.
	for p, want := range map[string]string{"etc/lambdoctor-owned": "pwned", "escaped": "pwned", "ro/file": "locked"} {
		if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}

	modes := map[string]uint32{
		"etc":                0o755 | syscall.S_IFDIR,
		"var/task":           0o750 | syscall.S_IFDIR,
		"var/task/app.py":    0o640 | syscall.S_IFREG,
		"var/task/secret":    0o600 | syscall.S_IFREG,
		"usr/bin/sudo":       0o755 | syscall.S_IFREG, // setuid dropped
		"usr/bin/wall":       0o755 | syscall.S_IFREG, // setgid dropped
		"var/cache":          0o1777 | syscall.S_IFDIR,
		"ro":                 0o555 | syscall.S_IFDIR,
		"usr/bin/python3.12": 0o755 | syscall.S_IFREG,
	}
	for p, want := range modes {
		if st := lstat(t, filepath.Join(dir, p)); st.Mode != want {
			t.Errorf("%s: mode %o, want %o", p, st.Mode, want)
		}
	}
	for _, p := range []string{"var/task", "var/task/app.py"} {
		if st := lstat(t, filepath.Join(dir, p)); st.Uid != 1000 || st.Gid != 1001 {
			t.Errorf("%s: owner %d:%d, want 1000:1001", p, st.Uid, st.Gid)
		}
	}
	if st := lstat(t, filepath.Join(dir, "etc/hosts")); st.Uid != 0 || st.Gid != 0 {
		t.Errorf("etc/hosts: owner %d:%d, want 0:0", st.Uid, st.Gid)
	}
	if fi, err := os.Stat(filepath.Join(dir, "etc/hosts")); err != nil || !fi.ModTime().Equal(testimage.Epoch) {
		t.Errorf("etc/hosts mtime = %v, %v; want %v", fi.ModTime(), err, testimage.Epoch)
	}
	if fi, err := os.Stat(filepath.Join(dir, "var/task")); err != nil || !fi.ModTime().Equal(testimage.Epoch) {
		t.Errorf("var/task mtime = %v, %v; want %v", fi.ModTime(), err, testimage.Epoch)
	}

	links := map[string]string{
		"usr/bin/python3": "/usr/bin/python3.12",
		"usr/bin/rel":     "../../etc/hosts",
		"dangling":        "/nowhere/at/all",
		"evil":            "/etc",
		"up":              "../../../../../../..",
		"hostpasswd":      "/etc/passwd",
	}
	for p, want := range links {
		got, err := os.Readlink(filepath.Join(dir, p))
		if err != nil || got != want {
			t.Errorf("%s -> %q, %v; want -> %q", p, got, err, want)
		}
	}
	a, b := lstat(t, filepath.Join(dir, "usr/bin/python3.12")), lstat(t, filepath.Join(dir, "usr/bin/python3.12-copy"))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link: inodes %d and %d, nlink %d; want one inode, nlink 2", a.Ino, b.Ino, a.Nlink)
	}
	for _, p := range []string{"dev/null", "run/fifo"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was materialised; device nodes and fifos must be skipped", p)
		}
	}
	var skipped []string
	for _, s := range rep.Skipped {
		skipped = append(skipped, s.Path)
	}
	if got := strings.Join(skipped, " "); got != "/dev/null /run/fifo" {
		t.Errorf("skipped %q, want /dev/null /run/fifo", got)
	}
	if rep.Hardlinks != 1 || rep.Symlinks != 6 {
		t.Errorf("report %+v: want 1 hard link, 6 symlinks", rep)
	}
	// The caller's cleanup works on read-only directories.
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("removing the root: %v", err)
	}
}

func TestMaterializeRefusesNonEmptyDir(t *testing.T) {
	requireSandbox(t)
	dir := rootfsDir(t)
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := sandbox.Materialize(context.Background(), buildFS(t, []testimage.File{testimage.Reg("a", 0o644, "")}), dir)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Materialize into a non-empty dir: %v, want a not-empty error", err)
	}
}

func TestMaterializeCanceled(t *testing.T) {
	requireSandbox(t)
	var files []testimage.File
	for i := range 600 {
		files = append(files, testimage.Reg(fmt.Sprintf("f%03d", i), 0o644, "x"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sandbox.Materialize(ctx, buildFS(t, files), rootfsDir(t))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Materialize with a canceled context: %v", err)
	}
}

// busybox is Debian's static busybox (package busybox-static).
func busybox(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("needs Debian's busybox-static (/bin/busybox): %v", err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Skipf("/bin/busybox is not an ELF file: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Skip("/bin/busybox is dynamically linked: install Debian's busybox-static")
		}
	}
	return string(b)
}

// arm64ELF is the header of an aarch64 executable.
func arm64ELF() string {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(h[16:], 2)    // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], 0xb7) // EM_AARCH64
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint16(h[52:], 64)
	binary.LittleEndian.PutUint16(h[54:], 56)
	return string(h)
}

// functionRoot materialises a small Lambda-like image around busybox.
func functionRoot(t *testing.T, extra ...testimage.File) string {
	t.Helper()
	bb := busybox(t)
	files := []testimage.File{
		testimage.Dir("bin", 0o755),
		testimage.Reg("bin/busybox", 0o755, bb),
		testimage.Symlink("bin/sh", "busybox"),
		testimage.Dir("var/task", 0o755),
		testimage.Reg("var/task/handler.sh", 0o755, "#!/bin/sh\necho handler ran\n"),
		testimage.Reg("var/task/private", 0o600, "#!/bin/sh\necho no\n"),
		testimage.Reg("var/task/arm64", 0o755, arm64ELF()),
		testimage.Reg("var/task/python-app", 0o755, "#!/usr/bin/python3\nprint(1)\n"),
		testimage.Reg("var/task/crlf", 0o755, "#!/bin/sh\r\necho crlf\r\n"),
		testimage.Dir("root", 0o700),
		// Lambda mounts its /tmp whatever the image holds there.
		testimage.Symlink("tmp", "/var/tmp"),
		{Path: "proc", Type: tar.TypeReg, Mode: 0o644},
	}
	files = append(files, extra...)
	dir := rootfsDir(t)
	if err := sandbox.Materialize(context.Background(), buildFS(t, files), dir); err != nil {
		t.Fatalf("Materialize: %v", err)
	}
	return dir
}

// snapshot is what must be the same before and after a sandbox: the host's
// mounts and the processes running as the Lambda user that these tests
// started.
type snapshot struct {
	mounts string
	procs  []string
}

func takeSnapshot(t *testing.T) snapshot {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var procs []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) != nil || st.Uid != sandbox.LambdaUID {
			continue
		}
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if slices.Contains(strings.Split(string(env), "\x00"), marker()) {
			cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			procs = append(procs, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return snapshot{mounts: string(b), procs: procs}
}

func (s snapshot) check(t *testing.T, before snapshot) {
	t.Helper()
	if s.mounts != before.mounts {
		t.Errorf("host mounts changed:\nbefore:\n%s\nafter:\n%s", before.mounts, s.mounts)
	}
	if len(s.procs) > 0 {
		t.Errorf("processes of the Lambda user left behind: %q", s.procs)
	}
}

// run starts argv in root and waits, with a deadline.
func run(t *testing.T, root string, s sandbox.Spec) (sandbox.ExitInfo, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	s.Root, s.Stdout, s.Stderr = root, &stdout, &stderr
	if s.Dir == "" {
		s.Dir = "/var/task"
	}
	if s.Env == nil {
		s.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LAMBDA_TASK_ROOT=/var/task"}
	}
	s.Env = append(s.Env, marker())
	before := takeSnapshot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := sandbox.Start(ctx, s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	info, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait: %v (stderr %q)", err, stderr.String())
	}
	if info.Killed {
		t.Fatalf("the sandbox ran into the test's deadline")
	}
	takeSnapshot(t).check(t, before)
	return info, stdout.String(), stderr.String()
}

func TestStartLikeLambda(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t)
	script := `id -u; id -g; id -G; pwd; cat /proc/1/cmdline | tr '\0' ' '; echo
touch /tmp/ok && echo tmp-writable
touch /x 2>&1 || true
touch /var/task/x 2>&1 || true
ls /dev | tr '\n' ' '; echo
echo "$FOO $LAMBDA_TASK_ROOT"
df -k /tmp | tail -1 | awk '{print $2}'
cat /root/x 2>&1 || true
`
	info, out, errOut := run(t, root, sandbox.Spec{
		Argv:      []string{"/bin/busybox", "sh", "-c", script},
		Env:       []string{"PATH=/bin", "FOO=bar", "LAMBDA_TASK_ROOT=/var/task"},
		TmpSizeMB: 16,
	})
	if info.Code != 0 || info.ExecErr != nil || info.ExecPath != "/bin/busybox" {
		t.Fatalf("exit %+v, stderr %q", info, errOut)
	}
	lines := strings.Split(out, "\n")
	want := []string{
		"993", "990", "990", "/var/task", "lambdoctor-sandbox-init ",
		"tmp-writable",
		"touch: /x: Read-only file system",
		"touch: /var/task/x: Read-only file system",
		"fd full null random stderr stdin stdout urandom zero ",
		"bar /var/task",
		"16384",
		"cat: can't open '/root/x': Permission denied",
	}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("output line %d: want %q\nfull output:\n%s\nstderr:\n%s", i, w, out, errOut)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "tmp", "ok")); err == nil {
		t.Errorf("/tmp/ok reached the materialised root: /tmp must be a tmpfs")
	}
}

// The sandbox has a network namespace of its own: the host's loopback
// services are out of reach, except through the forwarded port; with
// HostNetwork they are reachable, as before.
func TestNetworkIsolation(t *testing.T) {
	requireSandbox(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from the host")
	}))
	defer srv.Close()
	// "wget" is found through the function's PATH.
	root := functionRoot(t, testimage.Symlink("bin/wget", "busybox"))
	get := []string{"wget", "-q", "-O", "-", srv.URL + "/2018-06-01/runtime/invocation/next"}
	env := []string{"PATH=/usr/bin:/bin"}

	info, out, errOut := run(t, root, sandbox.Spec{Argv: get, Env: env})
	if info.Code == 0 || out != "" || !strings.Contains(errOut, "Connection refused") {
		t.Errorf("the host's loopback reached from an isolated sandbox: %+v, output %q, stderr %q", info, out, errOut)
	}
	info, out, errOut = run(t, root, sandbox.Spec{Argv: get, Env: env, HostNetwork: true})
	if info.Code != 0 || info.ExecPath != "/bin/wget" || out != "hello from the host" {
		t.Errorf("wget with HostNetwork: %+v, output %q, stderr %q", info, out, errOut)
	}

	// Only lo, up; and the hostname of its own UTS namespace.
	info, out, errOut = run(t, root, sandbox.Spec{Env: env,
		Argv: []string{"/bin/busybox", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate 2>/dev/null; hostname"}})
	lines := strings.Fields(out)
	if info.Code != 0 || len(lines) < 2 || lines[0] != "lo" || !strings.HasPrefix(lines[len(lines)-1], "169.254.") {
		t.Errorf("interfaces and hostname: %+v, output %q, stderr %q", info, out, errOut)
	}
	host, _ := os.Hostname()
	info, out, _ = run(t, root, sandbox.Spec{Env: env, HostNetwork: true, Hostname: "my-host",
		Argv: []string{"/bin/busybox", "hostname"}})
	if info.Code != 0 || strings.TrimSpace(out) != "my-host" {
		t.Errorf("hostname with Hostname set: %q", out)
	}
	if now, _ := os.Hostname(); now != host {
		t.Errorf("the host's hostname changed: %q, was %q", now, host)
	}
}

// A port forwarded out of the sandbox's network namespace: the function
// connects to 127.0.0.1:port inside, the host serves the connection.
func TestForwardedPort(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t, testimage.Symlink("bin/wget", "busybox"))
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Two requests: connections are forwarded one by one, for as long as
	// the sandbox lives.
	p, err := sandbox.Start(ctx, sandbox.Spec{Root: root, Dir: "/var/task", ForwardPort: 9001,
		Env:    []string{"PATH=/bin", marker()},
		Argv:   []string{"/bin/sh", "-c", "wget -q -O - http://127.0.0.1:9001/a && echo && wget -q -O - http://127.0.0.1:9001/b"},
		Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	ln := p.Forwarded()
	if ln == nil || ln.Addr().String() != "127.0.0.1:9001" {
		t.Fatalf("Forwarded: %v", ln)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "forwarded %s", r.URL.Path)
	})}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	info, err := p.Wait()
	hs.Close()
	if err != nil || info.Code != 0 || stdout.String() != "forwarded /a\nforwarded /b" {
		t.Errorf("through the forwarded port: %+v %v, output %q, stderr %q", info, err, stdout.String(), stderr.String())
	}
	select {
	case err := <-served:
		if err == nil {
			t.Errorf("Serve returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Serve still runs on the listener of a finished sandbox")
	}
	if p.Forwarded() == nil {
		t.Errorf("Forwarded is nil after Wait")
	}
	// With HostNetwork there is nothing to forward.
	p, err = sandbox.Start(ctx, sandbox.Spec{Root: root, Dir: "/", ForwardPort: 9001, HostNetwork: true,
		Env: []string{marker()}, Argv: []string{"/bin/sh", "-c", "exit 0"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Forwarded() != nil {
		t.Errorf("Forwarded with HostNetwork")
	}
	p.Wait()
}

func TestExecErrors(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t,
		owned(testimage.Dir("var/secret", 0o700), 0, 0),
	)
	for _, tc := range []struct {
		name        string
		argv        []string
		dir         string
		op          string
		errno       syscall.Errno
		exists      bool
		interpreter string
	}{
		{name: "missing file", argv: []string{"/var/task/bootstrap"}, op: "execve", errno: syscall.ENOENT},
		{name: "not in PATH", argv: []string{"bootstrap"}, op: "lookup", errno: syscall.ENOENT},
		{name: "0600 handler", argv: []string{"/var/task/private"}, op: "execve", errno: syscall.EACCES, exists: true},
		{name: "arm64 binary", argv: []string{"/var/task/arm64"}, op: "execve", errno: syscall.ENOEXEC, exists: true},
		{name: "missing interpreter", argv: []string{"/var/task/python-app"}, op: "execve", errno: syscall.ENOENT, exists: true, interpreter: "/usr/bin/python3"},
		{name: "CRLF shebang", argv: []string{"/var/task/crlf"}, op: "execve", errno: syscall.ENOENT, exists: true, interpreter: "/bin/sh\r"},
		{name: "missing workdir", argv: []string{"/bin/busybox", "true"}, dir: "/var/nope", op: "chdir", errno: syscall.ENOENT},
		{name: "workdir not searchable", argv: []string{"/bin/busybox", "true"}, dir: "/var/secret", op: "chdir", errno: syscall.EACCES},
		{name: "workdir is a file", argv: []string{"/bin/busybox", "true"}, dir: "/var/task/handler.sh", op: "chdir", errno: syscall.ENOTDIR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, _, _ := run(t, root, sandbox.Spec{Argv: tc.argv, Dir: tc.dir})
			var ee *sandbox.ExecError
			if !errors.As(info.ExecErr, &ee) {
				t.Fatalf("ExecErr = %v, want an *ExecError (info %+v)", info.ExecErr, info)
			}
			if ee.Op != tc.op || !errors.Is(info.ExecErr, tc.errno) || ee.Exists != tc.exists ||
				ee.Interpreter != tc.interpreter || (ee.Interpreter != "" && ee.InterpreterExists) {
				t.Errorf("ExecErr = %#v (%v)\nwant op %s, errno %v, exists %v, interpreter %q (missing)",
					ee, info.ExecErr, tc.op, tc.errno, tc.exists, tc.interpreter)
			}
			if info.Code != -1 {
				t.Errorf("Code = %d, want -1 for a function that never started", info.Code)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t)
	info, _, _ := run(t, root, sandbox.Spec{Argv: []string{"/bin/sh", "-c", "echo bye >&2; exit 3"}})
	if info.Code != 3 || info.Signal != "" || info.ExecErr != nil {
		t.Errorf("exit 3: got %+v", info)
	}
	info, _, _ = run(t, root, sandbox.Spec{Argv: []string{"/bin/sh", "-c", "kill -SEGV $$"}})
	if info.Code != -1 || info.Signal != "SIGSEGV" {
		t.Errorf("killed by SIGSEGV: got %+v", info)
	}
	// The function's orphans die with it.
	start := time.Now()
	info, _, _ = run(t, root, sandbox.Spec{Argv: []string{"/bin/sh", "-c", "sleep 1000 & exit 0"}})
	if info.Code != 0 || time.Since(start) > 3*time.Second {
		t.Errorf("exit with a background child: got %+v after %v", info, time.Since(start))
	}
	info, out, _ := run(t, root, sandbox.Spec{Argv: []string{"/var/task/handler.sh"}})
	if info.Code != 0 || out != "handler ran\n" {
		t.Errorf("script: got %+v, output %q", info, out)
	}
}

func TestKillHangingFunction(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t)
	for _, how := range []string{"Kill", "context"} {
		t.Run(how, func(t *testing.T) {
			before := takeSnapshot(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out syncBuffer
			p, err := sandbox.Start(ctx, sandbox.Spec{
				Root: root, Dir: "/var/task", Stdout: &out, Stderr: &out, Env: []string{marker()},
				// A function that never calls next, with a child of its
				// own that ignores SIGTERM and holds stdout open.
				Argv: []string{"/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo started; sleep 1000"},
			})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(out.String(), "started") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if len(takeSnapshot(t).procs) < 2 {
				t.Errorf("expected the function and its child running as the Lambda user")
			}
			start := time.Now()
			if how == "Kill" {
				if err := p.Kill(); err != nil {
					t.Fatal(err)
				}
			} else {
				cancel()
			}
			info, err := p.Wait()
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("stopping took %v", el)
			}
			if !info.Killed || info.Signal != "SIGKILL" {
				t.Errorf("info = %+v, want killed by SIGKILL", info)
			}
			if err := p.Kill(); err != nil {
				t.Errorf("second Kill: %v", err)
			}
			takeSnapshot(t).check(t, before)
		})
	}
}

func TestStartRejectsBadSpecs(t *testing.T) {
	requireSandbox(t)
	for _, s := range []sandbox.Spec{
		{Root: t.TempDir()},
		{Root: "relative", Argv: []string{"/bin/sh"}},
		{Root: filepath.Join(t.TempDir(), "missing"), Argv: []string{"/bin/sh"}},
	} {
		if p, err := sandbox.Start(context.Background(), s); err == nil {
			p.Kill()
			p.Wait()
			t.Errorf("Start(%+v) succeeded", s)
		}
	}
}

// TestParentDeath kills the process that started the sandbox (as Ctrl-C
// twice or an OOM kill would): the function and its children must die too.
func TestParentDeath(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t)
	before := takeSnapshot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+root, marker())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(stdout, &pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("reading the init's PID: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(takeSnapshot(t).procs) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(takeSnapshot(t).procs) < 2 {
		t.Errorf("the function never started")
	}
	cmd.Process.Kill()
	cmd.Wait()
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) && len(takeSnapshot(t).procs) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the sandbox init (pid %d) survived its parent", pid)
	}
	takeSnapshot(t).check(t, before)
}

// lambdoctorCgroups are the per-run cgroups this test process created that
// still exist, in every mounted cgroup hierarchy.
func lambdoctorCgroups(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("lambdoctor-%d-", os.Getpid())
	var left []string
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, pf := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(pf) < 1 || (pf[0] != "cgroup" && pf[0] != "cgroup2") {
			continue
		}
		filepath.WalkDir(f[4], func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.HasPrefix(d.Name(), prefix) {
				left = append(left, p)
			}
			return nil
		})
	}
	return left
}

// A function that uses more than MemoryMB is killed by the OOM killer of
// its cgroup, and the cgroup goes with the sandbox.
func TestMemoryLimit(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t)
	// Doubling a shell variable: 16 MB is reached after a few rounds.
	info, _, stderr := run(t, root, sandbox.Spec{MemoryMB: 16,
		Argv: []string{"/bin/sh", "-c", "s=xxxxxxxxxxxxxxxx; while :; do s=$s$s; done"}})
	m := info.Memory
	if m == nil {
		t.Fatalf("no memory stats: %+v", info)
	}
	if m.Cgroup == "" {
		if os.Getenv("LAMBDOCTOR_REQUIRE_SANDBOX") == "1" {
			t.Fatalf("LAMBDOCTOR_REQUIRE_SANDBOX=1 but the memory limit is not enforced: %s", m.NotEnforced)
		}
		t.Skipf("no usable cgroup memory controller: %s", m.NotEnforced)
	}
	if info.Signal != "SIGKILL" || m.OOMKills < 1 || m.LimitBytes != 16<<20 {
		t.Errorf("want the function OOM-killed at 16 MB; got %+v, memory %+v, stderr %q", info, *m, stderr)
	}
	if m.PeakBytes < 8<<20 || m.PeakBytes > 16<<20 {
		t.Errorf("peak %d bytes, want near the 16 MB limit", m.PeakBytes)
	}
	t.Logf("cgroup %s: peak %d bytes, %d OOM kills, limit hit %d times", m.Cgroup, m.PeakBytes, m.OOMKills, m.LimitHits)
	if left := lambdoctorCgroups(t); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}

	// Within the limit: the function exits normally, its peak is known.
	info, _, _ = run(t, root, sandbox.Spec{MemoryMB: 128, Argv: []string{"/bin/sh", "-c", "exit 0"}})
	if info.Code != 0 || info.Memory == nil || info.Memory.OOMKills != 0 || info.Memory.PeakBytes <= 0 {
		t.Errorf("a small function under 128 MB: got %+v, memory %+v", info, info.Memory)
	}
	// No MemoryMB, no cgroup.
	info, _, _ = run(t, root, sandbox.Spec{Argv: []string{"/bin/sh", "-c", "exit 0"}})
	if info.Memory != nil {
		t.Errorf("memory stats without a limit: %+v", info.Memory)
	}
	if left := lambdoctorCgroups(t); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
}

// A fork storm stops at MaxProcs: forks past it fail, the limit is named
// with how often it was hit, and the sandbox's init survives to report how
// the function ended.
func TestProcessLimit(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t)
	// Background sleeps until forks fail, then report how many ran.
	storm := `n=0; while [ $n -lt 300 ]; do sleep 30 & n=$((n+1)); done; echo started $n`
	info, out, errOut := run(t, root, sandbox.Spec{MaxProcs: 64, Argv: []string{"/bin/sh", "-c", storm}})
	ps := info.Processes
	if ps == nil {
		t.Fatalf("no process stats: %+v", info)
	}
	if ps.Enforced == "" {
		t.Fatalf("process limit not enforced: %s", ps.NotEnforced)
	}
	// busybox sh exits 2 when it cannot fork.
	if info.Code != 2 || info.InitDied {
		t.Errorf("want the storm's shell to exit 2 on its fork failure, got %+v; stdout %q stderr %q", info, out, errOut)
	}
	if !strings.Contains(errOut, "can't fork") {
		t.Errorf("no fork failure in the function's stderr: %q", errOut)
	}
	if strings.HasPrefix(ps.Enforced, "cgroup") {
		if ps.LimitHits < 1 || ps.Peak > 64 || ps.Peak < 60 {
			t.Errorf("cgroup pids stats: %+v", *ps)
		}
	}
	t.Logf("%s; stats %+v; stdout %q", ps.Enforced, *ps, out)
	if left := lambdoctorCgroups(t); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
}

// Under a memory limit, a fork storm gets the function (or its children)
// OOM-killed, never the sandbox's init.
func TestForkStormUnderMemoryLimit(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t)
	// 20 children that each grow until the OOM killer takes them; the
	// storm's shell waits for them all, unless it is taken first.
	storm := `i=0; while [ $i -lt 20 ]; do sh -c 's=xxxxxxxxxxxxxxxx; while :; do s=$s$s$s; sleep 0.1; done' & i=$((i+1)); done; wait`
	info, _, errOut := run(t, root, sandbox.Spec{MaxProcs: sandbox.MaxProcsLambda, MemoryMB: 32,
		Argv: []string{"/bin/sh", "-c", storm}})
	if info.InitDied {
		t.Fatalf("the init died: %+v", info)
	}
	if info.Memory == nil || info.Processes == nil {
		t.Fatalf("no stats: %+v", info)
	}
	if info.Memory.Cgroup != "" && info.Memory.OOMKills < 1 {
		t.Errorf("want the storm OOM-killed: %+v, memory %+v", info, *info.Memory)
	}
	t.Logf("exit %+v, memory %+v, processes %+v, stderr tail %q", info, *info.Memory, *info.Processes, tail(errOut, 200))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// The function starts with the OOM score ExitInfo reports: Lambda's 0, or
// 1000 where the init cannot lower its own; the init's is below it.
func TestOOMScores(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t)
	info, out, errOut := run(t, root, sandbox.Spec{MemoryMB: 64,
		Argv: []string{"/bin/sh", "-c", "cat /proc/self/oom_score_adj; sleep 0.2; cat /proc/1/oom_score_adj"}})
	f := strings.Fields(out)
	if info.Code != 0 || len(f) != 2 {
		t.Fatalf("%+v, stdout %q, stderr %q", info, out, errOut)
	}
	fn, _ := strconv.Atoi(f[0])
	initScore, _ := strconv.Atoi(f[1])
	if fn != info.OOMScoreAdj || (fn != 0 && fn != 1000) || initScore >= fn && fn != 0 {
		t.Errorf("function %d, init %d, reported %d", fn, initScore, info.OOMScoreAdj)
	}
	if fn == 0 && initScore != -1000 {
		t.Errorf("the function has Lambda's score 0 but the init %d, not -1000", initScore)
	}
	t.Logf("function oom_score_adj %d, init %d", fn, initScore)
}

// Process.Dial reaches a listener inside the sandbox's own network
// namespace through its init, and sandbox.localdomain resolves to the
// loopback there, without the image's /etc/hosts being changed.
func TestDialIntoTheSandbox(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t, testimage.Dir("etc", 0o755), testimage.Reg("etc/hosts", 0o644, "127.0.0.1 localhost"),
		testimage.Symlink("bin/nc", "busybox"), testimage.Symlink("bin/cat", "busybox"))
	before := takeSnapshot(t)
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := sandbox.Start(ctx, sandbox.Spec{Root: root, Dir: "/", ForwardPort: 9001,
		Env:    []string{"PATH=/bin", marker()},
		Argv:   []string{"/bin/sh", "-c", "cat /etc/hosts; sleep 30 | nc -l -p 4243"},
		Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err = p.Dial(ctx, 4243); err == nil {
			break
		}
		if !strings.Contains(err.Error(), "connection refused") || time.Now().After(deadline) {
			t.Fatalf("Dial: %v (output %q %q)", err, out.String(), errb.String())
		}
	}
	if _, err := c.Write([]byte("through the init\n")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "through the init\n"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the listener got nothing: %q %q", out.String(), errb.String())
		}
	}
	if !strings.HasPrefix(out.String(), "127.0.0.1 localhost\n127.0.0.1\tsandbox.localdomain\n") {
		t.Errorf("/etc/hosts in the sandbox: %q", out.String())
	}
	// A port nothing listens on.
	if _, err := p.Dial(ctx, 4244); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Dial to a closed port: %v", err)
	}
	p.Kill()
	p.Wait()
	if _, err := p.Dial(ctx, 4243); err == nil {
		t.Error("Dial after the sandbox ended succeeded")
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/hosts")); err != nil || string(b) != "127.0.0.1 localhost" {
		t.Errorf("the image's /etc/hosts: %q, %v", b, err)
	}
	takeSnapshot(t).check(t, before)
}
