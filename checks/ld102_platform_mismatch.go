package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// platformMismatch is LD102: the image is not linux/amd64 or linux/arm64,
// or not the function's architecture. Lambda then fails to start the
// entrypoint with "exec format error".
type platformMismatch struct{}

func (platformMismatch) Meta() Meta {
	return Meta{
		ID:       "LD102",
		Name:     "platform-mismatch",
		Title:    "image OS or architecture does not match the function",
		Severity: Error,
		Category: CategoryImage,
	}
}

// lambdaArch names a Go architecture the way Lambda's Architectures
// setting does.
func lambdaArch(goArch string) string { return lambda.ArchName(goArch) }

// archLabel is "x86_64 (amd64)" or "arm64".
func archLabel(goArch string) string {
	if l := lambdaArch(goArch); l != goArch {
		return l + " (" + goArch + ")"
	}
	return goArch
}

func (c platformMismatch) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	if t.Image == nil {
		return nil, fmt.Errorf("%w: no image config was loaded", ErrSkip)
	}
	if ix := t.Image.Index; ix != nil && ix.Selected < 0 {
		return []Finding{c.indexWithoutArch(t)}, nil
	}
	osName, arch, variant := t.Image.Platform.OS, t.Image.Platform.Architecture, t.Image.Platform.Variant
	if cf := t.Image.Config; cf != nil {
		osName, arch, variant = cf.OS, cf.Architecture, cf.Variant
	}
	imgArch, fnArch := source.NormalizeArch(arch), source.NormalizeArch(t.Arch)

	ev := []string{"config.os=" + analyze.QuoteJSON(osName), "config.architecture=" + analyze.QuoteJSON(arch)}
	if variant != "" {
		ev = append(ev, "config.variant="+analyze.QuoteJSON(variant))
	}
	if fnArch != "" {
		ev = append(ev, "function architecture="+archLabel(fnArch))
	} else {
		ev = append(ev, "function architecture: not given, so only Lambda's two architectures are accepted")
	}

	want := fnArch
	if want != "amd64" && want != "arm64" {
		want = imgArch
		if want != "amd64" && want != "arm64" {
			want = "amd64"
		}
	}
	argv0 := t.Argv().Name()
	if argv0 == "" {
		argv0 = "<entrypoint>"
	}
	execFormat := fmt.Sprintf("IMAGE Launch error: fork/exec %s: exec format error", argv0)
	buildFix := fmt.Sprintf("docker buildx build --platform linux/%s … (or FROM --platform=linux/%s in every stage that produces files for the final image)", want, want)

	var problems []string
	sev := Error
	fix := "build the image for Linux and the function's architecture: " + buildFix
	switch {
	case osName != "linux":
		problems = append(problems, fmt.Sprintf("config.os is %s: Lambda runs only Linux images; the function cannot be created or started (the exact error text is unconfirmed)", analyze.QuoteJSON(osName)))
	case imgArch == "":
		problems = append(problems, "config.architecture is empty: Lambda runs amd64 (x86_64) or arm64 images, and this one declares neither (the exact error text is unconfirmed)")
	case imgArch != "amd64" && imgArch != "arm64":
		problems = append(problems, fmt.Sprintf("the image is built for %s, and Lambda runs only x86_64 (amd64) and arm64: starting %s fails with %q (errorType Runtime.InvalidEntrypoint)", platformName(osName, arch, variant), argv0, execFormat))
	case fnArch != "" && imgArch != fnArch:
		problems = append(problems, fmt.Sprintf("the image is built for %s but the function runs on %s: starting %s fails with %q (errorType Runtime.InvalidEntrypoint)", platformName(osName, arch, variant), archLabel(fnArch), argv0, execFormat))
		fix = fmt.Sprintf("build for the function's architecture: %s; or, if %s is intended, set the function's Architectures to [%q]", buildFix, imgArch, lambdaArch(imgArch))
	case imgArch == "arm64" && variant != "" && variant != "v8":
		sev = Warning
		problems = append(problems, fmt.Sprintf("the image is built for arm64 variant %s; Lambda's arm64 (Graviton) hosts are ARMv8, so instructions from a later variant may fail with \"Runtime exited with error: signal: illegal instruction\" (unconfirmed for this variant)", variant))
		fix = "build for arm64 without a later variant: docker buildx build --platform linux/arm64 …"
	}
	if len(problems) == 0 {
		return nil, nil
	}
	f := NewFinding(c.Meta(), strings.Join(problems, "; ")+".")
	f.Severity = sev
	f.Evidence = ev
	f.Fix = fix
	return []Finding{f}, nil
}

func platformName(osName, arch, variant string) string {
	s := osName + "/" + arch
	if variant != "" {
		s += "/" + variant
	}
	return s
}

// indexWithoutArch is the finding for an image index that has no image for
// the function's architecture (source.PlatformMissing): nothing of the
// function's platform can be deployed from it.
func (c platformMismatch) indexWithoutArch(t *analyze.Target) Finding {
	img, idx := t.Image, t.Image.Index
	fnArch := source.NormalizeArch(t.Arch)
	if fnArch == "" {
		fnArch = "amd64"
	}
	var plats, others []string
	ev := []string{fmt.Sprintf("reference %s resolved to index %s (mediaType %s) with %d manifests", img.Ref, orUnknown(idx.Digest), orUnknown(idx.MediaType), len(idx.Manifests))}
	for i, ch := range idx.Manifests {
		p := platformString(ch.Platform)
		kind := classifyChild(ch)
		what := "image"
		switch kind {
		case childAttestation:
			what = "attestation-manifest"
		case childSOCI:
			what = "SOCI index"
		case childArtifact:
			what = "non-image artifact"
		}
		ev = append(ev, fmt.Sprintf("manifest[%d] %s %s (%s)", i, p, orUnknown(ch.Digest), what))
		if kind == childImage {
			plats = append(plats, p)
			if ch.Platform != nil && ch.Platform.OS == "linux" {
				if a := source.NormalizeArch(ch.Platform.Architecture); a == "amd64" || a == "arm64" {
					others = append(others, a)
				}
			}
		}
	}
	ev = append(ev, "function architecture="+archLabel(fnArch))
	has := "no image at all, only attestations or artifacts"
	if len(plats) > 0 {
		has = "images for " + strings.Join(plats, ", ")
	}
	msg := fmt.Sprintf("the image index has no linux/%s image, the function's architecture (%s); it has %s. Nothing in it can start on this function: an image for another architecture fails at its first invoke with \"IMAGE Launch error: fork/exec <entrypoint>: exec format error\" (errorType Runtime.InvalidEntrypoint).",
		fnArch, archLabel(fnArch), has)
	fix := fmt.Sprintf("build for the function's architecture: docker buildx build --platform linux/%s … (or add it to a multi-platform build: --platform linux/amd64,linux/arm64)", fnArch)
	if len(others) > 0 {
		o := others[0]
		fix += fmt.Sprintf("; or, if %s is intended, set the function's Architectures to [%q] (and inspect with --arch %s)", o, lambdaArch(o), o)
	}
	f := NewFinding(c.Meta(), msg)
	f.Evidence = ev
	f.Fix = fix
	return f
}
