package realimage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Suite is the Debian release every image is built from.
const Suite = "bookworm"

// DefaultMirror finds the Debian mirror apt is configured with (deb822
// .sources files, then one-line sources.list), the way this machine
// reaches Debian packages; it falls back to deb.debian.org.
func DefaultMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(raw), "\n\n") {
			var uris, suites string
			for _, line := range strings.Split(stanza, "\n") {
				if v, ok := strings.CutPrefix(line, "URIs:"); ok {
					uris = strings.TrimSpace(v)
				}
				if v, ok := strings.CutPrefix(line, "Suites:"); ok {
					suites = v
				}
			}
			if uris != "" && slicesContains(strings.Fields(suites), Suite) {
				return strings.Fields(uris)[0]
			}
		}
	}
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	for _, f := range append([]string{"/etc/apt/sources.list"}, lists...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n") {
			fields := strings.Fields(line)
			// deb [options] URI SUITE COMPONENTS...
			if len(fields) < 3 || fields[0] != "deb" {
				continue
			}
			fields = fields[1:]
			if strings.HasPrefix(fields[0], "[") {
				for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
					fields = fields[1:]
				}
				fields = fields[1:]
			}
			if len(fields) >= 2 && fields[1] == Suite {
				return fields[0]
			}
		}
	}
	return "http://deb.debian.org/debian"
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// HostError says this machine cannot build the images at all (as opposed
// to a build that failed).
type HostError struct{ Why string }

func (e *HostError) Error() string { return e.Why }

// checkHost says what is missing to build the Debian-based images.
func checkHost() error {
	if os.Geteuid() != 0 {
		return &HostError{"building the real-shaped images needs root (debootstrap and dpkg -x keep owners and device nodes)"}
	}
	for _, tool := range []string{"debootstrap", "apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return &HostError{fmt.Sprintf("building the real-shaped images needs %s (apt-get install debootstrap)", tool)}
		}
	}
	return nil
}

// run runs a command, logging it, and returns its stdout; stderr goes into
// the error.
func (b *Builder) run(ctx context.Context, dir string, name string, args ...string) ([]byte, error) {
	b.logf("$ %s %s", name, strings.Join(args, " "))
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if len(msg) > 2000 {
			msg = "..." + msg[len(msg)-2000:]
		}
		return nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), nil
}

// rootfs returns the Debian minbase root filesystem, made once by
// debootstrap under the work directory.
func (b *Builder) rootfs(ctx context.Context) (string, error) {
	dir := filepath.Join(b.work(), "rootfs")
	if _, err := os.Stat(filepath.Join(b.work(), "rootfs.done")); err == nil {
		return dir, nil
	}
	if err := checkHost(); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(b.work(), 0o755); err != nil {
		return "", err
	}
	if _, err := b.run(ctx, "", "debootstrap", "--variant=minbase", Suite, dir, b.Mirror); err != nil {
		return "", fmt.Errorf("debootstrap from %s: %w", b.Mirror, err)
	}
	return dir, os.WriteFile(filepath.Join(b.work(), "rootfs.done"), []byte(b.Mirror+"\n"), 0o644)
}

// slimSkip leaves out what Debian's slim images leave out (the
// debuerreotype --slim dpkg excludes, written to the base layer as
// /etc/dpkg/dpkg.cfg.d/docker): documentation except copyright files,
// manual pages, info pages, translations and lintian overrides.
func slimSkip(rel string, d fs.DirEntry) bool {
	for _, dir := range []string{"usr/share/man/", "usr/share/info/", "usr/share/groff/", "usr/share/linda/", "usr/share/lintian/overrides/"} {
		if strings.HasPrefix(rel, dir) {
			return true
		}
	}
	if doc, ok := strings.CutPrefix(rel, "usr/share/doc/"); ok {
		// Keep usr/share/doc/PKG/ and usr/share/doc/PKG/copyright.
		pkg, rest, deeper := strings.Cut(doc, "/")
		return pkg != "" && deeper && rest != "copyright"
	}
	if loc, ok := strings.CutPrefix(rel, "usr/share/locale/"); ok {
		return loc != "locale.alias"
	}
	return false
}

// dpkgSlim is /etc/dpkg/dpkg.cfg.d/docker of Debian's slim images.
const dpkgSlim = `# This is the "slim" variant of the Debian base image.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
`

// baseSkip leaves out of the base layer what Debian's official images
// leave out: device nodes (the runtime provides /dev), apt's package lists
// and downloaded packages, debootstrap's leftovers and logs, and the slim
// exclusions.
func baseSkip(rel string, d fs.DirEntry) bool {
	switch {
	case strings.HasPrefix(rel, "dev/"), strings.HasPrefix(rel, "proc/"), strings.HasPrefix(rel, "sys/"),
		strings.HasPrefix(rel, "tmp/"), strings.HasPrefix(rel, "run/"):
		return true
	case strings.HasPrefix(rel, "var/lib/apt/lists/") && rel != "var/lib/apt/lists/partial":
		return true
	case strings.HasPrefix(rel, "var/cache/apt/") && !d.IsDir():
		return true
	case rel == "debootstrap" || strings.HasPrefix(rel, "debootstrap/"):
		return true
	case strings.HasPrefix(rel, "var/log/") && !d.IsDir():
		return true
	}
	return slimSkip(rel, d)
}

// debPackage is one package apt would install.
type debPackage struct {
	Name, Version, Arch string
}

func (p debPackage) file() string {
	// apt-get download names files NAME_VERSION_ARCH.deb with the epoch's
	// colon escaped.
	return fmt.Sprintf("%s_%s_%s.deb", p.Name, strings.ReplaceAll(p.Version, ":", "%3a"), p.Arch)
}

var instLine = regexp.MustCompile(`^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[(\S+)\]\)`)

// resolve lists the packages apt would add to the root filesystem at
// rootfs (whose dpkg status says what is installed) to install want,
// without recommends, in apt's order.
func (b *Builder) resolve(ctx context.Context, rootfs string, installed []debPackage, want ...string) ([]debPackage, error) {
	status := filepath.Join(rootfs, "var/lib/dpkg/status")
	if len(installed) > 0 {
		// Packages a lower layer added: apt must see them as installed.
		raw, err := os.ReadFile(status)
		if err != nil {
			return nil, err
		}
		extra, err := b.statusStanzas(installed)
		if err != nil {
			return nil, err
		}
		status = filepath.Join(b.work(), "status.tmp")
		if err := os.WriteFile(status, append(append(raw, '\n'), extra...), 0o644); err != nil {
			return nil, err
		}
		defer os.Remove(status)
	}
	args := []string{"-s", "-o", "Dir::State::status=" + status, "-o", "APT::Install-Recommends=false", "-o", "APT::Architecture=amd64", "install"}
	out, err := b.run(ctx, "", "apt-get", append(args, want...)...)
	if err != nil {
		return nil, fmt.Errorf("resolving %s against the %s base: %w", strings.Join(want, " "), Suite, err)
	}
	var pkgs []debPackage
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := instLine.FindStringSubmatch(sc.Text()); m != nil {
			pkgs = append(pkgs, debPackage{Name: m[1], Version: m[2], Arch: m[3]})
		}
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("apt-get -s install %s: no package to install (is the apt package list current? run apt-get update)", strings.Join(want, " "))
	}
	return pkgs, nil
}

// download fetches the .deb files of pkgs into the work directory (kept
// there between runs).
func (b *Builder) download(ctx context.Context, pkgs []debPackage) error {
	dir := filepath.Join(b.work(), "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var need []string
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, p.file())); err != nil {
			need = append(need, p.Name+":"+p.Arch+"="+p.Version)
		}
	}
	if len(need) == 0 {
		return nil
	}
	// apt drops privileges to _apt for downloads: let it write.
	_ = os.Chmod(dir, 0o777)
	if _, err := b.run(ctx, dir, "apt-get", append([]string{"download", "-q"}, need...)...); err != nil {
		return fmt.Errorf("downloading Debian packages: %w", err)
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, p.file())); err != nil {
			return fmt.Errorf("apt-get download did not write %s", p.file())
		}
	}
	return nil
}

// extract unpacks pkgs with dpkg -x into a fresh directory, as
// `apt-get install` would lay them out minus the maintainer scripts, then
// does the maintainer scripts' work an image relies on: the
// update-alternatives links (libblas.so.3 and liblapack.so.3 point at
// OpenBLAS this way).
func (b *Builder) extract(ctx context.Context, pkgs []debPackage, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	debs := filepath.Join(b.work(), "debs")
	for _, p := range pkgs {
		if _, err := b.run(ctx, "", "dpkg-deb", "-x", filepath.Join(debs, p.file()), dir); err != nil {
			return err
		}
	}
	if err := b.mergeUsr(ctx, dir); err != nil {
		return err
	}
	if err := b.alternatives(ctx, pkgs, dir); err != nil {
		return err
	}
	return b.byteCompile(ctx, dir)
}

// mergeUsr moves what packages ship under /bin, /sbin and /lib* into
// /usr, where dpkg puts it on bookworm's merged-/usr root (those are
// symlinks to usr/ in the base layer). Left as directories, they would
// hide the base layer's symlinks and with them the dynamic loader.
func (b *Builder) mergeUsr(ctx context.Context, dir string) error {
	for _, top := range []string{"bin", "sbin", "lib", "lib64", "lib32", "libx32"} {
		fi, err := os.Lstat(filepath.Join(dir, top))
		if err != nil || !fi.IsDir() {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, "usr", top), 0o755); err != nil {
			return err
		}
		if _, err := b.run(ctx, "", "cp", "-a", filepath.Join(dir, top)+"/.", filepath.Join(dir, "usr", top)+"/"); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(dir, top)); err != nil {
			return err
		}
	}
	return nil
}

// byteCompile does what py3compile does in the postinst of Debian's
// Python packages: it writes __pycache__/*.pyc next to every module, with
// Debian's own python3 (bookworm: 3.11, the version the packages are for)
// and paths as they are in the image.
func (b *Builder) byteCompile(ctx context.Context, dir string) error {
	var roots []string
	for _, r := range []string{"usr/lib/python3.11", "usr/lib/python3/dist-packages"} {
		if fi, err := os.Stat(filepath.Join(dir, r)); err == nil && fi.IsDir() {
			roots = append(roots, filepath.Join(dir, r))
		}
	}
	if len(roots) == 0 {
		return nil
	}
	const py = "/usr/bin/python3.11"
	if _, err := os.Stat(py); err != nil {
		return &HostError{"byte-compiling the Python packages needs Debian's " + py + " (apt-get install python3)"}
	}
	// compileall exits 1 when a file does not compile (Debian's packages
	// ship a few Python 2 test files); py3compile ignores those too.
	args := append([]string{"-m", "compileall", "-q", "-j", "0", "-s", dir, "-p", "/"}, roots...)
	if _, err := b.run(ctx, "", py, args...); err != nil && !strings.Contains(err.Error(), "exit status 1") {
		return err
	}
	return nil
}

var altInstall = regexp.MustCompile(`update-alternatives\s+(?:--quiet\s+)?--install\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)`)

// alternatives makes the links `update-alternatives --install LINK NAME
// PATH PRIORITY` lines of the packages' postinst scripts would make (the
// highest priority wins), with the multiarch triplet substituted.
func (b *Builder) alternatives(ctx context.Context, pkgs []debPackage, dir string) error {
	type alt struct {
		link, path string
		prio       int
	}
	best := map[string]alt{}
	for _, p := range pkgs {
		out, err := b.run(ctx, "", "dpkg-deb", "-I", filepath.Join(b.work(), "debs", p.file()), "postinst")
		if err != nil {
			continue // no postinst
		}
		text := strings.NewReplacer("${DEB_HOST_MULTIARCH}", "x86_64-linux-gnu", "$DEB_HOST_MULTIARCH", "x86_64-linux-gnu",
			"${MULTIARCH}", "x86_64-linux-gnu", "$MULTIARCH", "x86_64-linux-gnu").Replace(string(out))
		text = strings.ReplaceAll(text, "\\\n", " ")
		for _, m := range altInstall.FindAllStringSubmatch(text, -1) {
			if strings.ContainsAny(m[1]+m[2]+m[3], "$`\"'") {
				continue
			}
			var prio int
			fmt.Sscan(m[4], &prio)
			if cur, ok := best[m[2]]; !ok || prio > cur.prio {
				best[m[2]] = alt{link: m[1], path: m[3], prio: prio}
			}
		}
	}
	names := make([]string, 0, len(best))
	for n := range best {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := best[n]
		if _, err := os.Lstat(filepath.Join(dir, a.path)); err != nil {
			continue // the target is in another package set
		}
		altLink := filepath.Join(dir, "etc/alternatives", n)
		link := filepath.Join(dir, a.link)
		for _, mk := range []struct{ at, to string }{{altLink, a.path}, {link, "/etc/alternatives/" + n}} {
			if err := os.MkdirAll(filepath.Dir(mk.at), 0o755); err != nil {
				return err
			}
			_ = os.Remove(mk.at)
			if err := os.Symlink(mk.to, mk.at); err != nil {
				return err
			}
		}
	}
	return nil
}

// statusStanzas is what dpkg adds to /var/lib/dpkg/status for pkgs: each
// package's control fields with an installed Status.
func (b *Builder) statusStanzas(pkgs []debPackage) ([]byte, error) {
	var buf bytes.Buffer
	for _, p := range pkgs {
		out, err := exec.Command("dpkg-deb", "-f", filepath.Join(b.work(), "debs", p.file())).Output()
		if err != nil {
			return nil, fmt.Errorf("dpkg-deb -f %s: %v", p.file(), err)
		}
		lines := strings.SplitN(strings.TrimRight(string(out), "\n"), "\n", 2)
		buf.WriteString(lines[0] + "\nStatus: install ok installed\n")
		if len(lines) > 1 {
			buf.WriteString(lines[1] + "\n")
		}
		buf.WriteString("\n")
	}
	return buf.Bytes(), nil
}
