package imagefs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

// resolveImage is a small AL2-like tree with the symlinks checks meet.
func resolveImage(t *testing.T) *FS {
	return build(t,
		[]tf{
			dir("usr/", 0o755), dir("usr/lib64/", 0o755), dir("usr/bin/", 0o755),
			reg("usr/lib64/ld-linux-x86-64.so.2", 0o755, "\x7fELFld"),
			sym("lib64", "usr/lib64"),
			sym("bin", "usr/bin"),
			reg("usr/bin/python3.12", 0o755, "\x7fELFpy"),
			sym("usr/bin/python3", "python3.12"),
			sym("usr/bin/python", "/usr/bin/python3"),
			dir("etc/", 0o755), dir("etc/alternatives/", 0o755),
			sym("etc/alternatives/java", "/usr/lib/jvm/bin/java"),
			sym("usr/bin/java", "/etc/alternatives/java"),
			sym("loop1", "loop2"), sym("loop2", "/loop1"),
			sym("self", "self"),
			sym("up", "../../../../usr/bin/python3.12"),
			sym("absup", "/../../usr/bin"),
			sym("dotdot", "usr/bin/../lib64/./ld-linux-x86-64.so.2"),
			reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
			sym("notdir", "/etc/passwd/x"),
			sym("empty", ""),
		},
		[]tf{
			dir("var/", 0o755), dir("var/task/", 0o755),
			sym("var/task/bootstrap", "../../bin/python"),
			sym("var/runtime", "/var/task"),
		},
	)
}

func TestResolve(t *testing.T) {
	f := resolveImage(t)
	tests := []struct {
		path  string
		final string
		chain string // "path->target@layer, ..."
		err   error
	}{
		{path: "/usr/bin/python3.12", final: "/usr/bin/python3.12"},
		{path: "/usr/bin/python3", final: "/usr/bin/python3.12", chain: "/usr/bin/python3->python3.12@0"},
		{path: "/usr/bin/python", final: "/usr/bin/python3.12", chain: "/usr/bin/python->/usr/bin/python3@0, /usr/bin/python3->python3.12@0"},
		{path: "/bin/python", final: "/usr/bin/python3.12", chain: "/bin->usr/bin@0, /usr/bin/python->/usr/bin/python3@0, /usr/bin/python3->python3.12@0"},
		{path: "/lib64/ld-linux-x86-64.so.2", final: "/usr/lib64/ld-linux-x86-64.so.2", chain: "/lib64->usr/lib64@0"},
		{path: "/var/task/bootstrap", final: "/usr/bin/python3.12",
			chain: "/var/task/bootstrap->../../bin/python@1, /bin->usr/bin@0, /usr/bin/python->/usr/bin/python3@0, /usr/bin/python3->python3.12@0"},
		{path: "/var/runtime/bootstrap", final: "/usr/bin/python3.12",
			chain: "/var/runtime->/var/task@1, /var/task/bootstrap->../../bin/python@1, /bin->usr/bin@0, /usr/bin/python->/usr/bin/python3@0, /usr/bin/python3->python3.12@0"},
		{path: "/up", final: "/usr/bin/python3.12", chain: "/up->../../../../usr/bin/python3.12@0"},
		{path: "/absup/python3.12", final: "/usr/bin/python3.12", chain: "/absup->/../../usr/bin@0"},
		{path: "/dotdot", final: "/usr/lib64/ld-linux-x86-64.so.2", chain: "/dotdot->usr/bin/../lib64/./ld-linux-x86-64.so.2@0"},
		{path: "/../../usr/./bin/../bin/python3.12", final: "/usr/bin/python3.12"},
		{path: "usr/bin", final: "/usr/bin"},
		{path: "/", final: "/"},
		{path: "/bin/", final: "/usr/bin", chain: "/bin->usr/bin@0"},
		{path: "/usr/bin/java", final: "/usr/lib/jvm/bin/java", err: fs.ErrNotExist,
			chain: "/usr/bin/java->/etc/alternatives/java@0, /etc/alternatives/java->/usr/lib/jvm/bin/java@0"},
		{path: "/nope/x/y", final: "/nope/x/y", err: fs.ErrNotExist},
		{path: "/etc/passwd/x", final: "/etc/passwd", err: ErrNotDir},
		{path: "/notdir", final: "/etc/passwd", err: ErrNotDir, chain: "/notdir->/etc/passwd/x@0"},
		{path: "/empty", final: "/empty", err: fs.ErrNotExist, chain: "/empty->@0"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := f.Resolve(tt.path)
			var hops []string
			for _, h := range r.Chain {
				hops = append(hops, fmt.Sprintf("%s->%s@%d", h.Path, h.Target, h.Layer))
			}
			if r.Requested != tt.path || r.Final != tt.final || strings.Join(hops, ", ") != tt.chain || !errors.Is(r.Err, tt.err) || (tt.err == nil) != (r.Err == nil) {
				t.Errorf("Resolve(%q) = final %q chain %q err %v; want %q %q %v", tt.path, r.Final, strings.Join(hops, ", "), r.Err, tt.final, tt.chain, tt.err)
			}
			if (r.Entry == nil) != (r.Err != nil) {
				t.Errorf("Entry = %v with err %v", r.Entry, r.Err)
			}
			if r.Entry != nil && r.Entry.Path != r.Final {
				t.Errorf("Entry.Path = %q, want %q", r.Entry.Path, r.Final)
			}
		})
	}
}

func TestResolveLoops(t *testing.T) {
	f := resolveImage(t)
	for _, p := range []string{"/loop1", "/loop2/x", "/self", "/usr/../self/.."} {
		r := f.Resolve(p)
		if !errors.Is(r.Err, ErrLoop) || len(r.Chain) != MaxSymlinkHops+1 || r.Entry != nil {
			t.Errorf("Resolve(%q): err %v, %d hops", p, r.Err, len(r.Chain))
		}
	}
	if _, err := f.Stat("loop1"); !errors.Is(err, ErrLoop) {
		t.Errorf("Stat(loop1) = %v, want ErrLoop", err)
	}
	// A chain of exactly MaxSymlinkHops links resolves.
	var es []tf
	for i := range MaxSymlinkHops {
		es = append(es, sym(fmt.Sprintf("l%d", i), fmt.Sprintf("l%d", i+1)))
	}
	es = append(es, reg(fmt.Sprintf("l%d", MaxSymlinkHops), 0o644, "end"))
	f = build(t, es)
	if r := f.Resolve("/l0"); r.Err != nil || len(r.Chain) != MaxSymlinkHops {
		t.Errorf("40 hops: err %v, %d hops", r.Err, len(r.Chain))
	}
	es[len(es)-1] = sym(fmt.Sprintf("l%d", MaxSymlinkHops), "end")
	es = append(es, reg("end", 0o644, "end"))
	f = build(t, es)
	if r := f.Resolve("/l0"); !errors.Is(r.Err, ErrLoop) {
		t.Errorf("41 hops: err %v", r.Err)
	}
}

func TestLookupIsExact(t *testing.T) {
	f := resolveImage(t)
	tests := []struct {
		path string
		ok   bool
		typ  byte
	}{
		{"/usr/bin/python3", true, TypeSymlink},
		{"/lib64", true, TypeSymlink},
		{"/lib64/ld-linux-x86-64.so.2", false, 0},
		{"/usr/lib64/ld-linux-x86-64.so.2", true, TypeReg},
		{"usr//lib64/./ld-linux-x86-64.so.2", true, TypeReg},
		{"/etc/../usr/lib64/../../usr/bin/python3.12", true, TypeReg},
		{"/../../etc/passwd", true, TypeReg},
		{"/", true, TypeDir},
		{"/missing", false, 0},
		{"/etc/passwd/x", false, 0},
	}
	for _, tt := range tests {
		e, ok := f.Lookup(tt.path)
		if ok != tt.ok || (ok && e.Type != tt.typ) {
			t.Errorf("Lookup(%q) = %+v, %v", tt.path, e, ok)
		}
	}
}

func TestFSSymlinkSemantics(t *testing.T) {
	f := resolveImage(t)
	// Stat follows, Lstat and ReadLink do not follow the final link but do
	// follow intermediate ones.
	if fi, err := f.Stat("bin/python"); err != nil || fi.Mode().Type() != 0 || fi.Name() != "python" || fi.Size() != 6 {
		t.Errorf("Stat(bin/python) = %v, %v", fi, err)
	}
	if fi, err := f.Lstat("bin/python"); err != nil || fi.Mode().Type() != fs.ModeSymlink || fi.Size() != int64(len("/usr/bin/python3")) {
		t.Errorf("Lstat(bin/python) = %v, %v", fi, err)
	}
	if fi, err := f.Lstat("lib64"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat(lib64) = %v, %v", fi, err)
	}
	if got, err := f.ReadLink("bin/python"); err != nil || got != "/usr/bin/python3" {
		t.Errorf("ReadLink(bin/python) = %q, %v", got, err)
	}
	if _, err := f.ReadLink("etc/passwd"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadLink(etc/passwd) err = %v", err)
	}
	if _, err := f.ReadLink("/etc/passwd"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadLink(/etc/passwd) err = %v", err)
	}
	if b, err := f.ReadFile("var/task/bootstrap"); err != nil || string(b) != "\x7fELFpy" {
		t.Errorf("ReadFile(var/task/bootstrap) = %q, %v", b, err)
	}
	if _, err := f.ReadFile("usr/bin/java"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(dangling) err = %v", err)
	}
	if _, err := f.Open("etc/passwd/x"); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrNotDir) {
		t.Errorf("Open(etc/passwd/x) err = %v", err)
	}
	list, err := f.ReadDir("bin")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list {
		names = append(names, d.Name()+":"+d.Type().String())
	}
	if got := strings.Join(names, " "); got != "java:L--------- python:L--------- python3:L--------- python3.12:----------" {
		t.Errorf("ReadDir(bin) = %s", got)
	}
	if fi, err := f.Stat("bin"); err != nil || !fi.IsDir() || fi.Sys().(*Entry).Path != "/usr/bin" {
		t.Errorf("Stat(bin) = %v, %v", fi, err)
	}
}

func TestHead(t *testing.T) {
	f := resolveImage(t)
	if got := string(f.Head("/var/task/bootstrap")); got != "\x7fELFpy" {
		t.Errorf("Head(bootstrap) = %q", got)
	}
	if got := f.Head("/etc/passwd"); got != nil {
		t.Errorf("Head(/etc/passwd) = %q, want nil (not executable, not captured)", got)
	}
	if got := f.Head("/usr/bin"); got != nil {
		t.Errorf("Head(dir) = %q", got)
	}
	if got := f.Head("/missing"); got != nil {
		t.Errorf("Head(missing) = %q", got)
	}
}
