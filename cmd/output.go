package cmd

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lambdoctor/lambdoctor/report"
)

// output is one place a report goes: stdout (path "-") or a file.
type output struct {
	format string
	path   string
}

func (o output) stdout() bool { return o.path == "-" }

// planOutputs validates --format and every --output FORMAT=PATH before any
// image is loaded, and returns where each report goes. --format picks
// stdout's format; an --output with PATH "-" takes stdout instead, which
// only works when --format was not given a different value.
func planOutputs(format string, formatSet bool, specs []string) ([]output, error) {
	known := formatsOf("inspect")
	if !slices.Contains(known, format) {
		return nil, fmt.Errorf("unknown --format %q (want one of %s)", format, strings.Join(known, ", "))
	}
	var outs []output
	seen := map[string]string{} // cleaned path → spec
	var toStdout string
	for _, spec := range specs {
		f, p, ok := strings.Cut(spec, "=")
		f = strings.ToLower(strings.TrimSpace(f))
		if !ok || f == "" || p == "" {
			return nil, fmt.Errorf("--output %q: want FORMAT=PATH, e.g. --output sarif=lambdoctor.sarif", spec)
		}
		if !slices.Contains(known, f) {
			return nil, fmt.Errorf("--output %q: unknown format %q (want one of %s)", spec, f, strings.Join(known, ", "))
		}
		if p == "-" {
			if toStdout != "" {
				return nil, fmt.Errorf("--output %q and --output %q both write to stdout", toStdout, spec)
			}
			if formatSet && format != f {
				return nil, fmt.Errorf("--output %q and --format %s both write to stdout", spec, format)
			}
			toStdout = spec
			outs = append(outs, output{format: f, path: "-"})
			continue
		}
		key := filepath.Clean(p)
		if abs, err := filepath.Abs(p); err == nil {
			key = abs
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("--output %q and --output %q write to the same file", prev, spec)
		}
		seen[key] = spec
		if err := checkOutputDir(p); err != nil {
			return nil, fmt.Errorf("--output %q: %v", spec, err)
		}
		outs = append(outs, output{format: f, path: p})
	}
	if toStdout == "" {
		outs = append([]output{{format: format, path: "-"}}, outs...)
	}
	// stdout first: what the user sees, then the files.
	slices.SortStableFunc(outs, func(a, b output) int {
		switch {
		case a.stdout() && !b.stdout():
			return -1
		case b.stdout() && !a.stdout():
			return 1
		}
		return 0
	})
	return outs, nil
}

// checkOutputDir fails early, before images are loaded, when a report
// could not be written to p.
func checkOutputDir(p string) error {
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	dir := filepath.Dir(p)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// writeOutputs writes the reports to every output. Colour only ever goes
// to stdout, and only when opts.Color says so.
func writeOutputs(streams *IOStreams, outs []output, reports []*report.Report, opts report.Options) error {
	for _, o := range outs {
		if o.stdout() {
			if err := report.Write(streams.Out, o.format, reports, opts); err != nil {
				return fmt.Errorf("writing the %s report: %w", o.format, err)
			}
			continue
		}
		fileOpts := opts
		fileOpts.Color = false
		err := writeFileAtomic(o.path, func(w io.Writer) error {
			return report.Write(w, o.format, reports, fileOpts)
		})
		if err != nil {
			return fmt.Errorf("writing the %s report to %s: %w", o.format, o.path, err)
		}
	}
	return nil
}

// writeFileAtomic writes path through a temporary file in the same
// directory, renamed over path once complete: a reader (a CI step, code
// scanning upload) never sees half a report, and a failed run leaves the
// previous file in place.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
