package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without a cgroup memory controller (none mounted, or a read-only
// cgroupfs) no limit is applied, and the error says why.
func TestMemCgroupUnavailable(t *testing.T) {
	dir := t.TempDir()
	info := filepath.Join(dir, "mountinfo")
	os.WriteFile(info, []byte("22 1 0:21 / /proc rw,nosuid - proc proc rw\n"), 0o644)
	old := mountInfoPath
	mountInfoPath = info
	defer func() { mountInfoPath = old }()
	cg, err, perr := newRunCgroup(128<<20, 1024)
	if cg != nil || err == nil || !strings.Contains(err.Error(), "no cgroup memory controller") {
		t.Errorf("no cgroup mounted: err %v", err)
	}
	if perr == nil || !strings.Contains(perr.Error(), "no cgroup pids controller") {
		t.Errorf("no cgroup mounted: pids err %v", perr)
	}
	if cg, err, perr := newRunCgroup(0, 0); cg != nil || err != nil || perr != nil {
		t.Errorf("no limit asked: %v %v %v", cg, err, perr)
	}

	// A "v1 memory hierarchy" that is a plain directory: the cgroup files
	// are missing (as root) or it cannot be written (as anyone else).
	ro := filepath.Join(dir, "mem ory")
	os.Mkdir(ro, 0o555)
	os.WriteFile(info, []byte("30 25 0:26 / "+strings.ReplaceAll(ro, " ", `\040`)+" rw,relatime - cgroup cgroup rw,memory\n"), 0o644)
	_, err, _ = newRunCgroup(128<<20, 0)
	if err == nil || !strings.Contains(err.Error(), "cgroup v1 memory controller at "+ro) {
		t.Errorf("unusable v1 hierarchy: err %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(ro, "lambdoctor-*")); len(left) > 0 {
		t.Errorf("half-made cgroup left behind: %v", left)
	}
}

func TestMountinfoUnescape(t *testing.T) {
	if got := unescapeMount(`/a\040b\011c`); got != "/a b\tc" {
		t.Errorf("unescape: %q", got)
	}
}
