// Package cmd wires lambdoctor's command line. It holds no diagnosis logic:
// commands parse flags into an options struct and call a run function that
// the tests call directly.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/internal/termsafe"
)

// Exit codes, documented in `lambdoctor --help`.
const (
	ExitOK       = 0 // nothing at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on
	ExitUsage    = 2 // usage or configuration error
	ExitLoad     = 3 // an image could not be loaded or read
)

// exitError carries an exit code up to Main.
type exitError struct {
	code int
	err  error // nil: exit silently with code
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// Main runs lambdoctor with os.Args and returns the process exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], System())
}

// Run runs lambdoctor with args on streams and returns the exit code.
func Run(ctx context.Context, args []string, io *IOStreams) int {
	root := newRootCmd(io)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printErr(io.Err, ee.err)
		}
		return ee.code
	}
	// Anything cobra itself rejects (unknown flag, wrong argument count) is
	// a usage error.
	printErr(io.Err, err)
	return ExitUsage
}

// printErr is where every error reaches standard error: errors embed
// paths, references and config values from the image, escaped here so none
// acts on the terminal.
func printErr(w io.Writer, err error) {
	fmt.Fprintf(w, "lambdoctor: %s\n", termsafe.Text(err.Error()))
}

const rootLong = `lambdoctor tells why an AWS Lambda container image won't start.

It loads an image (registry, docker save tarball, OCI layout, local Docker
daemon), reads its layered filesystem without running it, and checks what
Lambda will do with it: entrypoint and PATH resolution, execute permissions
for the non-root Lambda user, interpreters, architectures, the runtime
interface client, the handler, CA bundles and the read-only filesystem.

Exit codes:
  0  nothing at or above --fail-on was found
  1  findings at or above --fail-on
  2  usage or configuration error
  3  an image could not be loaded or read`

func newRootCmd(streams *IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "lambdoctor",
		Short:         "Tell why an AWS Lambda container image won't start",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version(),
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.SetIn(streams.In)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%v (see '%s --help')", err, c.CommandPath())
	})
	root.SetVersionTemplate("lambdoctor {{.Version}}\n")
	root.AddCommand(
		newInspectCmd(streams, nil),
		newChecksCmd(streams),
		newVersionCmd(streams),
		newConfigCmd(streams),
		newHookCmd(streams),
		newExplainCmd(streams),
		newWhyCmd(streams),
		newRunCmd(streams, nil),
	)
	registerCompletions(root)
	return root
}
