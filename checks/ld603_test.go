package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
)

// configTarget is the AWS base image example with its config edited and
// a history line per instruction.
func configTarget(edit func(c *v1.Config), history ...string) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.AWSBaseSpec()
		edit(&spec.Config)
		si := fixtures.NewImage(t, spec)
		for _, h := range history {
			si.Config.History = append(si.Config.History, v1.History{CreatedBy: h, EmptyLayer: true})
		}
		return newTargetFrom(t, si, "amd64")
	}
}

var ld603Cases = []checkCase{
	{
		name:   "USER app",
		kind:   catches,
		target: configTarget(func(c *v1.Config) { c.User = "app" }, "USER app"),
		verify: expect(Info,
			[]string{"sets USER app, which Lambda ignores", "uid 993, gid 990", "LD501"},
			[]string{"config.User=app", "set by the Dockerfile line: USER app"},
			[]string{"chmod -R o+rX /var/task"}),
	},
	{
		name: "web server image: EXPOSE, HEALTHCHECK, VOLUME, STOPSIGNAL",
		kind: catches,
		target: configTarget(func(c *v1.Config) {
			c.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "443/tcp": {}}
			c.Healthcheck = &v1.HealthConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"}}
			c.Volumes = map[string]struct{}{"/data": {}}
			c.StopSignal = "SIGQUIT"
		}),
		verify: func(t *testing.T, fs []Finding) {
			if len(fs) != 4 {
				t.Fatalf("%d findings, want 4", len(fs))
			}
			for _, f := range fs {
				if f.Severity != Info {
					t.Errorf("severity %s", f.Severity)
				}
			}
			if fs[0].Evidence[0] != "config.ExposedPorts=443/tcp 8080/tcp" {
				t.Errorf("evidence %q", fs[0].Evidence[0])
			}
		},
	},
	{
		name:   "AWS base image",
		kind:   clean,
		target: configTarget(func(*v1.Config) {}),
	},
	{
		name: "USER root, HEALTHCHECK NONE, STOPSIGNAL SIGTERM",
		kind: clean,
		target: configTarget(func(c *v1.Config) {
			c.User = "root"
			c.Healthcheck = &v1.HealthConfig{Test: []string{"NONE"}}
			c.StopSignal = "SIGTERM"
		}),
	},
}
