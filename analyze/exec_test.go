package analyze

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

func TestEffectiveArgv(t *testing.T) {
	a := EffectiveArgv(v1.Config{Entrypoint: []string{"/lambda-entrypoint.sh"}, Cmd: []string{"app.handler"}})
	if got := strings.Join(a.Args(), " "); got != "/lambda-entrypoint.sh app.handler" {
		t.Errorf("Args = %q", got)
	}
	if a.WorkingDir != "/" || a.WorkingDirSet || a.Name() != "/lambda-entrypoint.sh" || a.Source() != "ENTRYPOINT" || a.Empty() {
		t.Errorf("argv %+v: name %q source %q", a, a.Name(), a.Source())
	}
	if got, want := a.FixArg0("/x"), `ENTRYPOINT ["/x"]`; got != want {
		t.Errorf("FixArg0 = %s, want %s", got, want)
	}
	c := EffectiveArgv(v1.Config{Cmd: []string{"node", "index.js"}, WorkingDir: "/app"})
	if c.Source() != "CMD" || c.WorkingDir != "/app" || !c.WorkingDirSet {
		t.Errorf("argv %+v", c)
	}
	if got, want := c.FixArg0("/usr/local/bin/node"), `CMD ["/usr/local/bin/node", "index.js"]`; got != want {
		t.Errorf("FixArg0 = %s, want %s", got, want)
	}
	if !EffectiveArgv(v1.Config{}).Empty() || EffectiveArgv(v1.Config{}).Name() != "" {
		t.Error("empty config has a command")
	}
	ev := strings.Join(EffectiveArgv(v1.Config{Entrypoint: []string{`/a "b"`, "<&>"}}).Evidence(), "\n")
	for _, want := range []string{`config.Entrypoint=["/a \"b\"", "<&>"]`, "config.Cmd=(unset)", `config.WorkingDir=(unset, so "/")`} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %s:\n%s", want, ev)
		}
	}
}

func TestGetenvAndSearchPath(t *testing.T) {
	env := []string{"PATH=/a", "EMPTY=", "X=1=2", "PATH=/b:/c", "NOEQUALS"}
	if v, ok := Getenv(env, "PATH"); !ok || v != "/b:/c" {
		t.Errorf("PATH = %q %v, want the last assignment", v, ok)
	}
	if v, ok := Getenv(env, "X"); !ok || v != "1=2" {
		t.Errorf("X = %q", v)
	}
	if v, ok := Getenv(env, "EMPTY"); !ok || v != "" {
		t.Errorf("EMPTY = %q %v", v, ok)
	}
	if _, ok := Getenv(env, "NOEQUALS"); ok {
		t.Error("NOEQUALS found")
	}
	if p, from := SearchPath(v1.Config{}); p != DefaultPATH || from {
		t.Errorf("SearchPath without ENV = %q %v", p, from)
	}
	if p, from := SearchPath(v1.Config{Env: env}); p != "/b:/c" || !from {
		t.Errorf("SearchPath = %q %v", p, from)
	}
}

// lookupFS is an image for lookup tests: PATH dirs holding a
// non-executable "tool" first, then an executable one; a directory named
// "dirtool"; a tool only in a relative PATH entry's place.
func lookupFS(t *testing.T) *imagefs.FS {
	t.Helper()
	return newTarget(t, testimage.Spec{Layers: [][]testimage.File{{
		testimage.Dir("a", 0), testimage.Dir("b", 0), testimage.Dir("c", 0),
		testimage.Reg("a/tool", 0o644, "data"),
		testimage.Reg("b/tool", 0o755, fixtures.ELFStub),
		testimage.Reg("c/tool", 0o755, fixtures.ELFStub),
		testimage.Dir("a/dirtool", 0),
		testimage.Reg("a/plain", 0o644, "data"),
		testimage.Dir("work", 0),
		testimage.Reg("work/onlyhere", 0o755, fixtures.ELFStub),
		testimage.Symlink("b/link", "../c/tool"),
	}}}, "amd64").FS
}

func TestLookupExec(t *testing.T) {
	fsys := lookupFS(t)
	cfg := v1.Config{Env: []string{"PATH=/a::/b:relative:/c"}}
	for _, tc := range []struct {
		name, workDir string
		method        LookupMethod
		want          string // "" for not found
	}{
		{"tool", "/", LookupPATH, "/b/tool"},        // /a/tool lacks x: skipped, as exec.LookPath does
		{"plain", "/", LookupPATH, "/a/plain"},      // only a non-executable file: kept for permission checks
		{"dirtool", "/", LookupPATH, ""},            // directories are skipped
		{"link", "/", LookupPATH, "/b/link"},        // symlinks are followed
		{"onlyhere", "/work", LookupPATH, ""},       // relative PATH entries are not searched
		{"/c/tool", "/", LookupAbsolute, "/c/tool"}, // absolute as is
		{"/a/dirtool", "/", LookupAbsolute, "/a/dirtool"},
		{"/nope", "/", LookupAbsolute, ""},
		{"./onlyhere", "/work", LookupWorkdir, "/work/onlyhere"},
		{"work/onlyhere", "", LookupWorkdir, "/work/onlyhere"}, // empty workdir is "/"
		{"../c/tool", "/work", LookupWorkdir, "/c/tool"},
		{"", "/", LookupAbsolute, ""},
	} {
		l := LookupExec(fsys, cfg, tc.name, tc.workDir)
		if l.Method != tc.method || l.Path() != tc.want || l.Found() != (tc.want != "") {
			t.Errorf("LookupExec(%q, %q) = method %d path %q found %v; want %d %q", tc.name, tc.workDir, l.Method, l.Path(), l.Found(), tc.method, tc.want)
		}
	}
	l := LookupExec(fsys, cfg, "tool", "/")
	if len(l.SkippedDirs) != 1 || l.SkippedDirs[0] != "" || !l.PATHFromImage || len(l.Tried) != 2 {
		t.Errorf("lookup %+v: want the empty entry skipped and two tries up to /b/tool", l)
	}
	if l := LookupExec(fsys, cfg, "onlyhere", "/work"); strings.Join(l.SkippedDirs, ",") != ",relative" || len(l.Tried) != 3 {
		t.Errorf("lookup %+v: want \"\" and \"relative\" skipped, three absolute tries", l)
	}
	if r := l.Resolution(); r.Entry == nil || r.Final != "/b/tool" {
		t.Errorf("resolution %+v", r)
	}
	if r := LookupExec(fsys, cfg, "missing", "/").Resolution(); r.Requested != "/a/missing" || r.Err == nil {
		t.Errorf("resolution of a missing name = %+v, want the first candidate's", r)
	}
}

func entry(mode fs.FileMode, uid, gid int) *imagefs.Entry {
	return &imagefs.Entry{Path: "/f", Type: imagefs.TypeReg, Mode: mode, UID: uid, GID: gid}
}

func TestSandboxCan(t *testing.T) {
	for _, tc := range []struct {
		e    *imagefs.Entry
		p    Perm
		want bool
	}{
		{entry(0o755, 0, 0), PermRead | PermExec, true},
		{entry(0o750, 0, 0), PermExec, false},            // root-owned, no other bits
		{entry(0o750, 0, SandboxGID), PermExec, true},    // group 990 gets the group bits
		{entry(0o700, SandboxUID, 0), PermExec, true},    // the owner bits
		{entry(0o077, SandboxUID, 0), PermRead, false},   // owner bits only, as the kernel does
		{entry(0o705, 0, SandboxGID), PermRead, false},   // group bits only for group 990
		{entry(0o644, 1000, 1000), PermRead, true},       //
		{entry(0o644, 1000, 1000), PermExec, false},      //
		{entry(0o4711, 0, 0), PermExec, true},            // setuid bits do not matter
		{entry(0o755, 0, 0), PermWrite, false},           // read-only for others
		{nil, PermRead, false},                           //
		{entry(0o600, 0, 0), PermRead | PermExec, false}, //
	} {
		if got := SandboxCan(tc.e, tc.p); got != tc.want {
			t.Errorf("SandboxCan(%+v, %s) = %v, want %v", tc.e, tc.p, got, tc.want)
		}
	}
}

func TestSandboxAccess(t *testing.T) {
	fsys := newTarget(t, testimage.Spec{Layers: [][]testimage.File{{
		testimage.Dir("var", 0),
		testimage.Dir("var/task", 0o700),
		testimage.Reg("var/task/bootstrap", 0o755, fixtures.ELFStub),
		testimage.Dir("opt", 0),
		testimage.Dir("opt/private", 0o750),
		testimage.Reg("opt/private/tool", 0o755, fixtures.ELFStub),
		testimage.Dir("usr", 0),
		testimage.Dir("usr/bin", 0),
		testimage.Symlink("usr/bin/tool", "/opt/private/tool"),
		testimage.Reg("usr/bin/data", 0o644, "x"),
		testimage.Reg("usr/bin/ok", 0o755, fixtures.ELFStub),
		fixtures.Owned(testimage.Dir("home", 0o700), SandboxUID, SandboxGID),
		fixtures.Owned(testimage.Reg("home/mine", 0o700, fixtures.ELFStub), SandboxUID, 0),
		testimage.Dir("app", 0o711),
		testimage.Reg("app/run", 0o755, fixtures.ELFStub),
	}}}, "amd64").FS
	for _, tc := range []struct {
		path    string
		p       Perm
		blocked string // "" when allowed
	}{
		{"/usr/bin/ok", PermExec, ""},
		{"/var/task/bootstrap", PermExec, "/var/task"},
		{"/usr/bin/tool", PermExec, "/opt/private"}, // the link target's parent
		{"/usr/bin/data", PermExec, "/usr/bin/data"},
		{"/usr/bin/data", PermRead, ""},
		{"/usr/bin", PermExec, ""}, // searching a directory
		{"/home/mine", PermExec, ""},
		{"/app/run", PermRead | PermExec, ""}, // 0711: search without listing is enough
	} {
		r := fsys.Resolve(tc.path)
		err := SandboxAccess(fsys, r, tc.p)
		var ae *AccessError
		switch {
		case tc.blocked == "" && err != nil:
			t.Errorf("%s %s: %v", tc.path, tc.p, err)
		case tc.blocked != "" && (!errors.As(err, &ae) || ae.Path != tc.blocked):
			t.Errorf("%s %s: %v, want blocked at %s", tc.path, tc.p, err, tc.blocked)
		}
	}
	if err := SandboxAccess(fsys, fsys.Resolve("/nope"), PermRead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
	err := SandboxAccess(fsys, fsys.Resolve("/var/task/bootstrap"), PermExec)
	if want := "the sandbox user (uid 993, gid 990) has no search (execute) permission on directory /var/task (mode 0700, owner 0:0)"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestFormatChain(t *testing.T) {
	fsys := newTarget(t, testimage.Spec{Layers: [][]testimage.File{{
		testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0),
		testimage.Reg("usr/bin/python3.12", 0o755, fixtures.ELFStub),
		testimage.Symlink("usr/local/bin/python", "../../bin/python3.12"),
		testimage.Symlink("usr/local/bin/gone", "/usr/bin/gone"),
		testimage.Symlink("bin", "usr/bin"),
		testimage.Symlink("loop", "loop"),
	}}}, "amd64").FS
	for in, want := range map[string]string{
		"/usr/local/bin/python": "/usr/local/bin/python -> /usr/bin/python3.12",
		"/usr/local/bin/gone":   "/usr/local/bin/gone -> /usr/bin/gone (missing)",
		"/bin/python3.12":       "/bin/python3.12 -> /usr/bin/python3.12",
		"/bin/nope":             "/bin/nope -> /usr/bin/nope (missing)",
		"/nope/x":               "/nope/x (missing)",
		"/loop":                 "/loop -> /loop (symlink loop)",
		"/usr/bin/python3.12/x": "/usr/bin/python3.12/x (/usr/bin/python3.12 is not a directory)",
	} {
		if got := FormatChain(fsys.Resolve(in)); got != want {
			t.Errorf("FormatChain(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestDanglingLink(t *testing.T) {
	fsys := newTarget(t, testimage.Spec{Layers: [][]testimage.File{{
		testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0),
		testimage.Symlink("bin", "usr/bin"),
		testimage.Symlink("usr/bin/a", "b"),
		testimage.Symlink("usr/bin/b", "c"),
	}}}, "amd64").FS
	h, tr, ok := DanglingLink(fsys, fsys.Resolve("/bin/a"))
	if !ok || h.Path != "/usr/bin/b" || tr.Final != "/usr/bin/c" {
		t.Errorf("DanglingLink(/bin/a) = %+v %+v %v, want /usr/bin/b to the missing /usr/bin/c", h, tr, ok)
	}
	if _, _, ok := DanglingLink(fsys, fsys.Resolve("/bin/missing")); ok {
		t.Error("a missing file below a symlinked directory is not a dangling link")
	}
}

func TestFindFiles(t *testing.T) {
	fsys := newTarget(t, testimage.Spec{Layers: [][]testimage.File{{
		testimage.Reg("opt/x/share/tool", 0o644, "doc"),
		testimage.Reg("opt/x/bin/tool", 0o755, fixtures.ELFStub),
		testimage.Reg("usr/lib/tool/readme", 0o644, ""),
		testimage.Dir("usr/share/tool", 0),
		testimage.Reg("usr/local/bin/tool", 0o755, fixtures.ELFStub),
		testimage.Symlink("usr/bin/tool", "../local/bin/tool"),
		testimage.Symlink("usr/sbin/tool", "nowhere"),
	}}}, "amd64").FS
	got, err := FindFiles(context.Background(), fsys, "tool", []string{"/usr/bin", "relative"}, "/usr/local/bin/tool")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range got {
		paths = append(paths, f.Path)
	}
	if want := "/usr/bin/tool /opt/x/bin/tool /opt/x/share/tool"; strings.Join(paths, " ") != want {
		t.Errorf("FindFiles = %v, want %s", paths, want)
	}
	if !got[0].OnPath || got[1].OnPath {
		t.Errorf("OnPath: %+v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := []testimage.File{}
	for i := 0; i < 5000; i++ {
		big = append(big, testimage.Reg("d/f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26), 0o644, ""))
	}
	bigFS := newTarget(t, testimage.Spec{Layers: [][]testimage.File{big}}, "amd64").FS
	if _, err := FindFiles(ctx, bigFS, "tool", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled walk: %v", err)
	}
}

func TestCreatedBy(t *testing.T) {
	for in, want := range map[string]string{
		"/bin/sh -c #(nop)  CMD [\"app.handler\"]":             `CMD ["app.handler"]`,
		"/bin/sh -c gem install aws_lambda_ric":                "RUN gem install aws_lambda_ric",
		"RUN /bin/sh -c gem install aws_lambda_ric # buildkit": "RUN gem install aws_lambda_ric",
		"COPY app.rb /var/task # buildkit":                     "COPY app.rb /var/task",
		"":                                                     "",
		strings.Repeat("x", 150):                               strings.Repeat("x", 99) + "…",
	} {
		if got := CreatedBy(in); got != want {
			t.Errorf("CreatedBy(%q) = %q, want %q", in, got, want)
		}
	}
}
