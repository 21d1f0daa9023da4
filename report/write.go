package report

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Options tune the writers. cmd decides them (TTY, NO_COLOR, --no-color);
// writers never look at the environment.
type Options struct {
	// Color turns on ANSI colours in the text format.
	Color bool
	// Verbose also lists the checks that passed or were skipped.
	Verbose bool
}

// ErrUnknownFormat is returned (wrapped) by Write for a format it does not
// know.
var ErrUnknownFormat = errors.New("unknown output format")

// writer formats reports in one format.
type writer interface {
	write(w io.Writer, reports []*Report) error
}

// writers maps each format name to its writer's constructor.
func writers() map[string]func(Options) writer {
	return map[string]func(Options) writer{
		"json": newJSONWriter,
		"text": newTextWriter,
	}
}

// Formats returns the names of the known formats, sorted.
func Formats() []string {
	names := make([]string, 0, len(writers()))
	for name := range writers() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Write writes reports to w in format ("text" or "json", see Formats).
func Write(w io.Writer, format string, reports []*Report, opts Options) error {
	newWriter, ok := writers()[format]
	if !ok {
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
	}
	return newWriter(opts).write(w, reports)
}
