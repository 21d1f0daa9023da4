package checks

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// ld210Spec is an Alpine-like image whose busybox has the given applets,
// /bin/sh and /bin/bash linked to it, and extra files.
func ld210Spec(cfg v1.Config, applets []string, extra ...testimage.File) testimage.Spec {
	if cfg.Env == nil {
		cfg.Env = []string{fixtures.DockerPATH}
	}
	base := []testimage.File{
		testimage.Dir("bin", 0),
		testimage.Reg("bin/busybox", 0o755, fixtures.BusyboxELF(applets...)),
		testimage.Symlink("bin/sh", "/bin/busybox"),
		testimage.Symlink("bin/bash", "/bin/busybox"),
		testimage.Dir("sbin", 0),
		testimage.Reg("sbin/apk", 0o755, fixtures.ELFStub),
		testimage.Dir("etc", 0),
		testimage.Reg("etc/alpine-release", 0o644, "3.20.0\n"),
		testimage.Dir("usr", 0),
		testimage.Dir("usr/bin", 0),
		testimage.Symlink("usr/bin/curl", "/bin/busybox"),
		testimage.Dir("var", 0),
		testimage.Dir("var/task", 0),
	}
	return testimage.Spec{Config: cfg, Layers: [][]testimage.File{base, extra}, CreatedBy: []string{"ADD alpine / # buildkit", "COPY . /var/task # buildkit"}}
}

var ld210Cases = []checkCase{
	{
		name: "#!/bin/bash where /bin/bash is a link to a busybox without bash",
		kind: catches,
		target: spec(ld210Spec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}}, fixtures.BusyboxApplets,
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/bash\nexec /var/task/app\n"), testimage.Reg("var/task/app", 0o755, fixtures.ELFStub))),
		verify: expect(Error,
			[]string{`/var/task/entry.sh starts with "#!/bin/bash", and /bin/bash is a symlink to busybox`, `built without a bash applet`, `"bash: applet not found"`, "exit status 127"},
			[]string{`/bin/busybox is busybox; its applet table lists 14 applets, none named "bash"`},
			[]string{"RUN rm /bin/bash && apk add --no-cache bash", "#!/bin/sh in /var/task/entry.sh"}),
	},
	{
		name: "the fix: a busybox with the bash applet",
		kind: clean,
		target: spec(ld210Spec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}}, append([]string{"[", "[["}, append([]string{"ash", "basename", "bash"}, fixtures.BusyboxApplets[4:]...)...),
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/bash\nexec /var/task/app\n"), testimage.Reg("var/task/app", 0o755, fixtures.ELFStub))),
	},
	{
		name: "the fix: #!/bin/sh",
		kind: clean,
		target: spec(ld210Spec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}}, fixtures.BusyboxApplets,
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/sh\nexec /var/task/app\n"), testimage.Reg("var/task/app", 0o755, fixtures.ELFStub))),
	},
	{
		name: "a script calls curl, a link to a busybox without curl",
		kind: catches,
		target: spec(ld210Spec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}}, fixtures.BusyboxApplets,
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/sh\nset -e\ncurl -fsS -o /tmp/cfg https://example.com/cfg\nexec /var/task/app\n"), testimage.Reg("var/task/app", 0o755, fixtures.ELFStub))),
		verify: expect(Error,
			[]string{`/var/task/entry.sh line 3 runs "curl", found at /usr/bin/curl, which resolves to busybox (/bin/busybox) built without a curl applet`, `"curl: applet not found"`},
			nil, []string{"apk add --no-cache curl"}),
	},
	{
		name: "busybox whose applet table cannot be found: nothing is said",
		kind: clean,
		target: spec(ld210Spec(v1.Config{Entrypoint: []string{"/var/task/entry.sh"}}, []string{"x"},
			testimage.Reg("var/task/entry.sh", 0o755, "#!/bin/bash\nexec /var/task/app\n"), testimage.Reg("var/task/app", 0o755, fixtures.ELFStub))),
	},
	{name: "AWS base image", kind: clean, target: spec(fixtures.AWSGoodSpec())},
}
