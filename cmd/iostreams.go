package cmd

import (
	"io"
	"os"
	"strconv"

	"github.com/mattn/go-isatty"
)

// IOStreams are the standard streams and what lambdoctor knows about them.
// Colour is decided here, in one place, and handed to the writers.
type IOStreams struct {
	In       io.Reader
	Out, Err io.Writer
	// OutTTY and ErrTTY say whether Out and Err are terminals.
	OutTTY, ErrTTY bool
	// OutWidth is Out's width in columns when it is a terminal, 0
	// otherwise: the text report wraps to it.
	OutWidth int
	// ErrWidth is Err's width in columns when it is a terminal, 0
	// otherwise: the progress line is cut to it.
	ErrWidth int
	// Getenv reads the environment (os.Getenv outside tests).
	Getenv func(string) string
	// Getwd returns the working directory, where the search for
	// .lambdoctor.yaml starts; nil means os.Getwd.
	Getwd func() (string, error)
}

// System returns the process's streams.
func System() *IOStreams {
	return &IOStreams{
		In:       os.Stdin,
		Out:      os.Stdout,
		Err:      os.Stderr,
		OutTTY:   isTerminal(os.Stdout),
		ErrTTY:   isTerminal(os.Stderr),
		OutWidth: terminalWidth(os.Stdout),
		ErrWidth: terminalWidth(os.Stderr),
		Getenv:   os.Getenv,
	}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// TextWidth is the width the text report wraps to: COLUMNS when set (as
// shells export it), else the terminal's, 0 when Out is not a terminal
// (a pipe or a file is never wrapped).
func (s *IOStreams) TextWidth() int {
	if !s.OutTTY {
		return 0
	}
	if n, err := strconv.Atoi(s.getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return s.OutWidth
}

// errWidth is the width of Err, a terminal: COLUMNS when set, else the
// terminal's (0 when unknown).
func (s *IOStreams) errWidth() int {
	if n, err := strconv.Atoi(s.getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return s.ErrWidth
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
