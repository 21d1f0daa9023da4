package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// alpinePythonSpec is python:3.12-alpine running the Python RIC, with
// extra files in /function.
func alpinePythonSpec(extra ...testimage.File) testimage.Spec {
	base := append(fixtures.AlpineLayers(),
		testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0), testimage.Dir("usr/local/lib", 0),
		testimage.Reg("usr/local/lib/libpython3.12.so.1.0", 0o755, fixtures.ELFSpec{Soname: "libpython3.12.so.1.0", Needed: []string{"libc.musl-x86_64.so.1"}}.String()),
		testimage.Reg("usr/local/bin/python3.12", 0o755, fixtures.ELFSpec{Interp: fixtures.MuslInterp, Needed: []string{"libpython3.12.so.1.0", "libc.musl-x86_64.so.1"}}.String()),
		testimage.Symlink("usr/local/bin/python", "python3.12"))
	app := append([]testimage.File{testimage.Dir("function", 0), testimage.Reg("function/app.py", 0o644, "import fastlib\n")}, extra...)
	return testimage.Spec{
		Config:    v1.Config{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}, Entrypoint: []string{"/usr/local/bin/python", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}, WorkingDir: "/function"},
		Layers:    [][]testimage.File{base, app},
		CreatedBy: []string{"/bin/sh -c #(nop) ADD file:alpine in / ", "COPY . /function # buildkit"},
	}
}

// glibcModule is a manylinux-style extension module: libc.so.6 and
// glibc's symbol versions.
func glibcModule() string {
	return fixtures.ELFSpec{Needed: []string{"libc.so.6"}, VerNeed: []fixtures.VerNeedSpec{{File: "libc.so.6", Versions: []string{"GLIBC_2.2.5", "GLIBC_2.14", "GLIBC_2.28"}}}}.String()
}

var ld306Cases = []checkCase{
	{
		// site-packages copied from a Debian build stage into Alpine.
		name: "manylinux extension module under Alpine's musl Python",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, alpinePythonSpec(testimage.Dir("function/fastlib", 0),
				testimage.Reg("function/fastlib/_core.cpython-312-x86_64-linux-gnu.so", 0o755, glibcModule())), "amd64")
		},
		verify: expect(Warning,
			[]string{"The native module /function/fastlib/_core.cpython-312-x86_64-linux-gnu.so was built for glibc", "GLIBC_2.14 of libc.so.6", "musl's loader /lib/ld-musl-x86_64.so.1", "symbol not found"},
			[]string{"requires (DT_VERNEED): GLIBC_2.2.5 of libc.so.6, GLIBC_2.14 of libc.so.6, GLIBC_2.28 of libc.so.6"},
			[]string{"musllinux"}),
	},
	{
		name: "the same module's musl build",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, alpinePythonSpec(testimage.Dir("function/fastlib", 0),
				testimage.Reg("function/fastlib/_core.cpython-312-x86_64-linux-musl.so", 0o755, fixtures.ELFSpec{Needed: []string{"libc.musl-x86_64.so.1"}}.String())), "amd64")
		},
	},
	{
		name: "the glibc module with gcompat installed",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, alpinePythonSpec(testimage.Dir("function/fastlib", 0),
				testimage.Reg("function/fastlib/_core.cpython-312-x86_64-linux-gnu.so", 0o755, glibcModule()),
				testimage.Reg("lib/libgcompat.so.0", 0o755, fixtures.ELFSpec{Soname: "libgcompat.so.0", Needed: []string{"libc.musl-x86_64.so.1"}}.String())), "amd64")
		},
	},
	{
		name: "the glibc module in a glibc image",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, debianSpec(testimage.Dir("function/fastlib", 0),
				testimage.Reg("function/fastlib/_core.cpython-312-x86_64-linux-gnu.so", 0o755, glibcModule())), "amd64")
		},
	},
}
