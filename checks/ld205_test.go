package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

var ld205Cases = []checkCase{
	{
		name:   "no CMD on the AWS base image",
		kind:   catches,
		target: awsWith(func(c *v1.Config) { c.Cmd = nil }),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"ENTRYPOINT runs the AWS base image's /lambda-entrypoint.sh, which requires exactly one argument", "CMD is unset", `"entrypoint requires the handler name to be the first argument"`, "exit status 142"},
				[]string{"/lambda-entrypoint.sh gets 0 argument(s)"},
				[]string{`CMD ["app.handler"]`})(t, fs)
			if fs[0].Path != "/lambda-entrypoint.sh" || fs[0].Layer == nil {
				t.Errorf("path %q layer %+v", fs[0].Path, fs[0].Layer)
			}
		},
	},
	{
		name:   "two-element CMD",
		kind:   catches,
		target: awsWith(func(c *v1.Config) { c.Cmd = []string{"python", "app.handler"} }),
		verify: expect(Error, []string{`it gets 2: ["python", "app.handler"]`}, nil, []string{`CMD ["app.handler"]`}),
	},
	{
		name:   "handler in ENTRYPOINT and CMD too",
		kind:   catches,
		target: awsWith(func(c *v1.Config) { c.Entrypoint = []string{"/lambda-entrypoint.sh", "app.handler"} }),
		verify: expect(Error, []string{`ENTRYPOINT adds ["app.handler"] before CMD ["app.handler"], so it gets 2`}, nil, []string{`ENTRYPOINT ["/lambda-entrypoint.sh"] and CMD ["app.handler"]`}),
	},
	{
		name: "ImageConfig.Command override with two elements",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			tg := newTarget(t, fixtures.AWSGoodSpec(), "amd64")
			tg.Overrides.Command = []string{"app.handler", "--debug"}
			return tg
		},
		verify: expect(Error, nil, []string{`ImageConfig.Command=["app.handler", "--debug"] (overrides config.Cmd)`}, []string{"ImageConfig.Command"}),
	},
	{
		name: "a wrapper script that execs /lambda-entrypoint.sh \"$@\" with no CMD",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			s := fixtures.AWSGoodSpec()
			s.Layers = append(s.Layers, []testimageFile{regFile("wrapper.sh", 0o755, "#!/bin/sh\nexport FOO=1\nexec /lambda-entrypoint.sh \"$@\"\n")})
			s.Config.Entrypoint = []string{"/wrapper.sh"}
			s.Config.Cmd = nil
			return newTarget(t, s, "amd64")
		},
		verify: expect(Error, []string{"the exec line of /wrapper.sh runs the AWS base image's /lambda-entrypoint.sh"}, nil, nil),
	},
	{name: "AWS base image with one handler", kind: clean, target: spec(fixtures.AWSGoodSpec())},
	{
		name:   "handler in ENTRYPOINT, no CMD",
		kind:   clean,
		target: awsWith(func(c *v1.Config) { c.Entrypoint = []string{"/lambda-entrypoint.sh", "app.handler"}; c.Cmd = nil }),
	},
	{
		name: "a custom /lambda-entrypoint.sh that takes no handler",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/lambda-entrypoint.sh"}},
			regFile("lambda-entrypoint.sh", 0o755, "#!/bin/sh\nexec node /var/task/index.js\n"))),
	},
	{
		name:   "shell form is LD204's",
		kind:   clean,
		target: awsWith(func(c *v1.Config) { c.Entrypoint = []string{"/bin/sh", "-c", "/lambda-entrypoint.sh"} }),
	},
}

type testimageFile = testimage.File

var regFile = testimage.Reg
