//go:build linux

package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// runDirs are the run directories holding a root filesystem: in tmp
// (--rootfs disk) and in the tmpfs directories of memoryBases.
func runDirs(t *testing.T, tmp string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(tmp, "lambdoctor-run-*"))
	if err != nil {
		t.Fatal(err)
	}
	var trees []string
	for _, d := range append(m, memoryRunDirs(t)...) {
		if _, err := os.Lstat(filepath.Join(d, "rootfs")); err == nil {
			trees = append(trees, d)
		}
	}
	return trees
}

// cgroupsOf are the per-run cgroups the lambdoctor process pid created that
// still exist.
func cgroupsOf(pid int) []string {
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	prefix := "lambdoctor-" + strconv.Itoa(pid) + "-"
	var left []string
	for _, line := range strings.Split(string(mounts), "\n") {
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

// binRun runs the lambdoctor binary to its end and returns its JSON report.
func binRun(t *testing.T, bin string, args ...string) (int, emulate.Doc, string) {
	t.Helper()
	return binRunAs(t, nil, bin, args...)
}

// binRunAs is binRun with the command set up by as (a user, an
// environment) when not nil.
func binRunAs(t *testing.T, as func(*exec.Cmd), bin string, args ...string) (int, emulate.Doc, string) {
	t.Helper()
	c := exec.Command(bin, append([]string{"run", "--format", "json"}, args...)...)
	if as != nil {
		as(c)
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	c.Run()
	var doc emulate.Doc
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Run == nil {
		t.Fatalf("lambdoctor %v: exit %d, no JSON report (%v)\n%s\nstderr: %s", args, c.ProcessState.ExitCode(), err, out.String(), errb.String())
	}
	return c.ProcessState.ExitCode(), doc, errb.String()
}

// afterKill checks what a run killed with SIGKILL leaves: no process of
// its sandbox and no mount (they die with it), its run directory (until
// the next run).
func afterKill(t *testing.T, what string, before map[int]bool, tree string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var left []int
	for {
		left = left[:0]
		for pid := range sandboxProcesses() {
			if !before[pid] {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("%s: processes of the sandbox survived the kill: %v", what, left)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mounts, []byte("lambdoctor-run-")) {
		t.Errorf("%s: a mount survived the kill:\n%s", what, mounts)
	}
	if _, err := os.Stat(tree); err != nil {
		t.Errorf("%s: the run directory is already gone (%v): the test did not catch the run alive", what, err)
	}
}

// leftCgroups logs the cgroups a killed run left (for the next run to
// reap).
func leftCgroups(t *testing.T, what string, pid int) {
	t.Logf("%s: cgroups left for the next run: %v", what, cgroupsOf(pid))
}

// reapedBy checks that the next run removed tree and the cgroups of the
// killed lambdoctor pid, and said so.
func reapedBy(t *testing.T, what string, doc emulate.Doc, tree string, pid int) {
	t.Helper()
	if _, err := os.Stat(tree); err == nil {
		t.Errorf("%s: the next run left the killed run's directory %s", what, tree)
	}
	if left := cgroupsOf(pid); len(left) > 0 {
		t.Errorf("%s: the next run left the killed run's cgroups %v", what, left)
	}
	said := false
	for _, n := range doc.Run.Notes {
		said = said || strings.Contains(n, "removed what killed runs left behind") && strings.Contains(n, tree)
	}
	if !said {
		t.Errorf("%s: the next run's notes do not say it removed %s: %q", what, tree, doc.Run.Notes)
	}
}

// bigGoImage is the Go function over n more files of 8 KB (3,000 make 24
// MB: unpacking takes long enough to be caught at it), owned by uid:gid
// in a directory of theirs.
func bigGoImage(t *testing.T, bin []byte, n, uid, gid int) v1.Image {
	dir := testimage.Dir("opt/data", 0o755)
	dir.UID, dir.GID = uid, gid
	files := []testimage.File{testimage.Dir("opt", 0), dir}
	chunk := strings.Repeat("lambdoctor", 820)
	for i := 0; i < n; i++ {
		f := testimage.Reg(fmt.Sprintf("opt/data/f%04d", i), 0o644, chunk)
		f.UID, f.GID = uid, gid
		files = append(files, f)
	}
	cfg, err := goImage(t, bin, 0o755).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return testimage.Image(t, testimage.Spec{Config: cfg.Config, Layers: [][]testimage.File{
		{
			testimage.Dir("etc", 0), testimage.Dir("etc/ssl", 0), testimage.Dir("etc/ssl/certs", 0),
			testimage.Reg("etc/ssl/certs/ca-certificates.crt", 0o644, caBundle),
			testimage.Dir("tmp", 0o1777),
			testimage.Dir("var", 0), testimage.Dir("var/task", 0),
			testimage.Reg("var/task/bootstrap", 0o755, string(bin)),
		},
		files,
	}})
}

// kill -9 of the real binary, mid-invoke and mid-unpack: nothing of the
// sandbox survives it, and the next run removes the run directory and the
// cgroups it left; a run next to a live one leaves the live one's alone.
func TestRunKilled(t *testing.T) {
	requireSandbox(t)
	bin := filepath.Join(lambdoctorBin(t), "lambdoctor")
	isolate(t)
	tmp := os.Getenv("TMPDIR")
	fn := goFunction(t, runtime.GOARCH)
	ref := writeArchive(t, goImage(t, fn, 0o755))
	quick := writeEvent(t, `{"name":"x"}`)
	hang := writeEvent(t, `{"name":"x","sleepMs":600000}`)
	before := sandboxProcesses()

	t.Run("invoke", func(t *testing.T) {
		// On disk: the unpack below goes into memory.
		c := exec.Command(bin, "run", "--rootfs", "disk", "--format", "json", "--timeout", "300s", "--event", hang, ref)
		var errb bytes.Buffer
		c.Stderr = &errb
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			c.Process.Kill()
			c.Wait()
		}()
		deadline := time.Now().Add(30 * time.Second)
		for len(sandboxProcesses()) < len(before)+2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		// The function takes the event at once; give it a moment.
		time.Sleep(time.Second)
		trees := runDirs(t, tmp)
		if len(trees) != 1 || len(sandboxProcesses()) < len(before)+2 {
			t.Fatalf("the hanging run is not mid-invoke: run directories %v\nstderr: %s", trees, errb.String())
		}
		tree := trees[0]
		if len(cgroupsOf(c.Process.Pid)) == 0 {
			t.Logf("the run made no cgroup here")
		}

		// A second run meanwhile leaves the live run's directory alone.
		code, doc, stderr := binRun(t, bin, "--event", quick, ref)
		if code != ExitOK || doc.Run.Result != emulate.ResultSuccess {
			t.Fatalf("a run next to a live one: exit %d, result %q\nstderr: %s", code, doc.Run.Result, stderr)
		}
		if _, err := os.Stat(tree); err != nil {
			t.Fatalf("a run next to a live one removed its directory: %v", err)
		}

		if err := c.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.Wait()
		afterKill(t, "killed mid-invoke", before, tree)
		leftCgroups(t, "killed mid-invoke", c.Process.Pid)
		code, doc, stderr = binRun(t, bin, "--event", quick, ref)
		if code != ExitOK {
			t.Fatalf("the next run: exit %d\nstderr: %s", code, stderr)
		}
		reapedBy(t, "killed mid-invoke", doc, tree, c.Process.Pid)
	})

	t.Run("unpack", func(t *testing.T) {
		big := writeArchive(t, bigGoImage(t, fn, 3000, 0, 0))
		old := map[string]bool{}
		for _, d := range runDirs(t, tmp) {
			old[d] = true
		}
		c := exec.Command(bin, "run", "--format", "json", "--event", quick, big)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			c.Process.Kill()
			c.Wait()
		}()
		// Caught once the root filesystem has entries, before any sandbox
		// process starts.
		var tree string
		deadline := time.Now().Add(60 * time.Second)
		for tree == "" && time.Now().Before(deadline) {
			for _, d := range runDirs(t, tmp) {
				if ents, _ := os.ReadDir(filepath.Join(d, "rootfs")); !old[d] && len(ents) > 0 {
					tree = d
				}
			}
			if tree == "" {
				time.Sleep(2 * time.Millisecond)
			}
		}
		if tree == "" {
			t.Fatal("never saw the root filesystem being unpacked")
		}
		c.Process.Signal(syscall.SIGKILL)
		c.Wait()
		for pid := range sandboxProcesses() {
			if !before[pid] {
				t.Fatalf("the sandbox had already started when the unpacking run was killed: pid %d", pid)
			}
		}
		afterKill(t, "killed mid-unpack", before, tree)
		leftCgroups(t, "killed mid-unpack", c.Process.Pid)
		code, doc, stderr := binRun(t, bin, "--event", quick, ref)
		if code != ExitOK {
			t.Fatalf("the next run: exit %d\nstderr: %s", code, stderr)
		}
		reapedBy(t, "killed mid-unpack", doc, tree, c.Process.Pid)
	})
}

// The same without root: lambdoctor runs as a throwaway user with a
// subordinate id range, its sandbox in a user namespace; a kill -9
// mid-invoke or mid-unpack leaves no process, and the user's next run
// gives the killed run's root filesystem (owned by subordinate ids) back
// and removes it.
func TestRunKilledUnprivileged(t *testing.T) {
	requireSandbox(t)
	if os.Geteuid() != 0 {
		sandboxMissing(t, "needs root to create a throwaway user")
	}
	for _, prog := range []string{"useradd", "usermod", "userdel", "newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(prog); err != nil {
			sandboxMissing(t, prog+" is missing (newuidmap and newgidmap: Debian package uidmap)")
		}
	}
	src := filepath.Join(lambdoctorBin(t), "lambdoctor")
	// Outside the test's private temporary directories, which only root
	// can enter.
	shared, err := os.MkdirTemp("", "lambdoctor-kill-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	isolate(t)
	name := fmt.Sprintf("ldkill%d", os.Getpid())
	if out, err := exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		sandboxMissing(t, fmt.Sprintf("useradd: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	start := 1<<30 + 300*65536 + (os.Getpid()%2048)*65536
	ids := fmt.Sprintf("%d-%d", start, start+65535)
	if out, err := exec.Command("usermod", "--add-subuids", ids, "--add-subgids", ids, name).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("usermod", "--del-subuids", ids, "--del-subgids", ids, name).Run() })
	uid, gid := userIDs(t, name)

	// The binary and the image where the user can read them, and a
	// temporary directory of its own.
	os.Chmod(shared, 0o755)
	bin := filepath.Join(shared, "lambdoctor")
	if b, err := os.ReadFile(src); err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatalf("copying the binary: %v", err)
	}
	// Files of another image user: on the host they belong to a
	// subordinate id, in a directory the user cannot write.
	ref := filepath.Join(shared, "image.tar")
	if err := os.Rename(writeArchive(t, bigGoImage(t, goFunction(t, runtime.GOARCH), 3, 1000, 1000)), ref); err != nil {
		t.Fatal(err)
	}
	os.Chmod(ref, 0o644)
	tmp := filepath.Join(shared, "tmp")
	os.Mkdir(tmp, 0o700)
	os.Chown(tmp, uid, gid)
	// The layer cache is the user's, kept on purpose: not in TMPDIR.
	cache := filepath.Join(shared, "cache")
	os.Mkdir(cache, 0o700)
	os.Chown(cache, uid, gid)
	quick, hang := filepath.Join(shared, "quick.json"), filepath.Join(shared, "hang.json")
	os.WriteFile(quick, []byte(`{"name":"x"}`), 0o644)
	os.WriteFile(hang, []byte(`{"name":"x","sleepMs":600000}`), 0o644)
	as := func(c *exec.Cmd) {
		c.Dir = tmp
		c.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + tmp, "TMPDIR=" + tmp, "LAMBDOCTOR_CACHE_DIR=" + cache}
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	}
	before := sandboxProcesses()

	c := exec.Command(bin, "run", "--format", "json", "--timeout", "300s", "--event", hang, ref)
	as(c)
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Process.Kill()
		c.Wait()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(sandboxProcesses()) < len(before)+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
	trees := runDirs(t, tmp)
	if len(trees) != 1 || len(sandboxProcesses()) < len(before)+2 {
		t.Fatalf("the hanging run is not mid-invoke: run directories %v\nstderr: %s", trees, errb.String())
	}
	tree := trees[0]
	c.Process.Signal(syscall.SIGKILL)
	c.Wait()
	afterKill(t, "killed mid-invoke without root", before, tree)
	code, doc, stderr := binRunAs(t, as, bin, "--event", quick, ref)
	if code != ExitOK {
		t.Fatalf("the next run without root: exit %d\nstderr: %s", code, stderr)
	}
	reapedBy(t, "killed mid-invoke without root", doc, tree, c.Process.Pid)

	// Mid-unpack.
	big := filepath.Join(shared, "big.tar")
	if err := os.Rename(writeArchive(t, bigGoImage(t, goFunction(t, runtime.GOARCH), 3000, 1000, 1000)), big); err != nil {
		t.Fatal(err)
	}
	os.Chmod(big, 0o644)
	c = exec.Command(bin, "run", "--format", "json", "--event", quick, big)
	as(c)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	tree = ""
	deadline = time.Now().Add(60 * time.Second)
	for tree == "" && time.Now().Before(deadline) {
		for _, d := range runDirs(t, tmp) {
			if ents, _ := os.ReadDir(filepath.Join(d, "rootfs")); len(ents) > 0 {
				tree = d
			}
		}
		if tree == "" {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if tree == "" {
		t.Fatal("never saw the root filesystem being unpacked")
	}
	c.Process.Signal(syscall.SIGKILL)
	c.Wait()
	for pid := range sandboxProcesses() {
		if !before[pid] {
			t.Fatalf("the sandbox had already started when the unpacking run was killed: pid %d", pid)
		}
	}
	afterKill(t, "killed mid-unpack without root", before, tree)
	code, doc, stderr = binRunAs(t, as, bin, "--event", quick, ref)
	if code != ExitOK {
		t.Fatalf("the next run without root: exit %d\nstderr: %s", code, stderr)
	}
	reapedBy(t, "killed mid-unpack without root", doc, tree, c.Process.Pid)
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("left in the user's temporary directory: %v", ents)
	}
}

func userIDs(t *testing.T, name string) (int, int) {
	t.Helper()
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, err = exec.Command("id", "-g", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return uid, gid
}
