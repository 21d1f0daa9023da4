package checks

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

var ld301Cases = []checkCase{
	{
		// A Go binary built on an Apple Silicon Mac (arm64) copied into an
		// amd64 image, deployed as an x86_64 function.
		name: "arm64 bootstrap copied into an amd64 image",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, fixtures.StaticGo(fixtures.MachineARM64)), "amd64")
		},
		verify: expect(Error,
			[]string{"ENTRYPOINT runs /var/task/bootstrap, an ELF binary for AArch64 (EM_AARCH64)", "x86_64", `fork/exec /var/task/bootstrap: exec format error`, "Runtime.InvalidEntrypoint", "config says amd64 while this binary is arm64"},
			[]string{"function architecture: amd64", "config.architecture=amd64", "ELF 64-bit LSB executable, AArch64 (EM_AARCH64), statically linked"},
			[]string{"--platform"}),
	},
	{
		// The whole image is arm64 (built on a Mac), the function x86_64.
		name: "arm64 AWS base image deployed as an x86_64 function",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.ARM64ELF), "amd64")
		},
		verify: func(t *testing.T, fs []Finding) {
			if len(fs) != 2 {
				t.Fatalf("%d findings, want bash and python", len(fs))
			}
			if !strings.Contains(fs[0].Message, "whole image was built for the other architecture") || !strings.Contains(fs[0].Fix, "docker build --platform linux/amd64") {
				t.Errorf("message %q fix %q", fs[0].Message, fs[0].Fix)
			}
		},
	},
	{
		name: "x86-64 extension in an arm64 function",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.ARM64ELF,
				testimage.Dir("opt", 0), testimage.Dir("opt/extensions", 0),
				testimage.Reg("opt/extensions/apm-lambda-extension", 0o755, fixtures.StaticGo(fixtures.MachineX86_64))), "arm64")
		},
		verify: expect(Error,
			[]string{"The extension /opt/extensions/apm-lambda-extension is an ELF binary for x86-64", "Extension.LaunchError", "exec format error"},
			[]string{"/opt/extensions/apm-lambda-extension: regular file, mode 0755"},
			[]string{"arm64 build of the apm-lambda-extension extension"}),
	},
	{
		// pip installed x86_64 wheels (on the host) into an arm64 image.
		name: "x86_64 wheels in an arm64 function",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			mod := func(p string) testimage.File {
				return testimage.Reg(p, 0o755, fixtures.AMD64ELF.Lib("", "libc.so.6"))
			}
			return newTarget(t, fixtures.AL2023Spec(fixtures.ARM64ELF,
				testimage.Dir("var/task/pydantic_core", 0),
				mod("var/task/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so"),
				testimage.Dir("var/task/numpy", 0),
				mod("var/task/numpy/_core.cpython-312-x86_64-linux-gnu.so")), "arm64")
		},
		verify: expect(Error,
			[]string{"2 native modules", "ELF for x86-64", "Runtime.ImportModuleError", "cannot open shared object file"},
			[]string{"/var/task/numpy/_core.cpython-312-x86_64-linux-gnu.so: ELF 64-bit LSB shared object, x86-64"},
			[]string{"pip install --platform manylinux2014_aarch64 --only-binary=:all:"}),
	},
	{
		name: "AWS base image, matching architecture",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF), "amd64")
		},
	},
	{
		name: "arm64 AWS base image on arm64",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.ARM64ELF), "arm64")
		},
	},
	{
		name: "static Go binary on scratch, architecture from config",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("arm64", nil, fixtures.StaticGo(fixtures.MachineARM64)), "")
		},
	},
	{
		// Packages that ship prebuilt addons for every platform and pick
		// one at run time (node-gyp-build).
		name: "prebuilds for other platforms in node_modules",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.BootstrapSpec("amd64", nil, fixtures.StaticGo(fixtures.MachineX86_64),
				testimage.Dir("var/task/node_modules", 0),
				testimage.Dir("var/task/node_modules/bcrypt", 0),
				testimage.Dir("var/task/node_modules/bcrypt/prebuilds", 0),
				testimage.Dir("var/task/node_modules/bcrypt/prebuilds/linux-arm64", 0),
				testimage.Reg("var/task/node_modules/bcrypt/prebuilds/linux-arm64/node.napi.node", 0o644, fixtures.ARM64ELF.Lib("")),
				testimage.Dir("var/task/node_modules/bcrypt/prebuilds/linux-x64", 0),
				testimage.Reg("var/task/node_modules/bcrypt/prebuilds/linux-x64/node.napi.node", 0o644, fixtures.AMD64ELF.Lib("")),
			)
			spec.Config = v1.Config{Entrypoint: []string{"/var/task/bootstrap"}}
			return newTarget(t, spec, "amd64")
		},
	},
}
