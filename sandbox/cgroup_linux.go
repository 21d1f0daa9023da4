package sandbox

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Where the cgroup hierarchies and this process's cgroups are read from
// (variables for tests).
var (
	mountInfoPath = "/proc/self/mountinfo"
	selfCgroup    = "/proc/self/cgroup"
)

// memCgroup is the per-run memory cgroup of one sandbox: the init is moved
// into it before it starts the function, so the function and everything it
// forks share the limit.
type memCgroup struct {
	version int    // 1 or 2
	dir     string // the cgroup's directory
	limit   int64  // bytes
}

// newMemCgroup creates a child cgroup limited to limit bytes without swap:
// cgroup v2 when a cgroup2 hierarchy offers the memory controller, else
// the cgroup v1 memory controller. The error says why no limit can be
// applied.
func newMemCgroup(limit int64) (*memCgroup, error) {
	v2, v1, err := cgroupMountPoints()
	if err != nil {
		return nil, err
	}
	name := cgroupName()
	var errs []error
	if v2.dir != "" {
		cg, err := newMemCgroupV2(v2, name, limit)
		if err == nil {
			return cg, nil
		}
		errs = append(errs, fmt.Errorf("cgroup v2 at %s: %w", v2.dir, err))
	}
	if v1.dir != "" {
		cg, err := newMemCgroupV1(v1, name, limit)
		if err == nil {
			return cg, nil
		}
		errs = append(errs, fmt.Errorf("cgroup v1 memory controller at %s: %w", v1.dir, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("no cgroup memory controller is mounted (neither a cgroup2 hierarchy with the memory controller nor a cgroup v1 memory hierarchy)")
	}
	return nil, errors.Join(errs...)
}

func cgroupName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("lambdoctor-%d-%s", os.Getpid(), hex.EncodeToString(b))
}

// cgroupMount is a mounted hierarchy and this process's cgroup in it.
type cgroupMount struct {
	dir string // mount point
	own string // this process's cgroup directory under dir ("" if not visible)
}

// cgroupMountPoints finds the cgroup2 mount whose root offers the memory
// controller and the cgroup v1 memory mount.
func cgroupMountPoints() (v2, v1 cgroupMount, err error) {
	f, err := os.Open(mountInfoPath)
	if err != nil {
		return v2, v1, fmt.Errorf("reading the mounts: %w", err)
	}
	defer f.Close()
	paths := ownCgroups()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /root /mnt/point rw,noatime shared:1 - fstype source super,options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, pfields := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(pfields) < 3 {
			continue
		}
		root, dir := unescapeMount(fields[3]), unescapeMount(fields[4])
		switch pfields[0] {
		case "cgroup2":
			if v2.dir != "" {
				continue
			}
			if !hasWord(readTrim(filepath.Join(dir, "cgroup.controllers")), "memory") {
				continue
			}
			v2 = cgroupMount{dir: dir, own: ownDir(dir, root, paths[""])}
		case "cgroup":
			if v1.dir != "" || !hasWord(strings.ReplaceAll(pfields[2], ",", " "), "memory") {
				continue
			}
			v1 = cgroupMount{dir: dir, own: ownDir(dir, root, paths["memory"])}
		}
	}
	return v2, v1, sc.Err()
}

// ownCgroups reads /proc/self/cgroup: the path per v1 controller, and ""
// for the unified hierarchy.
func ownCgroups() map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(selfCgroup)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// ownDir is the directory of cgroup path p in a hierarchy mounted at dir
// from root, "" when p is not below root (or does not exist).
func ownDir(dir, root, p string) string {
	if p == "" {
		return ""
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return ""
	}
	d := filepath.Join(dir, rel)
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		return ""
	}
	return d
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func writeFile(p, v string) error {
	// O_WRONLY without O_CREATE or O_TRUNC: cgroup files exist.
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// newMemCgroupV1 creates the cgroup under this process's own memory cgroup
// (so the limits above it still apply), or under the hierarchy's root.
func newMemCgroupV1(m cgroupMount, name string, limit int64) (*memCgroup, error) {
	var errs []error
	for _, parent := range uniqueNonEmpty(m.own, m.dir) {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		cg := &memCgroup{version: 1, dir: dir, limit: limit}
		if err := cg.setupV1(); err != nil {
			cg.remove()
			errs = append(errs, err)
			continue
		}
		return cg, nil
	}
	return nil, errors.Join(errs...)
}

func (cg *memCgroup) setupV1() error {
	lim := strconv.FormatInt(cg.limit, 10)
	if err := writeFile(filepath.Join(cg.dir, "memory.limit_in_bytes"), lim); err != nil {
		return fmt.Errorf("setting memory.limit_in_bytes: %w", err)
	}
	// No swap either (memory.memsw exists only with swap accounting).
	if p := filepath.Join(cg.dir, "memory.memsw.limit_in_bytes"); exists(p) {
		if err := writeFile(p, lim); err != nil {
			return fmt.Errorf("setting memory.memsw.limit_in_bytes: %w", err)
		}
	}
	// The kernel's OOM killer must act (a child inherits oom_kill_disable).
	_ = writeFile(filepath.Join(cg.dir, "memory.oom_control"), "0")
	return nil
}

// newMemCgroupV2 creates the cgroup in the nearest cgroup, from this
// process's own upwards, that has (or can be given) the memory controller
// for its children: a cgroup with processes of its own cannot, except the
// root.
func newMemCgroupV2(m cgroupMount, name string, limit int64) (*memCgroup, error) {
	var parents []string
	if m.own != "" {
		for d := m.own; strings.HasPrefix(d, m.dir); d = filepath.Dir(d) {
			parents = append(parents, d)
			if d == m.dir {
				break
			}
		}
	}
	parents = uniqueNonEmpty(append(parents, m.dir)...)
	var errs []error
	for _, parent := range parents {
		sub := filepath.Join(parent, "cgroup.subtree_control")
		if !hasWord(readTrim(sub), "memory") {
			if err := writeFile(sub, "+memory"); err != nil {
				errs = append(errs, fmt.Errorf("enabling the memory controller in %s: %w", parent, err))
				continue
			}
		}
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		cg := &memCgroup{version: 2, dir: dir, limit: limit}
		if err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatInt(limit, 10)); err != nil {
			cg.remove()
			errs = append(errs, fmt.Errorf("setting memory.max: %w", err))
			continue
		}
		if p := filepath.Join(dir, "memory.swap.max"); exists(p) {
			if err := writeFile(p, "0"); err != nil {
				cg.remove()
				errs = append(errs, fmt.Errorf("setting memory.swap.max: %w", err))
				continue
			}
		}
		return cg, nil
	}
	return nil, errors.Join(errs...)
}

func uniqueNonEmpty(list ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// add moves process pid into the cgroup.
func (cg *memCgroup) add(pid int) error {
	if err := writeFile(filepath.Join(cg.dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("moving the sandbox into %s: %w", cg.dir, err)
	}
	return nil
}

// stats reads what the cgroup saw: peak usage (0 when the kernel does not
// say) and the number of OOM kills.
func (cg *memCgroup) stats() MemoryStats {
	st := MemoryStats{Cgroup: fmt.Sprintf("v%d", cg.version), LimitBytes: cg.limit}
	if cg.version == 1 {
		st.PeakBytes, _ = strconv.ParseInt(readTrim(filepath.Join(cg.dir, "memory.max_usage_in_bytes")), 10, 64)
		st.OOMKills = keyedValue(filepath.Join(cg.dir, "memory.oom_control"), "oom_kill")
		st.LimitHits, _ = strconv.ParseInt(readTrim(filepath.Join(cg.dir, "memory.failcnt")), 10, 64)
		return st
	}
	st.PeakBytes, _ = strconv.ParseInt(readTrim(filepath.Join(cg.dir, "memory.peak")), 10, 64)
	st.OOMKills = keyedValue(filepath.Join(cg.dir, "memory.events"), "oom_kill")
	st.LimitHits = int64(keyedValue(filepath.Join(cg.dir, "memory.events"), "max"))
	return st
}

// keyedValue reads "key N" from a flat-keyed cgroup file.
func keyedValue(p, key string) int {
	for _, line := range strings.Split(readTrim(p), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// remove deletes the cgroup once its processes are gone: they are (the
// PID namespace died with the init) but the kernel may take a moment to
// let go of them. Stragglers are killed.
func (cg *memCgroup) remove() error {
	var err error
	deadline := time.Now().Add(2 * time.Second)
	killed := false
	for {
		err = syscall.Rmdir(cg.dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing the cgroup %s: %w", cg.dir, err)
		}
		if !killed && time.Until(deadline) < time.Second {
			killed = true
			for _, f := range strings.Fields(readTrim(filepath.Join(cg.dir, "cgroup.procs"))) {
				if pid, perr := strconv.Atoi(f); perr == nil && pid > 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}
