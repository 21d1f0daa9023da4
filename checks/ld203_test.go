package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// spec returns a target builder for spec on amd64.
func spec(s testimage.Spec) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target { return newTarget(t, s, "amd64") }
}

var ld203Cases = []checkCase{
	{
		name:   "sh -c runs ./bootstrap from $LAMBDA_TASK_ROOT, which is not executable",
		kind:   catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"sh", "-c", "cd $LAMBDA_TASK_ROOT && exec ./bootstrap"}}, testimage.Reg("var/task/bootstrap", 0o644, fixtures.ELFStub))),
		verify: expect(Error, []string{"/var/task/bootstrap"}, []string{"shell command ./bootstrap (/var/task/bootstrap)"}, []string{"chmod"}),
	},
	{
		name:   "the fix: ./bootstrap executable",
		kind:   clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"sh", "-c", "cd $LAMBDA_TASK_ROOT && exec ./bootstrap"}}, testimage.Reg("var/task/bootstrap", 0o755, fixtures.ELFStub))),
	},
	{
		name: "bootstrap is 0744: the owner (root) may execute it, the sandbox user may not",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/bootstrap"}},
			testimage.Reg("var/task/bootstrap", 0o744, fixtures.ELFStub))),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"ENTRYPOINT runs /var/task/bootstrap, which the sandbox user cannot execute: mode 0744, owner 0:0", `"IMAGE Launch error: fork/exec /var/task/bootstrap: permission denied"`, "Runtime.InvalidEntrypoint", "ignores USER"},
				[]string{`config.Entrypoint=["/var/task/bootstrap"]`, "/var/task/bootstrap: regular file, mode 0744, owner 0:0, from layer 1 (COPY . /var/task)"},
				[]string{"RUN chmod 755 /var/task/bootstrap"})(t, fs)
			if f := fs[0]; f.Path != "/var/task/bootstrap" || f.Layer == nil || f.Layer.Index != 1 {
				t.Errorf("path %q layer %+v", f.Path, f.Layer)
			}
		},
	},
	{
		name: "a parent directory the sandbox user cannot search (/home/app 0700)",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/home/app/server"}},
			testimage.Dir("home", 0), fixtures.Owned(testimage.Dir("home/app", 0o700), 1000, 1000), fixtures.Owned(testimage.Reg("home/app/server", 0o755, fixtures.ELFStub), 1000, 1000))),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"cannot search the directory /home/app on the way (mode 0700, owner 1000:1000)", "fork/exec /home/app/server: permission denied"},
				[]string{"/home/app: directory, mode 0700, owner 1000:1000"},
				[]string{"RUN chmod o+rx /home/app"})(t, fs)
			if fs[0].Path != "/home/app" {
				t.Errorf("path %q, want the blocking directory", fs[0].Path)
			}
		},
	},
	{
		name: "ENTRYPOINT names a directory",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/bootstrap"}},
			testimage.Dir("var/task/bootstrap", 0o755), testimage.Reg("var/task/bootstrap/bootstrap", 0o755, fixtures.ELFStub))),
		verify: expect(Error,
			[]string{"ENTRYPOINT runs /var/task/bootstrap, which is a directory, not a program", "permission denied"},
			nil,
			[]string{`ENTRYPOINT ["/var/task/bootstrap/bootstrap"]`}),
	},
	{
		name: "script the sandbox user may execute but not read (0711)",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/run.sh"}},
			testimage.Reg("var/task/run.sh", 0o711, "#!/bin/sh\nexec node index.js\n"))),
		verify: expect(Error,
			[]string{"may execute but cannot read (mode 0711, owner 0:0)", "its interpreter /bin/sh must open it", "Permission denied", "Runtime.ExitError"},
			nil,
			[]string{"RUN chmod 755 /var/task/run.sh"}),
	},
	{
		name: "the program a script execs is not executable",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
			testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexec /var/task/server --port 8080\n"),
			testimage.Reg("var/task/server", 0o644, fixtures.ELFStub))),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"the exec line of /entry.sh runs /var/task/server, which the sandbox user cannot execute: mode 0644", "exit status 126", "Runtime.ExitError"},
				[]string{"chain: ENTRYPOINT /entry.sh -> #! /bin/sh (/bin/dash) -> exec target /var/task/server"},
				[]string{"RUN chmod 755 /var/task/server"})(t, fs)
		},
	},
	{
		name: "bare name on PATH without any execute bit: LookPath skips it",
		kind: catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"server"}},
			testimage.Reg("usr/local/bin/server", 0o644, fixtures.ELFStub))),
		verify: expect(Error, []string{`Couldn't find valid bootstrap(s): [server]`}, nil, []string{"RUN chmod 755 /usr/local/bin/server"}),
	},
	{name: "AWS base image", kind: clean, target: spec(fixtures.AWSGoodSpec())},
	{name: "python RIC through symlinks", kind: clean, target: pythonTarget("/usr/local/bin/python", "-m", "awslambdaric")},
	{
		name: "file owned by the sandbox user, mode 0700",
		kind: clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/bootstrap"}},
			fixtures.Owned(testimage.Reg("var/task/bootstrap", 0o700, fixtures.ELFStub), analyze.SandboxUID, analyze.SandboxGID))),
	},
	{
		name:   "missing entrypoint is LD202's",
		kind:   clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/bootstrap"}})),
	},
	{
		name: "Alpine + Python RIC (busybox sh links)",
		kind: clean,
		target: spec(testimage.Spec{
			Config: v1.Config{Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"/usr/local/bin/python", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}, WorkingDir: "/function"},
			Layers: [][]testimage.File{alpineLayer(), {
				testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0),
				testimage.Reg("usr/local/bin/python3.12", 0o755, fixtures.ELFStub),
				testimage.Symlink("usr/local/bin/python", "python3.12"),
				testimage.Dir("function", 0), testimage.Reg("function/app.py", 0o644, "def handler(e, c): pass\n"),
			}},
		}),
	},
}

// alpineLayer is an Alpine base: busybox behind /bin/sh, apk, no bash.
func alpineLayer() []testimage.File {
	return []testimage.File{
		testimage.Dir("bin", 0),
		testimage.Reg("bin/busybox", 0o755, fixtures.ELFStub),
		testimage.Symlink("bin/sh", "/bin/busybox"),
		testimage.Dir("sbin", 0),
		testimage.Reg("sbin/apk", 0o755, fixtures.ELFStub),
		testimage.Dir("etc", 0),
		testimage.Reg("etc/alpine-release", 0o644, "3.20.0\n"),
		testimage.Dir("usr", 0),
		testimage.Dir("usr/bin", 0),
		testimage.Symlink("usr/bin/env", "/bin/busybox"),
	}
}
