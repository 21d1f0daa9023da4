// Command release builds lambdoctor's release artifacts without GoReleaser
// and without Docker: static binaries for linux and darwin on amd64 and
// arm64, packed as reproducible tar.gz archives, a checksums.txt in the
// format of sha256sum, and a multi-architecture container image written as
// an OCI image layout with go-containerregistry. It then verifies what it
// wrote (see verify.go): the same checks run on every `make release` and,
// into a temporary directory, on `make release-check` in CI.
//
//	go run ./internal/release -out dist -version v1.2.3
//	go run ./internal/release -check
//
// docs/release.md describes the release process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	out := fs.String("out", "dist", "the directory to write the artifacts to (emptied first)")
	version := fs.String("version", "", "the version stamped into the binaries and the archive names (default: git describe --tags --always --dirty)")
	check := fs.Bool("check", false, "build into a temporary directory, verify, and remove it (what make release-check runs)")
	certs := fs.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle copied into the container image")
	publish := fs.String("publish-image", "", "push the image index of an earlier run in -out to `REPOSITORY`:VERSION (e.g. ghcr.io/lambdoctor/lambdoctor), and build nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags only; see -h)", fs.Args())
	}
	if *publish != "" {
		if *check {
			return errors.New("-publish-image pushes what -out holds; it does not go with -check")
		}
		tag, digest, err := publishImage(ctx, *out, *publish)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "release: pushed %s@%s\n", tag, digest)
		return nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if *version == "" {
		*version = gitDescribe(ctx, root)
	}
	epoch, err := sourceDateEpoch(ctx, root)
	if err != nil {
		return err
	}
	dir := *out
	if *check {
		tmp, err := os.MkdirTemp("", "lambdoctor-release-check-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else {
		if dir, err = filepath.Abs(dir); err != nil {
			return err
		}
		if err := clearOut(dir, root); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := &release{
		root:    root,
		out:     dir,
		version: *version,
		mtime:   epoch,
		certs:   *certs,
		log:     func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) },
	}
	start := time.Now()
	if err := r.build(ctx); err != nil {
		return err
	}
	if err := r.verify(ctx); err != nil {
		return fmt.Errorf("verifying %s: %w", dir, err)
	}
	if *check {
		r.log("release-check: %s verified (%.1f s)", r.version, time.Since(start).Seconds())
	} else {
		r.log("release: %s written to %s and verified (%.1f s)", r.version, dir, time.Since(start).Seconds())
	}
	return nil
}

// moduleRoot is the directory of lambdoctor's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the lambdoctor module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// gitDescribe is the version the Makefile stamps: the nearest tag, else
// the commit, with -dirty for uncommitted changes; "dev" outside git.
func gitDescribe(ctx context.Context, root string) string {
	c := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty")
	c.Dir = root
	out, err := c.Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "dev"
	}
	return strings.TrimSpace(string(out))
}

// sourceDateEpoch is the time every file of the archives and the image
// carries: $SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/),
// else the commit time of HEAD, else the Unix epoch.
func sourceDateEpoch(ctx context.Context, root string) (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a non-negative count of seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	c := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct")
	c.Dir = root
	if out, err := c.Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	return time.Unix(0, 0).UTC(), nil
}

// clearOut empties the output directory of a previous release. It refuses
// a directory that holds the module, and one that holds anything but a
// previous release's output (recognised by its checksums.txt).
func clearOut(dir, root string) error {
	sep := string(filepath.Separator)
	if strings.HasPrefix(root+sep, dir+sep) {
		return fmt.Errorf("-out %s holds the source tree; name a directory of its own (default: dist)", dir)
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading -out %s: %w", dir, err)
	}
	if len(ents) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, checksumsFile)); err != nil {
		return fmt.Errorf("-out %s is not empty and holds no %s of a previous release; not emptying it", dir, checksumsFile)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("emptying %s: %w", dir, err)
	}
	return nil
}
