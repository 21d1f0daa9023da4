package checks

import (
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

const esmHandler = "import { S3Client } from '@aws-sdk/client-s3'\nconst s3 = new S3Client({})\nexport const handler = async (event) => ({ statusCode: 200 })\n"

// esmNode is aws-lambda-ric 3.3.0 in /var/task with index.js (src), the
// extra files, and ENV env.
func esmNode(src string, env []string, extra ...testimage.File) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.NodeRICSpec("/var/task", "index.handler", append([]testimage.File{testimage.Reg("var/task/index.js", 0o644, src)}, extra...)...)
		spec.Config.Env = append([]string{fixtures.DockerPATH}, env...)
		return newTarget(t, spec, "amd64")
	}
}

var ld406Cases = []checkCase{
	{
		name:   "ESM index.js without type module, node:18 (ENV NODE_VERSION=18.20.4)",
		kind:   catches,
		target: esmNode(esmHandler, []string{"NODE_VERSION=18.20.4"}),
		verify: expect(Error,
			[]string{"/var/task/index.js is written as an ES module (import/export), but aws-lambda-ric 3.x", "no package.json above it", "Node.js 18.20.4 (read from ENV NODE_VERSION=18.20.4) cannot require() an ES module", `"Runtime.UserCodeSyntaxError: SyntaxError: Cannot use import statement outside a module"`},
			[]string{"esbuild's parse: /var/task/index.js has ES module syntax", "package scope: no package.json above it"},
			[]string{`add "type": "module" to /var/task/package.json`, "rename index.js to index.mjs"}),
	},
	{
		name:   "the twin: the same with package.json type module",
		kind:   clean,
		target: esmNode(esmHandler, []string{"NODE_VERSION=18.20.4"}, testimage.Reg("var/task/package.json", 0o644, `{"name":"fn","type":"module"}`)),
	},
	{
		name:   "the same on Node.js 22.12, which requires ES modules",
		kind:   clean,
		target: esmNode(esmHandler, []string{"NODE_VERSION=22.12.0"}),
	},
	{
		name: "export-first ESM on Node.js 20.11 read from node_version.h",
		kind: catches,
		target: esmNode("export const handler = async () => 1\n", nil,
			testimage.Dir("usr/local/include", 0), testimage.Dir("usr/local/include/node", 0),
			testimage.Reg("usr/local/include/node/node_version.h", 0o644, "#ifndef SRC_NODE_VERSION_H_\n#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 11\n#define NODE_PATCH_VERSION 1\n")),
		verify: expect(Error,
			[]string{"Node.js 20.11.1 (read from /usr/local/include/node/node_version.h)", `"Runtime.UserCodeSyntaxError: SyntaxError: Unexpected token 'export'"`},
			nil, nil),
	},
	{
		name:   "type commonjs stops every Node.js version",
		kind:   catches,
		target: esmNode(esmHandler, nil, testimage.Reg("var/task/package.json", 0o644, `{"name":"fn","type":"commonjs"}`)),
		verify: expect(Error,
			[]string{`/var/task/package.json says "type": "commonjs", so Node.js parses every .js file there as CommonJS, in every version`},
			nil, []string{`set "type": "module" in /var/task/package.json`}),
	},
	{
		name:   "CommonJS index.js",
		kind:   clean,
		target: esmNode("exports.handler = async () => 1\n", []string{"NODE_VERSION=18.20.4"}),
	},
	{
		name: "ESM as index.mjs",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.NodeRICSpec("/var/task", "index.handler", testimage.Reg("var/task/index.mjs", 0o644, esmHandler)), "amd64")
		},
	},
}
