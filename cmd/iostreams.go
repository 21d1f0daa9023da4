package cmd

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// IOStreams are the standard streams and what lambdoctor knows about them.
// Colour is decided here, in one place, and handed to the writers.
type IOStreams struct {
	In       io.Reader
	Out, Err io.Writer
	// OutTTY and ErrTTY say whether Out and Err are terminals.
	OutTTY, ErrTTY bool
	// Getenv reads the environment (os.Getenv outside tests).
	Getenv func(string) string
	// Getwd returns the working directory, where the search for
	// .lambdoctor.yaml starts; nil means os.Getwd.
	Getwd func() (string, error)
}

// System returns the process's streams.
func System() *IOStreams {
	return &IOStreams{
		In:     os.Stdin,
		Out:    os.Stdout,
		Err:    os.Stderr,
		OutTTY: isTerminal(os.Stdout),
		ErrTTY: isTerminal(os.Stderr),
		Getenv: os.Getenv,
	}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// ColorOut reports whether text on Out should be coloured: only on a
// terminal, never with NO_COLOR set (https://no-color.org) or TERM=dumb, and
// never when the user said --no-color.
func (s *IOStreams) ColorOut(noColorFlag bool) bool {
	if noColorFlag || !s.OutTTY {
		return false
	}
	if s.Getenv != nil && (s.Getenv("NO_COLOR") != "" || s.Getenv("TERM") == "dumb") {
		return false
	}
	return true
}
