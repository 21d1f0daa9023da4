package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// nextEvent reads p's extension events until one arrives or the test's
// patience ends.
func nextEvent(t *testing.T, p *sandbox.Process) sandbox.ExtensionEvent {
	t.Helper()
	select {
	case ev, ok := <-p.ExtensionEvents():
		if !ok {
			t.Fatal("extension events closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no extension event")
		return sandbox.ExtensionEvent{}
	}
}

// Extensions start before the runtime, as the function's user, in /, with
// the function's environment less the "_" names; the runtime waits for
// StartRuntime; exits are reported; nothing is left behind.
func TestExtensionsStartBeforeTheRuntime(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t,
		testimage.Dir("opt", 0o755),
		testimage.Dir("opt/extensions", 0o755),
		// a: writes what it sees, then stays up until the sandbox ends.
		testimage.Reg("opt/extensions/a", 0o755, "#!/bin/sh\necho \"ext a: $(id -u) $(pwd) $0 $# ${_HANDLER-unset} $FOO\"\nexec sleep 1000\n"),
		// b: exits 7 at once.
		testimage.Reg("opt/extensions/b", 0o755, "#!/bin/sh\nexit 7\n"),
		// c: not executable.
		testimage.Reg("opt/extensions/c", 0o644, "#!/bin/sh\n"),
	)
	before := takeSnapshot(t)
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := sandbox.Start(ctx, sandbox.Spec{
		Root: root, Dir: "/var/task", Stdout: &out, Stderr: &out,
		Env:        []string{"PATH=/bin", "_HANDLER=main", "FOO=bar", marker()},
		Argv:       []string{"/bin/sh", "-c", "echo runtime; sleep 0.3"},
		Extensions: []string{"/opt/extensions/a", "/opt/extensions/b", "/opt/extensions/c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sandbox.ExtensionEvent{}
	for len(got) < 4 {
		ev := nextEvent(t, p)
		got[ev.Path+" "+ev.Kind] = ev
	}
	if _, ok := got["/opt/extensions/a start"]; !ok {
		t.Errorf("events %v: no start of a", got)
	}
	if ev := got["/opt/extensions/b exit"]; ev.Code != 7 {
		t.Errorf("exit of b: %+v", ev)
	}
	if ev := got["/opt/extensions/c launch-error"]; ev.Err == nil || !errors.Is(ev.Err, syscall.EACCES) {
		t.Errorf("launch of c: %+v", ev)
	}
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(out.String(), "runtime") {
		t.Fatalf("the runtime started before StartRuntime: %q", out.String())
	}
	if err := p.StartRuntime(); err != nil {
		t.Fatal(err)
	}
	if err := p.StartRuntime(); err == nil {
		t.Error("a second StartRuntime succeeded")
	}
	info, err := p.Wait()
	if err != nil || info.Code != 0 || info.ExecPath != "/bin/sh" {
		t.Fatalf("Wait = %+v, %v (output %q)", info, err, out.String())
	}
	if !strings.Contains(out.String(), "ext a: 993 / /opt/extensions/a 0 unset bar\n") || !strings.Contains(out.String(), "runtime\n") {
		t.Errorf("output %q", out.String())
	}
	// a, still running when the runtime exited, died with the sandbox.
	takeSnapshot(t).check(t, before)
	for range p.ExtensionEvents() {
	}
}

// A sandbox killed while it waits for StartRuntime leaves nothing behind,
// and its runtime never ran.
func TestKillBeforeStartRuntime(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t,
		testimage.Dir("opt", 0o755),
		testimage.Dir("opt/extensions", 0o755),
		testimage.Reg("opt/extensions/hang", 0o755, "#!/bin/sh\ntrap '' TERM\nexec sleep 1000\n"),
	)
	before := takeSnapshot(t)
	var out syncBuffer
	p, err := sandbox.Start(context.Background(), sandbox.Spec{
		Root: root, Stdout: &out, Stderr: &out, Env: []string{marker()},
		Argv:       []string{"/bin/sh", "-c", "echo runtime"},
		Extensions: []string{"/opt/extensions/hang"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, p); ev.Kind != "start" {
		t.Fatalf("event %+v", ev)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	info, err := p.Wait()
	if err != nil || !info.Killed {
		t.Fatalf("Wait = %+v, %v", info, err)
	}
	if info.ExecPath != "" || strings.Contains(out.String(), "runtime") {
		t.Errorf("the runtime ran: %+v, output %q", info, out.String())
	}
	if err := p.StartRuntime(); err == nil {
		t.Error("StartRuntime after the sandbox ended succeeded")
	}
	takeSnapshot(t).check(t, before)
}

// The extensions' output goes to ExtStdout and ExtStderr, not the
// function's; TerminateRuntime sends the runtime SIGTERM and the
// extensions outlive its exit until Kill.
func TestTerminateRuntimeKeepsExtensions(t *testing.T) {
	requireSandbox(t)
	root := functionRoot(t,
		testimage.Dir("opt", 0o755),
		testimage.Dir("opt/extensions", 0o755),
		testimage.Reg("opt/extensions/a", 0o755, "#!/bin/sh\necho ext a says hi\necho ext a complains >&2\nexec sleep 1000\n"),
	)
	before := takeSnapshot(t)
	var out, extOut, extErr syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := sandbox.Start(ctx, sandbox.Spec{
		Root: root, Dir: "/var/task", Stdout: &out, Stderr: &out, ExtStdout: &extOut, ExtStderr: &extErr,
		Env:        []string{"PATH=/bin", marker()},
		Argv:       []string{"/bin/sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo runtime; while :; do sleep 0.05; done"},
		Extensions: []string{"/opt/extensions/a"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, p); ev.Kind != "start" {
		t.Fatalf("event %+v", ev)
	}
	if err := p.TerminateRuntime(); err == nil {
		t.Error("TerminateRuntime before StartRuntime succeeded")
	}
	if err := p.StartRuntime(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return strings.Contains(out.String(), "runtime\n") && strings.Contains(extErr.String(), "complains")
	})
	if err := p.TerminateRuntime(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.RuntimeExited():
	case <-time.After(10 * time.Second):
		t.Fatalf("the runtime did not exit on SIGTERM: %q", out.String())
	}
	waited := make(chan struct{})
	go func() { p.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("the sandbox ended with its runtime: the extension did not outlive it")
	case <-time.After(200 * time.Millisecond):
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	<-waited
	info, _ := p.Wait()
	if info.Code != 3 || !strings.Contains(out.String(), "got TERM") {
		t.Errorf("runtime %+v, output %q", info, out.String())
	}
	if extOut.String() != "ext a says hi\n" || extErr.String() != "ext a complains\n" || strings.Contains(out.String(), "ext a") {
		t.Errorf("extension stdout %q, stderr %q, function output %q", extOut.String(), extErr.String(), out.String())
	}
	takeSnapshot(t).check(t, before)
	for range p.ExtensionEvents() {
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
