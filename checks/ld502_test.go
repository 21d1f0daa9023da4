package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// ld502ELF is the start of an x86-64 ELF executable.
const ld502ELF = "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"

// nodeLayer is a node:20-style base: node, npm and npx as links into the
// npm package, /usr/bin/env and /bin/sh.
func nodeLayer() []testimage.File {
	return []testimage.File{
		testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, ld502ELF),
		testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Reg("usr/bin/env", 0o755, ld502ELF),
		testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0), testimage.Reg("usr/local/bin/node", 0o755, ld502ELF),
		testimage.Dir("usr/local/lib", 0), testimage.Dir("usr/local/lib/node_modules", 0), testimage.Dir("usr/local/lib/node_modules/npm", 0),
		testimage.Dir("usr/local/lib/node_modules/npm/bin", 0),
		testimage.Reg("usr/local/lib/node_modules/npm/bin/npm-cli.js", 0o755, "#!/usr/bin/env node\nrequire('../lib/cli.js')(process)\n"),
		testimage.Reg("usr/local/lib/node_modules/npm/bin/npx-cli.js", 0o755, "#!/usr/bin/env node\nrequire('../lib/cli.js')(process)\n"),
		testimage.Symlink("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"),
		testimage.Symlink("usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js"),
		testimage.Dir("tmp", 0o1777),
	}
}

func nodeSpec(cfg v1.Config, app ...testimage.File) testimage.Spec {
	cfg.Env = append([]string{fixtures.DockerPATH}, cfg.Env...)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/var/task"
	}
	app = append([]testimage.File{testimage.Dir("var", 0), testimage.Dir("var/task", 0), testimage.Reg("var/task/index.js", 0o644, "exports.handler = async () => 1\n")}, app...)
	return testimage.Spec{
		Config:    cfg,
		Layers:    [][]testimage.File{nodeLayer(), app},
		CreatedBy: []string{"/bin/sh -c #(nop) ADD file:node-20 in / ", "COPY . /var/task # buildkit"},
	}
}

// hasuraSeed is the hasura blog seed: node + aws-lambda-ric via npx, the
// hasura CLI on PATH under /home/sbx_user1051/hasura-cli, and (when link)
// the seed's `ln -s /tmp/ /home/sbx_user1051/.hasura`.
func hasuraSeed(link bool) testimage.Spec {
	home := []testimage.File{
		testimage.Dir("home", 0), testimage.Dir("home/sbx_user1051", 0o755),
		testimage.Dir("home/sbx_user1051/hasura-cli", 0), testimage.Reg("home/sbx_user1051/hasura-cli/hasura", 0o755, ld502ELF),
	}
	created := []string{"/bin/sh -c #(nop) ADD file:node-14 in / ", "COPY --from=build-image /home/sbx_user1051 /home/sbx_user1051 # buildkit"}
	layers := [][]testimage.File{nodeLayer(), home}
	if link {
		layers = append(layers, []testimage.File{testimage.Symlink("home/sbx_user1051/.hasura", "/tmp/")})
		created = append(created, "RUN /bin/sh -c ln -s /tmp/ /home/sbx_user1051/.hasura # buildkit")
	}
	return testimage.Spec{
		Config: v1.Config{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/home/sbx_user1051/hasura-cli"},
			Entrypoint: []string{"/usr/local/bin/npx", "aws-lambda-ric"},
			Cmd:        []string{"index.runMigrations"},
			WorkingDir: "/home/sbx_user1051/dist",
			User:       "sbx_user1051",
		},
		Layers:    layers,
		CreatedBy: created,
	}
}

var ld502Cases = []checkCase{
	{
		name:   "ENTRYPOINT npm start with HOME unset",
		kind:   catches,
		target: ld601Target(nodeSpec(v1.Config{Entrypoint: []string{"npm", "start"}})),
		verify: expect(Warning,
			[]string{"The entrypoint chain runs npm", "HOME is /home/sbx_user1051", "EROFS: read-only file system, mkdir '/home/sbx_user1051'"},
			[]string{"HOME is not set by the image", "ENTRYPOINT npm"},
			[]string{"ENV NPM_CONFIG_CACHE=/tmp/.npm"}),
	},
	{
		name: "bootstrap script runs npm run before exec node, HOME=/home/node",
		kind: catches,
		target: ld601Target(nodeSpec(v1.Config{Entrypoint: []string{"/var/task/bootstrap.sh"}, Env: []string{"HOME=/home/node"}},
			testimage.Reg("var/task/bootstrap.sh", 0o755, "#!/bin/sh\nset -e\nnpm run migrate\nexec node /var/task/node_modules/aws-lambda-ric/bin/index.mjs \"$@\"\n"))),
		verify: expect(Warning, []string{`The script /var/task/bootstrap.sh runs "npm run"`, "HOME is /home/node"}, []string{"config.Env HOME=/home/node"}, nil),
	},
	{
		name:   "hasura seed without the ~/.hasura -> /tmp link",
		kind:   catches,
		target: ld601Target(hasuraSeed(false)),
		verify: expect(Warning, []string{"The hasura CLI is installed at /home/sbx_user1051/hasura-cli/hasura", "heuristic", "inferred"}, []string{"/home/sbx_user1051/.hasura (missing)"}, []string{"ENV HOME=/tmp"}),
	},
	{
		name:   "hasura seed as written: ~/.hasura is a link to /tmp",
		kind:   clean,
		target: ld601Target(hasuraSeed(true)),
	},
	{
		name:   "npm start with NPM_CONFIG_CACHE under /tmp",
		kind:   clean,
		target: ld601Target(nodeSpec(v1.Config{Entrypoint: []string{"npm", "start"}, Env: []string{"NPM_CONFIG_CACHE=/tmp/.npm"}})),
	},
	{
		name:   "npm start with HOME=/tmp",
		kind:   clean,
		target: ld601Target(nodeSpec(v1.Config{Entrypoint: []string{"npm", "start"}, Env: []string{"HOME=/tmp"}})),
	},
	{
		name:   "npx is LD404's, not this check's",
		kind:   clean,
		target: ld601Target(nodeSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/npx", "aws-lambda-ric"}, Cmd: []string{"index.handler"}})),
	},
	{
		name:   "node run directly",
		kind:   clean,
		target: ld601Target(nodeSpec(v1.Config{Entrypoint: []string{"/usr/local/bin/node", "/var/task/node_modules/aws-lambda-ric/bin/index.mjs"}, Cmd: []string{"index.handler"}})),
	},
	{
		name:   "AWS base image",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSBaseSpec(), "amd64") },
	},
}
