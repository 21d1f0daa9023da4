package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// debianLayers is a python:3.12-slim style image (Debian, multiarch,
// usrmerge): the loader in /lib/x86_64-linux-gnu reached through /lib64,
// ld.so.conf.d with /usr/local/lib, and a cache ldconfig built.
func debianLayers() []testimage.File {
	a := fixtures.AMD64ELF
	ma := "usr/lib/x86_64-linux-gnu"
	return []testimage.File{
		testimage.Dir("usr", 0), testimage.Dir("usr/lib", 0), testimage.Dir(ma, 0), testimage.Dir("usr/bin", 0),
		testimage.Dir("usr/local", 0), testimage.Dir("usr/local/lib", 0), testimage.Dir("usr/local/bin", 0),
		testimage.Symlink("lib", "usr/lib"), testimage.Symlink("bin", "usr/bin"), testimage.Dir("lib64", 0),
		testimage.Reg(ma+"/ld-linux-x86-64.so.2", 0o755, a.Lib("ld-linux-x86-64.so.2")),
		testimage.Symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		testimage.Reg(ma+"/libc.so.6", 0o755, a.Lib("libc.so.6", "ld-linux-x86-64.so.2")),
		testimage.Reg(ma+"/libm.so.6", 0o644, a.Lib("libm.so.6", "libc.so.6")),
		testimage.Reg("usr/bin/apt-get", 0o755, a.Exe("libc.so.6")),
		testimage.Reg("usr/local/lib/libpython3.12.so.1.0", 0o755, a.Lib("libpython3.12.so.1.0", "libm.so.6", "libc.so.6")),
		testimage.Reg("usr/local/bin/python3.12", 0o755, a.Exe("libpython3.12.so.1.0", "libc.so.6")),
		testimage.Symlink("usr/local/bin/python", "python3.12"),
		testimage.Dir("etc", 0), testimage.Dir("etc/ld.so.conf.d", 0),
		testimage.Reg("etc/ld.so.conf", 0o644, "include /etc/ld.so.conf.d/*.conf\n"),
		testimage.Reg("etc/ld.so.conf.d/libc.conf", 0o644, "# libc default configuration\n/usr/local/lib\n"),
		testimage.Reg("etc/ld.so.conf.d/x86_64-linux-gnu.conf", 0o644, "# Multiarch support\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n"),
		testimage.Reg("etc/ld.so.cache", 0o644, string(fixtures.BuildLDCache([]fixtures.LDCacheEntry{
			{Name: "libpython3.12.so.1.0", Path: "/usr/local/lib/libpython3.12.so.1.0", Flags: fixtures.X8664Libc6},
			{Name: "libm.so.6", Path: "/lib/x86_64-linux-gnu/libm.so.6", Flags: fixtures.X8664Libc6},
			{Name: "libc.so.6", Path: "/lib/x86_64-linux-gnu/libc.so.6", Flags: fixtures.X8664Libc6},
		}, true))),
	}
}

// debianSpec runs the Python RIC on debianLayers, plus extra files.
func debianSpec(extra ...testimage.File) testimage.Spec {
	app := append([]testimage.File{testimage.Dir("function", 0), testimage.Reg("function/app.py", 0o644, "import x\n")}, extra...)
	return testimage.Spec{
		Config:    v1.Config{Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"/usr/local/bin/python", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}, WorkingDir: "/function"},
		Layers:    [][]testimage.File{debianLayers(), app},
		CreatedBy: []string{"/bin/sh -c #(nop) ADD file:debian in / ", "COPY . /function # buildkit"},
	}
}

var ld304Cases = []checkCase{
	{
		name: "bootstrap needs a library nobody installed",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AL2023Spec(fixtures.AMD64ELF, testimage.Dir("var/task/bin", 0), testimage.Reg("var/task/bin/inference", 0o755, fixtures.AMD64ELF.Exe("libtensorflow.so.1", "libc.so.6")))
			spec.Config.Entrypoint = []string{"/var/task/bin/inference"}
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{"ENTRYPOINT runs /var/task/bin/inference, and /var/task/bin/inference needs libtensorflow.so.1 (DT_NEEDED)", "/var/task/bin/inference: error while loading shared libraries: libtensorflow.so.1: cannot open shared object file: No such file or directory", "exit status 127", "Runtime.ExitError", "no file of that name exists anywhere"},
			[]string{"ENV LD_LIBRARY_PATH=/var/lang/lib:", "searched for libtensorflow.so.1: /var/lang/lib (LD_LIBRARY_PATH)", "/etc/ld.so.cache", "/usr/lib (default directory)"},
			[]string{"/var/task/lib"}),
	},
	{
		// opencv-python (not -headless) on the AWS base image.
		name: "cv2 needs libGL.so.1",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF,
				testimage.Dir("var/task/cv2", 0),
				testimage.Reg("var/task/cv2/cv2.abi3.so", 0o755, fixtures.AMD64ELF.Lib("", "libGL.so.1", "libstdc++.so.6", "libc.so.6"))), "amd64")
		},
		verify: expect(Warning,
			[]string{"The native module /var/task/cv2/cv2.abi3.so needs libGL.so.1", "Runtime.ImportModuleError: Unable to import module '<handler module>': libGL.so.1: cannot open shared object file"},
			[]string{"needed by /var/task/cv2/cv2.abi3.so (layer 1 (COPY . /var/task/))"},
			[]string{"RUN dnf install -y mesa-libGL"}),
	},
	{
		// COPY a library into /usr/local/lib without running ldconfig.
		name: "library in an ld.so.conf directory but not in the cache",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, debianSpec(
				testimage.Reg("usr/local/lib/libvips.so.42", 0o755, fixtures.AMD64ELF.Lib("libvips.so.42", "libc.so.6")),
				testimage.Dir("usr/local/lib/python3.12", 0), testimage.Dir("usr/local/lib/python3.12/site-packages", 0),
				testimage.Reg("usr/local/lib/python3.12/site-packages/_libvips.abi3.so", 0o755, fixtures.AMD64ELF.Lib("", "libvips.so.42"))), "amd64")
		},
		verify: expect(Warning,
			[]string{"it is in /usr/local/lib, a directory of /etc/ld.so.conf, but /etc/ld.so.cache does not list it"},
			nil,
			[]string{"RUN ldconfig"}),
	},
	{
		// Found by the linker only after one of another architecture.
		name: "only a wrong-architecture copy on the path",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.BootstrapSpec("amd64", fixtures.AL2023Layers(fixtures.AMD64ELF), fixtures.AMD64ELF.Exe("libduckdb.so", "libc.so.6"),
				testimage.Dir("var/task/lib", 0), testimage.Reg("var/task/lib/libduckdb.so", 0o755, fixtures.ARM64ELF.Lib("libduckdb.so")))
			spec.Config.Env = fixtures.AWSBaseConfig().Env
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{"for this architecture: /var/task/lib/libduckdb.so (AArch64 (EM_AARCH64)) is for another machine"},
			[]string{"skipped (wrong machine): /var/task/lib/libduckdb.so"},
			nil),
	},
	{
		name: "a dependency of a dependency is missing",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.BootstrapSpec("amd64", fixtures.AL2023Layers(fixtures.AMD64ELF), fixtures.ELFSpec{Interp: fixtures.GlibcInterp, Needed: []string{"libfoo.so.1", "libc.so.6"}, RunPath: "$ORIGIN/lib"}.String(),
				testimage.Dir("var/task/lib", 0), testimage.Reg("var/task/lib/libfoo.so.1", 0o755, fixtures.AMD64ELF.Lib("libfoo.so.1", "libbar.so.2", "libc.so.6")))
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{"/var/task/lib/libfoo.so.1 (loaded by /var/task/bootstrap) needs libbar.so.2"},
			[]string{"load chain: /var/task/bootstrap -> /var/task/lib/libfoo.so.1 -> libbar.so.2", "LD_LIBRARY_PATH: not set in the image's ENV"},
			nil),
	},
	{
		name: "AWS base image: python and bash find everything",
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
		name: "library found through DT_RUNPATH $ORIGIN",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.BootstrapSpec("amd64", fixtures.AL2023Layers(fixtures.AMD64ELF), fixtures.ELFSpec{Interp: fixtures.GlibcInterp, Needed: []string{"libfoo.so.1", "libstdc++.so.6", "libc.so.6"}, RunPath: "$ORIGIN/../lib"}.String(),
				testimage.Dir("var/lib", 0), testimage.Reg("var/lib/libfoo.so.1", 0o755, fixtures.AMD64ELF.Lib("libfoo.so.1", "libc.so.6")))
			return newTarget(t, spec, "amd64")
		},
	},
	{
		// numpy's auditwheel layout: RPATH $ORIGIN/../numpy.libs.
		name: "wheel with vendored libraries through $ORIGIN",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF,
				testimage.Dir("var/task/numpy", 0), testimage.Dir("var/task/numpy/_core", 0), testimage.Dir("var/task/numpy.libs", 0),
				testimage.Reg("var/task/numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so", 0o755,
					fixtures.ELFSpec{Soname: "", Needed: []string{"libscipy_openblas64_-ff651d7f.so", "libm.so.6", "libc.so.6"}, RPath: "$ORIGIN/../../numpy.libs"}.String()),
				testimage.Reg("var/task/numpy.libs/libscipy_openblas64_-ff651d7f.so", 0o755, fixtures.AMD64ELF.Lib("libscipy_openblas64_-ff651d7f.so", "libgfortran-040039e1.so.5.0.0")),
				testimage.Reg("var/task/numpy.libs/libgfortran-040039e1.so.5.0.0", 0o755, fixtures.AMD64ELF.Lib("libgfortran-040039e1.so.5.0.0", "libc.so.6"))), "amd64")
		},
	},
	{
		name: "musl binary on alpine (libc names answered by musl)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", fixtures.AlpineLayers(), fixtures.ELFSpec{Interp: fixtures.MuslInterp, Needed: []string{"libstdc++.so.6", "libc.musl-x86_64.so.1", "libm.so.6"}}.String()), "amd64")
		},
	},
	{
		name: "Debian python image: libpython in /usr/local/lib through the cache (old+new format)",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, debianSpec(), "amd64")
		},
	},
	{
		// Lambda documents LD_LIBRARY_PATH including /var/task/lib for its
		// runtimes; whether it applies to images without it in ENV is
		// unconfirmed, so this is not reported.
		name: "library only in /var/task/lib without LD_LIBRARY_PATH in ENV",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", fixtures.AL2023Layers(fixtures.AMD64ELF), fixtures.AMD64ELF.Exe("libfoo.so.1", "libc.so.6"),
				testimage.Dir("var/task/lib", 0), testimage.Reg("var/task/lib/libfoo.so.1", 0o755, fixtures.AMD64ELF.Lib("libfoo.so.1", "libc.so.6"))), "amd64")
		},
	},
	{
		name: "static Go binary on scratch",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.BootstrapSpec("amd64", nil, fixtures.StaticGo(fixtures.MachineX86_64)), "amd64")
		},
	},
}
