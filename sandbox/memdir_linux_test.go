package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeMemory points the memory readings at files of the test: MemAvailable
// in kB, and a cgroup v2 hierarchy in which this process sits in /a/b,
// with memory.max and memory.current set on /a when limit > 0.
func fakeMemory(t *testing.T, availKB string, limit, usage string) {
	t.Helper()
	dir := t.TempDir()
	meminfo := filepath.Join(dir, "meminfo")
	os.WriteFile(meminfo, []byte("MemTotal:       24000000 kB\nMemAvailable:   "+availKB+" kB\n"), 0o644)
	cg := filepath.Join(dir, "cg")
	os.MkdirAll(filepath.Join(cg, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(cg, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644)
	os.WriteFile(filepath.Join(cg, "a", "b", "memory.max"), []byte("max\n"), 0o644)
	os.WriteFile(filepath.Join(cg, "a", "b", "memory.current"), []byte("1000\n"), 0o644)
	if limit != "" {
		os.WriteFile(filepath.Join(cg, "a", "memory.max"), []byte(limit+"\n"), 0o644)
		os.WriteFile(filepath.Join(cg, "a", "memory.current"), []byte(usage+"\n"), 0o644)
	}
	info := filepath.Join(dir, "mountinfo")
	os.WriteFile(info, []byte("30 25 0:26 / "+cg+" rw,relatime - cgroup2 cgroup2 rw\n"), 0o644)
	self := filepath.Join(dir, "cgroup")
	os.WriteFile(self, []byte("0::/a/b\n"), 0o644)
	oldInfo, oldMem, oldSelf := mountInfoPath, memInfoPath, selfCgroup
	mountInfoPath, memInfoPath, selfCgroup = info, meminfo, self
	t.Cleanup(func() { mountInfoPath, memInfoPath, selfCgroup = oldInfo, oldMem, oldSelf })
}

func useCandidates(t *testing.T, dirs ...string) {
	t.Helper()
	old := memoryCandidates
	memoryCandidates = func() []string { return dirs }
	t.Cleanup(func() { memoryCandidates = old })
}

// shmTmpfs is /dev/shm when it is a tmpfs this user can unpack into.
func shmTmpfs(t *testing.T) string {
	t.Helper()
	if why := tmpfsFits("/dev/shm", 0, 0); why != "" {
		t.Skipf("/dev/shm cannot be used here: %s", why)
	}
	return "/dev/shm"
}

func TestMemoryBase(t *testing.T) {
	shm := shmTmpfs(t)
	disk := t.TempDir()
	var st unix.Statfs_t
	if unix.Statfs(disk, &st) == nil && st.Type == unix.TMPFS_MAGIC {
		t.Skip("the temporary directory is a tmpfs too")
	}
	useCandidates(t, disk, shm)

	// 4 GB available, no cgroup limit: a 100 MB tree goes to the first
	// tmpfs, past the directory that is not one.
	fakeMemory(t, "4000000", "", "")
	got, err := MemoryBase(100<<20, 10)
	if err != nil || got != shm {
		t.Fatalf("MemoryBase(100 MB) = %q, %v; want %s", got, err, shm)
	}

	// More than a quarter of what is available: refused, saying so.
	_, err = MemoryBase(1100<<20, 10)
	var ne *NoMemoryError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "more than a quarter of the memory left") || !strings.Contains(err.Error(), "MemAvailable") {
		t.Errorf("MemoryBase(1.1 GB of 4 GB) = %v", err)
	}

	// A cgroup limit tighter than the machine: 1 GB, 600 MB used, so
	// 400 MB left and 100 MB the most a tree may take.
	fakeMemory(t, "4000000", "1000000000", "600000000")
	if _, err := MemoryBase(90<<20, 10); err != nil {
		t.Errorf("90 MB under a cgroup with 400 MB left: %v", err)
	}
	_, err = MemoryBase(110<<20, 10)
	if err == nil || !strings.Contains(err.Error(), "the memory cgroup") {
		t.Errorf("110 MB under a cgroup with 400 MB left: %v", err)
	}

	// Only the directory that is not a tmpfs: each reason is given.
	useCandidates(t, disk)
	fakeMemory(t, "4000000", "", "")
	_, err = MemoryBase(1<<20, 10)
	if err == nil || !strings.Contains(err.Error(), disk+": not a tmpfs") {
		t.Errorf("no tmpfs: %v", err)
	}
}

func TestTmpfsFits(t *testing.T) {
	shm := shmTmpfs(t)
	if why := tmpfsFits(shm, 1<<62, 0); !strings.Contains(why, "free") {
		t.Errorf("an exabyte tree on %s: %q, want how much is free", shm, why)
	}
	if why := tmpfsFits(filepath.Join(t.TempDir(), "missing"), 0, 0); why == "" {
		t.Error("a missing directory fits")
	}
}

func TestMemAvailableMalformed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "meminfo")
	old := memInfoPath
	memInfoPath = p
	t.Cleanup(func() { memInfoPath = old })
	for _, body := range []string{"", "MemAvailable: 12\n", "MemAvailable: x kB\n", "MemAvailable: -5 kB\n", "MemAvailable: 99999999999999999 kB\n"} {
		os.WriteFile(p, []byte(body), 0o644)
		if v, err := memAvailable(); err == nil {
			t.Errorf("%q: %d, want an error", body, v)
		}
	}
}

// A run directory a killed run left on a tmpfs is reaped too.
func TestReapStaleMemoryDirs(t *testing.T) {
	tmp, mem := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)
	useCandidates(t, mem, filepath.Join(mem, "missing"))
	dead, err := CreateRunDirIn(mem)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dead.Path, mem+"/") {
		t.Fatalf("CreateRunDirIn(%s) made %s", mem, dead.Path)
	}
	os.MkdirAll(filepath.Join(dead.Path, "rootfs", "usr"), 0o755)
	dead.lock.Close()
	removed, err := ReapStale()
	if err != nil {
		t.Fatalf("ReapStale: %v (a missing candidate is not an error)", err)
	}
	found := false
	for _, r := range removed {
		found = found || r == dead.Path
	}
	if !found {
		t.Errorf("ReapStale removed %v, not %s", removed, dead.Path)
	}
}
