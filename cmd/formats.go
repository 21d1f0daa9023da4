package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/internal/mdterm"
	"github.com/lambdoctor/lambdoctor/report"
	"github.com/lambdoctor/lambdoctor/triage"
)

// docWriter writes one command's document in one format.
type docWriter func(w io.Writer, doc any, opts report.Options) error

// docFormats maps each command that has a --format flag to its formats and
// their writers: inspect's are the report writers (report.Formats), run's
// and why's their own documents. It is the one list --format is checked
// against and shell completion offers.
func docFormats() map[string]map[string]docWriter {
	reports := map[string]docWriter{}
	for _, f := range report.Formats() {
		reports[f] = func(w io.Writer, doc any, opts report.Options) error {
			return report.Write(w, f, doc.([]*report.Report), opts)
		}
	}
	return map[string]map[string]docWriter{
		"inspect": reports,
		"run": {
			"text": func(w io.Writer, doc any, opts report.Options) error {
				return emulate.WriteText(w, doc.(*emulate.Doc), opts)
			},
			"json": jsonWriter(false),
		},
		"why": {
			"text": func(w io.Writer, doc any, _ report.Options) error { return triage.WriteText(w, doc.(*triage.Doc)) },
			"json": jsonWriter(true),
		},
		"explain": {
			"text": func(w io.Writer, doc any, opts report.Options) error {
				_, err := io.WriteString(w, mdterm.Render(doc.([]byte), mdterm.Options{Width: opts.Width, Color: opts.Color, Base: checks.DocsBase}))
				return err
			},
			"markdown": func(w io.Writer, doc any, _ report.Options) error {
				_, err := w.Write(doc.([]byte))
				return err
			},
		},
		"checks": {
			"table": checksTable,
			"text":  checksTable, // an alias of table
			"json":  jsonWriter(true),
		},
	}
}

// formatsOf returns the formats command accepts, sorted.
func formatsOf(command string) []string {
	var names []string
	for f := range docFormats()[command] {
		names = append(names, f)
	}
	slices.Sort(names)
	return names
}

// formatWriter returns command's writer for format, or a usage error
// listing the formats it has.
func formatWriter(command, format string) (docWriter, error) {
	if w, ok := docFormats()[command][format]; ok {
		return w, nil
	}
	return nil, usageError("unknown --format %q for %s (want %s)", format, command, strings.Join(formatsOf(command), ", "))
}

// jsonWriter writes a document as indented JSON; escapeHTML as each
// document always has (run's JSON, like the report's, leaves <, > and &
// as they are; why's and checks' escape them).
func jsonWriter(escapeHTML bool) docWriter {
	return func(w io.Writer, doc any, _ report.Options) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(escapeHTML)
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		return nil
	}
}
