package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// verify checks what build wrote in r.out, reading it back as a user
// would: the checksums, the archives' contents and their binaries'
// headers, the host's binary running, and the image layout read by
// go-containerregistry and by lambdoctor itself.
func (r *release) verify(ctx context.Context) error {
	sums, err := readChecksums(filepath.Join(r.out, checksumsFile))
	if err != nil {
		return err
	}
	var want []string
	for _, t := range targets {
		want = append(want, r.archiveName(t))
	}
	sort.Strings(want)
	if got := slices.Sorted(mapKeys(sums)); !slices.Equal(got, want) {
		return fmt.Errorf("%s lists %q, want %q", checksumsFile, got, want)
	}
	for _, t := range targets {
		name := r.archiveName(t)
		if err := verifyChecksum(filepath.Join(r.out, name), sums[name]); err != nil {
			return err
		}
		files, err := r.archiveFiles(t)
		if err != nil {
			return err
		}
		bin, err := verifyArchive(filepath.Join(r.out, name), files, r.mtime)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := verifyBinary(bin, t); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	r.log("verified %s and the %d archives (files, modes, mtimes, binary headers)", checksumsFile, len(targets))
	host := target{runtime.GOOS, runtime.GOARCH}
	if slices.Contains(targets, host) {
		if err := r.verifyRuns(ctx, host); err != nil {
			return err
		}
	} else {
		r.log("not running a binary: this host (%s) is not a release target", host)
	}
	return r.verifyImage(ctx, host)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// readChecksums parses checksums.txt in the format of sha256sum: 64 hex
// digits, two spaces (or a space and the * of binary mode), a file name.
func readChecksums(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if len(line) < 67 || (line[64:66] != "  " && line[64:66] != " *") {
			return nil, fmt.Errorf("%s:%d: not a sha256sum line: %q", filepath.Base(path), n, line)
		}
		sum, name := line[:64], line[66:]
		if _, err := hex.DecodeString(sum); err != nil || strings.ToLower(sum) != sum {
			return nil, fmt.Errorf("%s:%d: %q is not a lowercase hex sha256", filepath.Base(path), n, sum)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("%s:%d: %s is listed twice", filepath.Base(path), n, name)
		}
		sums[name] = sum
	}
	return sums, nil
}

func verifyChecksum(path, want string) error {
	got, err := fileSHA256(path)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: sha256 %s, but %s says %s", filepath.Base(path), got, checksumsFile, want)
	}
	return nil
}

// verifyArchive reads a tar.gz and checks it holds exactly files, in that
// order, each with its mode, owner 0:0 and mtime, and the same bytes as
// its source. It returns the binary's bytes.
func verifyArchive(path string, files []archiveFile, mtime time.Time) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	var names []string
	var bin []byte
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		names = append(names, hdr.Name)
		if i >= len(files) || hdr.Name != files[i].name {
			continue // reported below with the whole list
		}
		want := files[i]
		if hdr.Typeflag != tar.TypeReg || hdr.Mode != want.mode || hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(mtime) {
			return nil, fmt.Errorf("%s: type %c mode %o owner %d:%d mtime %s, want a regular file, mode %o, 0:0, %s",
				hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime.UTC().Format(time.RFC3339), want.mode, mtime.Format(time.RFC3339))
		}
		got, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		src, err := os.ReadFile(want.src)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(got, src) {
			return nil, fmt.Errorf("%s differs from %s", hdr.Name, want.src)
		}
		if want.name == binaryName {
			bin = got
		}
	}
	var wantNames []string
	for _, f := range files {
		wantNames = append(wantNames, f.name)
	}
	if !slices.Equal(names, wantNames) {
		return nil, fmt.Errorf("holds %q, want %q", names, wantNames)
	}
	return bin, nil
}

// verifyBinary checks that bin is an executable for t: an ELF for linux
// with the right machine and no dynamic loader or libraries (a static
// CGO_ENABLED=0 build), a Mach-O for darwin with the right CPU.
func verifyBinary(bin []byte, t target) error {
	switch t.goos {
	case "linux":
		f, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			return fmt.Errorf("%s is not an ELF file: %v", binaryName, err)
		}
		defer f.Close()
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[t.goarch]
		if f.Machine != want || f.Type != elf.ET_EXEC {
			return fmt.Errorf("%s is an ELF %s for %s, want an executable for %s", binaryName, f.Type, f.Machine, want)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				return fmt.Errorf("%s has a program interpreter: not a static build", binaryName)
			}
		}
		if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
			return fmt.Errorf("%s links %q: not a static build", binaryName, libs)
		}
	case "darwin":
		f, err := macho.NewFile(bytes.NewReader(bin))
		if err != nil {
			return fmt.Errorf("%s is not a Mach-O file: %v", binaryName, err)
		}
		defer f.Close()
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[t.goarch]
		if f.Cpu != want || f.Type != macho.TypeExec {
			return fmt.Errorf("%s is a Mach-O %s for %s, want an executable for %s", binaryName, f.Type, f.Cpu, want)
		}
	default:
		return fmt.Errorf("no header check for %s", t.goos)
	}
	return nil
}

// verifyRuns runs the host's binary: `lambdoctor version` must print the
// stamped version.
func (r *release) verifyRuns(ctx context.Context, host target) error {
	out, err := exec.CommandContext(ctx, r.binPath(host), "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s version: %v: %s", host, err, strings.TrimSpace(string(out)))
	}
	if !strings.HasPrefix(string(out), "lambdoctor "+r.version+" ") {
		return fmt.Errorf("%s version printed %q, want lambdoctor %s", host, strings.TrimSpace(string(out)), r.version)
	}
	r.log("ran the %s binary: %s", host, strings.TrimSpace(string(out)))
	return nil
}

// verifyImage reads the layout back: index.json names one index by the
// version; that index has linux/amd64 and linux/arm64 images, each one
// layer holding the archive's binary, the CA bundle and /tmp, with the
// binary as ENTRYPOINT. Then lambdoctor (the host's binary) loads each
// platform through its own oci: source and must report the same digest.
func (r *release) verifyImage(ctx context.Context, host target) error {
	dir := filepath.Join(r.out, imageDir)
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}
	top, err := p.ImageIndex()
	if err != nil {
		return err
	}
	tm, err := top.IndexManifest()
	if err != nil {
		return err
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex || tm.Manifests[0].Annotations[refNameAnnotation] != r.version {
		return fmt.Errorf("%s/index.json: want one OCI index named %s, have %+v", imageDir, r.version, tm.Manifests)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	certs, err := os.ReadFile(r.certs)
	if err != nil {
		return err
	}
	digests := map[string]v1.Hash{}
	var platforms []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			return fmt.Errorf("%s: manifest %s has no platform", imageDir, d.Digest)
		}
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		bin, err := os.ReadFile(r.binPath(target{d.Platform.OS, d.Platform.Architecture}))
		if err != nil {
			return fmt.Errorf("%s: platform %s is not a release target: %w", imageDir, d.Platform, err)
		}
		if err := verifyPlatformImage(img, d.Platform, bin, certs); err != nil {
			return fmt.Errorf("%s %s: %w", imageDir, d.Platform, err)
		}
		digests[d.Platform.Architecture] = d.Digest
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		return fmt.Errorf("%s: the index has %q, want %q", imageDir, platforms, want)
	}
	r.log("verified the image index (%s) and its images' files and config", strings.Join(platforms, ", "))
	if !slices.Contains(targets, host) {
		return nil
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if err := r.inspectImage(ctx, host, dir, arch, digests[arch]); err != nil {
			return err
		}
	}
	return nil
}

// verifyPlatformImage checks one image of the index.
func verifyPlatformImage(img v1.Image, p *v1.Platform, bin, certs []byte) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		return fmt.Errorf("config says %s/%s", cf.OS, cf.Architecture)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{imageBinary}) {
		return fmt.Errorf("ENTRYPOINT is %q, want [%q]", cf.Config.Entrypoint, imageBinary)
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if len(layers) != 1 {
		return fmt.Errorf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	want := map[string]imageFile{}
	for _, f := range imageLayerFiles(bin, certs) {
		want[f.name] = f
	}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		w, ok := want[hdr.Name]
		if !ok {
			return fmt.Errorf("the layer has an unexpected %s", hdr.Name)
		}
		delete(want, hdr.Name)
		if w.dir != (hdr.Typeflag == tar.TypeDir) || hdr.Mode != w.mode || hdr.Uid != 0 || hdr.Gid != 0 {
			return fmt.Errorf("/%s: type %c mode %o owner %d:%d, want mode %o owned by 0:0", hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, w.mode)
		}
		if !w.dir {
			got, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if sha256.Sum256(got) != sha256.Sum256(w.data) {
				return fmt.Errorf("/%s differs from what was released", hdr.Name)
			}
		}
	}
	for name := range want {
		return fmt.Errorf("the layer lacks /%s", name)
	}
	return nil
}

// inspectImage runs `lambdoctor inspect --format json --arch ARCH
// oci:DIR:VERSION` with the host's binary. The image is not a Lambda
// function, so findings (exit 1) are expected; what must hold is that it
// loads (not exit 3) and that the report names the platform's manifest.
func (r *release) inspectImage(ctx context.Context, host target, dir, arch string, digest v1.Hash) error {
	ref := "oci:" + dir + ":" + r.version
	c := exec.CommandContext(ctx, r.binPath(host), "inspect", "--no-cache", "--format", "json", "--arch", arch, ref)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
		return fmt.Errorf("lambdoctor inspect --arch %s %s: %v: %s", arch, ref, err, strings.TrimSpace(stderr.String()))
	}
	var rep struct {
		Image struct {
			Source   string `json:"source"`
			Digest   string `json:"digest"`
			Platform string `json:"platform"`
			Layers   []any  `json:"layers"`
		} `json:"image"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return fmt.Errorf("lambdoctor inspect --format json %s: %v", ref, err)
	}
	if rep.Image.Digest != digest.String() || !platformIs(rep.Image.Platform, "linux/"+arch) || len(rep.Image.Layers) != 1 {
		return fmt.Errorf("lambdoctor inspect --arch %s %s read %s %s with %d layers, want %s linux/%s with 1",
			arch, ref, rep.Image.Digest, rep.Image.Platform, len(rep.Image.Layers), digest, arch)
	}
	r.log("lambdoctor inspect --arch %s %s: loaded %s", arch, ref, digest)
	return nil
}

// platformIs reports whether lambdoctor's platform string (os/arch, with
// /variant when the index gives one) is the os/arch want.
func platformIs(got, want string) bool {
	return got == want || strings.HasPrefix(got, want+"/")
}
