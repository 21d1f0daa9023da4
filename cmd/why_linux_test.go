package cmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair with the Linux ioctls (no cgo, no
// dependency) and returns its terminal end.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("TIOCGPTN: %v", e)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("TIOCSPTLCK: %v", e)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the terminal end: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

// A terminal on stdin with no arguments and no --file is a usage error, not
// a wait for input that never comes.
func TestWhyTerminalStdin(t *testing.T) {
	tty := openPTY(t)
	if !isTerminal(tty) {
		t.Fatal("the pty's terminal end is not seen as a terminal")
	}
	s, out, errb := streams(nil)
	s.In = tty
	if code := Run(context.Background(), []string{"why"}, s); code != ExitUsage || !strings.Contains(errb.String(), "pipe it in") {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, errb, out)
	}
}
