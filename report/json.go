package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// jsonWriter writes one report as a Report object, several as a Document.
type jsonWriter struct{}

func newJSONWriter(Options) writer { return jsonWriter{} }

func (jsonWriter) write(w io.Writer, reports []*Report) error {
	var v any = NewDocument(reports)
	if len(reports) == 1 {
		v = reports[0]
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Findings quote shell lines ("a && b"); keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing json report: %w", err)
	}
	return nil
}
