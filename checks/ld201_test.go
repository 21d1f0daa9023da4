package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// noCommand is the AWS base image with ENTRYPOINT and CMD reset, plus
// extra files.
func noCommand(extra ...testimage.File) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.AWSBaseSpec()
		spec.Config.Entrypoint, spec.Config.Cmd = nil, nil
		spec.Layers = append(spec.Layers, extra)
		spec.CreatedBy = append(spec.CreatedBy, "COPY extra / # buildkit")
		return newTarget(t, spec, "amd64")
	}
}

var ld201Cases = []checkCase{
	{
		name: "FROM scratch with a binary and no ENTRYPOINT",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Layers:    [][]testimage.File{{testimage.Dir("app", 0), testimage.Reg("app/server", 0o755, fixtures.ELFStub)}},
				CreatedBy: []string{"COPY server /app/server # buildkit"},
			}, "amd64")
		},
		verify: expect(Error,
			[]string{"neither ENTRYPOINT nor CMD", "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap /var/runtime/bootstrap]", "Runtime.InvalidEntrypoint"},
			[]string{"config.Entrypoint=(unset)", "config.Cmd=(unset)", "/var/task/bootstrap (missing)", "/opt/bootstrap (missing)", "/var/runtime/bootstrap (missing)"},
			[]string{`ENTRYPOINT ["/path/to/your/runtime"]`}),
	},
	{
		name:   "AWS base image with ENTRYPOINT reset: the emulator falls back to /var/runtime/bootstrap",
		kind:   catches,
		target: noCommand(),
		verify: func(t *testing.T, fs []Finding) {
			expect(Warning,
				[]string{"here /var/runtime/bootstrap", "not documented for Lambda itself (unconfirmed)"},
				[]string{"/var/task/bootstrap (missing)", "/var/runtime/bootstrap: regular file, mode 0755, owner 0:0, from layer 0"},
				[]string{`ENTRYPOINT ["/lambda-entrypoint.sh"]`, `CMD ["<module>.<handler>"]`})(t, fs)
			if fs[0].Path != "/var/runtime/bootstrap" || fs[0].Layer == nil || fs[0].Layer.Index != 0 {
				t.Errorf("path %q layer %+v, want /var/runtime/bootstrap in layer 0", fs[0].Path, fs[0].Layer)
			}
		},
	},
	{
		name: "custom runtime: /opt/bootstrap wins over /var/runtime/bootstrap, a /var/task/bootstrap directory is skipped",
		kind: catches,
		target: noCommand(
			testimage.Dir("var/task/bootstrap", 0),
			testimage.Dir("opt", 0),
			testimage.Reg("opt/bootstrap", 0o755, fixtures.ELFStub),
		),
		verify: expect(Warning, []string{"here /opt/bootstrap"}, []string{"/opt/bootstrap: regular file"}, nil),
	},
	{
		name: "bootstrap without /lambda-entrypoint.sh: fix names the bootstrap",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{Layers: [][]testimage.File{{
				testimage.Dir("var", 0), testimage.Dir("var/task", 0), testimage.Reg("var/task/bootstrap", 0o755, fixtures.ELFStub),
			}}}, "amd64")
		},
		verify: expect(Warning, []string{"here /var/task/bootstrap"}, nil, []string{`ENTRYPOINT ["/var/task/bootstrap"]`}),
	},
	{name: "AWS base image", kind: clean, target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSBaseSpec(), "amd64") }},
	{
		name: "CMD only (node image style)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Cmd: []string{"node", "index.js"}, Env: []string{fixtures.DockerPATH}},
				Layers: [][]testimage.File{{testimage.Reg("usr/local/bin/node", 0o755, fixtures.ELFStub)}},
			}, "amd64")
		},
	},
	{
		name: "ENTRYPOINT only",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Entrypoint: []string{"/main"}},
				Layers: [][]testimage.File{{testimage.Reg("main", 0o755, fixtures.ELFStub)}},
			}, "amd64")
		},
	},
}
