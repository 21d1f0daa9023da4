package emulate

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/report"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// TestLambdaEnv: run's environment is lambda.Environment (tested in
// package lambda) with run's function name, region and memory size.
func TestLambdaEnv(t *testing.T) {
	env := lambdaEnv([]string{"APP=image"}, []string{"APP=flag"}, "127.0.0.1:9001", "app.handler", 256)
	for _, want := range []string{"AWS_LAMBDA_FUNCTION_NAME=lambdoctor-run", "AWS_REGION=us-east-1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001", "_HANDLER=app.handler", "APP=flag", "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/lambdoctor-run"} {
		if !slices.Contains(env, want) {
			t.Errorf("run's environment lacks %s: %q", want, env)
		}
	}
}

func TestTailWriter(t *testing.T) {
	w := newTailWriter("stderr", 3)
	fmt.Fprint(w, "one\ntwo\r\nthr")
	fmt.Fprint(w, "ee\n")
	fmt.Fprint(w, "x509: certificate signed by unknown authority\n")
	fmt.Fprint(w, strings.Repeat("a", maxTailLine+10)+"\n")
	fmt.Fprint(w, "x509: certificate signed by unknown authority (again)\n")
	fmt.Fprint(w, "no newline at the end")
	lines, total := w.tail()
	if total != 7 {
		t.Errorf("total %d, want 7", total)
	}
	if len(lines) != 3 || lines[2] != "no newline at the end" || !strings.HasSuffix(lines[0], "…") || len(lines[0]) > maxTailLine+len("…") {
		t.Errorf("tail %q", lines)
	}
	m := w.matches()
	if len(m) != 1 || m[0].pattern.Key != "ca-bundle-missing" || m[0].stream != "stderr" {
		t.Errorf("matches %+v, want one ca-bundle-missing (each kind once)", m)
	}
	// A short log keeps every line, in order.
	w = newTailWriter("stdout", 40)
	fmt.Fprint(w, "a\nb\n")
	if lines, _ := w.tail(); !slices.Equal(lines, []string{"a", "b"}) {
		t.Errorf("tail %q", lines)
	}
}

func diagFS(t *testing.T, files ...testimage.File) *imagefs.FS {
	t.Helper()
	img := testimage.Image(t, testimage.Spec{Config: v1.Config{Entrypoint: []string{"/var/task/bootstrap"}}, Layers: [][]testimage.File{files}})
	si, err := source.Load(context.Background(), writeArchive(t, img), source.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { si.Close() })
	fsys, err := imagefs.Build(context.Background(), si.Layers, imagefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func TestDiagnoseExecErrors(t *testing.T) {
	elfHead := func(machine uint16) string {
		h := make([]byte, 64)
		copy(h, "\x7fELF\x02\x01\x01")
		h[16] = 2 // ET_EXEC
		h[18], h[19] = byte(machine), byte(machine>>8)
		h[20] = 1
		return string(h)
	}
	fsys := diagFS(t,
		testimage.Dir("var/task", 0),
		testimage.Reg("var/task/script", 0o755, "#!/bin/bash\necho\n"),
		testimage.Reg("var/task/crlf", 0o755, "#!/bin/sh\r\necho\r\n"),
		testimage.Reg("var/task/arm", 0o755, elfHead(183)), // EM_AARCH64
		testimage.Reg("var/task/private", 0o600, elfHead(62)),
		testimage.Reg("var/task/text", 0o755, "echo no shebang\n"),
	)
	static := &report.Report{Findings: []report.Finding{{ID: "LD207"}, {ID: "LD203"}, {ID: "LD301", Suppressed: true}}}
	for _, tt := range []struct {
		name    string
		err     *sandbox.ExecError
		key     string
		checks  []string
		foundBy []string
	}{
		{"missing", &sandbox.ExecError{Op: "execve", Path: "/var/task/none", Err: syscall.ENOENT}, "exec-not-found", []string{"LD202", "LD201"}, []string{}},
		{"not on PATH", &sandbox.ExecError{Op: "lookup", Path: "bootstrap", Err: syscall.ENOENT}, "exec-not-found", []string{"LD202", "LD201"}, []string{}},
		{"script interpreter", &sandbox.ExecError{Op: "execve", Path: "/var/task/script", Err: syscall.ENOENT, Exists: true, Interpreter: "/bin/bash"}, "bad-interpreter", []string{"LD207", "LD208"}, []string{"LD207"}},
		{"crlf", &sandbox.ExecError{Op: "execve", Path: "/var/task/crlf", Err: syscall.ENOENT, Exists: true, Interpreter: "/bin/sh\r"}, "shebang-crlf", []string{"LD208", "LD207"}, []string{"LD207"}},
		{"elf loader", &sandbox.ExecError{Op: "execve", Path: "/var/task/private", Err: syscall.ENOENT, Exists: true, Interpreter: "/lib/ld-musl-x86_64.so.1"}, "elf-interpreter-missing", []string{"LD303", "LD207"}, []string{"LD207"}},
		{"arch", &sandbox.ExecError{Op: "execve", Path: "/var/task/arm", Err: syscall.ENOEXEC, Exists: true}, "exec-format-error", []string{"LD301", "LD102"}, []string{}},
		{"no shebang", &sandbox.ExecError{Op: "execve", Path: "/var/task/text", Err: syscall.ENOEXEC, Exists: true}, "exec-format-error", []string{"LD302", "LD207"}, []string{"LD207"}},
		{"mode", &sandbox.ExecError{Op: "execve", Path: "/var/task/private", Err: syscall.EACCES, Exists: true}, "exec-permission-denied", []string{"LD203", "LD501"}, []string{"LD203"}},
		{"workdir", &sandbox.ExecError{Op: "chdir", Path: "/var/function", Err: syscall.ENOENT}, "invalid-working-dir", []string{"LD206", "LD501"}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			run := &Outcome{Result: ResultStartFailed, execErr: tt.err, Exit: &Exit{Code: -1, ExecPath: tt.err.Path}}
			ds := Diagnose(run, fsys, static)
			if len(ds) == 0 {
				t.Fatal("no diagnosis")
			}
			d := ds[0]
			if d.Key != tt.key || !slices.Equal(d.Checks, tt.checks) || !slices.Equal(d.FoundBy, tt.foundBy) {
				t.Errorf("diagnosis %s %v found by %v; want %s %v found by %v\n%s", d.Key, d.Checks, d.FoundBy, tt.key, tt.checks, tt.foundBy, d.Detail)
			}
			if !strings.Contains(d.Detail, tt.err.Path) {
				t.Errorf("detail %q does not name %s", d.Detail, tt.err.Path)
			}
		})
	}
	// The mode is shown for a permission error.
	run := &Outcome{Result: ResultStartFailed, execErr: &sandbox.ExecError{Op: "execve", Path: "/var/task/private", Err: syscall.EACCES, Exists: true}, Exit: &Exit{}}
	if d := Diagnose(run, fsys, static)[0]; !strings.Contains(d.Detail, "0600") {
		t.Errorf("detail %q lacks the mode", d.Detail)
	}
}

func TestDiagnoseOutcomes(t *testing.T) {
	fsys := diagFS(t, testimage.Dir("var/task", 0))
	static := &report.Report{Findings: []report.Finding{{ID: "LD401"}, {ID: "LD601"}}}
	x509 := newTailWriter("stderr", 40)
	fmt.Fprintln(x509, `Get "https://sts.amazonaws.com": x509: certificate signed by unknown authority`)
	fmt.Fprintln(x509, "Cannot list external agents: open /opt/extensions: no such file or directory") // benign
	for _, tt := range []struct {
		name string
		run  *Outcome
		keys []string
	}{
		{"success", &Outcome{Result: ResultSuccess}, []string{}},
		{"init timeout", &Outcome{Result: ResultInitTimeout, Error: &RunError{Phase: "init", Message: "timeout"}}, []string{"init-timeout"}},
		{"exit in init", &Outcome{Result: ResultExitedDuringInit, Error: &RunError{Phase: "init", Message: "exit 0"}}, []string{"exited-without-next"}},
		{"init error", &Outcome{Result: ResultInitError, Error: &RunError{Phase: "init", Type: "Runtime.ImportModuleError", Message: "Unable to import module 'app': No module named 'app'"}}, []string{"import-module-error", "init-error"}},
		{"function error", &Outcome{Result: ResultFunctionError, Error: &RunError{Phase: "invoke", Type: "Runtime.HandlerNotFound", Message: "app.handler is undefined or not exported"}}, []string{"handler-not-found"}},
		{"invoke timeout", &Outcome{Result: ResultInvokeTimeout, Error: &RunError{Phase: "invoke", Message: "Task timed out after 3.00 seconds"}}, []string{"invoke-timeout"}},
		{"died", &Outcome{Result: ResultExitedDuringInvoke, Error: &RunError{Phase: "invoke"}, Exit: &Exit{Signal: "SIGKILL"}}, []string{"exited-during-invoke"}},
		{"output", &Outcome{Result: ResultFunctionError, Error: &RunError{Phase: "invoke", Type: "Unhandled"}, logMatches: x509.matches()}, []string{"ca-bundle-missing"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ds := Diagnose(tt.run, fsys, static)
			var keys []string
			for _, d := range ds {
				keys = append(keys, d.Key)
				if d.Checks == nil || d.FoundBy == nil {
					t.Errorf("%s: nil list", d.Key)
				}
				if d.Key == "init-timeout" && !slices.Equal(d.FoundBy, []string{"LD401"}) {
					t.Errorf("init-timeout found by %v, want LD401", d.FoundBy)
				}
				if d.Key == "ca-bundle-missing" && !slices.Equal(d.FoundBy, []string{"LD601"}) {
					t.Errorf("ca-bundle-missing found by %v, want LD601", d.FoundBy)
				}
			}
			if keys == nil {
				keys = []string{}
			}
			if !slices.Equal(keys, tt.keys) {
				t.Errorf("diagnosis %v, want %v", keys, tt.keys)
			}
		})
	}
}

func TestJSONOrString(t *testing.T) {
	if got := string(jsonOrString([]byte(`{"a":1}`))); got != `{"a":1}` {
		t.Errorf("JSON body %s", got)
	}
	if got := string(jsonOrString([]byte("plain text"))); got != `"plain text"` {
		t.Errorf("text body %s", got)
	}
	if jsonOrString(nil) != nil {
		t.Error("nil body not null")
	}
}

// writeArchive saves img as a docker save tarball.
func writeArchive(t *testing.T, img v1.Image) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag("example.com/fn:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatalf("writing archive: %v", err)
	}
	return p
}
