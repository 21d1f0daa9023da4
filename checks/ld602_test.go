package checks

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
)

// envTarget is the AWS base image example with extra ENV lines, each also
// recorded in the history the way docker build records them.
func envTarget(env ...string) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.AWSBaseSpec()
		spec.Config.Env = append(spec.Config.Env, env...)
		si := fixtures.NewImage(t, spec)
		for _, kv := range env {
			si.Config.History = append(si.Config.History, v1.History{CreatedBy: "ENV " + kv, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"})
		}
		return newTargetFrom(t, si, "amd64")
	}
}

var ld602Cases = []checkCase{
	{
		name:   "AWS_LAMBDA_RUNTIME_API baked in",
		kind:   catches,
		target: envTarget("AWS_LAMBDA_RUNTIME_API=localhost:9001"),
		verify: expect(Warning,
			[]string{"sets AWS_LAMBDA_RUNTIME_API=localhost:9001", "unconfirmed", "skips the Runtime Interface Emulator"},
			[]string{"config.Env: AWS_LAMBDA_RUNTIME_API=localhost:9001", "set by the Dockerfile line: ENV AWS_LAMBDA_RUNTIME_API=localhost:9001"},
			[]string{"remove the ENV AWS_LAMBDA_RUNTIME_API=localhost:9001 line"}),
	},
	{
		name:   "AWS_REGION",
		kind:   catches,
		target: envTarget("AWS_REGION=us-east-1"),
		verify: expect(Warning, []string{"AWS_REGION=us-east-1", "this region"}, nil, []string{"remove the ENV AWS_REGION=us-east-1 line from the Dockerfile"}),
	},
	{
		name:   "credentials are hidden",
		kind:   catches,
		target: envTarget("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
		verify: func(t *testing.T, fs []Finding) {
			if len(fs) != 2 {
				t.Fatalf("%d findings, want 2", len(fs))
			}
			for _, f := range fs {
				all := f.Message + strings.Join(f.Evidence, " ") + f.Fix
				if strings.Contains(all, "AKIAIOSFODNN7EXAMPLE") || strings.Contains(all, "wJalrXUt") {
					t.Errorf("secret value in the finding: %s", all)
				}
				if !strings.Contains(all, "hidden") || !strings.Contains(f.Fix, "rotate") {
					t.Errorf("finding: %s", all)
				}
			}
		},
	},
	{
		name:   "LAMBDA_TASK_ROOT moved",
		kind:   catches,
		target: envTarget("LAMBDA_TASK_ROOT=/function"),
		verify: expect(Warning, []string{"LAMBDA_TASK_ROOT=/function"}, nil, nil),
	},
	{
		name:   "custom TZ is info",
		kind:   catches,
		target: envTarget("TZ=Europe/Paris"),
		verify: expect(Info, []string{"TZ=Europe/Paris", ":UTC"}, nil, nil),
	},
	{
		// The AWS base image sets LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR and TZ
		// to Lambda's own values.
		name:   "AWS base image ENV",
		kind:   clean,
		target: envTarget(),
	},
	{
		name:   "ordinary variables",
		kind:   clean,
		target: envTarget("NPM_CONFIG_CACHE=/tmp/.npm", "PYTHONPATH=/var/task/lib", "LANG=C.UTF-8", "AWS_DEFAULT_REGION_HINT=x", "TZ=:UTC"),
	},
}
