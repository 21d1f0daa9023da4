package sandbox

// Lambda mounts a function's image read-only, so run can unpack it into
// memory (a tmpfs) instead of onto a disk: writing the files then costs
// about what copying them in memory costs, and the tree never waits on the
// disk. On a virtual disk, writing a 340 MB tree of 14k files takes two to
// five times as long as decompressing it. The tree then holds memory (it
// is charged to the memory cgroup of the process that writes it) for as
// long as the run lives, so MemoryBase accepts a tmpfs only when the tree
// is a small part of what the machine (and this process's cgroup) can
// still give.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lambdoctor/lambdoctor/internal/bytesize"
)

// MemoryShare is the largest share of the memory left (the smaller of the
// kernel's MemAvailable and the headroom of this process's memory cgroups)
// that a tree unpacked into memory may take: the rest stays for the
// function itself, the host and its page cache.
const MemoryShare = 4 // a quarter

// tmpfsSlack is kept free on the tmpfs beyond the tree: other users of
// /dev/shm (shared memory segments) must not find it full.
const tmpfsSlack = 64 << 20

// tmpfsInodeSlack is kept free on the tmpfs beyond the tree's inodes.
const tmpfsInodeSlack = 1024

// memoryCandidates are the tmpfs directories a run may unpack into, in
// order of preference: $XDG_RUNTIME_DIR when it is this user's own (per
// user, private; sudo may keep another user's), then /dev/shm. Tests
// replace it.
var memoryCandidates = func() []string {
	var c []string
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		var st unix.Stat_t
		if unix.Stat(d, &st) == nil && int(st.Uid) == os.Geteuid() {
			c = append(c, filepath.Clean(d))
		}
	}
	return append(c, "/dev/shm")
}

// memInfoPath is read for MemAvailable; tests replace it.
var memInfoPath = "/proc/meminfo"

// MemoryBase returns a directory on a tmpfs where a tree taking need
// bytes in entries entries can be unpacked into memory: a tmpfs that is
// mounted with exec allowed (Lambda executes from its image; a noexec
// mount stays noexec in the sandbox), writable by this user, with need
// plus 64 MB and an inode per entry free, while need is at most
// 1/MemoryShare of the memory left. A *NoMemoryError says why no candidate
// fits.
func MemoryBase(need int64, entries int) (string, error) {
	left, leftWhy := memoryLeft()
	e := &NoMemoryError{Need: need}
	if need > left/MemoryShare {
		e.Reasons = append(e.Reasons, fmt.Sprintf("it would take more than a quarter of the memory left (%s, %s)", bytesize.Decimal(left), leftWhy))
		return "", e
	}
	for _, dir := range memoryCandidates() {
		why := tmpfsFits(dir, need, entries)
		if why == "" {
			return dir, nil
		}
		e.Reasons = append(e.Reasons, dir+": "+why)
	}
	return "", e
}

// tmpfsFits says why dir cannot take need bytes in entries entries, ""
// when it can.
func tmpfsFits(dir string, need int64, entries int) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err.Error()
	}
	switch {
	case st.Type != unix.TMPFS_MAGIC:
		return "not a tmpfs"
	case st.Flags&unix.ST_NOEXEC != 0:
		return "mounted noexec"
	case st.Flags&unix.ST_RDONLY != 0:
		return "mounted read-only"
	}
	if unix.Access(dir, unix.W_OK|unix.X_OK) != nil {
		return "not writable"
	}
	free := int64(min(st.Bavail, math.MaxInt64/uint64(max(st.Bsize, 1)))) * st.Bsize
	if free < need+tmpfsSlack {
		return fmt.Sprintf("%s free", bytesize.Decimal(free))
	}
	// A tmpfs mounted with nr_inodes=0 has no inode limit and reports
	// none.
	if st.Files > 0 && st.Ffree < uint64(entries)+tmpfsInodeSlack {
		return fmt.Sprintf("%d inodes free", st.Ffree)
	}
	return ""
}

// memoryLeft is the memory this process can still use without making the
// kernel reclaim or kill: the smaller of MemAvailable and the headroom
// (limit minus usage) of its memory cgroup and every ancestor's, with what
// bounded it.
func memoryLeft() (int64, string) {
	left, why := int64(math.MaxInt64), "unknown"
	if v, err := memAvailable(); err == nil {
		left, why = v, "MemAvailable"
	}
	if h, where, ok := cgroupHeadroom(); ok && h < left {
		left, why = h, "the memory cgroup "+where
	}
	return left, why
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (int64, error) {
	b, err := os.ReadFile(memInfoPath)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "MemAvailable:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			break
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no MemAvailable in " + memInfoPath)
}

// cgroupHeadroom is the smallest limit-minus-usage of this process's
// memory cgroup and its ancestors (cgroup v2's memory.max and
// memory.current; v1's memory.limit_in_bytes and memory.usage_in_bytes),
// with the cgroup it comes from; ok is false when no limit is set.
func cgroupHeadroom() (left int64, where string, ok bool) {
	v2, v1, err := cgroupMountPoints()
	if err != nil {
		return 0, "", false
	}
	left = math.MaxInt64
	try := func(dir, limitFile, usageFile string) {
		lim, err := strconv.ParseInt(readTrim(filepath.Join(dir, limitFile)), 10, 64)
		if err != nil { // "max", or no such file
			return
		}
		use, err := strconv.ParseInt(readTrim(filepath.Join(dir, usageFile)), 10, 64)
		if err != nil {
			return
		}
		if h := max(lim-use, 0); h < left {
			left, where, ok = h, dir, true
		}
	}
	walk := func(m cgroupMount, limitFile, usageFile string) {
		if m.own == "" {
			return
		}
		for d := m.own; strings.HasPrefix(d, m.dir); d = filepath.Dir(d) {
			try(d, limitFile, usageFile)
			if d == m.dir {
				break
			}
		}
	}
	walk(v2, "memory.max", "memory.current")
	if m, found := v1[ctlMemory]; found {
		walk(m, "memory.limit_in_bytes", "memory.usage_in_bytes")
	}
	return left, where, ok
}
