package inspect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/report"
)

// stages applies the post-processing stages to the reports of one session
// and remembers which ignores were used, for the warnings. The ignores
// come from three places, applied in this order (a finding several match
// shows the first one's reason): the Dockerfile's comments, the config
// file, the command line.
type stages struct {
	severity map[string]checks.Severity
	ignores  []stageIgnore
	now      time.Time
}

// stageIgnore is one ignore with what the warnings say about it.
type stageIgnore struct {
	report.Ignore
	// label names it in the warnings: ".lambdoctor.yaml:12: ignore LD202",
	// "Dockerfile:7: ignore LD202", "--ignore LD202:/var/task/**".
	label         string
	used, expired bool
}

// Ignore is an ignore given to a session besides the config file's and
// the Dockerfile's: the command line's --ignore.
type Ignore struct {
	report.Ignore
	// Label names it in the warnings ("--ignore LD202:/var/task/**").
	Label string
}

func newStages(opts Options) (*stages, error) {
	s := &stages{now: opts.Now}
	if df := opts.Dockerfile; df != nil {
		igs, err := dockerfileIgnores(df, cmp.Or(opts.DockerfilePath, df.Path))
		if err != nil {
			return nil, err
		}
		s.ignores = append(s.ignores, igs...)
	}
	if cfg := opts.Policy; cfg != nil {
		s.severity = cfg.Severity
		for _, ig := range cfg.Ignore {
			s.ignores = append(s.ignores, stageIgnore{Ignore: ig.Ignore, label: fmt.Sprintf("%s:%d: ignore %s", cfg.File, ig.Line, ig.Written)})
		}
	}
	for _, ig := range opts.Ignore {
		s.ignores = append(s.ignores, stageIgnore{Ignore: ig.Ignore, label: ig.Label})
	}
	return s, nil
}

// dockerfileIgnores are the ignores of the `# lambdoctor ignore=` comments
// of df, one a check, each narrowed to its instruction; a check or a glob
// that is not one is an error at the comment's line.
func dockerfileIgnores(df *dockerfile.File, file string) ([]stageIgnore, error) {
	var out []stageIgnore
	for _, sup := range df.Suppressions() {
		fail := func(format string, a ...any) error {
			return &dockerfile.Error{File: df.Path, Line: sup.Line, Msg: "lambdoctor comment: " + fmt.Sprintf(format, a...)}
		}
		for _, g := range sup.Paths {
			if err := report.ValidGlob(g); err != nil {
				return nil, fail("paths: bad glob %q: %v", g, err)
			}
		}
		for _, written := range sup.Checks {
			id, err := config.ResolveCheck(written)
			if err != nil {
				return nil, fail("ignore: %v", err)
			}
			out = append(out, stageIgnore{
				Ignore: report.Ignore{ID: id, Paths: sup.Paths, Reason: sup.Reason, Expires: sup.Expires, DockerfileLine: sup.Instruction.Line, By: report.SuppressedByDockerfile},
				label:  fmt.Sprintf("%s:%d: ignore %s", file, sup.Line, written),
			})
		}
	}
	return out, nil
}

// apply runs the severity-override then the suppression stage on r.
func (s *stages) apply(r *report.Report) {
	if r.Error != nil {
		return
	}
	report.ApplyOverrides(r, s.severity)
	for i := range s.ignores {
		ig := &s.ignores[i]
		// One ignore at a time, so each one's use is known.
		unused, expired := report.ApplyIgnores(r, []report.Ignore{ig.Ignore}, s.now)
		ig.expired = len(expired) > 0
		if len(unused) == 0 && len(expired) == 0 {
			ig.used = true
		}
	}
}

// warnings are the lines to print on stderr after the session: expired
// ignores, and ignores that matched nothing in any image (only said when
// every image could be read: an unread image might have matched).
func (s *stages) warnings(allLoaded bool) []string {
	var out []string
	for _, ig := range s.ignores {
		switch {
		case ig.expired:
			out = append(out, fmt.Sprintf("%s expired on %s; its findings are reported again", ig.label, ig.Expires.Format(config.DateLayout)))
		case !ig.used && allLoaded:
			out = append(out, fmt.Sprintf("%s matched nothing", ig.label))
		}
	}
	return out
}

// disabledCheck stands for a check the policy disables: it keeps the
// check's identity, reads nothing and ends skipped.
type disabledCheck struct {
	meta checks.Meta
	// by says where it was disabled: "in .lambdoctor.yaml", "with
	// --disable".
	by string
}

func (d disabledCheck) Meta() checks.Meta {
	m := d.meta
	m.Needs = nil // nothing to capture for a check that does not run
	return m
}

func (d disabledCheck) Run(context.Context, *analyze.Target) ([]checks.Finding, error) {
	return nil, fmt.Errorf("%w: disabled %s", checks.ErrSkip, d.by)
}

// withoutDisabled returns list with the checks the command line (opts.
// Disable) or the config file disables replaced by disabledCheck, so they
// show as skipped in every report.
func withoutDisabled(list []checks.Check, opts Options) []checks.Check {
	by := map[string]string{}
	if cfg := opts.Policy; cfg != nil {
		for _, id := range cfg.Disable {
			by[id] = "in " + cfg.File
		}
	}
	for _, id := range opts.Disable {
		by[id] = cmp.Or(opts.DisabledBy, "with --disable")
	}
	if len(by) == 0 {
		return list
	}
	out := make([]checks.Check, 0, len(list))
	for _, c := range list {
		m := c.Meta()
		if b, ok := by[m.ID]; ok {
			c = disabledCheck{meta: m, by: b}
		}
		out = append(out, c)
	}
	return out
}

// LoadDockerfile parses the Dockerfile at p with the build's options and
// returns it with the path findings report: slash-separated and relative
// to the git root above the file, else to the working directory, when the
// file is below it (code scanning resolves SARIF locations against the
// repository root). A `# lambdoctor` comment that is malformed or names no
// check is an error at its line.
func LoadDockerfile(p string, opts dockerfile.Options) (*dockerfile.File, string, error) {
	df, err := dockerfile.ParseFile(p, opts)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("--dockerfile %s: no such file", p)
	}
	var de *dockerfile.Error
	if errors.As(err, &de) {
		return nil, "", err // "Dockerfile:7: lambdoctor comment: ..."
	}
	if err != nil {
		return nil, "", fmt.Errorf("--dockerfile: %w", err)
	}
	file := reportedPath(p)
	if _, err := dockerfileIgnores(df, file); err != nil {
		return nil, "", err
	}
	return df, file, nil
}

func reportedPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			if rel, err := filepath.Rel(dir, abs); err == nil {
				return filepath.ToSlash(rel)
			}
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(p)
}

// locateFindings sets the Location of r's findings: the instruction that
// set the config field a finding is about; else the COPY, ADD or RUN that
// made the layer its path comes from; else, for a config field no
// instruction of the last stage sets, its FROM line (the base image's
// value).
func locateFindings(r *report.Report, df *dockerfile.File, file string) {
	createdBy := make([]string, len(r.Image.Layers))
	for i, l := range r.Image.Layers {
		createdBy[i] = l.CreatedBy
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		var in dockerfile.Instruction
		found, inherited := false, false
		if f.Source != "" {
			in, inherited, found = df.ForField(f.Source)
		}
		if (!found || inherited) && f.Layer != nil {
			if li, ok := df.ForLayer(createdBy, f.Layer.Index); ok {
				in, found = li, true
			}
		}
		if found {
			f.Location = &report.SourceLocation{File: file, Line: in.Line, EndLine: in.EndLine, Instruction: in.Text}
		}
	}
}
