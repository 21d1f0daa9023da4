package checks

import (
	"fmt"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// anomalyTarget is the AWS base image example with one more layer.
func anomalyTarget(createdBy string, files ...testimage.File) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		spec := fixtures.AWSBaseSpec()
		spec.Layers = append(spec.Layers, files)
		spec.CreatedBy = append(spec.CreatedBy, createdBy)
		return newTarget(t, spec, "amd64")
	}
}

var ld105Cases = []checkCase{
	{
		name:   "name climbing above the root",
		kind:   catches,
		target: anomalyTarget("ADD evil.tar / # buildkit", testimage.Reg("var/task/../../../etc/cron.d/x", 0o644, "x")),
		verify: func(t *testing.T, fs []Finding) {
			expect(Warning,
				[]string{"1 entries whose names climb above the image root", "unsafe-name", "layer 2 (ADD evil.tar /)", "unconfirmed"},
				[]string{`"var/task/../../../etc/cron.d/x" in layer 2 (ADD evil.tar /): name climbs above the image root; entry skipped`},
				[]string{"COPY ./build/ /var/task/"})(t, fs)
			if fs[0].Layer == nil || fs[0].Layer.Index != 2 {
				t.Errorf("layer %+v", fs[0].Layer)
			}
		},
	},
	{
		name:   "hard link to nothing",
		kind:   catches,
		target: anomalyTarget("ADD app.tar / # buildkit", testimage.Hardlink("var/task/lib.so", "build/lib.so")),
		verify: expect(Warning, []string{"hard links to files that do not exist", "Docker and containerd fail to unpack"}, []string{`"/var/task/lib.so" in layer 2 (ADD app.tar /)`}, []string{"RUN ln -f"}),
	},
	{
		name:   "escaping symlink is info",
		kind:   catches,
		target: anomalyTarget("RUN /bin/sh -c ln -s ../../../../../etc/ssl x # buildkit", testimage.Symlink("var/task/certs", "../../../../../etc/ssl")),
		verify: expect(Info, []string{"symlinks whose targets climb above the image root", "clamped at /"}, []string{"/var/task/certs"}, nil),
	},
	{
		name: "many anomalies: ten listed",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			var files []testimage.File
			for i := 0; i < 15; i++ {
				files = append(files, testimage.Hardlink(fmt.Sprintf("var/task/f%02d", i), "missing"))
			}
			return anomalyTarget("ADD big.tar / # buildkit", files...)(t)
		},
		verify: func(t *testing.T, fs []Finding) {
			expect(Warning, []string{"15 hard links"}, []string{"… and 5 more"}, nil)(t, fs)
			if n := len(fs[0].Evidence); n != 11 {
				t.Errorf("%d evidence lines, want 10 + 1", n)
			}
		},
	},
	{
		name:   "AWS base image example",
		kind:   clean,
		target: func(t *testing.T) *analyze.Target { return newTarget(t, fixtures.AWSBaseSpec(), "amd64") },
	},
	{
		// usrmerge: /lib -> usr/lib, and a later layer writes lib/x.
		name: "write through a symlinked parent (usrmerge) is not reported",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AWSBaseSpec()
			spec.Layers[0] = append(spec.Layers[0], testimage.Dir("usr/lib", 0), testimage.Symlink("lib", "usr/lib"))
			spec.Layers = append(spec.Layers, []testimage.File{testimage.Reg("lib/libfoo.so.1", 0o644, "x")})
			spec.CreatedBy = append(spec.CreatedBy, "RUN /bin/sh -c apt-get install -y libfoo # buildkit")
			return newTarget(t, spec, "amd64")
		},
	},
}
