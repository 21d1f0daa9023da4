package checks

import (
	delf "debug/elf"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// machO is the start of a 64-bit Mach-O executable (arm64).
const machO = "\xcf\xfa\xed\xfe\x0c\x00\x00\x01\x00\x00\x00\x00\x02\x00\x00\x00\x10\x00\x00\x00"

var ld302Cases = []checkCase{
	{
		// go build on a Mac without GOOS=linux.
		name: "Mach-O bootstrap built on macOS",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, machO+"\x00\x00\x00\x00"), "amd64")
		},
		verify: expect(Error,
			[]string{"ENTRYPOINT runs /var/task/bootstrap, which is a Mach-O executable: it was built for macOS", "fork/exec /var/task/bootstrap: exec format error", "Runtime.InvalidEntrypoint"},
			[]string{`config.Entrypoint=["/var/task/bootstrap"]`, "Mach-O (macOS) (first bytes cf fa ed fe)"},
			[]string{"GOOS=linux GOARCH=amd64"}),
	},
	{
		name: "a jar as the entrypoint",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.BootstrapSpec("amd64", nil, "#!/bin/sh\n")
			spec.Layers[0] = append(spec.Layers[0], testimage.Reg("var/task/app.jar", 0o755, "PK\x03\x04\x14\x00\x08\x00\x08\x00"))
			spec.Config.Entrypoint = []string{"/var/task/app.jar"}
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{"/var/task/app.jar, which is a zip archive", "exec format error"},
			[]string{"zip archive (first bytes 50 4b 03 04)"},
			[]string{"/usr/bin/java"}),
	},
	{
		name: "Windows PE",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, "MZ\x90\x00\x03\x00\x00\x00"), "amd64")
		},
		verify: expect(Error, []string{"Windows PE executable"}, nil, []string{"GOOS=linux"}),
	},
	{
		name: "FreeBSD ELF",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, fixtures.ELFSpec{OSABI: delf.ELFOSABI_FREEBSD}.String()), "amd64")
		},
		verify: expect(Error, []string{"an ELF binary for FreeBSD", "unconfirmed", "first FreeBSD system call"}, []string{"OS/ABI FreeBSD"}, nil),
	},
	{
		name: "an object file, not linked",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, fixtures.ELFSpec{Type: delf.ET_REL}.String()), "amd64")
		},
		verify: expect(Error, []string{"relocatable object"}, nil, nil),
	},
	{
		name: "32-bit x86 on an x86_64 function",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, fixtures.ELFSpec{Class32: true, Machine: delf.EM_386}.String()), "amd64")
		},
		verify: expect(Warning, []string{"a 32-bit ELF binary (Intel 80386 (EM_386))", "unconfirmed"}, nil, []string{"64-bit"}),
	},
	{
		name: "AWS base image",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF), "amd64")
		},
	},
	{
		// Text without #! is LD207's; LD302 leaves it alone.
		name: "text without a shebang",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, "echo hello\n"), "amd64")
		},
	},
	{
		// Another architecture is LD301's.
		name: "arm64 ELF on amd64",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, fixtures.StaticGo(fixtures.MachineARM64)), "amd64")
		},
	},
}
