package cmd

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// For every command with --format, the formats shell completion offers
// are exactly the formats the command accepts: whole sets, so an offered
// format the command refuses and an accepted one completion leaves out
// both fail. Completion used to offer the report formats to checks and why.
func TestFormatsOfferedAreAccepted(t *testing.T) {
	// Arguments that make each command stop, with a usage error of its
	// own, right after --format is checked: nothing is loaded or run.
	probes := map[string][]string{
		"inspect": {"--entrypoint", "[", "fn.tar"},
		"run":     {"--memory", "1", "fn.tar"},
		"why":     {"--arch", "sparc", "x"},
		"checks":  nil,
		"explain": {"LD202"}, // prints the page: nothing is loaded
	}
	var universe []string
	for _, byFormat := range docFormats() {
		for f := range byFormat {
			universe = append(universe, f)
		}
	}
	universe = append(universe, "yaml", "TEXT", "")
	slices.Sort(universe)
	universe = slices.Compact(universe)

	var withFormat []string
	for _, c := range newRootCmd(&IOStreams{}).Commands() {
		if c.Flags().Lookup("format") != nil {
			withFormat = append(withFormat, c.Name())
		}
	}
	slices.Sort(withFormat)
	if want := []string{"checks", "explain", "inspect", "run", "why"}; !slices.Equal(withFormat, want) {
		t.Fatalf("commands with --format: %v, want %v (give a new one a probe)", withFormat, want)
	}

	for _, name := range withFormat {
		t.Run(name, func(t *testing.T) {
			offered := complete(t, name, "--format", "")
			slices.Sort(offered)
			var accepted []string
			for _, f := range universe {
				s, out, errb := streams(nil)
				code := Run(context.Background(), append([]string{name, "--format", f}, probes[name]...), s)
				refused := strings.Contains(errb.String(), "unknown --format")
				if refused && code != ExitUsage {
					t.Errorf("--format %q refused with exit %d, want %d", f, code, ExitUsage)
				}
				if !refused {
					accepted = append(accepted, f)
					if (name == "checks" || name == "explain") && (code != ExitOK || out.Len() == 0) {
						t.Errorf("checks --format %q: exit %d, %d bytes out: %s", f, code, out.Len(), errb)
					}
				}
			}
			if !slices.Equal(offered, accepted) {
				t.Errorf("completion offers %q, the command accepts %q", offered, accepted)
			}
			if !slices.Equal(accepted, formatsOf(name)) {
				t.Errorf("accepted %q, formatsOf says %q", accepted, formatsOf(name))
			}
		})
	}
}
