package report

import (
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
)

// Reports built from checks.Result values directly: no images needed.

var tool = Tool{Name: "lambdoctor", Version: "0.1.0"}

func digest(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func meta(id, name string, sev checks.Severity) checks.Meta {
	return checks.Meta{ID: id, Name: name, Title: strings.ReplaceAll(name, "-", " "), Severity: sev}
}

// finding is a finding as the runner leaves it (filled from its Meta).
func finding(m checks.Meta, msg string) checks.Finding {
	f := checks.NewFinding(m, msg)
	f.Name = m.Name
	return f
}

func brokenImage() Image {
	return Image{
		Ref:       "docker-archive:broken.tar",
		Source:    "docker-archive",
		Digest:    "sha256:ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12",
		MediaType: "application/vnd.docker.distribution.manifest.v2+json",
		Platform:  "linux/amd64",
		Layers: []Layer{
			{Index: 0, Digest: digest('1'), MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Size: 3_400_000, UncompressedSize: 8_100_000, CreatedBy: "/bin/sh -c #(nop) ADD file:0123 in / "},
			{Index: 1, Digest: digest('2'), MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Size: 8_700_000, UncompressedSize: 31_000_000, CreatedBy: "RUN /bin/sh -c gem install aws_lambda_ric # buildkit"},
			{Index: 2, Digest: digest('9'), MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Size: 212_000, UncompressedSize: 640_000, CreatedBy: "COPY app.rb /var/task/ # buildkit"},
		},
	}
}

func brokenResults() []checks.Result {
	platform := meta("LD101", "platform-mismatch", checks.Error)
	entry := meta("LD202", "entrypoint-not-found", checks.Error)
	exec := meta("LD203", "entrypoint-not-executable", checks.Warning)
	handler := meta("LD301", "handler-not-found", checks.Error)
	user := meta("LD150", "runs-as-root", checks.Info)
	python := meta("LD401", "python-abi", checks.Error)

	notFound := finding(entry, `ENTRYPOINT "/usr/local/bin/aws_lambda_ric" does not exist in the image`)
	notFound.Path = "/usr/local/bin/aws_lambda_ric"
	notFound.Layer = &checks.LayerRef{Index: 1, Digest: digest('2'), CreatedBy: "RUN /bin/sh -c gem install aws_lambda_ric # buildkit"}
	notFound.Evidence = []string{
		`config.Entrypoint=["/usr/local/bin/aws_lambda_ric"]`,
		"found: /usr/local/bundle/bin/aws_lambda_ric (layer #1 " + digest('2') + ")",
	}
	notFound.Fix = `ENTRYPOINT ["/usr/local/bundle/bin/aws_lambda_ric"]`

	mode := finding(exec, "/var/task/bootstrap is not executable (mode 0644)")
	mode.Path = "/var/task/bootstrap"
	mode.Layer = &checks.LayerRef{Index: 2, Digest: digest('9'), CreatedBy: "|2 RUBY_VERSION=3.3 BUNDLE_WITHOUT=development:test /bin/sh -c chmod 0644 /var/task/bootstrap && bundle config set --local deployment true && bundle install"}
	mode.Evidence = []string{"mode -rw-r--r-- uid 0 gid 0"}
	mode.Fix = "RUN chmod 0755 /var/task/bootstrap"

	root := finding(user, "the image runs as root; Lambda ignores USER and runs as sbx_user1051")
	root.Fix = "USER 1000:1000\n# or remove the USER line: Lambda picks the user"

	return []checks.Result{
		{Meta: platform, Status: checks.StatusPassed},
		{Meta: entry, Status: checks.StatusFailed, Findings: []checks.Finding{notFound}},
		{Meta: exec, Status: checks.StatusFailed, Findings: []checks.Finding{mode}},
		{Meta: handler, Status: checks.StatusError, Err: "reading /var/task/Gemfile.lock: layer 2: unexpected EOF"},
		{Meta: user, Status: checks.StatusFailed, Findings: []checks.Finding{root}},
		{Meta: python, Status: checks.StatusSkipped, Err: "no python runtime in the image"},
	}
}

func broken() *Report { return New(tool, brokenImage(), brokenResults()) }

func cleanImage() Image {
	return Image{
		Ref:       "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:latest",
		Source:    "registry",
		Digest:    digest('c'),
		MediaType: "application/vnd.oci.image.manifest.v1+json",
		Platform:  "linux/arm64/v8",
		Index: &Index{
			Digest:    digest('d'),
			MediaType: "application/vnd.oci.image.index.v1+json",
			Manifests: []IndexManifest{
				{Digest: digest('e'), MediaType: "application/vnd.oci.image.manifest.v1+json", Platform: "linux/amd64"},
				{Digest: digest('c'), MediaType: "application/vnd.oci.image.manifest.v1+json", Platform: "linux/arm64/v8"},
				{Digest: digest('f'), MediaType: "application/vnd.oci.image.manifest.v1+json", Attestation: true},
				{Digest: digest('0'), MediaType: "application/vnd.oci.image.manifest.v1+json", Attestation: true},
			},
			Selected: 1,
		},
		Layers: []Layer{
			{Index: 0, Digest: digest('a'), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 60_200_000, UncompressedSize: 180_400_000, CreatedBy: "ADD file:abc in / "},
			{Index: 1, Digest: digest('b'), MediaType: "application/vnd.oci.image.layer.v1.tar+zstd", Size: 1_024, UncompressedSize: -1},
		},
	}
}

func clean() *Report {
	return New(tool, cleanImage(), []checks.Result{
		{Meta: meta("LD101", "platform-mismatch", checks.Error), Status: checks.StatusPassed},
		{Meta: meta("LD202", "entrypoint-not-found", checks.Error), Status: checks.StatusPassed},
	})
}

// checkError is an image on which nothing was found but one check broke.
func checkError() *Report {
	img := brokenImage()
	img.Ref, img.Digest, img.MediaType = "app.tar", "", ""
	return New(tool, img, []checks.Result{
		{Meta: meta("LD101", "platform-mismatch", checks.Error), Status: checks.StatusPassed},
		{Meta: meta("LD301", "handler-not-found", checks.Error), Status: checks.StatusError,
			Err: "internal error (please report it): runtime error: index out of range [3] with length 3\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:12 +0x1d"},
	})
}

func loadFailure() *Report {
	return Failed(tool, "missing.tar", "not-found", "open missing.tar: no such file or directory")
}
