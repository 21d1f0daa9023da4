// Package config reads .lambdoctor.yaml, the per-repository settings of
// lambdoctor: the function's architecture, the fail-on threshold, the images
// the git hook inspects, disabled checks, severity overrides and ignores.
//
// Decoding is strict: an unknown key or an unknown check ID or name is an
// error that names the file and line, with a "did you mean" when one is
// close. Check IDs and names are resolved to IDs here, once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/suggest"
	"github.com/lambdoctor/lambdoctor/report"
)

// FileNames are the names looked for when walking up, in order.
var FileNames = []string{".lambdoctor.yaml", ".lambdoctor.yml"}

// EnvVar names the environment variable that points at a config file.
const EnvVar = "LAMBDOCTOR_CONFIG"

// DateLayout is how expires dates are written.
const DateLayout = "2006-01-02"

// Config is a decoded and validated .lambdoctor.yaml.
type Config struct {
	// File is the path the config was read from, as shown in messages.
	File string
	// Dir is the directory holding the file; relative image paths are
	// relative to it.
	Dir string
	// Arch is "amd64", "arm64", or "" when the file does not say.
	Arch string
	// FailOn is "error", "warning", "info", "none", or "" when unset.
	FailOn string
	// Images are the references the git hook inspects, as written.
	Images []string
	// Disable holds the IDs of the checks not to run.
	Disable []string
	// Severity maps check IDs to the severity their findings get: the
	// report's override stage (report.ApplyOverrides).
	Severity map[string]checks.Severity
	// Ignore entries, in file order: the report's suppression stage
	// (report.ApplyIgnores).
	Ignore []Ignore
}

// Ignore is one entry of the ignore list: the report stage's ignore (check
// ID, path globs, reason, expiry), and where the file wrote it.
type Ignore struct {
	report.Ignore
	// Written is the ID or name as written in the file.
	Written string
	// Line of the entry in the file.
	Line int
}

// Error is a problem with a config file, at a line when known.
type Error struct {
	File string
	Line int // 0: the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrNotFound is returned (wrapped) by Find when a config file named by the
// flag or the environment does not exist.
var ErrNotFound = errors.New("config file not found")

// Find returns the path of the config file to use: flagPath when set, else
// $LAMBDOCTOR_CONFIG, else the first .lambdoctor.yaml (or .yml) found
// walking up from dir, stopping at the directory that holds .git. Outside a
// git repository only dir itself is looked at. It returns "" when there is
// no config file.
func Find(flagPath string, getenv func(string) string, dir string) (string, error) {
	named := flagPath
	from := "--config"
	if named == "" && getenv != nil {
		named, from = getenv(EnvVar), "$"+EnvVar
	}
	if named != "" {
		st, err := os.Stat(named)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", from, named, ErrNotFound)
		}
		if st.IsDir() {
			return "", fmt.Errorf("%s %s is a directory", from, named)
		}
		return named, nil
	}
	if dir == "" {
		return "", nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("finding the config file: %w", err)
	}
	root := gitRoot(dir)
	for d := dir; ; d = filepath.Dir(d) {
		for _, name := range FileNames {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
		if root == "" || d == root || filepath.Dir(d) == d {
			return "", nil
		}
	}
}

// gitRoot returns the nearest directory at or above dir holding .git (a
// directory, or a file in worktrees and submodules), or "".
func gitRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// Load reads and validates the config file at file. Messages name the file
// relative to the working directory.
func Load(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := Parse(displayName(file), data)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(file); err == nil {
		cfg.Dir = filepath.Dir(abs)
	}
	return cfg, nil
}

func displayName(file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		return file
	}
	wd, err := os.Getwd()
	if err != nil {
		return file
	}
	if rel, err := filepath.Rel(wd, abs); err == nil {
		return rel
	}
	return abs
}

// The file as decoded, before validation. Scalars keep their line.
type rawFile struct {
	Arch     scalar            `yaml:"arch"`
	FailOn   scalar            `yaml:"fail-on"`
	Images   []scalar          `yaml:"images"`
	Disable  []scalar          `yaml:"disable"`
	Severity map[string]scalar `yaml:"severity"`
	Ignore   []rawIgnore       `yaml:"ignore"`
}

var topKeys = []string{"arch", "fail-on", "images", "disable", "severity", "ignore"}

type rawIgnore struct {
	ID      scalar   `yaml:"id"`
	Paths   []scalar `yaml:"paths"`
	Reason  scalar   `yaml:"reason"`
	Expires scalar   `yaml:"expires"`
	line    int
}

var ignoreKeys = []string{"id", "paths", "reason", "expires"}

// scalar is a YAML scalar as written (dates stay strings), with its line.
type scalar struct {
	V    string
	Line int
}

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &keyError{line: n.Line, msg: fmt.Sprintf("want a single value, found %s", kindName(n))}
	}
	s.V, s.Line = n.Value, n.Line
	if n.Tag == "!!null" {
		s.V = ""
	}
	return nil
}

// UnmarshalYAML decodes an ignore entry. Node.Decode does not carry the
// decoder's KnownFields setting, so the keys are checked here.
func (r *rawIgnore) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{line: n.Line, msg: fmt.Sprintf("an ignore entry is a mapping with id and reason, found %s", kindName(n))}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(ignoreKeys, k.Value) {
			return &keyError{line: k.Line, msg: unknownKey(k.Value, ignoreKeys)}
		}
	}
	type plain rawIgnore
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*r = rawIgnore(p)
	r.line = n.Line
	return nil
}

// keyError is an error found while decoding, at a line.
type keyError struct {
	line int
	msg  string
}

func (e *keyError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a value"
}

func unknownKey(key string, known []string) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if near := suggest.Nearest(key, known); len(near) > 0 {
		return msg + fmt.Sprintf(" (did you mean %q?)", near[0])
	}
	return msg + " (known: " + strings.Join(known, ", ") + ")"
}

// yaml.v3 reports unknown fields as "line N: field K not found in type T".
var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	lineRE         = regexp.MustCompile(`^line (\d+): (.*)$`)
	dateShapeRE    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// Parse decodes and validates a config; file names it in messages.
func Parse(file string, data []byte) (*Config, error) {
	fail := func(line int, format string, a ...any) error {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	var raw rawFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, decodeError(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fail(extra.Line, "more than one YAML document; lambdoctor reads one")
	}

	cfg := &Config{File: file, Severity: map[string]checks.Severity{}}
	if a := raw.Arch; a.V != "" {
		arch, err := source.ParseFunctionArch(a.V)
		if err != nil {
			return nil, fail(a.Line, "%v", err)
		}
		cfg.Arch = arch
	}
	if f := raw.FailOn; f.V != "" {
		v := strings.ToLower(f.V)
		if v != "none" {
			sev, err := checks.ParseSeverity(v)
			if err != nil {
				return nil, fail(f.Line, "unknown fail-on %q (want error, warning, info or none)", f.V)
			}
			v = sev.String()
		}
		cfg.FailOn = v
	}
	for _, img := range raw.Images {
		if strings.TrimSpace(img.V) == "" {
			return nil, fail(img.Line, "empty image reference in images")
		}
		cfg.Images = append(cfg.Images, img.V)
	}
	for _, d := range raw.Disable {
		id, err := resolve(d.V)
		if err != nil {
			return nil, fail(d.Line, "disable: %v", err)
		}
		if !slices.Contains(cfg.Disable, id) {
			cfg.Disable = append(cfg.Disable, id)
		}
	}
	// Map order is random; validate in line order so the first error is
	// the first in the file.
	keys := make([]string, 0, len(raw.Severity))
	for k := range raw.Severity {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return raw.Severity[a].Line - raw.Severity[b].Line })
	for _, k := range keys {
		v := raw.Severity[k]
		id, err := resolve(k)
		if err != nil {
			return nil, fail(v.Line, "severity: %v", err)
		}
		if _, dup := cfg.Severity[id]; dup {
			return nil, fail(v.Line, "severity: %s is set twice", id)
		}
		sev, err := checks.ParseSeverity(v.V)
		if err != nil {
			return nil, fail(v.Line, "severity of %s: unknown severity %q (want error, warning or info)", id, v.V)
		}
		cfg.Severity[id] = sev
	}
	for _, r := range raw.Ignore {
		ig, err := validateIgnore(r)
		if err != nil {
			return nil, fail(cmpLine(err, r.line), "%s", err.msg)
		}
		cfg.Ignore = append(cfg.Ignore, ig)
	}
	return cfg, nil
}

func cmpLine(e *keyError, fallback int) int {
	if e.line > 0 {
		return e.line
	}
	return fallback
}

func validateIgnore(r rawIgnore) (Ignore, *keyError) {
	ig := Ignore{Line: r.line, Written: r.ID.V, Ignore: report.Ignore{Reason: strings.TrimSpace(r.Reason.V), By: report.SuppressedByConfig}}
	if r.ID.V == "" {
		return ig, &keyError{line: r.line, msg: "ignore entry without an id (a check ID or name)"}
	}
	id, err := resolve(r.ID.V)
	if err != nil {
		return ig, &keyError{line: r.ID.Line, msg: "ignore: " + err.Error()}
	}
	ig.ID = id
	if ig.Reason == "" {
		return ig, &keyError{line: r.line, msg: fmt.Sprintf("ignore %s needs a reason: say why the finding does not apply", r.ID.V)}
	}
	for _, p := range r.Paths {
		if err := report.ValidGlob(p.V); err != nil {
			return ig, &keyError{line: p.Line, msg: fmt.Sprintf("ignore %s: bad path glob %q: %v", r.ID.V, p.V, err)}
		}
		ig.Paths = append(ig.Paths, p.V)
	}
	if e := r.Expires; e.V != "" {
		t, err := time.Parse(DateLayout, e.V)
		if err != nil {
			what := "is not a date written YYYY-MM-DD"
			if dateShapeRE.MatchString(e.V) {
				what = "is not a day of the calendar" // 2025-02-30
			}
			return ig, &keyError{line: e.Line, msg: fmt.Sprintf("ignore %s: expires %q %s", r.ID.V, e.V, what)}
		}
		ig.Expires = t
	}
	return ig, nil
}

// decodeError turns a yaml error into an Error at the first line it names.
func decodeError(file string, data []byte, err error) error {
	var ke *keyError
	if errors.As(err, &ke) {
		return &Error{File: file, Line: ke.line, Msg: ke.msg}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return &Error{File: file, Line: line, Msg: unknownKey(m[2], topKeys)}
		}
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return &Error{File: file, Line: line, Msg: keyAt(data, line) + typeMessage(m[2])}
		}
		return &Error{File: file, Msg: msg}
	}
	// Syntax errors read "yaml: line N: ...", or, for some, carry no line.
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: m[2]}
	}
	return &Error{File: file, Line: syntaxErrorLine(data, err.Error()), Msg: msg}
}

// syntaxErrorLine finds the line of a syntax error yaml.v3 reports without
// one ("mapping values are not allowed in this context", a tab): the
// first line whose prefix of the file fails with the same error. 0 when
// none does.
func syntaxErrorLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var prefix []byte
	for i, l := range lines {
		prefix = append(prefix, l...)
		var n yaml.Node
		if err := yaml.Unmarshal(prefix, &n); err != nil && err.Error() == msg {
			return i + 1
		}
	}
	return 0
}

// keyAt is "key: " for the mapping key written on line n of data (a type
// error's line), so that the message names it; "" when the line has none.
func keyAt(data []byte, n int) string {
	lines := bytes.Split(data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return ""
	}
	l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(lines[n-1])), "- "))
	k, _, ok := strings.Cut(l, ":")
	if !ok || k == "" || strings.ContainsAny(k, " \t\"'{[") {
		return ""
	}
	return k + ": "
}

// yaml.v3 type errors read "cannot unmarshal !!seq into map[string]config.scalar".
var typeRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) (`[^`]*` )?into (\\S+)$")

// typeMessage rewrites a yaml type error in the file's terms, not Go's.
func typeMessage(msg string) string {
	m := typeRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	shape := func(goType string) string {
		switch {
		case strings.HasPrefix(goType, "[]"):
			return "a list"
		case strings.HasPrefix(goType, "map["):
			return "a mapping"
		}
		return "a value"
	}
	found := map[string]string{"seq": "a list", "map": "a mapping"}[m[1]]
	if found == "" {
		found = "the value " + strings.TrimSpace(m[2])
	}
	return fmt.Sprintf("want %s, found %s", shape(m[3]), found)
}

// ResolveCheck returns the ID of the check named by an ID or name, or an
// error with the closest check as a suggestion: how every list of checks
// (the config file's, --ignore and --disable, Dockerfile comments) is read.
func ResolveCheck(idOrName string) (string, error) { return resolve(idOrName) }

// resolve returns the ID of the check named by an ID or name, or an error
// with the closest check as a suggestion.
func resolve(idOrName string) (string, error) {
	if c, ok := checks.Lookup(idOrName); ok {
		return c.Meta().ID, nil
	}
	msg := fmt.Sprintf("unknown check %q", idOrName)
	if near := suggest.Checks(idOrName); near != "" {
		return "", fmt.Errorf("%s (did you mean %s?)", msg, near)
	}
	return "", fmt.Errorf("%s (see lambdoctor checks)", msg)
}

// ImageRefs returns the images to inspect. Relative paths in path-like
// references (docker-archive:, oci:, oci-archive:, and bare references
// that name an existing file or directory next to the config) are made
// relative to the config's directory, so the hook and a run from a
// subdirectory read the same files.
func (c *Config) ImageRefs() []string {
	refs := make([]string, 0, len(c.Images))
	for _, ref := range c.Images {
		refs = append(refs, c.resolveRef(ref))
	}
	return refs
}

func (c *Config) resolveRef(ref string) string {
	if c.Dir == "" {
		return ref
	}
	for _, prefix := range []string{"docker-archive:", "oci:", "oci-archive:"} {
		if p, ok := strings.CutPrefix(ref, prefix); ok {
			if filepath.IsAbs(p) {
				return ref
			}
			return prefix + filepath.Join(c.Dir, p)
		}
	}
	if filepath.IsAbs(ref) || strings.Contains(ref, ":") && !strings.HasPrefix(ref, ".") {
		return ref
	}
	if p := filepath.Join(c.Dir, ref); exists(p) {
		return p
	}
	return ref
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
