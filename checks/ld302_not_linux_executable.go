package checks

import (
	"context"
	delf "debug/elf"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// notLinuxExecutable is LD302: a program on the entrypoint chain is not a
// Linux executable at all: a Mach-O (built on macOS without GOOS=linux), a
// Windows PE, a zip (a jar or a .zip deployment package), an ELF object
// file or core dump, an ELF for another operating system, or a 32-bit ELF
// whose running on Lambda is unconfirmed. Text without #! is LD207's.
type notLinuxExecutable struct{}

func (notLinuxExecutable) Meta() Meta {
	return Meta{
		ID:       "LD302",
		Name:     "not-linux-executable",
		Title:    "a program on the entrypoint chain is not a Linux executable",
		Severity: Error,
		Category: CategoryBinary,
	}
}

func (c notLinuxExecutable) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	s, err := t.Binaries(ctx)
	if err != nil {
		return nil, err
	}
	chain := t.Chain()
	var out []Finding
	for _, b := range s.Chain {
		fl := b.File
		if fl == nil {
			continue
		}
		l := &chain.Links[b.LinkIndex]
		f := NewFinding(c.Meta(), "")
		f.Path, f.Layer = b.Path, layerRef(t, b.Entry.Layer)
		var what, fix string
		unconfirmed := false
		symptom := notExecSymptom(chain, b.LinkIndex, l)
		switch fl.Format {
		case analyze.FormatMachO:
			what = "a Mach-O executable: it was built for macOS"
			fix = linuxBuildFix(t, s, b, "macOS")
		case analyze.FormatPE:
			what = "a Windows PE executable (it starts with \"MZ\")"
			fix = linuxBuildFix(t, s, b, "Windows")
		case analyze.FormatZip:
			what = "a zip archive, not a program"
			fix = zipFix(b.Path)
		case analyze.FormatELF:
			e := fl.ELF
			if e == nil {
				continue
			}
			switch {
			case e.Type == delf.ET_REL:
				what = "an ELF relocatable object (a .o file from the compiler), not a linked executable"
				fix = fmt.Sprintf("link it into an executable (for Go: go build, not go tool compile; for C: gcc -o %s ...), then COPY the result", path.Base(b.Path))
			case e.Type == delf.ET_CORE:
				what = "an ELF core dump, not a program"
				fix = "COPY the real executable to " + b.Path
			case e.OSABI != delf.ELFOSABI_NONE && e.OSABI != delf.ELFOSABI_LINUX:
				what = fmt.Sprintf("an ELF binary for %s (OS/ABI %s), not for Linux", analyze.OSABIName(e.OSABI), e.OSABI)
				fix = linuxBuildFix(t, s, b, analyze.OSABIName(e.OSABI))
				symptom = fmt.Sprintf("Linux loads ELF files whatever their OS/ABI byte, so it starts and then fails on its first %s system call; Lambda then reports the runtime's exit (Runtime.ExitError) or an init failure", analyze.OSABIName(e.OSABI))
				unconfirmed = true
			case s.Arch != "" && analyze.SiblingArch(e, s.Arch):
				what = fmt.Sprintf("a 32-bit ELF binary (%s) while the function runs on %s", analyze.MachineName(e.Machine, e.Class), analyze.LambdaArchName(s.Arch))
				fix = fmt.Sprintf("build it as a 64-bit %s binary (GOARCH=%s; gcc without -m32), or install the 64-bit package", analyze.ArchMachine(s.Arch), s.Arch)
				f.Severity = Warning
				symptom = "If Lambda's kernel has no 32-bit support, starting it fails with \"exec format error\" (" + map[bool]string{true: "Runtime.InvalidEntrypoint", false: "Runtime.ExitError, exit status 126"}[b.LinkIndex == 0] + ")"
				unconfirmed = true
			default:
				continue
			}
		default:
			continue // text without #! is LD207's; unknown content is not judged
		}
		msg := fmt.Sprintf("%s runs %s, which is %s. %s.", chain.Origin(b.LinkIndex), b.Path, what, symptom)
		if unconfirmed {
			if f.Severity == Warning {
				msg += " Whether Lambda's kernel runs 32-bit binaries at all is unconfirmed; at best they need 32-bit libraries the image rarely has."
			} else {
				msg += " The exact failure is unconfirmed."
			}
		}
		f.Message = msg
		f.Evidence = analyze.ChainEvidence(t, chain, b.LinkIndex)
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s: %s (first bytes %s)", b.Path, formatDesc(fl), magicHex(t, b.Path)))
		f.Fix = fix
		out = append(out, f)
	}
	return out, nil
}

// notExecSymptom is what running link i gives when the kernel refuses it.
func notExecSymptom(c *analyze.Chain, i int, l *analyze.Link) string {
	switch {
	case i == 0:
		return fmt.Sprintf(`Lambda cannot start it: "IMAGE Launch error: fork/exec %s: exec format error" (errorType Runtime.InvalidEntrypoint)`, l.Name)
	case l.Role == analyze.RoleInterpreter:
		return upperFirst(interpSymptom(c, l, "exec format error"))
	}
	return fmt.Sprintf(`%s cannot run it ("cannot execute binary file: Exec format error") and exits with status 126, which Lambda reports as "Runtime exited with error: exit status 126" (Runtime.ExitError)`, l.From)
}

func formatDesc(f *analyze.ELFFile) string {
	if f.Format == analyze.FormatELF && f.ELF != nil {
		return f.ELF.Describe()
	}
	return f.Format.String()
}

// magicHex is the first 4 bytes of p in hex, for evidence.
func magicHex(t *analyze.Target, p string) string {
	h := t.FS.Head(p)
	if len(h) < 4 {
		if b, err := analyze.ReadHead(t.FS, p, 4); err == nil {
			h = b
		}
	}
	if len(h) > 4 {
		h = h[:4]
	}
	return fmt.Sprintf("% x", h)
}

// linuxBuildFix is the rebuild line for a binary built for another OS.
func linuxBuildFix(t *analyze.Target, s *analyze.BinScan, b *analyze.BinTarget, osName string) string {
	arch := s.Arch
	if arch == "" {
		arch = "amd64"
	}
	name := path.Base(b.Path)
	if analyze.ELFIsGo(t, b.Path) || name == "bootstrap" || name == "main" {
		return fmt.Sprintf("build it for Linux, not %s: RUN CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -o %s . in a build stage (Rust: cargo lambda build --release%s), and COPY --from that stage", osName, arch, b.Path, map[bool]string{true: " --arm64", false: ""}[arch == "arm64"])
	}
	return fmt.Sprintf("build or download the linux/%s release of %s (inside the Dockerfile, not on a %s host) and COPY that to %s", arch, name, osName, b.Path)
}

// zipFix says what to do with a zip where a program should be.
func zipFix(p string) string {
	if strings.HasSuffix(p, ".jar") {
		return fmt.Sprintf(`run the jar with java: ENTRYPOINT ["/usr/bin/java", "-cp", "/var/task/*", "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"] (or ["java", "-jar", "%s"] for an executable jar)`, p)
	}
	return fmt.Sprintf("unpack it instead of running it: RUN cd /var/task && unzip %s && rm %s, then point ENTRYPOINT at the program inside (a .zip deployment package is not an image entrypoint)", p, p)
}
