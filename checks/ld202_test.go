package checks

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

func pythonTarget(entrypoint ...string) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		return newTarget(t, fixtures.PythonSpec(fixtures.PythonConfig(entrypoint...)), "amd64")
	}
}

var ld202Cases = []checkCase{
	{
		// Seed: the Ruby RIC README's ENTRYPOINT on the official ruby
		// image, where GEM_HOME puts the binstub in /usr/local/bundle/bin.
		name: "ruby RIC binstub is in /usr/local/bundle/bin, not /usr/local/bin",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RubySpec("/usr/local/bin/aws_lambda_ric"), "amd64")
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{
					"ENTRYPOINT runs /usr/local/bin/aws_lambda_ric, which does not exist in this image",
					`IMAGE Launch error: fork/exec /usr/local/bin/aws_lambda_ric: no such file or directory`,
					`Couldn't find valid bootstrap(s): [/usr/local/bin/aws_lambda_ric]`,
					"Runtime.InvalidEntrypoint",
					"/usr/local/bundle/bin/aws_lambda_ric",
				},
				[]string{
					`config.Entrypoint=["/usr/local/bin/aws_lambda_ric"]`,
					`config.Cmd=["app.App::Handler.process"]`,
					"/usr/local/bin/aws_lambda_ric (missing)",
					"found /usr/local/bundle/bin/aws_lambda_ric: regular file, mode 0755, owner 0:0, from layer 1 (RUN gem install aws_lambda_ric), in a PATH directory",
					"found /usr/local/bundle/gems/aws_lambda_ric-1.0.2/bin/aws_lambda_ric",
					"ENV GEM_HOME=/usr/local/bundle",
				},
				nil)(t, fs)
			f := fs[0]
			if want := `ENTRYPOINT ["/usr/local/bundle/bin/aws_lambda_ric"]`; f.Fix != want {
				t.Errorf("fix %q, want %q", f.Fix, want)
			}
			if f.Path != "/usr/local/bin/aws_lambda_ric" || f.Layer != nil {
				t.Errorf("path %q layer %+v, want the missing path and no layer", f.Path, f.Layer)
			}
			for _, e := range f.Evidence {
				if strings.HasSuffix(e, "lib/aws_lambda_ric") {
					t.Errorf("a directory offered as a candidate: %s", e)
				}
			}
		},
	},
	{
		// Seed: the same image with a bare name and a PATH that lacks the
		// bundle bin directory.
		name: "bare name not on PATH",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.RubySpec("aws_lambda_ric")
			spec.Config.Env[0] = fixtures.DockerPATH
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{`ENTRYPOINT runs "aws_lambda_ric", which is in no directory of PATH`, "Couldn't find valid bootstrap(s): [aws_lambda_ric]"},
			[]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin (from the image's ENV)", "searched /usr/local/sbin/aws_lambda_ric, /usr/local/bin/aws_lambda_ric,"},
			[]string{`ENTRYPOINT ["/usr/local/bundle/bin/aws_lambda_ric"]`}),
	},
	{
		name: "bare name, image without PATH: the default is assumed and said so",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Cmd: []string{"uvicorn", "main:app"}},
				Layers: [][]testimage.File{{testimage.Reg("usr/bin/python3", 0o755, fixtures.ELFStub)}},
			}, "amd64")
		},
		verify: expect(Error,
			[]string{`CMD runs "uvicorn"`, "No file named uvicorn exists anywhere in the image"},
			[]string{"the image sets no PATH, so Lambda's documented default is assumed, the PATH lambdoctor run gives the function; which PATH Lambda's launcher searches is unconfirmed"},
			[]string{"install or COPY uvicorn", `CMD ["/absolute/path/to/uvicorn", "main:app"]`}),
	},
	{
		name: "dangling interpreter symlink",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PythonSpec(fixtures.PythonConfig("/usr/local/bin/python", "-m", "awslambdaric"))
			spec.Layers[0] = []testimage.File{
				testimage.Dir("usr", 0), testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0),
				testimage.Reg("usr/local/bin/python3.11", 0o755, fixtures.ELFStub),
				testimage.Symlink("usr/local/bin/python", "python3.12"),
			}
			return newTarget(t, spec, "amd64")
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"ENTRYPOINT runs /usr/local/bin/python, a dangling symlink: /usr/local/bin/python points to \"python3.12\", and /usr/local/bin/python3.12 does not exist", "fork/exec /usr/local/bin/python: no such file or directory"},
				[]string{"/usr/local/bin/python -> /usr/local/bin/python3.12 (missing)", `dangling symlink /usr/local/bin/python -> "python3.12" added in layer 0 (ADD file:python in /)`},
				[]string{"ln -sf /path/to/real/file /usr/local/bin/python", `ENTRYPOINT ["/path/to/real/file", "-m", "awslambdaric"]`})(t, fs)
			if f := fs[0]; f.Path != "/usr/local/bin/python" || f.Layer == nil || f.Layer.Index != 0 {
				t.Errorf("path %q layer %+v, want the link and its layer 0", f.Path, f.Layer)
			}
		},
	},
	{
		name: "interpreter removed by a later layer's whiteout",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PythonSpec(fixtures.PythonConfig("/usr/local/bin/python", "-m", "awslambdaric"))
			spec.Layers = append(spec.Layers, []testimage.File{testimage.Whiteout("usr/local/bin/python3.12")})
			spec.CreatedBy = append(spec.CreatedBy, "RUN /bin/sh -c rm /usr/local/bin/python3.12 # buildkit")
			return newTarget(t, spec, "amd64")
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error, []string{"dangling symlink"},
				[]string{"/usr/local/bin/python -> /usr/local/bin/python3 -> /usr/local/bin/python3.12 (missing)", `dangling symlink /usr/local/bin/python3 -> "python3.12"`},
				nil)(t, fs)
			if f := fs[0]; f.Path != "/usr/local/bin/python3" {
				t.Errorf("path %q, want the link whose target is gone", f.Path)
			}
		},
	},
	{
		name: "symlink loop",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Entrypoint: []string{"/app/run"}},
				Layers: [][]testimage.File{{testimage.Dir("app", 0), testimage.Symlink("app/run", "run2"), testimage.Symlink("app/run2", "/app/run")}},
			}, "amd64")
		},
		verify: expect(Error, []string{"a symlink loop", "too many levels of symbolic links", "inferred"}, []string{"/app/run -> /app/run2 -> /app/run (symlink loop)"}, []string{"point /app/run at a real file"}),
	},
	{
		name: "path through a file",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Entrypoint: []string{"/app/server/run"}},
				Layers: [][]testimage.File{{testimage.Dir("app", 0), testimage.Reg("app/server", 0o755, fixtures.ELFStub)}},
			}, "amd64")
		},
		verify: expect(Error, []string{"goes through /app/server, a regular file, as if it were a directory", "fork/exec /app/server/run: not a directory"}, []string{"/app/server/run (/app/server is not a directory)"}, nil),
	},
	{
		name: "relative path resolved against WORKDIR",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Cmd: []string{"./bootstrap", "--verbose"}, WorkingDir: "/var/task"},
				Layers: [][]testimage.File{{testimage.Dir("var", 0), testimage.Dir("var/task", 0), testimage.Dir("var/task/bin", 0), testimage.Reg("var/task/bin/bootstrap", 0o755, fixtures.ELFStub)}},
			}, "amd64")
		},
		verify: expect(Error,
			[]string{`CMD runs "./bootstrap", which resolves against WORKDIR /var/task to /var/task/bootstrap`},
			[]string{"/var/task/bootstrap (missing)", "found /var/task/bin/bootstrap"},
			[]string{`CMD ["/var/task/bin/bootstrap", "--verbose"]`}),
	},
	{
		name: "missing parent directory",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Entrypoint: []string{"/opt/app/bin/server"}},
				Layers: [][]testimage.File{{testimage.Dir("opt", 0)}},
			}, "amd64")
		},
		verify: expect(Error, []string{"does not exist in this image", "No file named server"}, []string{"/opt/app/bin/server (missing)"}, []string{`ENTRYPOINT ["/absolute/path/to/server"]`}),
	},
	{
		// alpine has no bash; /bin -> usr/bin is a symlinked directory, not a
		// dangling link.
		name: "bash missing behind a symlinked /bin",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Entrypoint: []string{"/bin/bash", "/entrypoint.sh"}},
				Layers: [][]testimage.File{{testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Reg("usr/bin/sh", 0o755, fixtures.ELFStub), testimage.Symlink("bin", "usr/bin"), testimage.Dir("app", 0), testimage.Reg("app/server", 0o755, fixtures.ELFStub)}},
			}, "amd64")
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error, []string{"ENTRYPOINT runs /bin/bash, which does not exist in this image"}, []string{"/bin/bash -> /usr/bin/bash (missing)"}, nil)(t, fs)
			if f := fs[0]; strings.Contains(f.Message, "dangling") || f.Layer != nil {
				t.Errorf("a missing file below a symlinked directory reported as a dangling link: %+v", f)
			}
		},
	},
	{
		name: "bare name next to a dangling link in a PATH directory",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"node"}},
				Layers: [][]testimage.File{
					{testimage.Dir("usr", 0), testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0), testimage.Dir("usr/local/lib", 0)},
					{testimage.Symlink("usr/local/bin/node", "../lib/node-v20/bin/node")},
				},
				CreatedBy: []string{"ADD base / # buildkit", "RUN /bin/sh -c ln -s ../lib/node-v20/bin/node /usr/local/bin/node # buildkit"},
			}, "amd64")
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{`/usr/local/bin/node points to "../lib/node-v20/bin/node", and /usr/local/lib/node-v20/bin/node does not exist`},
				[]string{"/usr/local/bin/node -> /usr/local/lib/node-v20/bin/node (missing)", "added in layer 1 (RUN ln -s ../lib/node-v20/bin/node /usr/local/bin/node)"},
				[]string{"ln -sf /path/to/real/file /usr/local/bin/node"})(t, fs)
			if f := fs[0]; f.Path != "/usr/local/bin/node" || f.Layer == nil || f.Layer.Index != 1 {
				t.Errorf("path %q layer %+v, want the link and layer 1", f.Path, f.Layer)
			}
		},
	},
	{
		name: "empty first element",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{Config: v1.Config{Entrypoint: []string{"", "x"}}, Layers: [][]testimage.File{{testimage.Reg("x", 0o644, "")}}}, "amd64")
		},
		verify: expect(Error, []string{"the first element of ENTRYPOINT is an empty string"}, []string{`config.Entrypoint=["", "x"]`}, []string{`ENTRYPOINT ["/absolute/path/to/your/runtime", "x"]`}),
	},
	{
		// The script on the chain starts, then execs a program that is
		// not in the image: Runtime.ExitError with status 127.
		name: "bootstrap script execs a missing program",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, execScriptSpec("#!/bin/sh\nset -eu\nexec /var/task/bootstrap-real \"$@\"\n"), "amd64")
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{`/var/runtime/bootstrap runs, but its last exec line starts "/var/task/bootstrap-real", which does not exist in this image`, "exit status 127", "Runtime.ExitError", "A file of that name exists at /opt/app/bootstrap-real"},
				[]string{"chain: ENTRYPOINT /var/runtime/bootstrap -> #! /bin/sh -> exec target /var/task/bootstrap-real (missing)", "found /opt/app/bootstrap-real"},
				[]string{"make the exec line of /var/runtime/bootstrap start /opt/app/bootstrap-real"})(t, fs)
			if f := fs[0]; f.Path != "/var/task/bootstrap-real" || f.Layer == nil || f.Layer.Index != 1 {
				t.Errorf("path %q layer %+v, want the missing target and the script's layer", f.Path, f.Layer)
			}
		},
	},
	{
		name: "bootstrap script execs a bare name found on no PATH directory",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, execScriptSpec("#!/bin/sh\nexec uvicorn main:app\n"), "amd64")
		},
		verify: expect(Error, []string{`last exec line starts "uvicorn", which is in no directory of PATH`, "No file named uvicorn exists anywhere in the image"}, nil, []string{"COPY the program to uvicorn"}),
	},
	{
		// Seed 000: CMD ["function.handler"] with no ENTRYPOINT runs the
		// handler string as the program.
		name: "handler string as argv[0]: CMD only, bootstrap in /var/runtime",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := execScriptSpec("#!/bin/sh\n# GET /2018-06-01/runtime/invocation/next\n")
			spec.Config.Entrypoint = nil
			spec.Config.Cmd = []string{"function.handler"}
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error,
			[]string{`"function.handler" looks like a handler string (file.function), not a program`, "Couldn't find valid bootstrap(s): [function.handler]"},
			[]string{"runtime in the image: /var/runtime/bootstrap"},
			[]string{`ENTRYPOINT ["/var/runtime/bootstrap"] (keep CMD ["function.handler"]`}),
	},
	{
		name: "bootstrap execs a user bootstrap only when it exists, else the default",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, execScriptSpec("#!/bin/sh\nif [ ! -x /var/task/bootstrap ]; then\n  exec /opt/app/bootstrap-real \"$@\"\nfi\nexec /var/task/bootstrap \"$@\"\n"), "amd64")
		},
	},
	{
		name: "bootstrap execs a program that exists",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, execScriptSpec("#!/bin/sh\nexec /opt/app/bootstrap-real \"$@\"\n"), "amd64")
		},
	},
	{
		// The emulator is mounted at run time locally; Lambda never runs it.
		name: "entry script whose last exec is the emulator, not in the image",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, execScriptSpec("#!/bin/sh\nif [ -n \"$AWS_LAMBDA_RUNTIME_API\" ]; then\n  exec /opt/app/bootstrap-real\nelse\n  exec /usr/local/bin/aws-lambda-rie /opt/app/bootstrap-real\nfi\n"), "amd64")
		},
	},
	{
		name:   "AWS base image",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSBaseSpec(), "amd64") },
	},
	{
		name: "ruby RIC at its real path",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric"), "amd64")
		},
	},
	{
		name:   "ruby RIC by bare name with the bundle bin on PATH",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.RubySpec("aws_lambda_ric"), "amd64") },
	},
	{
		name:   "symlinked interpreter /usr/local/bin/python -> python3 -> python3.12",
		kind:   clean,
		target: pythonTarget("/usr/local/bin/python", "-m", "awslambdaric"),
	},
	{
		name:   "bare python on PATH",
		kind:   clean,
		target: pythonTarget("python", "-m", "awslambdaric"),
	},
	{
		name: "merged /usr: /bin is a symlink to usr/bin",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Entrypoint: []string{"/bin/sh", "-c", "exec /app/server"}},
				Layers: [][]testimage.File{{testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Reg("usr/bin/sh", 0o755, fixtures.ELFStub), testimage.Symlink("bin", "usr/bin"), testimage.Dir("app", 0), testimage.Reg("app/server", 0o755, fixtures.ELFStub)}},
			}, "amd64")
		},
	},
	{
		name: "node image: relative docker-entrypoint.sh found on PATH",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"node", "index.js"}},
				Layers: [][]testimage.File{{
					testimage.Reg("usr/local/bin/node", 0o755, fixtures.ELFStub),
					testimage.Reg("usr/local/bin/docker-entrypoint.sh", 0o755, "#!/bin/sh\nexec \"$@\"\n"),
				}},
			}, "amd64")
		},
	},
	{
		name: "hard-linked binary",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Entrypoint: []string{"/usr/bin/python3"}},
				Layers: [][]testimage.File{{testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Reg("usr/bin/python3.12", 0o755, fixtures.ELFStub), testimage.Hardlink("usr/bin/python3", "usr/bin/python3.12")}},
			}, "amd64")
		},
	},
	{
		name: "relative path that exists under WORKDIR",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{
				Config: v1.Config{Cmd: []string{"./bootstrap"}, WorkingDir: "/var/task"},
				Layers: [][]testimage.File{{testimage.Dir("var", 0), testimage.Dir("var/task", 0), testimage.Reg("var/task/bootstrap", 0o755, fixtures.ELFStub)}},
			}, "amd64")
		},
	},
	{
		name:   "sh -c string execs a bootstrap that is not there",
		kind:   catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"sh", "-c", "cd $LAMBDA_TASK_ROOT && exec ./bootstrap"}})),
		verify: expect(Error,
			[]string{`ENTRYPOINT starts a shell whose command runs "./bootstrap", which does not exist in this image`, `"./bootstrap: not found"`, "exit status 127"},
			[]string{`"sh" runs the shell command "cd $LAMBDA_TASK_ROOT && exec ./bootstrap"`, "chain: ENTRYPOINT sh (/bin/dash) -> shell command ./bootstrap (missing)"},
			[]string{"COPY the program to /var/task/bootstrap"}),
	},
	{
		name:   "the fix: the same sh -c string with /var/task/bootstrap present",
		kind:   clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"sh", "-c", "cd $LAMBDA_TASK_ROOT && exec ./bootstrap"}}, testimage.Reg("var/task/bootstrap", 0o755, fixtures.ELFStub))),
	},
	{
		name:   "entry script execs $LAMBDA_RUNTIME_DIR/bootstrap, which is missing",
		kind:   catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}}, testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexport _HANDLER=\"$1\"\nexec \"$LAMBDA_RUNTIME_DIR/bootstrap\"\n"))),
		verify: expect(Error,
			[]string{`/entry.sh runs, but its last exec line starts "/var/runtime/bootstrap", which does not exist in this image`},
			[]string{"exec target /var/runtime/bootstrap (missing)"}, nil),
	},
	{
		name: "the fix: $LAMBDA_RUNTIME_DIR/bootstrap present",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}}, testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexport _HANDLER=\"$1\"\nexec \"$LAMBDA_RUNTIME_DIR/bootstrap\"\n"),
			testimage.Dir("var/runtime", 0), testimage.Reg("var/runtime/bootstrap", 0o755, fixtures.ELFStub))),
	},
	{
		name: "no ENTRYPOINT or CMD is LD201's, not this check's",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, testimage.Spec{Layers: [][]testimage.File{{testimage.Reg("x", 0o644, "")}}}, "amd64")
		},
	},
}

// execScriptSpec is a custom runtime: /var/runtime/bootstrap (the given
// script) as ENTRYPOINT on a small image with /bin/sh and the real runtime
// at /opt/app/bootstrap-real.
func execScriptSpec(script string) testimage.Spec {
	return testimage.Spec{
		Config: v1.Config{Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"/var/runtime/bootstrap"}, Cmd: []string{"function.handler"}},
		Layers: [][]testimage.File{
			{testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, fixtures.ELFStub), testimage.Dir("opt", 0), testimage.Dir("opt/app", 0), testimage.Reg("opt/app/bootstrap-real", 0o755, fixtures.ELFStub)},
			{testimage.Dir("var", 0), testimage.Dir("var/runtime", 0), testimage.Reg("var/runtime/bootstrap", 0o755, script)},
		},
		CreatedBy: []string{"ADD rootfs.tar / # buildkit", "COPY bootstrap /var/runtime/bootstrap # buildkit"},
	}
}
