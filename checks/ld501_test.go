package checks

import (
	"fmt"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// appLayerTarget is the AWS base image with the function's layer replaced
// by files, written by createdBy.
func appLayerTarget(createdBy string, files ...testimage.File) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.AWSBaseSpec()
		spec.Layers[1] = files
		spec.CreatedBy[1] = createdBy
		return newTarget(t, spec, "amd64")
	}
}

var ld501Cases = []checkCase{
	{
		// Seed: sources copied from a checkout with a restrictive umask.
		name: "handler copied with mode 0600",
		kind: catches,
		target: appLayerTarget("COPY app.py utils.py /var/task/ # buildkit",
			fixtures.Owned(testimage.Reg("var/task/app.py", 0o600, "def handler(e, c): pass\n"), 1000, 1000),
			fixtures.Owned(testimage.Reg("var/task/utils.py", 0o600, ""), 1000, 1000)),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"2 entries under the task root (ENV LAMBDA_TASK_ROOT=/var/task), added by layer 1 (COPY app.py utils.py /var/task/)", "/var/task/app.py (file 0600, owner 1000:1000)", "[Errno 13] Permission denied: '/var/task/app.py'", "uid 993, gid 990"},
				[]string{"/var/task/app.py: regular file, mode 0600, owner 1000:1000, from layer 1 (COPY app.py utils.py /var/task/)"},
				[]string{"COPY --chmod=755 app.py utils.py /var/task/", "RUN chmod -R o+rX /var/task"})(t, fs)
			if f := fs[0]; f.Path != "/var/task/app.py" || f.Layer == nil || f.Layer.Index != 1 {
				t.Errorf("path %q layer %+v", f.Path, f.Layer)
			}
		},
	},
	{
		name: "task root 0700 (WORKDIR elsewhere): one finding, children skipped",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AWSBaseSpec()
			spec.Config.WorkingDir = "/"
			spec.Layers[1] = []testimage.File{testimage.Dir("var/task", 0o700), testimage.Reg("var/task/app.py", 0o600, "")}
			spec.CreatedBy[1] = "RUN /bin/sh -c chmod -R 700 /var/task # buildkit"
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error, []string{"1 entry (1 of them directories", "/var/task (dir 0700, owner 0:0)", "as soon as it loads anything from /var/task"}, nil, []string{"RUN chmod -R o+rX /var/task, after RUN chmod -R 700 /var/task"}),
	},
	{
		name: "PYTHONPATH in a 0700 home directory",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PythonSpec(fixtures.PythonConfig("/usr/local/bin/python", "-m", "awslambdaric"))
			spec.Config.Env = append(spec.Config.Env, "PYTHONPATH=/home/app/function")
			spec.Layers = append(spec.Layers, []testimage.File{
				testimage.Dir("home", 0), fixtures.Owned(testimage.Dir("home/app", 0o700), 1000, 1000),
				fixtures.Owned(testimage.Dir("home/app/function", 0o755), 1000, 1000),
				fixtures.Owned(testimage.Reg("home/app/function/app.py", 0o644, ""), 1000, 1000),
			})
			spec.CreatedBy = append(spec.CreatedBy, "RUN /bin/sh -c useradd -m app # buildkit")
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error, []string{"cannot search /home/app (mode 0700, owner 1000:1000), on the way to ENV PYTHONPATH=/home/app/function"}, []string{"/home/app: directory, mode 0700, owner 1000:1000, from layer 2 (RUN useradd -m app)"}, []string{"RUN chmod o+x /home/app"}),
	},
	{
		// LD206 reports a WORKDIR the sandbox user cannot enter; LD501
		// does not repeat it.
		name: "WORKDIR itself not searchable is left to LD206",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AWSBaseSpec()
			spec.Layers[1] = []testimage.File{testimage.Dir("var/task", 0o700), testimage.Reg("var/task/app.py", 0o600, "")}
			return newTarget(t, spec, "amd64")
		},
	},
	{
		name:   "only a data file: warning",
		kind:   catches,
		target: appLayerTarget("COPY . /var/task/ # buildkit", testimage.Reg("var/task/app.py", 0o644, ""), testimage.Reg("var/task/notes.txt", 0o600, "")),
		verify: expect(Warning, []string{"1 entry under the task root", "/var/task/notes.txt", "None of them looks like code"}, nil, nil),
	},
	{
		name: "many files: counted, ten listed",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			var files []testimage.File
			for i := 0; i < 25; i++ {
				files = append(files, testimage.Reg(fmt.Sprintf("opt/python/lib/python3.12/site-packages/pkg/m%02d.py", i), 0o640, ""))
			}
			return appLayerTarget("COPY python /opt/python # buildkit", files...)(t)
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Error, []string{"25 entries under /opt (extensions and layer content)", "and 15 more"}, []string{"… and 15 more in layer 1"}, nil)(t, fs)
			if n := len(fs[0].Evidence); n != 11 {
				t.Errorf("%d evidence lines", n)
			}
		},
	},
	{
		name:   "AWS base image example",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSBaseSpec(), "amd64") },
	},
	{
		name: "private files outside the needed trees",
		kind: clean,
		target: appLayerTarget("RUN /bin/sh -c useradd app # buildkit",
			testimage.Reg("var/task/app.py", 0o644, ""),
			testimage.Dir("root", 0o700), testimage.Reg("root/.bash_history", 0o600, ""),
			testimage.Dir("etc", 0), testimage.Reg("etc/shadow", 0o000, "")),
	},
	{
		name: "ruby image with world-writable GEM_HOME",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric"), "amd64")
		},
	},
	{
		name: "files owned by the sandbox user",
		kind: clean,
		target: appLayerTarget("COPY --chown=993:990 app.py /var/task/ # buildkit",
			fixtures.Owned(testimage.Reg("var/task/app.py", 0o600, ""), 993, 990)),
	},
}
