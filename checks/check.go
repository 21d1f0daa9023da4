// Package checks holds lambdoctor's diagnoses: each Check looks at an
// analyze.Target (an image's config, merged filesystem and the facts
// derived from them) and returns Findings.
//
// Checks read only from the Target; they never print, exit or touch the
// host. The facts several checks share are computed in package analyze, so
// a rule file (ldNNN_*.go) uses only analyze and the rule-neutral files of
// this package, never another rule's file. checks/registry.go is the table
// of contents.
package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// Severity says how bad a finding is for a Lambda function.
type Severity int

// Severities, lowest first. Error: the function will not start or fails its
// first invoke. Warning: fails in some conditions. Info: hygiene.
const (
	Info Severity = iota + 1
	Warning
	Error
)

// String returns the lower-case name used in reports and configs.
func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads "error", "warning" or "info" (case-insensitive).
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return Error, nil
	case "warning", "warn":
		return Warning, nil
	case "info":
		return Info, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want error, warning or info)", s)
}

// MarshalText makes severities read as their names in JSON and YAML.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Category groups checks; the hundreds digit of an ID names it.
type Category string

// Meta describes a check. IDs are "LD" + three digits, grouped by hundreds
// per category, and never reused.
type Meta struct {
	ID       string   // e.g. "LD101"
	Name     string   // kebab-case alias, e.g. "platform-mismatch"
	Title    string   // one line
	Severity Severity // default severity
	Category Category
	// Needs lists absolute paths or path.Match globs whose full content the
	// check reads, so the filesystem pass captures them.
	Needs []string
}

// DocsURL is where a check's page lives.
func (m Meta) DocsURL() string {
	return DocsBase + m.ID + ".md"
}

// DocsBase is the base URL of the per-check docs pages.
const DocsBase = "https://github.com/lambdoctor/lambdoctor/blob/main/docs/checks/"

// Finding is one diagnosed problem: what a check returns and, unchanged,
// what the report lists (report.Finding is this type). Its JSON form is
// the report's contract (docs/json.md).
type Finding struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"` // "error", "warning" or "info"
	Title    string   `json:"title"`
	// Message says what exactly is wrong in this image.
	Message string `json:"message"`
	// Path is the in-image path concerned, if any.
	Path string `json:"path"`
	// Layer that introduced Path, when known; nil (JSON null) otherwise.
	Layer *LayerRef `json:"layer"`
	// Evidence: symlink chain, config fields, ELF machine, ... Never nil
	// in a built report.
	Evidence []string `json:"evidence"`
	// Fix is the concrete change to make (a Dockerfile line, a flag).
	Fix  string `json:"fix"`
	Docs string `json:"docs"`
	// Suppressed is set by the report's suppression stage when an ignore
	// matches; the finding stays in the report, marked.
	Suppressed bool `json:"suppressed,omitempty"`
	// SuppressionReason is the matching ignore entry's reason.
	SuppressionReason string `json:"suppressionReason,omitempty"`
	// SuppressedBy says where the matching ignore was written: "config"
	// (.lambdoctor.yaml), "dockerfile" (a `# lambdoctor ignore=` comment)
	// or "command-line" (--ignore, or LAMBDOCTOR_IGNORE).
	SuppressedBy string `json:"suppressedBy,omitempty"`
	// Location is the Dockerfile instruction that caused the finding, set
	// by the report's location stage when inspect was given --dockerfile.
	Location *SourceLocation `json:"location,omitempty"`
	// Source names the image config field the finding is about, when the
	// field's value (not a file) is the cause: "Entrypoint", "Cmd",
	// "WorkingDir", "User", "ExposedPorts", "Healthcheck", "Volumes",
	// "StopSignal", or "Env:NAME". Empty when the function's ImageConfig
	// overrides the field. --dockerfile maps it to the instruction. Not
	// part of the JSON contract (Location is what is reported).
	Source string `json:"-"`
}

// SourceLocation is a place in a Dockerfile.
type SourceLocation struct {
	// File is the Dockerfile's path, slash-separated, relative to the git
	// root (or the working directory) when it is below it.
	File string `json:"file"`
	// Line and EndLine are 1-based; they differ for continuation lines
	// and heredocs.
	Line    int `json:"line"`
	EndLine int `json:"endLine"`
	// Instruction is the instruction as written, on one line.
	Instruction string `json:"instruction"`
}

// LayerRef names a layer the way users recognise it: the layer a finding
// comes from, in checks and in the report alike.
type LayerRef struct {
	Index     int    `json:"index"`
	Digest    string `json:"digest"`
	CreatedBy string `json:"createdBy,omitempty"`
}

// Check is one diagnosis.
type Check interface {
	Meta() Meta
	// Run returns the findings for t. An error means the check could not
	// decide; it becomes a status in the report, never an aborted run.
	Run(ctx context.Context, t *analyze.Target) ([]Finding, error)
}

// layerRef returns the reference to layer i of t's filesystem, or nil.
func layerRef(t *analyze.Target, i int) *LayerRef {
	if t.FS == nil {
		return nil
	}
	layers := t.FS.Layers()
	if i < 0 || i >= len(layers) {
		return nil
	}
	l := layers[i]
	d := l.Digest
	if d == "" {
		d = l.DiffID
	}
	return &LayerRef{Index: i, Digest: d, CreatedBy: l.CreatedBy}
}

// NewFinding starts a finding from a check's metadata.
func NewFinding(m Meta, msg string) Finding {
	return Finding{ID: m.ID, Name: m.Name, Severity: m.Severity, Title: m.Title, Message: msg, Docs: m.DocsURL()}
}
