package checks

import (
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// editFiles returns spec with every file whose path ends in suffix
// replaced by the files repl (removed when repl is empty).
func editFiles(spec testimage.Spec, suffix string, repl ...testimage.File) testimage.Spec {
	out := spec
	out.Layers = make([][]testimage.File, len(spec.Layers))
	for i, l := range spec.Layers {
		for _, f := range l {
			if strings.HasSuffix(f.Path, suffix) {
				out.Layers[i] = append(out.Layers[i], repl...)
				repl = nil
				continue
			}
			out.Layers[i] = append(out.Layers[i], f)
		}
	}
	return out
}

const pySite = "usr/local/lib/python3.12/site-packages/"

func pyRICApp() testimage.Spec {
	return fixtures.PyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, fixtures.PyHandler))
}

func nodeRICApp() testimage.Spec {
	return fixtures.NodeRICSpec("/var/task", "index.handler", testimage.Reg("var/task/index.js", 0o644, "exports.handler = async () => 1\n"))
}

var ld405Cases = []checkCase{
	{
		// awslambdaric's package copied without the extension next to it.
		name: "python: awslambdaric without its runtime_client extension",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, editFiles(pyRICApp(), fixtures.PyRuntimeClient312), "amd64")
		},
		verify: expect(Error,
			[]string{"awslambdaric is installed, but there is no runtime_client extension module in any directory /usr/local/bin/python3.12 searches", "AttributeError: 'NoneType' object has no attribute 'next'", "Runtime exited with error: exit status 1"},
			[]string{"runtime client: python-awslambdaric at /usr/local/lib/python3.12/site-packages/awslambdaric", "looked for runtime_client (runtime_client.cpython-312-x86_64-linux-gnu.so, runtime_client.abi3.so, runtime_client.so) in /var/task, /usr/local/lib/python3.12/site-packages"},
			[]string{"RUN /usr/local/bin/python -m pip install --target /var/task awslambdaric"}),
	},
	{
		// pip install --target ran with python3.11 in the build stage.
		name: "python: runtime_client built for CPython 3.11, run by python3.12",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			const so311 = "runtime_client.cpython-311-x86_64-linux-gnu.so"
			return newTarget(t, editFiles(pyRICApp(), fixtures.PyRuntimeClient312, testimage.Reg(pySite+so311, 0o755, fixtures.PyRuntimeClientELF(so311))), "amd64")
		},
		verify: expect(Error,
			[]string{"the runtime_client extension at /usr/local/lib/python3.12/site-packages/runtime_client.cpython-311-x86_64-linux-gnu.so is built for CPython 3.11, and /usr/local/bin/python3.12 (Python 3.12) only imports runtime_client.cpython-312-x86_64-linux-gnu.so"},
			[]string{"/usr/local/lib/python3.12/site-packages/runtime_client.cpython-311-x86_64-linux-gnu.so: regular file"},
			nil),
	},
	{
		// The twin of both: the extension pip builds for this python.
		name:   "python: awslambdaric with runtime_client.cpython-312-x86_64-linux-gnu.so",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, pyRICApp(), "amd64") },
	},
	{
		name: "python: runtime_client.abi3.so",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, editFiles(pyRICApp(), fixtures.PyRuntimeClient312, testimage.Reg(pySite+"runtime_client.abi3.so", 0o755, fixtures.PyRuntimeClientELF("runtime_client.abi3.so"))), "amd64")
		},
	},
	{
		// npm install --ignore-scripts: postinstall never built the addon.
		name: "node: aws-lambda-ric without dist/rapid-client.node",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, editFiles(nodeRICApp(), "dist/rapid-client.node"), "amd64")
		},
		verify: expect(Error,
			[]string{"The aws-lambda-ric package at /var/task/node_modules/aws-lambda-ric has no compiled addon (/var/task/node_modules/aws-lambda-ric/dist/rapid-client.node)", "--ignore-scripts", "Error: Cannot find module './rapid-client.node'", "exit status 1"},
			[]string{"/var/task/node_modules/aws-lambda-ric/dist/index.mjs requires ./rapid-client.node, looked for at /var/task/node_modules/aws-lambda-ric/dist/rapid-client.node: not there"},
			[]string{"without --ignore-scripts"}),
	},
	{
		// node_modules installed on a Mac and copied into the image.
		name: "node: rapid-client.node is a Mach-O file",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, editFiles(nodeRICApp(), "dist/rapid-client.node", testimage.Reg("var/task/node_modules/aws-lambda-ric/dist/rapid-client.node", 0o755, machO)), "amd64")
		},
		verify: expect(Error,
			[]string{"/var/task/node_modules/aws-lambda-ric/dist/rapid-client.node is a Mach-O (macOS) file, not a Linux ELF shared object", "invalid ELF header"},
			nil, nil),
	},
	{
		// The twin of both: the addon built in the image.
		name:   "node: aws-lambda-ric with its addon built",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, nodeRICApp(), "amd64") },
	},
	{
		name:   "AWS base image (the managed runtime is not judged)",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSGoodSpec(), "amd64") },
	},
}
