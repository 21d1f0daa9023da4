package checks

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// ld212Spec is a Debian-like image whose ENTRYPOINT is /var/task/entry.sh
// (the given script), with the utilities it calls and extra files.
func ld212Spec(script string, extra ...testimage.File) testimage.Spec {
	files := []testimage.File{
		testimage.Reg("var/task/entry.sh", 0o755, script),
		testimage.Reg("var/task/app.js", 0o644, "exports.handler = async () => 1\n"),
		testimage.Reg("bin/mkdir", 0o755, fixtures.ELFStub),
		testimage.Reg("bin/cp", 0o755, fixtures.ELFStub),
		testimage.Reg("bin/ln", 0o755, fixtures.ELFStub),
		testimage.Reg("bin/sed", 0o755, fixtures.ELFStub),
		testimage.Reg("usr/bin/touch", 0o755, fixtures.ELFStub),
	}
	return fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}}, append(files, extra...)...)
}

var ld212Cases = []checkCase{
	{
		name:   "mkdir -p of a directory the image lacks, under set -e",
		kind:   catches,
		target: spec(ld212Spec("#!/bin/sh\nset -e\nmkdir -p /var/task/cache\nexec node /var/task/app.js\n")),
		verify: expect(Error,
			[]string{"/var/task/entry.sh line 3 writes /var/task/cache (mkdir)", "read-only except /tmp", "EROFS", "set -e is in effect"},
			[]string{`/var/task/entry.sh line 3: "mkdir -p /var/task/cache"`, "/var/task/cache (mkdir) does not exist in the image"},
			[]string{"RUN mkdir -p /var/task/cache"}),
	},
	{
		name:   "the fix: the directory made at build time",
		kind:   clean,
		target: spec(ld212Spec("#!/bin/sh\nset -e\nmkdir -p /var/task/cache\nexec node /var/task/app.js\n", testimage.Dir("var/task/cache", 0o755))),
	},
	{
		name:   "a redirection into the app directory before the exec",
		kind:   catches,
		target: spec(ld212Spec("#!/bin/bash\necho \"$AWS_REGION\" > \"$LAMBDA_TASK_ROOT/region.txt\" && exec node /var/task/app.js\n")),
		verify: expect(Error, []string{"writes /var/task/region.txt (> redirection)", "left of && before the exec"}, nil, []string{"/tmp/region.txt"}),
	},
	{
		name:   "the fix: the redirection into /tmp",
		kind:   clean,
		target: spec(ld212Spec("#!/bin/bash\necho \"$AWS_REGION\" > /tmp/region.txt && exec node /var/task/app.js\n")),
	},
	{
		name:   "sh -c copies into the app directory; the script goes on: a warning",
		kind:   catches,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/bin/sh", "-c", "cp /opt/config.json /var/task/; exec node /var/task/app.js"}}, testimage.Reg("bin/cp", 0o755, fixtures.ELFStub))),
		verify: expect(Warning, []string{"the sh -c string of ENTRYPOINT line 1 writes /var/task (cp destination)", "the script goes on"}, nil, nil),
	},
	{
		name:   "exec >log in a dash script: the shell exits even without set -e",
		kind:   catches,
		target: spec(ld212Spec("#!/bin/sh\nexec >>/var/log/app.log 2>&1\nexec node /var/task/app.js\n")),
		verify: expect(Error, []string{"writes /var/log/app.log (>> redirection)", "a redirection error on exec (a special builtin) makes dash exit at once"}, nil, []string{"/tmp/app.log"}),
	},
	{
		name:   "the fix: exec >log into /tmp",
		kind:   clean,
		target: spec(ld212Spec("#!/bin/sh\nexec >>/tmp/app.log 2>&1\nexec node /var/task/app.js\n")),
	},
	{
		name: "writes that work on a read-only root, or are not certain",
		kind: clean,
		target: spec(ld212Spec(`#!/bin/sh
set -e
mkdir -p /var/task
rm -f /var/task/stale.pid
touch -c /var/task/missing
cd /tmp && touch ready
ln -sf /tmp/cache /tmp/link
echo start >/dev/stderr
exec 2>/dev/null
if [ -n "$DEBUG" ]; then echo debug > /var/task/debug.log; fi
cp /opt/x /var/task/ 2>/dev/null || true
mkdir -p /var/task/cache/sub
exec node /var/task/app.js
`, testimage.Symlink("var/task/cache", "/tmp/cache"))),
	},
	{name: "AWS base image", kind: clean, target: spec(fixtures.AWSGoodSpec())},
}
