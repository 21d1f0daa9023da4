package checks

import (
	"fmt"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// tmpDir is /tmp as base images ship it.
var tmpDir = testimage.Dir("tmp", 0o1777)

// tmpTarget is the AWS base image example with files added to its base
// layer (no /tmp unless given).
func tmpTarget(files ...testimage.File) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.AWSBaseSpec()
		spec.Layers[0] = append(append([]testimage.File(nil), spec.Layers[0]...), files...)
		return newTarget(t, spec, "amd64")
	}
}

var ld503Cases = []checkCase{
	{
		name:   "no /tmp",
		kind:   catches,
		target: tmpTarget(),
		verify: expect(Info, []string{"no /tmp", "unconfirmed"}, []string{"/tmp: missing"}, []string{"mkdir -p -m 1777 /tmp"}),
	},
	{
		name:   "/tmp is a file",
		kind:   catches,
		target: tmpTarget(testimage.Reg("tmp", 0o644, "")),
		verify: expect(Warning, []string{"/tmp is a regular file, not a directory", "unconfirmed"}, []string{"/tmp: regular file, mode 0644"}, []string{"mkdir -m 1777 /tmp"}),
	},
	{
		name:   "/tmp is a symlink",
		kind:   catches,
		target: tmpTarget(testimage.Dir("var/tmp", 0o1777), testimage.Symlink("tmp", "var/tmp")),
		verify: expect(Warning, []string{`/tmp is a symlink to "var/tmp"`, "Read-only file system"}, []string{"/tmp -> /var/tmp"}, []string{"rm /tmp && mkdir -m 1777 /tmp"}),
	},
	{
		name:   "/tmp mode 0755",
		kind:   catches,
		target: tmpTarget(testimage.Dir("tmp", 0o755)),
		verify: expect(Warning, []string{"not writable by other users (mode 0755)", "uid 993"}, []string{"/tmp: directory, mode 0755, owner 0:0, from layer 0"}, []string{"RUN chmod 1777 /tmp"}),
	},
	{
		name: "files baked into /tmp",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			files := []testimage.File{tmpDir, testimage.Dir("tmp/model", 0)}
			for i := 0; i < 12; i++ {
				files = append(files, testimage.Reg(fmt.Sprintf("tmp/model/part%02d.bin", i), 0o644, "x"))
			}
			return tmpTarget(files...)(t)
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Info, []string{"13 entries under /tmp", "/tmp/model, /tmp/model/part00.bin", "would hide them (unconfirmed"}, []string{"… and 3 more"}, []string{"COPY model.bin /opt/model/"})(t, fs)
			if fs[0].Path != "/tmp/model" {
				t.Errorf("path %q", fs[0].Path)
			}
		},
	},
	{
		name:   "AWS base image with /tmp 1777",
		kind:   clean,
		target: tmpTarget(tmpDir),
	},
	{
		name: "empty /tmp recreated by a later layer",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AWSBaseSpec()
			spec.Layers[0] = append(append([]testimage.File(nil), spec.Layers[0]...), tmpDir, testimage.Reg("tmp/pip-build/x", 0o644, "x"))
			spec.Layers = append(spec.Layers, []testimage.File{testimage.Whiteout("tmp/pip-build")})
			return newTarget(t, spec, "amd64")
		},
	},
}
