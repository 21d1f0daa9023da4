package checks

import (
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

var ld303Cases = []checkCase{
	{
		// A cgo-enabled Go binary (glibc) on Alpine.
		name: "glibc binary on alpine",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", fixtures.AlpineLayers(), fixtures.AMD64ELF.Exe("libc.so.6")), "amd64")
		},
		verify: expect(Error,
			[]string{"ENTRYPOINT runs /var/task/bootstrap, a glibc-linked ELF whose program interpreter (PT_INTERP) /lib64/ld-linux-x86-64.so.2 does not exist in this image", "musl's loader /lib/ld-musl-x86_64.so.1", `fork/exec /var/task/bootstrap: no such file or directory`, "although the file exists", "Runtime.InvalidEntrypoint"},
			[]string{"PT_INTERP=/lib64/ld-linux-x86-64.so.2 (missing)", "image C library: the image has musl's loader"},
			[]string{"CGO_ENABLED=0", "apk add --no-cache gcompat"}),
	},
	{
		name: "glibc binary on scratch",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, fixtures.AMD64ELF.Exe("libc.so.6")), "amd64")
		},
		verify: expect(Error, []string{"no dynamic loader for x86-64 at all"}, nil, []string{"CGO_ENABLED=0", "provided:al2023"}),
	},
	{
		// Built on Alpine, run on the AWS base image.
		name: "musl binary on Amazon Linux",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AL2023Spec(fixtures.AMD64ELF, testimage.Reg("var/task/bootstrap", 0o755, fixtures.ELFSpec{Interp: fixtures.MuslInterp, Needed: []string{"libc.musl-x86_64.so.1"}}.String()))
			spec.Config.Entrypoint = []string{"/var/task/bootstrap"}
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error, []string{"a musl-linked ELF", "/lib/ld-musl-x86_64.so.1 does not exist", "glibc's loader /lib64/ld-linux-x86-64.so.2"}, nil, []string{"x86_64-unknown-linux-gnu"}),
	},
	{
		name: "glibc extension on alpine",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", fixtures.AlpineLayers(), fixtures.StaticGo(fixtures.MachineX86_64),
				testimage.Dir("opt", 0), testimage.Dir("opt/extensions", 0),
				testimage.Reg("opt/extensions/datadog-agent", 0o755, fixtures.AMD64ELF.Exe("libc.so.6"))), "amd64")
		},
		verify: expect(Error, []string{"The extension /opt/extensions/datadog-agent is a glibc-linked ELF", "Extension.LaunchError"}, nil, nil),
	},
	{
		name: "loader is a dangling symlink",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			base := []testimage.File{testimage.Dir("lib64", 0), testimage.Symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")}
			return newTarget(t, fixtures.BootstrapSpec("amd64", base, fixtures.AMD64ELF.Exe("libc.so.6")), "amd64")
		},
		verify: expect(Error, []string{"is a dangling symlink (/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)"}, nil, nil),
	},
	{
		name: "AWS base image (loader through the /lib64 -> usr/lib64 link)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF), "amd64")
		},
	},
	{
		name: "arm64 AWS base image",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.ARM64ELF), "arm64")
		},
	},
	{
		name: "static Go binary on scratch",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, fixtures.StaticGo(fixtures.MachineX86_64)), "amd64")
		},
	},
	{
		name: "musl binary on alpine",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", fixtures.AlpineLayers(), fixtures.ELFSpec{Interp: fixtures.MuslInterp, Needed: []string{"libc.musl-x86_64.so.1", "libstdc++.so.6"}}.String()), "amd64")
		},
	},
	{
		// gcompat links the glibc loader name to musl.
		name: "glibc binary on alpine with gcompat",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			base := append(fixtures.AlpineLayers(), testimage.Dir("lib64", 0), testimage.Symlink("lib64/ld-linux-x86-64.so.2", "/lib/ld-musl-x86_64.so.1"))
			return newTarget(t, fixtures.BootstrapSpec("amd64", base, fixtures.AMD64ELF.Exe("libc.so.6", "libpthread.so.0")), "amd64")
		},
	},
}
