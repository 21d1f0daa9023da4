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

// runCgroup is the per-run cgroup of one sandbox: the init is moved into
// it before it starts the function, so the function and everything it
// forks share its limits. The memory and the pids controllers may live in
// one cgroup (v2) or in two (the v1 hierarchies, or v2 for one and v1 for
// the other).
type runCgroup struct {
	mem  *ctlCgroup // nil when memory is not limited
	pids *ctlCgroup // nil when the number of processes is not limited
	// dirs are the directories created, each once.
	dirs     []string
	memLimit int64 // bytes
	maxProcs int
}

// ctlCgroup is where one controller of a runCgroup lives.
type ctlCgroup struct {
	version int    // 1 or 2
	dir     string // the cgroup's directory
}

// The controllers a sandbox uses.
const (
	ctlMemory = "memory"
	ctlPids   = "pids"
)

// newRunCgroup creates the cgroup(s) of one sandbox: limited to memLimit
// bytes without swap when memLimit > 0, and to maxProcs processes and
// threads (pids.max) when maxProcs > 0. cgroup v2 is used where a cgroup2
// hierarchy offers the controller, else its cgroup v1 hierarchy. memErr
// and pidsErr say why a requested limit cannot be applied; cg is nil when
// neither can.
func newRunCgroup(memLimit int64, maxProcs int) (cg *runCgroup, memErr, pidsErr error) {
	want := map[string]bool{ctlMemory: memLimit > 0, ctlPids: maxProcs > 0}
	if !want[ctlMemory] && !want[ctlPids] {
		return nil, nil, nil
	}
	v2, v1, err := cgroupMountPoints()
	if err != nil {
		return nil, err, err
	}
	cg = &runCgroup{memLimit: memLimit, maxProcs: maxProcs}
	name := cgroupName()
	errs := map[string][]error{}
	// cgroup v2: one cgroup for every controller the hierarchy offers.
	if v2.dir != "" {
		var ctls []string
		for _, c := range []string{ctlMemory, ctlPids} {
			if want[c] && hasWord(v2.controllers, c) {
				ctls = append(ctls, c)
			}
		}
		if len(ctls) > 0 {
			dir, err := cg.newV2(v2, name, ctls)
			if err == nil {
				for _, c := range ctls {
					cg.set(c, &ctlCgroup{version: 2, dir: dir})
				}
			} else {
				for _, c := range ctls {
					errs[c] = append(errs[c], fmt.Errorf("cgroup v2 at %s: %w", v2.dir, err))
				}
			}
		}
	}
	for _, c := range []string{ctlMemory, ctlPids} {
		if !want[c] || cg.get(c) != nil {
			continue
		}
		m, ok := v1[c]
		if !ok {
			continue
		}
		dir, err := cg.newV1(m, name, c)
		if err != nil {
			errs[c] = append(errs[c], fmt.Errorf("cgroup v1 %s controller at %s: %w", c, m.dir, err))
			continue
		}
		cg.set(c, &ctlCgroup{version: 1, dir: dir})
	}
	why := func(c, what string) error {
		if !want[c] || cg.get(c) != nil {
			return nil
		}
		if len(errs[c]) == 0 {
			return fmt.Errorf("no cgroup %s controller is mounted (neither a cgroup2 hierarchy with the %s controller nor a cgroup v1 %s hierarchy)", what, c, c)
		}
		return errors.Join(errs[c]...)
	}
	memErr, pidsErr = why(ctlMemory, "memory"), why(ctlPids, "pids")
	if cg.mem == nil && cg.pids == nil {
		return nil, memErr, pidsErr
	}
	return cg, memErr, pidsErr
}

func (cg *runCgroup) get(c string) *ctlCgroup {
	if c == ctlMemory {
		return cg.mem
	}
	return cg.pids
}

func (cg *runCgroup) set(c string, cc *ctlCgroup) {
	if c == ctlMemory {
		cg.mem = cc
	} else {
		cg.pids = cc
	}
}

// cgroupPrefix starts the name of every per-run cgroup; the PID of the
// lambdoctor that made it follows (see ReapStale).
const cgroupPrefix = "lambdoctor-"

func cgroupName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s%d-%s", cgroupPrefix, os.Getpid(), hex.EncodeToString(b))
}

// cgroupMount is a mounted hierarchy and this process's cgroup in it.
type cgroupMount struct {
	dir         string // mount point
	own         string // this process's cgroup directory under dir ("" if not visible)
	controllers string // v2: the controllers its root offers
}

// cgroupMountPoints finds the cgroup2 mount whose root offers the memory
// or the pids controller, and the cgroup v1 memory and pids mounts.
func cgroupMountPoints() (v2 cgroupMount, v1 map[string]cgroupMount, err error) {
	v1 = map[string]cgroupMount{}
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
			ctls := readTrim(filepath.Join(dir, "cgroup.controllers"))
			if !hasWord(ctls, ctlMemory) && !hasWord(ctls, ctlPids) {
				continue
			}
			v2 = cgroupMount{dir: dir, own: ownDir(dir, root, paths[""]), controllers: ctls}
		case "cgroup":
			opts := strings.ReplaceAll(pfields[2], ",", " ")
			for _, c := range []string{ctlMemory, ctlPids} {
				if _, seen := v1[c]; !seen && hasWord(opts, c) {
					v1[c] = cgroupMount{dir: dir, own: ownDir(dir, root, paths[c])}
				}
			}
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

// newV1 creates the cgroup of controller c under this process's own
// cgroup of that hierarchy (so the limits above it still apply), or under
// the hierarchy's root, and sets its limit.
func (cg *runCgroup) newV1(m cgroupMount, name, c string) (string, error) {
	var errs []error
	for _, parent := range uniqueNonEmpty(m.own, m.dir) {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		var err error
		if c == ctlMemory {
			err = cg.setupMemV1(dir)
		} else {
			err = cg.setupPids(dir)
		}
		if err != nil {
			removeCgroupDir(dir)
			errs = append(errs, err)
			continue
		}
		cg.dirs = append(cg.dirs, dir)
		return dir, nil
	}
	return "", errors.Join(errs...)
}

func (cg *runCgroup) setupMemV1(dir string) error {
	lim := strconv.FormatInt(cg.memLimit, 10)
	if err := writeFile(filepath.Join(dir, "memory.limit_in_bytes"), lim); err != nil {
		return fmt.Errorf("setting memory.limit_in_bytes: %w", err)
	}
	// No swap either (memory.memsw exists only with swap accounting).
	if p := filepath.Join(dir, "memory.memsw.limit_in_bytes"); exists(p) {
		if err := writeFile(p, lim); err != nil {
			return fmt.Errorf("setting memory.memsw.limit_in_bytes: %w", err)
		}
	}
	// The kernel's OOM killer must act (a child inherits oom_kill_disable).
	_ = writeFile(filepath.Join(dir, "memory.oom_control"), "0")
	return nil
}

func (cg *runCgroup) setupPids(dir string) error {
	if err := writeFile(filepath.Join(dir, "pids.max"), strconv.Itoa(cg.maxProcs)); err != nil {
		return fmt.Errorf("setting pids.max: %w", err)
	}
	return nil
}

// newV2 creates one cgroup with the controllers ctls in the nearest
// cgroup, from this process's own upwards, that has (or can be given)
// them for its children: a cgroup with processes of its own cannot,
// except the root.
func (cg *runCgroup) newV2(m cgroupMount, name string, ctls []string) (string, error) {
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
parent:
	for _, parent := range parents {
		sub := filepath.Join(parent, "cgroup.subtree_control")
		for _, c := range ctls {
			if !hasWord(readTrim(sub), c) {
				if err := writeFile(sub, "+"+c); err != nil {
					errs = append(errs, fmt.Errorf("enabling the %s controller in %s: %w", c, parent, err))
					continue parent
				}
			}
		}
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := cg.setupV2(dir, ctls); err != nil {
			removeCgroupDir(dir)
			errs = append(errs, err)
			continue
		}
		cg.dirs = append(cg.dirs, dir)
		return dir, nil
	}
	return "", errors.Join(errs...)
}

func (cg *runCgroup) setupV2(dir string, ctls []string) error {
	for _, c := range ctls {
		if c == ctlPids {
			if err := cg.setupPids(dir); err != nil {
				return err
			}
			continue
		}
		if err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatInt(cg.memLimit, 10)); err != nil {
			return fmt.Errorf("setting memory.max: %w", err)
		}
		if p := filepath.Join(dir, "memory.swap.max"); exists(p) {
			if err := writeFile(p, "0"); err != nil {
				return fmt.Errorf("setting memory.swap.max: %w", err)
			}
		}
	}
	return nil
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

// add moves process pid into the cgroup(s).
func (cg *runCgroup) add(pid int) error {
	for _, dir := range cg.dirs {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("moving the sandbox into %s: %w", dir, err)
		}
	}
	return nil
}

// memStats reads what the memory cgroup saw: peak usage (0 when the kernel
// does not say) and the number of OOM kills.
func (cg *runCgroup) memStats() MemoryStats {
	c := cg.mem
	st := MemoryStats{Cgroup: fmt.Sprintf("v%d", c.version), LimitBytes: cg.memLimit}
	if c.version == 1 {
		st.PeakBytes, _ = strconv.ParseInt(readTrim(filepath.Join(c.dir, "memory.max_usage_in_bytes")), 10, 64)
		st.OOMKills = keyedValue(filepath.Join(c.dir, "memory.oom_control"), "oom_kill")
		st.LimitHits, _ = strconv.ParseInt(readTrim(filepath.Join(c.dir, "memory.failcnt")), 10, 64)
		return st
	}
	st.PeakBytes, _ = strconv.ParseInt(readTrim(filepath.Join(c.dir, "memory.peak")), 10, 64)
	st.OOMKills = keyedValue(filepath.Join(c.dir, "memory.events"), "oom_kill")
	st.LimitHits = int64(keyedValue(filepath.Join(c.dir, "memory.events"), "max"))
	return st
}

// procStats reads what the pids cgroup saw: the most processes and
// threads at once (0 when the kernel does not say) and how many forks and
// clones the limit refused.
func (cg *runCgroup) procStats() ProcessStats {
	c := cg.pids
	st := ProcessStats{Limit: cg.maxProcs, Enforced: fmt.Sprintf("cgroup v%d pids.max", c.version)}
	st.Peak, _ = strconv.Atoi(readTrim(filepath.Join(c.dir, "pids.peak")))
	st.LimitHits = keyedValue(filepath.Join(c.dir, "pids.events"), "max")
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

// remove deletes the cgroup(s) once their processes are gone: they are
// (the PID namespace died with the init) but the kernel may take a moment
// to let go of them. Stragglers are killed.
func (cg *runCgroup) remove() error {
	var errs []error
	for _, dir := range cg.dirs {
		if err := removeCgroupDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroupDir removes one cgroup, killing what still runs in it.
func removeCgroupDir(dir string) error {
	var err error
	deadline := time.Now().Add(2 * time.Second)
	killed := false
	for {
		err = syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing the cgroup %s: %w", dir, err)
		}
		if !killed && time.Until(deadline) < 1500*time.Millisecond {
			killed = true
			for _, f := range strings.Fields(readTrim(filepath.Join(dir, "cgroup.procs"))) {
				if pid, perr := strconv.Atoi(f); perr == nil && pid > 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}
