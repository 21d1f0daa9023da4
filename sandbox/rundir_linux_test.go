package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// A run directory is reaped only once its lock is free; a kept one never.
func TestReapRunDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	live, err := CreateRunDir()
	if err != nil {
		t.Fatal(err)
	}
	dead, err := CreateRunDir()
	if err != nil {
		t.Fatal(err)
	}
	kept, err := CreateRunDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*RunDir{live, dead, kept} {
		if err := os.MkdirAll(filepath.Join(d.Path, "load", "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A run that died: its lock is released (by the kernel, here by
	// closing it); one kept with --keep.
	dead.lock.Close()
	kept.Keep()
	// Not a run directory: left alone.
	other := filepath.Join(tmp, "lambdoctor-other")
	os.Mkdir(other, 0o755)

	removed, errs := reapRunDirs(tmp)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !slices.Equal(removed, []string{dead.Path}) {
		t.Errorf("reaped %v, want only %s", removed, dead.Path)
	}
	for _, d := range []string{live.Path, kept.Path, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s reaped: %v", d, err)
		}
	}
	if err := live.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live.Path); err == nil {
		t.Errorf("Remove left %s", live.Path)
	}
}

func TestCgroupCreator(t *testing.T) {
	for name, want := range map[string]int{
		"lambdoctor-123-0a1b2c3d": 123, "lambdoctor-123-0A1B2C3D": 0, "lambdoctor-x-0a1b2c3d": 0,
		"lambdoctor-123-0a1b2c3": 0, "lambdoctor-run-123": 0, "other-123-0a1b2c3d": 0, "lambdoctor-0-0a1b2c3d": 0,
	} {
		pid, ok := cgroupCreator(name)
		if ok != (want != 0) || pid != want {
			t.Errorf("cgroupCreator(%q) = %d %v, want %d", name, pid, ok, want)
		}
	}
	if name := cgroupName(); func() bool { p, ok := cgroupCreator(name); return !ok || p != os.Getpid() }() {
		t.Errorf("cgroupName %q is not recognised", name)
	}
}

// The empty cgroups of a dead lambdoctor are reaped; those of a live one,
// and any with processes in them, are not.
func TestReapCgroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := c.Process.Pid
	v2, v1, err := cgroupMountPoints()
	if err != nil {
		t.Fatal(err)
	}
	var parent string
	switch {
	case v1[ctlPids].dir != "":
		parent = v1[ctlPids].dir
	case v2.dir != "":
		parent = v2.dir
	default:
		t.Skip("no pids or memory cgroup hierarchy")
	}
	dead := filepath.Join(parent, "lambdoctor-"+strconv.Itoa(deadPid)+"-0badcafe")
	alive := filepath.Join(parent, "lambdoctor-"+strconv.Itoa(os.Getppid())+"-0badcafe")
	for _, d := range []string{dead, alive} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Skipf("cannot create a cgroup in %s: %v", parent, err)
		}
		defer os.Remove(d)
	}
	// A dead creator's cgroup that still holds a process (not ours to
	// kill: its creator may live in another PID namespace).
	busy := filepath.Join(parent, "lambdoctor-"+strconv.Itoa(deadPid)+"-0badbeef")
	if err := os.Mkdir(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sleeper.Process.Kill()
		sleeper.Wait()
		removeCgroupDir(busy)
	}()
	if err := writeFile(filepath.Join(busy, "cgroup.procs"), strconv.Itoa(sleeper.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	removed, errs := reapCgroups()
	if _, err := os.Stat(busy); err != nil || slices.Contains(removed, busy) {
		t.Errorf("a cgroup with a process in it was reaped")
	}
	if len(errs) > 0 {
		t.Errorf("errors: %v", errs)
	}
	if !slices.Contains(removed, dead) || slices.Contains(removed, alive) {
		t.Errorf("reaped %v: want %s and not %s", removed, dead, alive)
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("the cgroup of a live process was reaped")
	}
}
