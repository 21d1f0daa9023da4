package realimage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Builder generates the images under Dir.
type Builder struct {
	// Dir receives one directory per image and work/ (the debootstrap root
	// filesystem, downloaded packages, the shared base layer).
	Dir string
	// Mirror is the Debian mirror; empty means DefaultMirror().
	Mirror string
	// Log receives progress lines; nil discards them.
	Log io.Writer

	mu       sync.Mutex
	aptFresh bool
}

func (b *Builder) work() string { return filepath.Join(b.Dir, "work") }

func (b *Builder) logf(format string, args ...any) {
	if b.Log != nil {
		b.mu.Lock()
		fmt.Fprintf(b.Log, "realimage: "+format+"\n", args...)
		b.mu.Unlock()
	}
}

// Build makes the image name unless it is already built from the current
// recipe; cached says which.
func (b *Builder) Build(ctx context.Context, name string) (info *Info, cached bool, err error) {
	if info, err := Load(b.Dir, name); err == nil {
		return info, true, nil
	}
	if b.Mirror == "" {
		b.Mirror = DefaultMirror()
	}
	start := time.Now()
	var r *recipe
	switch name {
	case "debian-go":
		r, err = b.debianGo(ctx)
	case "debian-python":
		r, err = b.debianPython(ctx)
	case "go-small":
		r, err = b.goSmall(ctx)
	case "big":
		r, err = b.big(ctx)
	default:
		return nil, false, fmt.Errorf("unknown real-shaped image %q (known: %s)", name, strings.Join(Names, ", "))
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	info, err = b.write(ctx, name, r, start)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	return info, false, nil
}

// recipe is an image to write: its layers (written or to write) and config.
type recipe struct {
	layers  []*layerFile
	specs   []layerSpec // layers still to write, after layers
	config  v1.Config
	working bool
}

// baseLayer is the Debian minbase layer, written once and shared by every
// image (as real images share their base).
func (b *Builder) baseLayer(ctx context.Context) (*layerFile, error) {
	out := filepath.Join(b.work(), "layers", "debian-base-"+Version+".tar.gz")
	meta := out + ".json"
	if raw, err := os.ReadFile(meta); err == nil {
		var lf layerFile
		if json.Unmarshal(raw, &lf) == nil {
			if _, err := os.Stat(lf.Path); err == nil {
				return &lf, nil
			}
		}
	}
	root, err := b.rootfs(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	b.logf("writing the Debian %s minbase layer", Suite)
	lf, err := writeLayer(layerSpec{Name: "debian-base", CreatedBy: "debootstrap --variant=minbase " + Suite,
		Trees: []tree{{Src: root, Dst: "", Skip: baseSkip}},
		Extra: []extraFile{{Path: "etc/dpkg/dpkg.cfg.d/docker", Mode: 0o644, Content: []byte(dpkgSlim)}}}, out)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(lf)
	if err != nil {
		return nil, err
	}
	return lf, os.WriteFile(meta, raw, 0o644)
}

// aptUpdate refreshes apt's package lists once per Builder, so that the
// versions resolved are the ones the mirror serves.
func (b *Builder) aptUpdate(ctx context.Context) error {
	if b.aptFresh {
		return nil
	}
	if err := checkHost(); err != nil {
		return err
	}
	if _, err := b.run(ctx, "", "apt-get", "update", "-qq"); err != nil {
		return err
	}
	b.aptFresh = true
	return nil
}

// packageLayer resolves want on top of the base (plus the packages of
// lower package layers, installed), downloads and unpacks it into a stage
// directory, and returns the layer spec with a dpkg status that lists
// every package so far, as `apt-get install` leaves it.
func (b *Builder) packageLayer(ctx context.Context, stage string, installed []debPackage, createdBy string, want ...string) (layerSpec, []debPackage, error) {
	root, err := b.rootfs(ctx)
	if err != nil {
		return layerSpec{}, nil, err
	}
	if err := b.aptUpdate(ctx); err != nil {
		return layerSpec{}, nil, err
	}
	pkgs, err := b.resolve(ctx, root, installed, want...)
	if err != nil {
		return layerSpec{}, nil, err
	}
	b.logf("%s: %d packages", strings.Join(want, " "), len(pkgs))
	if err := b.download(ctx, pkgs); err != nil {
		return layerSpec{}, nil, err
	}
	if err := b.extract(ctx, pkgs, stage); err != nil {
		return layerSpec{}, nil, err
	}
	all := append(append([]debPackage(nil), installed...), pkgs...)
	base, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return layerSpec{}, nil, err
	}
	extra, err := b.statusStanzas(all)
	if err != nil {
		return layerSpec{}, nil, err
	}
	status := append(append(base, '\n'), extra...)
	return layerSpec{Name: filepath.Base(stage), CreatedBy: createdBy,
		Trees: []tree{{Src: stage, Dst: "", Skip: slimSkip}},
		Extra: []extraFile{{Path: "var/lib/dpkg/status", Mode: 0o644, Content: status}},
	}, all, nil
}

var (
	pythonStack  = []string{"python3", "python3-minimal", "python3-venv"}
	pythonNative = []string{"python3-numpy", "python3-pandas", "python3-boto3"}
)

const pythonHandler = `"""A data function: summary statistics of the numbers in the event,
optionally stored in S3."""
import json
import os

import boto3
import numpy as np
import pandas as pd

s3 = boto3.client("s3")


def handler(event, context):
    values = np.asarray(event.get("values", [1.0, 2.0, 3.0]), dtype=float)
    frame = pd.DataFrame({"value": values})
    body = {
        "count": int(frame["value"].count()),
        "mean": float(frame["value"].mean()),
        "median": float(np.median(values)),
        "p90": float(frame["value"].quantile(0.9)),
    }
    bucket = os.environ.get("RESULT_BUCKET")
    if bucket:
        s3.put_object(Bucket=bucket, Key="summary.json", Body=json.dumps(body))
    return {"statusCode": 200, "body": json.dumps(body)}
`

// pythonLayers returns the two package layers of the Python images: the
// interpreter stack, then the native packages on top of it.
func (b *Builder) pythonLayers(ctx context.Context) (stack, native layerSpec, err error) {
	stage1 := filepath.Join(b.work(), "stage", "python-stack")
	stack, installed, err := b.packageLayer(ctx, stage1, nil, "RUN apt-get install -y --no-install-recommends "+strings.Join(pythonStack, " "), pythonStack...)
	if err != nil {
		return layerSpec{}, layerSpec{}, err
	}
	stage2 := filepath.Join(b.work(), "stage", "python-native")
	native, _, err = b.packageLayer(ctx, stage2, installed, "RUN apt-get install -y --no-install-recommends "+strings.Join(pythonNative, " "), pythonNative...)
	if err != nil {
		return layerSpec{}, layerSpec{}, err
	}
	return stack, native, nil
}

func (b *Builder) debianPython(ctx context.Context) (*recipe, error) {
	base, err := b.baseLayer(ctx)
	if err != nil {
		return nil, err
	}
	l2, l3, err := b.pythonLayers(ctx)
	if err != nil {
		return nil, err
	}
	app := layerSpec{Name: "app", CreatedBy: "COPY app.py requirements.txt /var/task/ # buildkit",
		Extra: []extraFile{
			{Path: "var/task/app.py", Mode: 0o644, Content: []byte(pythonHandler)},
			{Path: "var/task/requirements.txt", Mode: 0o644, Content: []byte("awslambdaric\nboto3\nnumpy\npandas\n")},
		}}
	return &recipe{
		layers: []*layerFile{base},
		specs:  []layerSpec{l2, l3, app},
		config: v1.Config{
			Entrypoint: []string{"/usr/bin/python3", "-m", "awslambdaric"},
			Cmd:        []string{"app.handler"},
			WorkingDir: "/var/task",
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LAMBDA_TASK_ROOT=/var/task"},
		},
	}, nil
}

// caBundle is what update-ca-certificates (the ca-certificates postinst)
// writes: every certificate under /usr/share/ca-certificates, concatenated.
func caBundle(stage string) ([]byte, error) {
	var bundle []byte
	err := filepath.WalkDir(filepath.Join(stage, "usr/share/ca-certificates"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".crt") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		bundle = append(bundle, raw...)
		if len(raw) > 0 && raw[len(raw)-1] != '\n' {
			bundle = append(bundle, '\n')
		}
		return nil
	})
	if err == nil && len(bundle) == 0 {
		err = fmt.Errorf("no certificate under %s/usr/share/ca-certificates", stage)
	}
	return bundle, err
}

// fnSource is the Go function's module, next to this file.
func fnSource() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the realimage package source")
	}
	return filepath.Join(filepath.Dir(file), "testdata", "fn"), nil
}

// goFunction compiles testdata/fn (aws-lambda-go's lambda.Start) for
// linux/arch with the local toolchain, statically (CGO_ENABLED=0).
func (b *Builder) goFunction(ctx context.Context, arch string) (string, error) {
	src, err := fnSource()
	if err != nil {
		return "", err
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("building the Go function needs the go command on PATH")
	}
	out := filepath.Join(b.work(), "fn", "bootstrap")
	if arch != "amd64" {
		out += "-" + arch
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	b.logf("$ GOARCH=%s go build -o %s (in %s)", arch, out, src)
	c := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	c.Dir = src
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOWORK=off", "GOFLAGS=-mod=mod")
	if msg, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the Go function: %v\n%s", err, msg)
	}
	return out, nil
}

// goLayers are the layers a Go function adds: Debian's ca-certificates
// and tzdata (with the CA bundle update-ca-certificates would write), then
// the function as /var/task/bootstrap.
func (b *Builder) goLayers(ctx context.Context) (certs, app layerSpec, err error) {
	stage := filepath.Join(b.work(), "stage", "ca-certificates")
	certs, _, err = b.packageLayer(ctx, stage, nil, "RUN apt-get install -y --no-install-recommends ca-certificates tzdata", "ca-certificates", "tzdata")
	if err != nil {
		return certs, app, err
	}
	bundle, err := caBundle(stage)
	if err != nil {
		return certs, app, err
	}
	certs.Extra = append(certs.Extra, extraFile{Path: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: bundle})
	bin, err := b.goFunction(ctx, "amd64")
	if err != nil {
		return certs, app, err
	}
	fn, err := os.ReadFile(bin)
	if err != nil {
		return certs, app, err
	}
	app = layerSpec{Name: "app", CreatedBy: "COPY bootstrap /var/task/bootstrap # buildkit",
		Extra: []extraFile{{Path: "var/task/bootstrap", Mode: 0o755, Content: fn}}}
	return certs, app, nil
}

// goConfig runs the Go function as AWS documents it for the OS-only
// runtimes: the binary as ENTRYPOINT, /var/task as the working directory.
var goConfig = v1.Config{
	Entrypoint: []string{"/var/task/bootstrap"},
	WorkingDir: "/var/task",
	Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
}

func (b *Builder) debianGo(ctx context.Context) (*recipe, error) {
	base, err := b.baseLayer(ctx)
	if err != nil {
		return nil, err
	}
	certs, app, err := b.goLayers(ctx)
	if err != nil {
		return nil, err
	}
	return &recipe{layers: []*layerFile{base}, specs: []layerSpec{certs, app}, config: goConfig, working: true}, nil
}

// goSmall is the same function FROM scratch: only the certificates, time
// zones and the binary (no dpkg database without a Debian base).
func (b *Builder) goSmall(ctx context.Context) (*recipe, error) {
	certs, app, err := b.goLayers(ctx)
	if err != nil {
		return nil, err
	}
	var extra []extraFile
	for _, e := range certs.Extra {
		if e.Path != "var/lib/dpkg/status" {
			extra = append(extra, e)
		}
	}
	certs.Extra = extra
	keep := []string{"etc/ssl", "usr/share/ca-certificates", "usr/share/zoneinfo"}
	for i := range certs.Trees {
		certs.Trees[i].Skip = func(rel string, d fs.DirEntry) bool {
			for _, k := range keep {
				if rel == k || strings.HasPrefix(rel, k+"/") || strings.HasPrefix(k, rel+"/") {
					return false
				}
			}
			return true
		}
	}
	certs.CreatedBy = "COPY --from=debian /etc/ssl /usr/share/ca-certificates /usr/share/zoneinfo / # buildkit"
	return &recipe{specs: []layerSpec{certs, app}, config: goConfig, working: true}, nil
}

// bigTrees are the host directories of the big image's upper layers: real
// programs, libraries, toolchains and data from this machine's /usr (what
// exists of them).
var bigTrees = [][]string{
	{"/usr/lib/x86_64-linux-gnu"},
	{"/usr/share"},
	{"/usr/local/go"},
	{"/usr/bin", "/usr/sbin"},
	{"/usr/lib/google-cloud-sdk/lib"},
	{"/usr/include", "/usr/lib/python3", "/usr/lib/python3.11", "/usr/lib/node_modules", "/usr/lib/postgresql"},
}

func (b *Builder) big(ctx context.Context) (*recipe, error) {
	base, err := b.baseLayer(ctx)
	if err != nil {
		return nil, err
	}
	// The Python packages, as the debian-python image has them.
	l2, l3, err := b.pythonLayers(ctx)
	if err != nil {
		return nil, err
	}
	specs := []layerSpec{l2, l3}
	for i, dirs := range bigTrees {
		spec := layerSpec{Name: fmt.Sprintf("host-%d", i), CreatedBy: "COPY " + strings.Join(dirs, " ") + " # buildkit"}
		for _, d := range dirs {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				spec.Trees = append(spec.Trees, tree{Src: d, Dst: strings.TrimPrefix(d, "/")})
			}
		}
		if len(spec.Trees) > 0 {
			specs = append(specs, spec)
		}
	}
	return &recipe{
		layers: []*layerFile{base},
		specs:  specs,
		config: v1.Config{
			Entrypoint: []string{"/usr/bin/python3", "-m", "awslambdaric"},
			Cmd:        []string{"app.handler"},
			WorkingDir: "/var/task",
			Env:        []string{"PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
	}, nil
}

// write writes the recipe's remaining layers (in parallel, one per CPU),
// then the image as an OCI layout and a docker save tarball, then
// info.json.
func (b *Builder) write(ctx context.Context, imgName string, r *recipe, start time.Time) (*Info, error) {
	final := filepath.Join(b.Dir, imgName)
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "layers"), 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	written := make([]*layerFile, len(r.specs))
	errs := make([]error, len(r.specs))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, spec := range r.specs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			b.logf("%s: writing layer %d (%s)", imgName, len(r.layers)+i+1, spec.Name)
			written[i], errs[i] = writeLayer(spec, filepath.Join(tmp, "layers", fmt.Sprintf("%d.tar.gz", len(r.layers)+i)))
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	layers := append(append([]*layerFile(nil), r.layers...), written...)

	img := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	for _, lf := range layers {
		l, err := fileLayer(lf)
		if err != nil {
			return nil, err
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: lf.CreatedBy, Created: v1.Time{Time: epoch}}})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = r.config
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}

	b.logf("%s: writing the OCI layout and the docker save tarball", imgName)
	lp, err := layout.Write(filepath.Join(tmp, "oci"), empty.Index)
	if err != nil {
		return nil, err
	}
	tag, err := name.NewTag("lambdoctor.test/realimage/" + imgName + ":" + Version)
	if err != nil {
		return nil, err
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.String()})); err != nil {
		return nil, err
	}
	if err := tarball.WriteToFile(filepath.Join(tmp, "image.tar"), tag, img); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(tmp, "layers")); err != nil {
		return nil, err
	}
	info := &Info{Version: Version, Name: imgName, Archive: "image.tar", Layout: "oci", Layers: len(layers), Working: r.working}
	for _, lf := range layers {
		hex := strings.TrimPrefix(lf.Digest, "sha256:")
		info.Blobs = append(info.Blobs, filepath.Join("oci", "blobs", "sha256", hex))
		info.DiffIDs = append(info.DiffIDs, lf.DiffID)
		info.Compressed += lf.Compressed
		info.Uncompressed += lf.Uncompressed
		info.Entries += lf.Entries
	}
	info.Seconds = time.Since(start).Seconds()
	if err := publish(tmp, final, info); err != nil {
		return nil, err
	}
	info.Dir = final
	return info, nil
}

// publish writes info as tmp's info.json and puts tmp in final's place:
// a reader sees the old image or the whole new one, never a part.
func publish(tmp, final string, info any) error {
	raw, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "info.json"), raw, 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	return os.Rename(tmp, final)
}

// compressedFile is a gzip layer on disk whose digests are already known,
// so go-containerregistry need not read it again to compute them.
type compressedFile struct{ lf *layerFile }

func (c compressedFile) Digest() (v1.Hash, error) { return v1.NewHash(c.lf.Digest) }
func (c compressedFile) DiffID() (v1.Hash, error) { return v1.NewHash(c.lf.DiffID) }
func (c compressedFile) Compressed() (io.ReadCloser, error) {
	return os.Open(c.lf.Path)
}
func (c compressedFile) Size() (int64, error)                { return c.lf.Compressed, nil }
func (c compressedFile) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

func fileLayer(lf *layerFile) (v1.Layer, error) {
	return partial.CompressedToLayer(compressedFile{lf})
}
