package sandbox

// What a run killed outright (kill -9, or the kernel's OOM killer of the
// host) cannot clean up itself is cleaned up by the next one. Its
// processes die with it (the init has a parent-death signal and is PID 1
// of the sandbox's PID namespace; the shim of the unprivileged path too)
// and its mounts with the init's mount namespace; its temporary directory
// and its cgroups stay. Each run therefore holds an exclusive flock(2) on
// a file in its directory for as long as it lives (the kernel drops it
// when the process dies, however it dies), and the next run removes every
// run directory of the same user whose lock it can take, and every per-run
// cgroup whose creator is gone.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// RunDirPrefix starts the name of every run directory in the temporary
// directory.
const RunDirPrefix = "lambdoctor-run-"

// runLockName is the lock file of a run directory. It appears only once
// its creator holds the lock: a directory without it is never reaped (a
// run that is starting, a root filesystem kept with --keep).
const runLockName = "lock"

// RunDir is the private temporary directory of one run.
type RunDir struct {
	Path string
	lock *os.File
}

// CreateRunDir creates a run directory in the temporary directory and
// locks it for the life of this process (or until Remove or Keep).
func CreateRunDir() (*RunDir, error) { return CreateRunDirIn("") }

// CreateRunDirIn is CreateRunDir in base ("" for the temporary
// directory): MemoryBase's directory, say. ReapStale looks in both.
func CreateRunDirIn(base string) (*RunDir, error) {
	dir, err := os.MkdirTemp(base, RunDirPrefix)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, runLockName+".new"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			// Visible to the reapers only now, locked.
			err = os.Rename(f.Name(), filepath.Join(dir, runLockName))
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return &RunDir{Path: dir, lock: f}, nil
}

// Remove deletes the directory and lets go of its lock.
func (d *RunDir) Remove() error {
	err := os.RemoveAll(d.Path)
	d.lock.Close()
	return err
}

// Keep leaves the directory in place for the user: it is no longer a run
// directory the next run may reap.
func (d *RunDir) Keep() {
	os.Remove(filepath.Join(d.Path, runLockName))
	d.lock.Close()
}

// ReapStale removes what killed runs left behind: the run directories of
// this user in the temporary directory and in the tmpfs directories runs
// unpack into (see MemoryBase) whose lock nobody holds (their
// root filesystems are given back first without root, see Release), and
// the per-run cgroups (lambdoctor-PID-*) whose creator PID is gone. It
// returns what it removed, and why something could not be.
func ReapStale() (removed []string, err error) {
	var errs []error
	seen := map[string]bool{}
	for _, base := range append([]string{os.TempDir()}, memoryCandidates()...) {
		if seen[base] {
			continue
		}
		seen[base] = true
		r, e := reapRunDirs(base)
		removed = append(removed, r...)
		if !errors.Is(errors.Join(e...), fs.ErrNotExist) {
			errs = append(errs, e...)
		}
	}
	r, e := reapCgroups()
	removed = append(removed, r...)
	errs = append(errs, e...)
	return removed, errors.Join(errs...)
}

func reapRunDirs(tmp string) (removed []string, errs []error) {
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil, []error{err}
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), RunDirPrefix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		var st syscall.Stat_t
		if syscall.Lstat(dir, &st) != nil || int(st.Uid) != os.Geteuid() {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, runLockName), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue // starting, kept, or gone meanwhile
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // a live run
			continue
		}
		// Its run is dead, and the lock is ours while we remove it.
		err = nil
		if root := filepath.Join(dir, "rootfs"); exists(root) {
			err = Release(root)
		}
		if err == nil {
			err = os.RemoveAll(dir)
		}
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("removing %s, left by a killed run: %w", dir, err))
			continue
		}
		removed = append(removed, dir)
	}
	return removed, errs
}

// reapCgroups removes the per-run cgroups of dead lambdoctor processes
// where runs create them: under this process's cgroup and its ancestors,
// in the cgroup2 hierarchy and the v1 memory and pids hierarchies.
func reapCgroups() (removed []string, errs []error) {
	v2, v1, err := cgroupMountPoints()
	if err != nil {
		return nil, nil
	}
	mounts := []cgroupMount{v2}
	for _, c := range []string{ctlMemory, ctlPids} {
		if m, ok := v1[c]; ok {
			mounts = append(mounts, m)
		}
	}
	seen := map[string]bool{}
	for _, m := range mounts {
		if m.dir == "" {
			continue
		}
		var parents []string
		if m.own != "" {
			for d := m.own; strings.HasPrefix(d, m.dir); d = filepath.Dir(d) {
				parents = append(parents, d)
				if d == m.dir {
					break
				}
			}
		}
		for _, parent := range uniqueNonEmpty(append(parents, m.dir)...) {
			if seen[parent] {
				continue
			}
			seen[parent] = true
			ents, err := os.ReadDir(parent)
			if err != nil {
				continue
			}
			for _, e := range ents {
				pid, ok := cgroupCreator(e.Name())
				if !ok || !e.IsDir() || pid == os.Getpid() || processExists(pid) {
					continue
				}
				// Only an empty cgroup goes: its creator may live in
				// another PID namespace, and what runs in it is not ours
				// to kill.
				dir := filepath.Join(parent, e.Name())
				if err := syscall.Rmdir(dir); err != nil {
					if !errors.Is(err, syscall.EBUSY) && !errors.Is(err, syscall.ENOENT) {
						errs = append(errs, fmt.Errorf("removing the cgroup %s, left by a killed run: %w", dir, err))
					}
					continue
				}
				removed = append(removed, dir)
			}
		}
	}
	return removed, errs
}

// cgroupCreator is the PID in a per-run cgroup's name
// (lambdoctor-PID-HEX).
func cgroupCreator(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, cgroupPrefix)
	if !ok {
		return 0, false
	}
	p, suffix, ok := strings.Cut(rest, "-")
	if !ok || len(suffix) != 8 {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		return 0, false
	}
	for _, c := range suffix {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return 0, false
		}
	}
	return pid, true
}

// processExists tells whether pid is a live process (or one we may not
// signal: alive too).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
