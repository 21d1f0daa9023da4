package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/report"
)

// loadDockerfile parses --dockerfile. The path reported in findings is
// slash-separated and relative to the git root above the file, else to the
// working directory, when the file is below it (code scanning resolves
// SARIF locations against the repository root).
func loadDockerfile(p string) (*dockerfile.File, string, error) {
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
