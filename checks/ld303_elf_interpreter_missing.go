package checks

import (
	"context"
	"fmt"
	"path"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// elfInterpreterMissing is LD303: a dynamically linked binary on the
// entrypoint chain (or an extension) names a program interpreter
// (PT_INTERP, the dynamic loader) that the image does not have: a glibc
// binary on Alpine, scratch or distroless/static, or a musl binary on a
// glibc image. The kernel then fails with ENOENT although the file exists.
type elfInterpreterMissing struct{}

func (elfInterpreterMissing) Meta() Meta {
	return Meta{
		ID:       "LD303",
		Name:     "elf-interpreter-missing",
		Title:    "a binary's dynamic loader (PT_INTERP) is missing from the image",
		Severity: Error,
		Category: CategoryBinary,
	}
}

func (c elfInterpreterMissing) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	s, err := t.Binaries(ctx)
	if err != nil {
		return nil, err
	}
	chain := t.Chain()
	var out []Finding
	for _, group := range [][]*analyze.BinTarget{s.Chain, s.Extensions} {
		for _, b := range group {
			fl := b.File
			if fl == nil || fl.ELF == nil || fl.ELF.Interp == "" || fl.ELF.Interp == "?" {
				continue
			}
			e := fl.ELF
			arch := s.Arch
			if arch == "" {
				arch = e.Arch()
			}
			if !analyze.ELFFits(e, arch) || (e.OSABI != 0 && e.OSABI != 3) {
				continue // LD301's or LD302's
			}
			r := t.FS.Resolve(e.Interp)
			if r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
				continue
			}
			f := NewFinding(c.Meta(), "")
			f.Path, f.Layer = b.Path, layerRef(t, b.Entry.Layer)
			lc := analyze.ImageLibc(t.FS, arch)
			binLibc := e.Libc()
			state := "does not exist in this image"
			if h, _, ok := analyze.DanglingLink(t.FS, r); ok {
				state = fmt.Sprintf("is a dangling symlink (%s -> %s)", h.Path, h.Target)
			} else if r.Err == nil && r.Entry != nil {
				state = "is a " + analyze.KindString(r.Entry) + ", not a file"
			}
			libcWord := "dynamically linked"
			if binLibc != "" {
				libcWord = binLibc + "-linked"
			}
			has := describeLibc(lc, arch)
			var who, symptom string
			if b.Role == analyze.RoleExtension {
				who = "The extension " + b.Shown + " is"
				symptom = fmt.Sprintf("Lambda cannot start it: \"EXTENSION Name: %s State: LaunchError ... Error: fork/exec %s: no such file or directory\" (Extension.LaunchError), although the file exists", path.Base(b.Shown), b.Shown)
			} else {
				l := &chain.Links[b.LinkIndex]
				who = fmt.Sprintf("%s runs %s,", chain.Origin(b.LinkIndex), b.Path)
				switch {
				case b.LinkIndex == 0:
					symptom = fmt.Sprintf("The kernel cannot load it, so Lambda reports \"IMAGE Launch error: fork/exec %s: no such file or directory\" (errorType Runtime.InvalidEntrypoint) although the file exists; a shell says \"%s: not found\"", l.Name, l.Name)
				case l.Role == analyze.RoleInterpreter:
					symptom = fmt.Sprintf("The kernel cannot load this #! interpreter, so starting %s fails with \"no such file or directory\" although every file named exists", l.From)
				default:
					symptom = fmt.Sprintf("%s cannot start it (\"%s: not found\", exit status 127), so Lambda reports \"Runtime exited with error: exit status 127\" (Runtime.ExitError)", path.Base(l.From), l.Path)
				}
			}
			f.Message = fmt.Sprintf("%s a %s ELF whose program interpreter (PT_INTERP) %s %s; %s. %s.", who, libcWord, e.Interp, state, has, symptom)
			if b.Role == analyze.RoleChain {
				f.Evidence = analyze.ChainEvidence(t, chain, b.LinkIndex)
			} else {
				f.Evidence = []string{b.Shown + ": " + t.Describe(b.Entry)}
			}
			f.Evidence = append(f.Evidence,
				fmt.Sprintf("%s: %s", b.Path, e.Describe()),
				fmt.Sprintf("PT_INTERP=%s", analyze.FormatChain(r)),
				"image C library: "+has)
			f.Fix = interpFix(t, b, binLibc, lc, arch)
			out = append(out, f)
		}
	}
	return out, nil
}

// describeLibc says which loader the image has.
func describeLibc(lc analyze.LibcInfo, arch string) string {
	switch lc.Libc {
	case "musl":
		return fmt.Sprintf("the image has musl's loader %s instead (Alpine-style)", lc.Loader)
	case "glibc":
		return fmt.Sprintf("the image has glibc's loader %s instead", lc.Loader)
	}
	return fmt.Sprintf("the image has no dynamic loader for %s at all (a static-only base such as scratch or distroless/static)", analyze.ArchMachine(arch))
}

// interpFix is the fix for a missing loader.
func interpFix(t *analyze.Target, b *analyze.BinTarget, binLibc string, lc analyze.LibcInfo, arch string) string {
	musl := "x86_64-unknown-linux-musl"
	gnu := "x86_64-unknown-linux-gnu"
	if arch == "arm64" {
		musl, gnu = "aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu"
	}
	static := fmt.Sprintf("build it statically: RUN CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -o %s . for Go, cargo build --release --target %s for Rust", arch, b.Path, musl)
	if b.Role == analyze.RoleExtension {
		static = fmt.Sprintf("use a static (or musl) build of the %s extension", path.Base(b.Shown))
	} else if analyze.ELFIsGo(t, b.Path) {
		static = fmt.Sprintf("build it statically: RUN CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -o %s .", arch, b.Path)
	}
	switch {
	case binLibc == "musl" && lc.Libc == "glibc":
		return fmt.Sprintf("%s; or build it against glibc (in a glibc build image, or cargo build --target %s) instead of on Alpine", static, gnu)
	case lc.Libc == "musl":
		return static + "; or RUN apk add --no-cache gcompat (glibc compatibility for simple binaries); or use a glibc base such as public.ecr.aws/lambda/provided:al2023"
	}
	return static + "; or use a base image with glibc (public.ecr.aws/lambda/provided:al2023, gcr.io/distroless/base) and COPY the binary there"
}
