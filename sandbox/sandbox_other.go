//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// Supported returns why the sandbox cannot run here: it needs Linux.
func Supported() error {
	return fmt.Errorf("%w: lambdoctor run needs Linux (mount and PID namespaces); this is %s. Run it in a Linux VM or CI runner", ErrUnsupported, runtime.GOOS)
}

// MaybeInit does nothing outside Linux.
func MaybeInit() {}

// Materialize needs Linux.
func Materialize(ctx context.Context, fsys *imagefs.FS, dir string) error {
	return Supported()
}

// MaterializeReport needs Linux.
func MaterializeReport(ctx context.Context, fsys *imagefs.FS, dir string) (*Report, error) {
	return nil, Supported()
}

// Process is a function started in a sandbox (never, outside Linux).
type Process struct{}

// Start needs Linux.
func Start(ctx context.Context, s Spec) (*Process, error) { return nil, Supported() }

// Pid is 0 outside Linux.
func (p *Process) Pid() int { return 0 }

// Forwarded is nil outside Linux.
func (p *Process) Forwarded() net.Listener { return nil }

// Wait needs Linux.
func (p *Process) Wait() (ExitInfo, error) { return ExitInfo{Code: -1}, Supported() }

// Kill needs Linux.
func (p *Process) Kill() error { return Supported() }

// Release does nothing outside Linux.
func Release(dir string) error { return nil }

// RunDirPrefix starts the name of every run directory.
const RunDirPrefix = "lambdoctor-run-"

// RunDir is the private temporary directory of one run (not locked
// outside Linux).
type RunDir struct{ Path string }

// CreateRunDir creates a run directory in the temporary directory.
func CreateRunDir() (*RunDir, error) { return CreateRunDirIn("") }

// CreateRunDirIn creates a run directory in base ("" for the temporary
// directory).
func CreateRunDirIn(base string) (*RunDir, error) {
	dir, err := os.MkdirTemp(base, RunDirPrefix)
	if err != nil {
		return nil, err
	}
	return &RunDir{Path: dir}, nil
}

// Remove deletes the directory.
func (d *RunDir) Remove() error { return os.RemoveAll(d.Path) }

// Keep leaves the directory in place.
func (d *RunDir) Keep() {}

// MemoryBase finds no tmpfs outside Linux.
func MemoryBase(need int64, entries int) (string, error) { return "", ErrUnsupported }

// ReapStale has nothing to do outside Linux.
func ReapStale() ([]string, error) { return nil, nil }

// ExtensionEvents is a channel that never delivers: no sandbox runs here.
func (p *Process) ExtensionEvents() <-chan ExtensionEvent { return nil }

// StartRuntime reports that this platform runs no sandbox.
func (p *Process) StartRuntime() error { return Supported() }

// Dial fails: there is no sandbox outside Linux.
func (p *Process) Dial(ctx context.Context, port int) (net.Conn, error) { return nil, Supported() }

// TerminateRuntime fails: there is no sandbox outside Linux.
func (p *Process) TerminateRuntime() error { return Supported() }

// RuntimeExited is nil: there is no sandbox outside Linux.
func (p *Process) RuntimeExited() <-chan struct{} { return nil }

// KillRuntime fails: there is no sandbox outside Linux.
func (p *Process) KillRuntime() error { return Supported() }
