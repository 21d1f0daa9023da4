package checks

import (
	"context"
	delf "debug/elf"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// elfArchMismatch is LD301: an ELF binary the function runs or loads is
// built for the other Lambda architecture (x86-64 vs AArch64): a chain
// binary, an extension, or native modules.
type elfArchMismatch struct{}

func (elfArchMismatch) Meta() Meta {
	return Meta{
		ID:       "LD301",
		Name:     "elf-arch-mismatch",
		Title:    "a binary is built for another CPU architecture than the function",
		Severity: Error,
		Category: CategoryBinary,
	}
}

func (c elfArchMismatch) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	s, err := t.Binaries(ctx)
	if err != nil {
		return nil, err
	}
	if s.Arch == "" {
		return nil, fmt.Errorf("%w: the function's architecture is unknown (pass --arch)", ErrSkip)
	}
	var out []Finding
	mismatch := func(b *analyze.BinTarget) bool {
		f := b.File
		return f != nil && f.ELF != nil && archMismatch(f.ELF, s.Arch)
	}
	chain := t.Chain()
	for _, b := range s.Chain {
		if !mismatch(b) {
			continue
		}
		e := b.File.ELF
		l := &chain.Links[b.LinkIndex]
		f := NewFinding(c.Meta(), "")
		f.Path, f.Layer = b.Path, layerRef(t, b.Entry.Layer)
		var symptom string
		switch {
		case b.LinkIndex == 0:
			symptom = fmt.Sprintf(`Lambda cannot start it: "IMAGE Launch error: fork/exec %s: exec format error" (errorType Runtime.InvalidEntrypoint)`, l.Name)
		case l.Role == analyze.RoleInterpreter:
			symptom = interpSymptom(chain, l, "exec format error")
		default:
			symptom = fmt.Sprintf(`%s cannot exec it ("%s: cannot execute binary file: Exec format error"), the runtime exits with status 126 and Lambda reports "Runtime exited with error: exit status 126" (Runtime.ExitError)`, l.From, l.Path)
		}
		f.Message = fmt.Sprintf("%s runs %s, an ELF binary for %s, but the function runs on %s (%s). %s.%s",
			chain.Origin(b.LinkIndex), b.Path, analyze.MachineName(e.Machine, e.Class), analyze.LambdaArchName(s.Arch), analyze.ArchMachine(s.Arch), upperFirst(symptom), configNote(t, e))
		f.Evidence = append(analyze.ChainEvidence(t, chain, b.LinkIndex), archEvidence(t, s, b)...)
		f.Fix = archFix(t, s, b)
		out = append(out, f)
	}
	for _, b := range s.Extensions {
		if !mismatch(b) {
			continue
		}
		e := b.File.ELF
		f := NewFinding(c.Meta(), "")
		f.Path, f.Layer = b.Shown, layerRef(t, b.Entry.Layer)
		name := path.Base(b.Shown)
		f.Message = fmt.Sprintf("The extension %s is an ELF binary for %s, but the function runs on %s (%s). Lambda starts every file in /opt/extensions and this one fails: \"EXTENSION Name: %s State: LaunchError ... Error: fork/exec %s: exec format error\" (Extension.LaunchError), and the init phase fails.%s",
			b.Shown, analyze.MachineName(e.Machine, e.Class), analyze.LambdaArchName(s.Arch), analyze.ArchMachine(s.Arch), name, b.Shown, configNote(t, e))
		f.Evidence = archEvidence(t, s, b)
		f.Fix = fmt.Sprintf("use the %s build of the %s extension (for a layer image: COPY --from=<the extension's %s image> /opt/extensions/%s /opt/extensions/%s), or set the function's Architectures to match", analyze.LambdaArchName(s.Arch), name, "linux/"+s.Arch, name, name)
		out = append(out, f)
	}
	// Native modules: one finding for all, grouped.
	var mods []*analyze.BinTarget
	for _, b := range s.Modules {
		if mismatch(b) && !analyze.PlatformDir(b.Path) {
			mods = append(mods, b)
		}
	}
	if len(mods) > 0 {
		first := mods[0]
		e := first.File.ELF
		f := NewFinding(c.Meta(), "")
		f.Path, f.Layer = first.Path, layerRef(t, first.Entry.Layer)
		what := fmt.Sprintf("the native module %s is", first.Path)
		if len(mods) > 1 {
			what = fmt.Sprintf("%d native modules (%s and %d more) are", len(mods), first.Path, len(mods)-1)
		}
		symptom := moduleArchSymptom(first, e)
		f.Message = fmt.Sprintf("%s ELF for %s, but the function runs on %s (%s). %s.%s",
			upperFirst(what), analyze.MachineName(e.Machine, e.Class), analyze.LambdaArchName(s.Arch), analyze.ArchMachine(s.Arch), symptom, configNote(t, e))
		f.Evidence = []string{fmt.Sprintf("function architecture: %s (%s)", s.Arch, s.ArchFrom)}
		if t.Image != nil && t.Image.Config != nil && t.Image.Config.Architecture != "" {
			f.Evidence = append(f.Evidence, "config.architecture="+t.Image.Config.Architecture)
		}
		for i, b := range mods {
			if i == maxListed {
				f.Evidence = append(f.Evidence, fmt.Sprintf("… and %d more", len(mods)-maxListed))
				break
			}
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s: %s; %s", b.Path, b.File.ELF.Describe(), t.Describe(b.Entry)))
		}
		if s.ModulesMore > 0 {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%d more native modules were not examined (limit %d)", s.ModulesMore, analyze.MaxModules))
		}
		f.Fix = moduleArchFix(mods, s.Arch)
		out = append(out, f)
	}
	return out, nil
}

// archMismatch reports an ELF for the other Lambda architecture (or any
// foreign machine); the 32-bit sibling (i386 on x86-64, 32-bit ARM on
// arm64) is LD302's.
func archMismatch(e *analyze.ELFInfo, arch string) bool {
	if analyze.ELFFits(e, arch) {
		return false
	}
	return !analyze.SiblingArch(e, arch)
}

// configNote says how config.architecture relates to the binary.
func configNote(t *analyze.Target, e *analyze.ELFInfo) string {
	if t.Image == nil || t.Image.Config == nil {
		return ""
	}
	ca := t.Image.Config.Architecture
	switch {
	case ca == "":
		return ""
	case ca == e.Arch():
		return fmt.Sprintf(" The image config also says %s: the whole image was built for the other architecture.", ca)
	}
	return fmt.Sprintf(" The image config says %s while this binary is %s: it was copied in from another platform (a binary built on the host, or a stage built FROM --platform=$BUILDPLATFORM without cross-compiling).", ca, e.Arch())
}

func archEvidence(t *analyze.Target, s *analyze.BinScan, b *analyze.BinTarget) []string {
	ev := []string{fmt.Sprintf("function architecture: %s (%s)", s.Arch, s.ArchFrom)}
	if t.Image != nil && t.Image.Config != nil && t.Image.Config.Architecture != "" {
		ev = append(ev, "config.architecture="+t.Image.Config.Architecture)
	}
	ev = append(ev, fmt.Sprintf("%s: %s", b.Path, b.File.ELF.Describe()))
	if b.Role != analyze.RoleChain {
		ev = append(ev, b.Path+": "+t.Describe(b.Entry))
	}
	return ev
}

// archFix is the fix for a chain binary of the wrong architecture.
func archFix(t *analyze.Target, s *analyze.BinScan, b *analyze.BinTarget) string {
	e := b.File.ELF
	lam := analyze.LambdaArchName(s.Arch)
	if t.Image != nil && t.Image.Config != nil && t.Image.Config.Architecture == e.Arch() {
		return fmt.Sprintf("rebuild the image for the function's architecture: docker build --platform linux/%s (or set the function's Architectures to %s to match the image)", s.Arch, analyze.LambdaArchName(e.Arch()))
	}
	if analyze.ELFIsGo(t, b.Path) {
		return fmt.Sprintf("cross-compile it for %s: RUN CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -o %s . (in a FROM --platform=$BUILDPLATFORM stage, pass GOARCH=$TARGETARCH)", lam, s.Arch, b.Path)
	}
	return fmt.Sprintf("install or build %s for linux/%s (docker build --platform linux/%s; in a FROM --platform=$BUILDPLATFORM stage, cross-compile for $TARGETARCH), or set the function's Architectures to %s", b.Path, s.Arch, s.Arch, analyze.LambdaArchName(e.Arch()))
}

// moduleArchSymptom is what importing a wrong-architecture module does:
// glibc's dlopen skips an ELF of another machine and reports the file as
// not found ("wrong ELF class" when the class differs too).
func moduleArchSymptom(b *analyze.BinTarget, e *analyze.ELFInfo) string {
	p := b.Path
	errText := p + ": cannot open shared object file: No such file or directory"
	if e.Class == delf.ELFCLASS32 {
		errText = p + ": wrong ELF class: ELFCLASS32"
	}
	if strings.HasSuffix(p, ".node") {
		return fmt.Sprintf("If the function requires it, Node.js fails with \"Error: %s\" and Lambda reports Runtime.ImportModuleError (or the init error of a custom runtime)", errText)
	}
	return fmt.Sprintf("If the function imports it, Python fails with \"Runtime.ImportModuleError: Unable to import module '<handler module>': %s\"", errText)
}

// moduleArchFix is the install line for modules of the right architecture.
func moduleArchFix(mods []*analyze.BinTarget, arch string) string {
	py, node := false, false
	for _, b := range mods {
		switch {
		case strings.HasSuffix(b.Path, ".node"):
			node = true
		case strings.Contains(b.Path, "/site-packages/") || strings.Contains(b.Path, "/dist-packages/") || strings.HasPrefix(b.Path, "/var/task/"):
			py = true
		}
	}
	plat := "manylinux2014_x86_64"
	if arch == "arm64" {
		plat = "manylinux2014_aarch64"
	}
	switch {
	case node:
		return fmt.Sprintf("run npm ci inside the image build for linux/%s (docker build --platform linux/%s) instead of copying node_modules from the host", arch, arch)
	case py:
		return fmt.Sprintf("install wheels for the function's architecture: RUN pip install --platform %s --only-binary=:all: --target /var/task -r requirements.txt (or build with docker build --platform linux/%s)", plat, arch)
	}
	return fmt.Sprintf("rebuild these libraries for linux/%s (docker build --platform linux/%s)", arch, arch)
}
