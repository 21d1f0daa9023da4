package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

var ld206Cases = []checkCase{
	{
		name: "relative ImageConfig.WorkingDirectory",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			tg := newTarget(t, fixtures.AWSGoodSpec(), "amd64")
			tg.Overrides.WorkingDirectory = "task"
			return tg
		},
		verify: expect(Error,
			[]string{`the function's ImageConfig.WorkingDirectory is "task", a relative path`, "the working directory 'task' is invalid, it needs to be an absolute path", "Runtime.InvalidWorkingDir"},
			[]string{`ImageConfig.WorkingDirectory="task" (overrides config.WorkingDir)`},
			[]string{"ImageConfig.WorkingDirectory to /var/task"}),
	},
	{
		name:   "WORKDIR missing from the image",
		kind:   catches,
		target: awsWith(func(c *v1.Config) { c.WorkingDir = "/function" }),
		verify: expect(Error,
			[]string{"WORKDIR is /function, which does not exist in this image", "the working directory doesn't exist: /function"},
			[]string{`config.WorkingDir="/function"`, "/function (missing)"},
			[]string{"RUN mkdir -p /function"}),
	},
	{
		name: "WORKDIR is a file",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node"}, WorkingDir: "/var/task/app.js"},
			testimage.Reg("var/task/app.js", 0o644, "x"))),
		verify: expect(Error, []string{"/var/task/app.js is not a directory in this image", "unconfirmed"}, []string{"/var/task/app.js: regular file"}, nil),
	},
	{
		name: "WORKDIR the sandbox user cannot search",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node"}, WorkingDir: "/home/app/src"},
			testimage.Dir("home", 0), fixtures.Owned(testimage.Dir("home/app", 0o750), 1000, 1000), fixtures.Owned(testimage.Dir("home/app/src", 0o755), 1000, 1000))),
		verify: expect(Error, []string{"cannot search /home/app (mode 0750, owner 1000:1000)", "unconfirmed"}, nil, []string{"RUN chmod o+rx /home/app"}),
	},
	{
		name: "dangling WORKDIR symlink",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node"}, WorkingDir: "/app"},
			testimage.Symlink("app", "/srv/app"))),
		verify: expect(Error, []string{"/app is a dangling symlink"}, nil, nil),
	},
	{name: "AWS base image (/var/task)", kind: clean, target: spec(fixtures.AWSGoodSpec())},
	{name: "WORKDIR unset", kind: clean, target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node"}}))},
	{
		name: "WORKDIR through a symlink to a directory",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node"}, WorkingDir: "/app"},
			testimage.Symlink("app", "var/task"))),
	},
	{
		name: "WORKDIR owned by another user but world-searchable",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node"}, WorkingDir: "/home/app"},
			testimage.Dir("home", 0), fixtures.Owned(testimage.Dir("home/app", 0o711), 1000, 1000))),
	},
}
