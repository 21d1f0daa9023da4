package checks

import (
	"fmt"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// extTarget is the AWS base image example with an extensions layer.
func extTarget(files ...testimage.File) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.AWSBaseSpec()
		layer := []testimage.File{testimage.Dir("opt", 0), testimage.Dir("opt/extensions", 0)}
		spec.Layers = append(spec.Layers, append(layer, files...))
		spec.CreatedBy = append(spec.CreatedBy, "COPY extensions/ /opt/extensions/ # buildkit")
		return newTarget(t, spec, "amd64")
	}
}

var ld504Cases = []checkCase{
	{
		name:   "extension without execute bit",
		kind:   catches,
		target: extTarget(testimage.Reg("opt/extensions/datadog-agent", 0o644, fixtures.ELFStub)),
		verify: func(t *testing.T, fs []Finding) {
			expect(Error,
				[]string{"/opt/extensions/datadog-agent is not executable by the sandbox user", "Error Type: PermissionDenied", "fork/exec /opt/extensions/datadog-agent: permission denied", "Extension.LaunchError"},
				[]string{"/opt/extensions/datadog-agent: regular file, mode 0644, owner 0:0, from layer 2 (COPY extensions/ /opt/extensions/)"},
				[]string{"COPY --chmod=755 datadog-agent /opt/extensions/datadog-agent"})(t, fs)
			if f := fs[0]; f.Path != "/opt/extensions/datadog-agent" || f.Layer == nil || f.Layer.Index != 2 {
				t.Errorf("path %q layer %+v", f.Path, f.Layer)
			}
		},
	},
	{
		// Seed: aws-samples/aws-lambda-extensions#54.
		name:   "CRLF script",
		kind:   catches,
		target: extTarget(testimage.Reg("opt/extensions/my-ext", 0o755, "#!/bin/sh\r\necho hi\r\n")),
		verify: expect(Error, []string{"CRLF", `"/bin/sh\r"`, "fork/exec /opt/extensions/my-ext: no such file or directory"}, []string{`first line: "#!/bin/sh\r"`}, []string{"sed -i 's/\\r$//' /opt/extensions/my-ext"}),
	},
	{
		name:   "missing interpreter",
		kind:   catches,
		target: extTarget(testimage.Reg("opt/extensions/py-ext", 0o755, "#!/usr/bin/python3\nprint(1)\n")),
		verify: expect(Error, []string{"interpreter /usr/bin/python3 does not exist"}, nil, []string{"install python3"}),
	},
	{
		name: "env program not on PATH",
		kind: catches,
		target: extTarget(testimage.Reg("usr/bin/env", 0o755, fixtures.ELFStub),
			testimage.Reg("opt/extensions/node-ext", 0o755, "#!/usr/bin/env node\n")),
		verify: expect(Error, []string{`"/usr/bin/env node"`, `"node" is in no directory of the image's PATH (which extensions are assumed to inherit; unconfirmed) nor of Lambda's documented PATH`}, []string{"PATH=/var/lang/bin:"}, nil),
	},
	{
		name:   "text file without shebang",
		kind:   catches,
		target: extTarget(testimage.Reg("opt/extensions/README", 0o755, "This is my extension\n")),
		verify: expect(Error, []string{"neither an ELF binary nor a script", "exec format error"}, nil, []string{"#!/bin/sh"}),
	},
	{
		name:   "dangling symlink",
		kind:   catches,
		target: extTarget(testimage.Symlink("opt/extensions/agent", "/opt/agent/bin/agent")),
		verify: expect(Error, []string{"symlink that leads nowhere", "/opt/extensions/agent -> /opt/agent/bin/agent (missing)"}, nil, nil),
	},
	{
		name: "eleven extensions",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			var files []testimage.File
			for i := 0; i < 11; i++ {
				files = append(files, testimage.Reg(fmt.Sprintf("opt/extensions/ext%02d", i), 0o755, fixtures.ELFStub))
			}
			return extTarget(files...)(t)
		},
		verify: expect(Error, []string{"holds 11 extensions", "at most 10", "TooManyExtensions"}, nil, []string{"RUN rm /opt/extensions/<name>"}),
	},
	{
		name:   "subdirectory is skipped: info",
		kind:   catches,
		target: extTarget(testimage.Dir("opt/extensions/lib", 0), testimage.Reg("opt/extensions/lib/helper.so", 0o644, fixtures.ELFStub)),
		verify: expect(Info, []string{"1 subdirectories (/opt/extensions/lib)", "skips subdirectories"}, nil, nil),
	},
	{
		name: "Web Adapter binary and a shell-script extension",
		kind: clean,
		target: extTarget(testimage.Reg("opt/extensions/lambda-adapter", 0o755, fixtures.ELFStub),
			testimage.Reg("opt/extensions/logger", 0o755, "#!/bin/sh\nexec /opt/logger/bin/logger\n"),
			testimage.Symlink("opt/extensions/agent", "/opt/extensions/lambda-adapter")),
	},
	{
		name:   "AWS base image without extensions",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSBaseSpec(), "amd64") },
	},
}
