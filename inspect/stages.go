package inspect

import (
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

// stages applies a policy's post-processing stages to the reports of one
// session and remembers which ignores were used, for the warnings.
type stages struct {
	cfg     *config.Config
	now     time.Time
	used    []bool
	expired []bool
}

func newStages(cfg *config.Config, now time.Time) *stages {
	s := &stages{cfg: cfg, now: now}
	if cfg != nil {
		s.used = make([]bool, len(cfg.Ignore))
		s.expired = make([]bool, len(cfg.Ignore))
	}
	return s
}

// apply runs the severity-override then the suppression stage on r.
func (s *stages) apply(r *report.Report) {
	if s.cfg == nil || r.Error != nil {
		return
	}
	report.ApplyOverrides(r, s.cfg.Severity)
	for i, ig := range s.cfg.Ignore {
		// One ignore at a time, so each one's use is known.
		unused, expired := report.ApplyIgnores(r, []report.Ignore{ig.Ignore}, s.now)
		s.expired[i] = len(expired) > 0
		if len(unused) == 0 && len(expired) == 0 {
			s.used[i] = true
		}
	}
}

// warnings are the lines to print on stderr after the session: expired
// ignores, and ignores that matched nothing in any image (only said when
// every image could be read: an unread image might have matched).
func (s *stages) warnings(allLoaded bool) []string {
	if s.cfg == nil {
		return nil
	}
	var out []string
	for i, ig := range s.cfg.Ignore {
		at := fmt.Sprintf("%s:%d", s.cfg.File, ig.Line)
		switch {
		case s.expired[i]:
			out = append(out, fmt.Sprintf("%s: ignore %s expired on %s; its findings are reported again", at, ig.Written, ig.Expires.Format(config.DateLayout)))
		case !s.used[i] && allLoaded:
			out = append(out, fmt.Sprintf("%s: ignore %s matched nothing", at, ig.Written))
		}
	}
	return out
}

// disabledCheck stands for a check the policy disables: it keeps the
// check's identity, reads nothing and ends skipped.
type disabledCheck struct {
	meta checks.Meta
	file string
}

func (d disabledCheck) Meta() checks.Meta {
	m := d.meta
	m.Needs = nil // nothing to capture for a check that does not run
	return m
}

func (d disabledCheck) Run(context.Context, *analyze.Target) ([]checks.Finding, error) {
	return nil, fmt.Errorf("%w: disabled in %s", checks.ErrSkip, d.file)
}

// withoutDisabled returns list with the checks cfg disables replaced by
// disabledCheck, so they show as skipped in every report.
func withoutDisabled(list []checks.Check, cfg *config.Config) []checks.Check {
	if cfg == nil || len(cfg.Disable) == 0 {
		return list
	}
	out := make([]checks.Check, 0, len(list))
	for _, c := range list {
		m := c.Meta()
		for _, id := range cfg.Disable {
			if id == m.ID {
				c = disabledCheck{meta: m, file: cfg.File}
				break
			}
		}
		out = append(out, c)
	}
	return out
}

// LoadDockerfile parses the Dockerfile at p and returns it with the path
// findings report: slash-separated and relative to the git root above the
// file, else to the working directory, when the file is below it (code
// scanning resolves SARIF locations against the repository root).
func LoadDockerfile(p string) (*dockerfile.File, string, error) {
	df, err := dockerfile.ParseFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("--dockerfile %s: no such file", p)
	}
	if err != nil {
		return nil, "", fmt.Errorf("--dockerfile: %w", err)
	}
	return df, reportedPath(p), nil
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
