package checks

import (
	"context"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
)

// TestFindingSource: checks name the config field that caused a finding,
// and none when the function's ImageConfig overrides it.
func TestFindingSource(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		target func(t *testing.T) *analyze.Target
		want   string
	}{
		{"entrypoint not found", "LD202", func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RubySpec("/usr/local/bin/aws_lambda_ric"), "amd64")
		}, "Entrypoint"},
		{"entrypoint not found, overridden", "LD202", func(t *testing.T) *analyze.Target {
			tg := newTarget(t, fixtures.RubySpec("/usr/local/bin/aws_lambda_ric"), "amd64")
			tg.Overrides.EntryPoint = []string{"/usr/local/bin/aws_lambda_ric"}
			return tg
		}, ""},
		{"workdir missing", "LD206", func(t *testing.T) *analyze.Target {
			cfg := fixtures.PythonConfig("/usr/local/bin/python", "-m", "awslambdaric")
			cfg.WorkingDir = "/nowhere"
			return newTarget(t, fixtures.PythonSpec(cfg), "amd64")
		}, "WorkingDir"},
		{"reserved env", "LD602", envTarget("AWS_REGION=us-east-1"), "Env:AWS_REGION"},
		{"ignored instruction", "LD603", func(t *testing.T) *analyze.Target {
			spec := fixtures.AWSBaseSpec()
			spec.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
			return newTarget(t, spec, "amd64")
		}, "ExposedPorts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := MustLookup(tt.id).Run(context.Background(), tt.target(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) == 0 {
				t.Fatal("no finding")
			}
			if fs[0].Source != tt.want {
				t.Errorf("Source = %q, want %q", fs[0].Source, tt.want)
			}
		})
	}
}
