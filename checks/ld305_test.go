package checks

import (
	"bytes"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// glibcDefs are the versions a glibc defines, GLIBC_2.2.5 up to
// GLIBC_2.<newest>, as x86-64 glibc names them.
func glibcDefs(newest int) []string {
	vs := []string{"GLIBC_2.2.5", "GLIBC_2.2.6", "GLIBC_2.3", "GLIBC_2.3.2", "GLIBC_2.3.3", "GLIBC_2.3.4"}
	for i := 4; i <= newest; i++ {
		vs = append(vs, "GLIBC_2."+itoa(i))
	}
	return append(vs, "GLIBC_PRIVATE")
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// versionedDebian is debianLayers with a libc defining versions up to
// GLIBC_2.<newest> and a libstdc++ up to GLIBCXX_3.4.30, plus extra files.
func versionedDebian(newest int, cfg v1.Config, extra ...testimage.File) testimage.Spec {
	ma := "usr/lib/x86_64-linux-gnu"
	base := debianLayers()
	for i, f := range base {
		if f.Path == ma+"/libc.so.6" {
			base[i] = testimage.Reg(f.Path, 0o755, fixtures.ELFSpec{Soname: "libc.so.6", Needed: []string{"ld-linux-x86-64.so.2"}, VerDef: glibcDefs(newest)}.String())
		}
	}
	var cxx []string
	for i := 0; i <= 30; i++ {
		cxx = append(cxx, "GLIBCXX_3.4."+itoa(i))
	}
	cxx[0] = "GLIBCXX_3.4"
	base = append(base, testimage.Reg(ma+"/libstdc++.so.6", 0o644, fixtures.ELFSpec{Soname: "libstdc++.so.6", Needed: []string{"libc.so.6"}, VerDef: cxx}.String()))
	return testimage.Spec{
		Config:    cfg,
		Layers:    [][]testimage.File{base, append([]testimage.File{testimage.Dir("var", 0), testimage.Dir("var/task", 0)}, extra...)},
		CreatedBy: []string{"/bin/sh -c #(nop) ADD file:debian in / ", "COPY . /var/task # buildkit"},
	}
}

// bootstrapNeeding is a glibc program requiring vers of libc.so.6.
func bootstrapNeeding(vers ...string) string {
	return fixtures.ELFSpec{Interp: fixtures.GlibcInterp, Needed: []string{"libc.so.6"}, VerNeed: []fixtures.VerNeedSpec{{File: "libc.so.6", Versions: vers}}}.String()
}

var bootstrapCfg = v1.Config{Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"/var/task/bootstrap"}}

// hostProgram returns this machine's /usr/bin/true and the libc and
// loader it runs with, when it is an x86-64 Debian-style system; the
// program's requirement of GLIBC_2.34 (if any) is renamed to GLIBC_2.99
// when bump is set, which the real loader refuses ("version `GLIBC_2.99'
// not found", exit status 1).
func hostProgram(t *testing.T, bump bool) (prog, libc, ld []byte) {
	t.Helper()
	var err error
	if prog, err = os.ReadFile("/usr/bin/true"); err != nil {
		t.Skip(err)
	}
	if libc, err = os.ReadFile("/lib/x86_64-linux-gnu/libc.so.6"); err != nil {
		t.Skip(err)
	}
	if ld, err = os.ReadFile("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"); err != nil {
		t.Skip(err)
	}
	if bump {
		i := bytes.Index(prog, []byte("GLIBC_2.34\x00"))
		if i < 0 {
			t.Skip("/usr/bin/true does not require GLIBC_2.34 here")
		}
		prog = append(append(append([]byte{}, prog[:i]...), "GLIBC_2.99\x00"...), prog[i+11:]...)
	}
	return prog, libc, ld
}

// hostSpec is an image of this machine's loader, libc and (patched or
// not) /usr/bin/true as /var/task/bootstrap.
func hostSpec(t *testing.T, bump bool) testimage.Spec {
	prog, libc, ld := hostProgram(t, bump)
	ma := "usr/lib/x86_64-linux-gnu"
	return testimage.Spec{
		Config: bootstrapCfg,
		Layers: [][]testimage.File{{
			testimage.Dir("usr", 0), testimage.Dir("usr/lib", 0), testimage.Dir(ma, 0),
			testimage.Symlink("lib", "usr/lib"), testimage.Dir("lib64", 0),
			testimage.Reg(ma+"/ld-linux-x86-64.so.2", 0o755, string(ld)),
			testimage.Symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
			testimage.Reg(ma+"/libc.so.6", 0o755, string(libc)),
		}, {
			testimage.Dir("var", 0), testimage.Dir("var/task", 0),
			testimage.Reg("var/task/bootstrap", 0o755, string(prog)),
		}},
	}
}

// cxxModuleSpec is debianSpec with a libstdc++ defining GLIBCXX_3.4 to
// GLIBCXX_3.4.30 and a Python extension module requiring version of it.
func cxxModuleSpec(version string) testimage.Spec {
	mod := fixtures.ELFSpec{Needed: []string{"libstdc++.so.6", "libc.so.6"}, VerNeed: []fixtures.VerNeedSpec{{File: "libstdc++.so.6", Versions: []string{"GLIBCXX_3.4", version}}}}.String()
	return debianSpec(
		testimage.Dir("usr/local/lib/python3.12", 0), testimage.Dir("usr/local/lib/python3.12/site-packages", 0),
		testimage.Dir("usr/local/lib/python3.12/site-packages/fastlib", 0),
		testimage.Reg("usr/local/lib/python3.12/site-packages/fastlib/_core.cpython-312-x86_64-linux-gnu.so", 0o755, mod),
		testimage.Reg("usr/lib/x86_64-linux-gnu/libstdc++.so.6", 0o644, fixtures.ELFSpec{Soname: "libstdc++.so.6", Needed: []string{"libc.so.6"}, VerDef: []string{"GLIBCXX_3.4", "GLIBCXX_3.4.29", "GLIBCXX_3.4.30"}}.String()))
}

var ld305Cases = []checkCase{
	{
		// A program built on a newer distribution (glibc 2.38) copied
		// into a Debian 12 image (glibc 2.36).
		name: "bootstrap built against a newer glibc",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, versionedDebian(36, bootstrapCfg, testimage.Reg("var/task/bootstrap", 0o755, bootstrapNeeding("GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.38"))), "amd64")
		},
		verify: expect(Error,
			[]string{"ENTRYPOINT runs /var/task/bootstrap, and /var/task/bootstrap requires GLIBC_2.38 of libc.so.6", "defines versions up to GLIBC_2.36", "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by /var/task/bootstrap)", "Runtime.ExitError", "newer glibc"},
			[]string{"/var/task/bootstrap requires of libc.so.6 (DT_VERNEED): GLIBC_2.38 (not defined)", "GLIBC_2.2.5 … GLIBC_2.36"},
			[]string{"compile it in the same base image", "defines GLIBC_2.38"}),
	},
	{
		name: "the same program where the image's glibc is new enough",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, versionedDebian(38, bootstrapCfg, testimage.Reg("var/task/bootstrap", 0o755, bootstrapNeeding("GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.38"))), "amd64")
		},
	},
	{
		// A native module compiled with a newer GCC than the image's
		// libstdc++ (GLIBCXX_3.4.32 is GCC 13's).
		name: "native module needs a newer libstdc++",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, cxxModuleSpec("GLIBCXX_3.4.32"), "amd64")
		},
		verify: expect(Warning,
			[]string{"The native module /usr/local/lib/python3.12/site-packages/fastlib/_core.cpython-312-x86_64-linux-gnu.so requires GLIBCXX_3.4.32 of libstdc++.so.6", "defines versions up to GLIBCXX_3.4.30", "version `GLIBCXX_3.4.32' not found", "Runtime.ImportModuleError"},
			[]string{"GLIBCXX_3.4 … GLIBCXX_3.4.30 (3 versions)"},
			[]string{"install a build of fastlib made for this image's libstdc++.so.6"}),
	},
	{
		name: "the same module built for the image's libstdc++",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, cxxModuleSpec("GLIBCXX_3.4.30"), "amd64")
		},
	},
	{
		// This machine's real /usr/bin/true, its requirement of
		// GLIBC_2.34 renamed GLIBC_2.99, with its real libc: the real
		// loader refuses it with exit status 1.
		name: "a real program requiring a version the real libc lacks",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, hostSpec(t, true), "amd64")
		},
		verify: expect(Error,
			[]string{"requires GLIBC_2.99 of libc.so.6", "version `GLIBC_2.99' not found (required by /var/task/bootstrap)"},
			nil, nil),
	},
	{
		name: "the real program as built, with its real libc",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, hostSpec(t, false), "amd64")
		},
	},
}
