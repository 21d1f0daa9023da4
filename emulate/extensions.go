package emulate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/lambdoctor/lambdoctor/runtimeapi"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// extensionsDir is where Lambda finds external extensions.
const extensionsDir = "/opt/extensions"

// maxExtensions is Lambda's limit on extensions (the emulator's
// core.MaxAgentsAllowed).
const maxExtensions = 10

// listExtensions lists the external extensions of the unpacked root as
// Lambda does (the emulator's agents.ListExternalAgentPaths): every entry
// of /opt/extensions that is not a directory, in name order, as paths
// inside the root. None when there is no such directory. Symbolic links on
// the way resolve inside the root, as they do in the sandbox (an absolute
// target starts again from the root; ".." stops at it).
func listExtensions(root string) ([]string, error) {
	dir, err := resolveInRoot(root, extensionsDir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	d, err := r.Open(strings.TrimPrefix(dir, "/"))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if fi, err := d.Stat(); err != nil || !fi.IsDir() {
		return nil, err
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range ents {
		if !e.IsDir() {
			paths = append(paths, path.Join(extensionsDir, e.Name()))
		}
	}
	slices.Sort(paths) // File.ReadDir does not sort; os.ReadDir (the emulator's) does
	return paths, nil
}

// resolveInRoot resolves the symbolic links of p (absolute, inside root)
// the way the kernel does after a chroot to root: it returns the path
// inside root with no link left. The files themselves are only read with
// Lstat and Readlink under root, never followed on the host.
func resolveInRoot(root, p string) (string, error) {
	todo := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	cur := "/"
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(root + next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !fi.IsDir() {
				return "", syscall.ENOTDIR
			}
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", syscall.ELOOP
		}
		target, err := os.Readlink(root + next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, nil
}

// pumpExtensionEvents hands the starts, launch errors and exits of the
// extensions' processes to the server, until the sandbox is gone.
func pumpExtensionEvents(p *sandbox.Process, srv *runtimeapi.Server) {
	for ev := range p.ExtensionEvents() {
		name := path.Base(ev.Path)
		switch ev.Kind {
		case "start":
			srv.ExtensionStarted(name)
		case "launch-error":
			// The emulator's words: "fork/exec /opt/extensions/x: permission denied".
			why := fmt.Sprintf("fork/exec %s: %v", ev.Path, ev.Err.Err)
			if ev.Err.Interpreter != "" && !ev.Err.InterpreterExists {
				why += fmt.Sprintf(" (interpreter %q does not exist)", ev.Err.Interpreter)
			}
			srv.ExtensionLaunchFailed(name, why)
		case "exit":
			how := fmt.Sprintf("exit status %d", ev.Code)
			if ev.Signal != "" {
				how = "signal " + ev.Signal
			}
			srv.ExtensionExited(name, how)
		}
	}
}

// extensionsPhase waits, within the init timeout, until every extension
// registered, then starts the runtime, as Lambda does.
func (b *booter) extensionsPhase() {
	ctx, cancel := context.WithDeadline(b.ctx, b.initDeadline)
	defer cancel()
	ctx, cancelCause := context.WithCancelCause(ctx)
	defer cancelCause(nil)
	go func() {
		select {
		case <-b.w.done:
			cancelCause(errProcessExited)
		case <-ctx.Done():
		}
	}()
	err := b.srv.WaitExtensionsRegistered(ctx)
	var xe *runtimeapi.ExtensionError
	switch {
	case err == nil:
		if err := b.proc.StartRuntime(); err != nil {
			b.out.Result = ResultStartFailed
			b.out.Error = &RunError{Phase: "start", Type: "Runtime.Unknown", Message: err.Error()}
		} else {
			b.runtimeRunning = true
		}
	case errors.As(err, &xe):
		b.extensionFailed("init", xe)
	case b.ctx.Err() != nil:
		b.out.Result = ResultInterrupted
	case errors.Is(context.Cause(ctx), errProcessExited):
		msg := "the sandbox ended while the extensions registered"
		if b.w.err != nil {
			msg += ": " + b.w.err.Error()
		}
		b.out.Result = ResultStartFailed
		b.out.Error = &RunError{Phase: "start", Type: "Runtime.Unknown", Message: msg}
	default: // the init deadline
		b.out.failedExtension = strings.Join(b.unregistered(), ", ")
		b.srv.Mark(runtimeapi.KindInitTimeout, "", nil)
		b.out.Result = ResultInitTimeout
		b.out.Error = &RunError{Phase: "init", Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("INIT_REPORT Init Duration: %d ms Phase: init Status: timeout (extension %s did not register with /extension/register within %s; the runtime was never started)",
				b.s.InitTimeout.Milliseconds(), strings.Join(b.unregistered(), ", "), b.s.InitTimeout)}
	}
}

// extensionFailed ends the run with an extension's failure.
func (b *booter) extensionFailed(phase string, xe *runtimeapi.ExtensionError) {
	b.out.Result = ResultExtensionFailed
	b.out.Error = &RunError{Phase: phase, Type: xe.Type, Message: xe.Error()}
	b.out.failedExtension = xe.Name
}

// unregistered are the extensions that did not register.
func (b *booter) unregistered() []string {
	reg := map[string]bool{}
	for _, e := range b.srv.Extensions() {
		reg[e.Name] = true
	}
	var out []string
	for _, n := range b.extensions {
		if !reg[n] {
			out = append(out, n)
		}
	}
	return out
}

// notReady are the registered extensions not waiting in event/next.
func (b *booter) notReady() []string {
	var out []string
	for _, e := range b.srv.Extensions() {
		if e.State != "Ready" {
			out = append(out, e.Name)
		}
	}
	return out
}

// runtimeAnswered tells whether the runtime answered invocation id.
func (b *booter) runtimeAnswered(id string) bool {
	for _, e := range b.srv.Events() {
		if e.RequestID == id && (e.Kind == runtimeapi.KindResponse || e.Kind == runtimeapi.KindError) {
			return true
		}
	}
	return false
}
