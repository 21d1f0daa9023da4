package report

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
)

// Options tune the writers. cmd decides them (TTY, NO_COLOR, --no-color);
// writers never look at the environment.
type Options struct {
	// Color turns on ANSI colours in the text format.
	Color bool
	// Verbose also lists the checks that passed or were skipped.
	Verbose bool
	// FailOn is the run's --fail-on threshold, 0 for none: JUnit fails a
	// check's test case only for findings at or above it.
	FailOn checks.Severity
	// Compact writes each finding of the text format on one line: its
	// severity, ID, name and path, and the first sentence of its message.
	Compact bool
	// Width wraps the text format's prose to that many columns, with a
	// hanging indent under the label column; 0 does not wrap (a pipe, a
	// file). Words, URLs and paths are never split.
	Width int
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
		"github": newGitHubWriter,
		"json":   newJSONWriter,
		"junit":  newJUnitWriter,
		"sarif":  newSARIFWriter,
		"text":   newTextWriter,
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

// Write writes reports to w in format (see Formats).
func Write(w io.Writer, format string, reports []*Report, opts Options) error {
	newWriter, ok := writers()[format]
	if !ok {
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
	}
	return newWriter(opts).write(w, reports)
}
