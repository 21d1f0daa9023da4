package emulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// SandboxError is a failure of the sandbox rather than of the image: this
// machine cannot run it, or it could not start the function.
type SandboxError struct{ Err error }

func (e *SandboxError) Error() string { return e.Err.Error() }
func (e *SandboxError) Unwrap() error { return e.Err }

func sandboxError(err error) error {
	if errors.Is(err, sandbox.ErrUnsupported) {
		err = fmt.Errorf("cannot run functions on this machine: %w", err)
	}
	return &SandboxError{Err: err}
}

// Workspace is one run's private temporary directory: LoadDir for what
// loading the image spools, RootFS for the unpacked root filesystem (in a
// second run directory, on a tmpfs, when unpack writes it into memory).
type Workspace struct {
	LoadDir string
	RootFS  string

	dir *sandbox.RunDir
	// mem is the run directory on a tmpfs that holds RootFS when the
	// tree was unpacked into memory (see unpack).
	mem     *sandbox.RunDir
	keep    bool
	reaped  []string
	reapErr error
}

// Prepare checks that this machine can run the sandbox (a *SandboxError
// when not), removes what runs killed outright left behind (their
// temporary directories and cgroups), and creates the run's workspace.
func Prepare() (*Workspace, error) {
	if err := sandbox.Supported(); err != nil {
		return nil, sandboxError(err)
	}
	reaped, reapErr := sandbox.ReapStale()
	rd, err := sandbox.CreateRunDir()
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	w := &Workspace{
		LoadDir: filepath.Join(rd.Path, "load"), RootFS: filepath.Join(rd.Path, "rootfs"),
		dir: rd, reaped: reaped, reapErr: reapErr,
	}
	if err := os.Mkdir(w.LoadDir, 0o700); err != nil {
		rd.Remove()
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	return w, nil
}

// Close removes the workspace; with Function.Keep the root filesystem of
// a run that booted stays.
func (w *Workspace) Close() {
	if w.keep {
		os.RemoveAll(w.LoadDir)
		if w.mem != nil {
			w.mem.Keep()
			w.dir.Remove()
			return
		}
		w.dir.Keep()
		return
	}
	if w.mem != nil {
		w.mem.Remove()
	}
	w.dir.Remove()
}

// Function is the configuration run gives the function, as Lambda's
// function settings would.
type Function struct {
	// Arch is the function's architecture (for the notes on emulation).
	Arch string
	// Env is the function's environment variables (K=V), validated.
	Env []string
	// Event is the payload of the one invoke.
	Event                []byte
	MemoryMB, TmpSizeMB  int
	Timeout, InitTimeout time.Duration
	HostNetwork          bool
	// Keep keeps the root filesystem after the run (Outcome.RootFS).
	Keep bool
	// RootFSIn is where the root filesystem is unpacked: RootFSMemory,
	// RootFSDisk, or RootFSAuto ("" too; see unpack).
	RootFSIn string
}

// Run unpacks the inspected image into the workspace, boots it with fn,
// sends the event, and returns what happened with its diagnosis and
// notes. It closes im once unpacked. A *SandboxError is the sandbox's
// failure; any other error means the image could not be unpacked.
func Run(ctx context.Context, w *Workspace, im *inspect.Image, fn Function) (*Outcome, error) {
	mr, up, err := unpack(ctx, w, im, fn)
	if err != nil {
		return nil, err
	}
	out, err := Boot(ctx, fn.spec(w, im))
	if err != nil {
		return nil, sandboxError(err)
	}
	out.Unpack = up
	out.Diagnosis = Diagnose(out, im.FS, im.Report)
	out.Notes = append(out.Notes, Notes(fn.Arch, im.Source, mr, out.Memory)...)
	out.Notes = append(out.Notes, ReapNotes(w.reaped, w.reapErr)...)
	if fn.Keep {
		w.keep = true
		out.RootFS = w.RootFS
	}
	return out, nil
}

// Serve unpacks the inspected image into the workspace and serves the
// emulator's invoke endpoint on ln with it until ctx ends (see Listen).
// It closes im once unpacked.
func Serve(ctx context.Context, w *Workspace, im *inspect.Image, fn Function, ln net.Listener, log io.Writer) (*Session, error) {
	_, up, err := unpack(ctx, w, im, fn)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "lambdoctor: unpacked %s\n", termsafe.Text(unpackLine(up)))
	sess, err := Listen(ctx, fn.spec(w, im), ln, log)
	if err != nil {
		return sess, sandboxError(err)
	}
	if fn.Keep {
		w.keep = true
	}
	return sess, nil
}

// spec is what boot starts for fn.
func (fn Function) spec(w *Workspace, im *inspect.Image) Spec {
	t := im.Target
	return Spec{
		Root: w.RootFS, Argv: t.Argv(), ImageEnv: t.Config().Env, Env: fn.Env,
		Event: fn.Event, MemoryMB: fn.MemoryMB, TmpSizeMB: fn.TmpSizeMB,
		Timeout: fn.Timeout, InitTimeout: fn.InitTimeout, HostNetwork: fn.HostNetwork,
	}
}
