package checks

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// The tests in this file install the real aws-lambda-ric packages from npm
// into test images, the way `npm install --ignore-scripts` leaves them (the
// tarball's files, no addon built), so LD405 is checked against the
// clients' real code rather than excerpts. The tarballs come from `npm
// pack`, cached in $LAMBDOCTOR_NPM_CACHE (default: the user cache
// directory, lambdoctor-npm); without npm, network or cache the tests are
// skipped, and -short skips them.

// npmTarball returns the cached `npm pack` tarball of pkg@version.
func npmTarball(t *testing.T, pkg, version string) string {
	t.Helper()
	dir := os.Getenv("LAMBDOCTOR_NPM_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Skipf("no cache directory for npm tarballs: %v", err)
		}
		dir = filepath.Join(base, "lambdoctor-npm")
	}
	file := filepath.Join(dir, pkg+"-"+version+".tgz")
	if _, err := os.Stat(file); err == nil {
		return file
	}
	if testing.Short() {
		t.Skip("downloads an npm package")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("no npm to fetch the real aws-lambda-ric package")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("npm cache: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", pkg+"@"+version, "--pack-destination", dir)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm pack %s@%s: %v\n%s", pkg, version, err, out)
	}
	if _, err := os.Stat(file); err != nil {
		t.Skipf("npm pack wrote no %s: %v", file, err)
	}
	return file
}

// npmFiles unpacks a package tarball into image files under dir.
func npmFiles(t *testing.T, tgz, dir string) []testimage.File {
	t.Helper()
	fh, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatalf("%s: %v", tgz, err)
	}
	tr := tar.NewReader(zr)
	dirs := map[string]bool{}
	var files []testimage.File
	addDir := func(d string) {
		var parts []string
		for _, p := range strings.Split(d, "/") {
			parts = append(parts, p)
			x := strings.Join(parts, "/")
			if !dirs[x] {
				dirs[x] = true
				files = append(files, testimage.Dir(x, 0))
			}
		}
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", tgz, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		rel, ok := strings.CutPrefix(h.Name, "package/")
		if !ok {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		p := path.Join(dir, rel)
		addDir(path.Dir(p))
		files = append(files, testimage.Reg(p, int64(h.Mode)&0o777|0o644, string(b)))
	}
	return files
}

// TestLD405RealNodeClients installs aws-lambda-ric 2.1.0, 3.3.0 and 4.0.2
// as npm --ignore-scripts leaves them: LD405 names the addon each one's
// code requires; with that addon built (an x86-64 shared object in its
// place) the image passes.
func TestLD405RealNodeClients(t *testing.T) {
	for _, tc := range []struct{ version, bin, addon string }{
		{"2.1.0", "bin/index.js", "build/Release/runtime-client.node"},
		{"3.3.0", "bin/index.mjs", "dist/rapid-client.node"},
		{"4.0.2", "index.mjs", "rapid-client.node"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			tgz := npmTarball(t, "aws-lambda-ric", tc.version)
			const pkg = "var/task/node_modules/aws-lambda-ric"
			files := append(npmFiles(t, tgz, pkg),
				testimage.Dir("var/task/node_modules/.bin", 0),
				testimage.Symlink("var/task/node_modules/.bin/aws-lambda-ric", "../aws-lambda-ric/"+tc.bin),
				testimage.Reg("var/task/index.js", 0o644, "exports.handler = async () => 1\n"))
			cfg := v1.Config{Entrypoint: []string{"/usr/local/bin/node", "/" + pkg + "/" + tc.bin}, Cmd: []string{"index.handler"}, WorkingDir: "/var/task"}

			res := runOne(context.Background(), clientNativeMissing{}, newTarget(t, fixtures.SimpleSpec(cfg, files...), "amd64"))
			if res.Status != StatusFailed || len(res.Findings) != 1 {
				t.Fatalf("without the addon: status %s (%v), findings %+v", res.Status, res.Err, res.Findings)
			}
			if want := "/" + pkg + "/" + tc.addon; res.Findings[0].Path != want || !strings.Contains(res.Findings[0].Message, "has no compiled addon ("+want+")") {
				t.Errorf("finding at %s: %s; want the addon %s", res.Findings[0].Path, res.Findings[0].Message, want)
			}

			built := append(files, testimage.Reg(pkg+"/"+tc.addon, 0o755, fixtures.ELFSpec{Soname: path.Base(tc.addon)}.String()))
			for _, d := range []string{pkg + "/build", pkg + "/build/Release"} {
				if strings.HasPrefix(tc.addon, strings.TrimPrefix(d, pkg+"/")+"/") {
					built = append(built, testimage.Dir(d, 0))
				}
			}
			res = runOne(context.Background(), clientNativeMissing{}, newTarget(t, fixtures.SimpleSpec(cfg, built...), "amd64"))
			if res.Status != StatusPassed {
				t.Errorf("with the addon built: status %s (%v), findings %+v", res.Status, res.Err, res.Findings)
			}
		})
	}
}

// TestRealNodeClientsHandlerRules runs LD402 and LD406 on images with the
// real aws-lambda-ric 3.3.0 and 4.0.2 (addon built): both read the
// client's version from its package.json, and their verdicts differ where
// the two loaders differ.
func TestRealNodeClientsHandlerRules(t *testing.T) {
	const pkg = "var/task/node_modules/aws-lambda-ric"
	image := func(t *testing.T, version, bin, addon string, env []string, app ...testimage.File) *analyze.Target {
		files := append(npmFiles(t, npmTarball(t, "aws-lambda-ric", version), pkg),
			testimage.Reg(pkg+"/"+addon, 0o755, fixtures.ELFSpec{Soname: path.Base(addon)}.String()))
		files = append(files, app...)
		cfg := v1.Config{Env: append([]string{fixtures.DockerPATH}, env...), Entrypoint: []string{"/usr/local/bin/node", "/" + pkg + "/" + bin}, Cmd: []string{"index.handler"}, WorkingDir: "/var/task"}
		return newTarget(t, fixtures.SimpleSpec(cfg, files...), "amd64")
	}
	esm := testimage.Reg("var/task/index.js", 0o644, "import { randomUUID } from 'node:crypto'\nexport const handler = async () => randomUUID()\n")
	defaultOnly := []testimage.File{
		testimage.Reg("var/task/package.json", 0o644, `{"type":"module"}`),
		testimage.Reg("var/task/index.js", 0o644, "const handler = async () => 1\nexport default { handler }\n"),
	}
	for _, tc := range []struct {
		version, bin, addon string
		ld406, ld402        Status
	}{
		{"3.3.0", "bin/index.mjs", "dist/rapid-client.node", StatusFailed, StatusFailed},
		{"4.0.2", "index.mjs", "rapid-client.node", StatusSkipped, StatusPassed},
	} {
		t.Run(tc.version, func(t *testing.T) {
			res := runOne(context.Background(), handlerESMRequired{}, image(t, tc.version, tc.bin, tc.addon, []string{"NODE_VERSION=18.20.4"}, esm))
			if res.Status != tc.ld406 {
				t.Errorf("LD406 on an ES module index.js under Node.js 18: %s (%v) %+v, want %s", res.Status, res.Err, res.Findings, tc.ld406)
			}
			res = runOne(context.Background(), handlerNotFound{}, image(t, tc.version, tc.bin, tc.addon, nil, defaultOnly...))
			if res.Status != tc.ld402 {
				t.Errorf("LD402 on export default { handler }: %s (%v) %+v, want %s", res.Status, res.Err, res.Findings, tc.ld402)
			}
		})
	}
}
