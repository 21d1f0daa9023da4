package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

var ld404Cases = []checkCase{
	{
		name:   "hasura seed on a current node image (npm 10)",
		kind:   catches,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.HasuraSpec("10.8.2"), "amd64") },
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"The entrypoint starts the function through npx aws-lambda-ric (npm 10.8.2), and since npm 7 npx (npm exec) creates its cache and log directory under HOME", "EROFS: read-only file system, mkdir '/home/sbx_user1051'", "exit status 226", "Runtime.ExitError"},
				[]string{`config.Entrypoint=["/usr/local/bin/npx", "aws-lambda-ric"]`, "npm 10.8.2 (/usr/local/lib/node_modules/npm/package.json)", "no ENV HOME and no NPM_CONFIG_CACHE", "aws-lambda-ric is installed at /home/sbx_user1051/node_modules/.bin/aws-lambda-ric"},
				[]string{`ENTRYPOINT ["/usr/local/bin/node", "/home/sbx_user1051/node_modules/aws-lambda-ric/bin/index.mjs"]`, "ENV NPM_CONFIG_CACHE=/tmp/.npm"})(t, fs)
			if f := fs[0]; f.Path != "/usr/local/lib/node_modules/npm/bin/npx-cli.js" || f.Layer == nil {
				t.Errorf("path %q layer %+v", f.Path, f.Layer)
			}
		},
	},
	{
		name: "npm 6 npx that has to download the client",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/npx", "aws-lambda-ric"}, Cmd: []string{"index.handler"}, WorkingDir: "/var/task"},
				append(fixtures.NPMFiles("6.14.18"), testimage.Reg("var/task/index.js", 0o644, "exports.handler = async () => 1\n"))...), "amd64")
		},
		verify: expect(Error, []string{"aws-lambda-ric is not installed where npx looks", "downloads it into its cache under HOME"}, nil, []string{"ENV NPM_CONFIG_CACHE=/tmp/.npm"}),
	},
	{
		name: "npm start with npm 9",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.SimpleSpec(v1.Config{Cmd: []string{"npm", "start"}, WorkingDir: "/var/task"},
				append(fixtures.NPMFiles("9.8.1"), testimage.Reg("var/task/package.json", 0o644, `{"scripts":{"start":"node server.js"}}`))...), "amd64")
		},
		verify: expect(Error, []string{"through npm start (npm 9.8.1)"}, []string{"entrypoint chain: CMD npm (/usr/local/lib/node_modules/npm/bin/npm-cli.js)"}, []string{"ENV NPM_CONFIG_CACHE=/tmp/.npm"}),
	},
	{
		name: "cache moved, but not under /tmp",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.HasuraSpec("10.8.2", "NPM_CONFIG_CACHE=/home/node/.npm")
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error, nil, []string{"ENV NPM_CONFIG_CACHE=/home/node/.npm (not under /tmp)"}, nil),
	},
	{
		name: "npx whose npm version cannot be read (warning)",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/npx", "aws-lambda-ric"}, Cmd: []string{"index.handler"}, WorkingDir: "/var/task"},
				append(fixtures.NodeRICFiles("var/task"), testimage.Reg("usr/local/bin/npx", 0o755, "#!/usr/bin/env node\nrequire('npm/bin/npx-cli.js')\n"), testimage.Reg("var/task/index.js", 0o644, "exports.handler = async () => 1\n"))...), "amd64")
		},
		verify: expect(Warning, []string{"npm's version could not be read", "npm 7 and later"}, nil, []string{`ENTRYPOINT ["/usr/local/bin/node", "/var/task/node_modules/aws-lambda-ric/bin/index.mjs"]`}),
	},
	{
		name:   "hasura seed as written (node 14, npm 6, client installed)",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.HasuraSpec("6.14.18"), "amd64") },
	},
	{
		name: "npm 10 with NPM_CONFIG_CACHE under /tmp (the Node RIC README)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.HasuraSpec("10.8.2", "NPM_CONFIG_CACHE=/tmp/.npm"), "amd64")
		},
	},
	{
		name: "npm 10 with HOME=/tmp (aws-lambda-base-images#63's fix)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.HasuraSpec("10.8.2", "HOME=/tmp"), "amd64")
		},
	},
	{
		name: "node runs the client's script directly",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.js", 0o644, "exports.handler = async () => 1\n")), "amd64")
		},
	},
	{
		name:   "AWS base image",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSGoodSpec(), "amd64") },
	},
}
