// Package cmd wires lambdoctor's command line and nothing else: flags
// become an options struct, options go to inspect (the pipeline), emulate
// (run) or triage (why), the document goes to a writer of its format
// (formats.go), and one function turns the error into the exit code
// (exit.go). The run functions are called directly by the tests.
package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lambdoctor/lambdoctor/internal/termsafe"
)

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
	c, err := root.ExecuteContextC(ctx)
	code, msg := exitCode(err)
	if code == ExitUsage {
		msg = envNote(c, msg)
	}
	if msg != nil {
		printErr(io.Err, msg)
	}
	return code
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

Exit codes (every command; see docs/exit-codes.md):
  0  success: nothing at or above --fail-on
  1  findings at or above --fail-on (run: also the function failed;
     why: no line recognised)
  2  usage or configuration error
  3  an image could not be loaded or read, or the command was interrupted
  4  output could not be written (stdout, an --output file, the git hook)
  5  run: this machine cannot run the sandbox, or the sandbox failed
  6  inspect --function/--all-functions: the AWS API could not be used
     (no Region, no credentials, credentials rejected, listing refused)`

func newRootCmd(streams *IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "lambdoctor",
		Short:         "Tell why an AWS Lambda container image won't start",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version(),
		// The flags the command line did not give come from their
		// LAMBDOCTOR_ variables (env.go).
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			return applyEnv(c, streams.getenv)
		},
	}
	// A subcommand's own PersistentPreRunE must not skip the root's.
	cobra.EnableTraverseRunHooks = true
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
	envHelp(root)
	return root
}
