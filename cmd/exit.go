package cmd

import (
	"errors"
	"fmt"
)

// Exit codes, the same for every command; documented in `lambdoctor --help`
// and docs/exit-codes.md.
const (
	ExitOK       = 0 // success: nothing at or above --fail-on, the function answered, a log line was recognised
	ExitFindings = 1 // the verdict failed: findings at or above --fail-on, the function failed, no log line was recognised
	ExitUsage    = 2 // usage or configuration error
	ExitLoad     = 3 // an image could not be loaded or read, or the command was interrupted
	ExitWrite    = 4 // output could not be written: a report (stdout, --output) or the git hook
	ExitSandbox  = 5 // run: this machine cannot run the sandbox, or the sandbox failed
	ExitAWS      = 6 // inspect --function/--all-functions: no function could be read (no Region, no credentials, the listing refused)
)

// exitError is an error with the exit code it maps to. Commands return
// nil on success and an exitError otherwise; exitCode reads it.
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

// errVerdict is a command that ran to the end with a failing verdict: it
// has said why on stdout, so nothing more is printed.
var errVerdict error = &exitError{code: ExitFindings}

func usageError(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

func loadError(err error) error { return &exitError{code: ExitLoad, err: err} }

func writeError(err error) error { return &exitError{code: ExitWrite, err: err} }

func sandboxError(err error) error { return &exitError{code: ExitSandbox, err: err} }

func awsError(err error) error { return &exitError{code: ExitAWS, err: err} }

// silent exits with code without a message (what went wrong is in the
// report already).
func silent(code int) error { return &exitError{code: code} }

// exitCode is the one place an error becomes an exit code, and says
// whether the error has a message to print. Anything that is not an
// exitError comes from cobra (an unknown flag, a wrong argument count): a
// usage error.
func exitCode(err error) (code int, msg error) {
	if err == nil {
		return ExitOK, nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.err
	}
	return ExitUsage, err
}
