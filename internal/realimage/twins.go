package realimage

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TwinsVersion names the twins' recipes: change it whenever a twin's
// defect or shape changes. A twin is also rebuilt when debian-go changes
// (its manifest digest is recorded in the twin's info.json).
const TwinsVersion = "twins-1"

// A Twin is a broken copy of the debian-go image: the same Debian base and
// the same aws-lambda-go function, with one defect that Lambda users hit.
// Both `lambdoctor inspect` (a static finding) and `lambdoctor run` (the
// sandbox cannot start the function) diagnose it.
type Twin struct {
	// Name is the twin's directory under Dir, next to debian-go.
	Name string
	// Defect says what is wrong and how it happens, in one line.
	Defect string
	// Finding is the ID of the check that inspect reports as an error.
	Finding string
	// Diagnosis is the key of the cause that run names (emulate.Diagnosis).
	Diagnosis string
	// derive makes the twin from debian-go (its image, and the function
	// binary of its last layer).
	derive func(ctx context.Context, b *Builder, base v1.Image, fn []byte, tmp string) (v1.Image, error)
}

// Twins are the broken twins of debian-go, in the order `make demo` shows
// them.
var Twins = []Twin{
	{
		Name: "debian-go-noexec",
		Defect: "the function binary lost its execute bit: COPY bootstrap /var/task/bootstrap " +
			"from a checkout that does not keep modes (Windows, a zip), without --chmod=755",
		Finding:   "LD203",
		Diagnosis: "exec-permission-denied",
		derive: func(ctx context.Context, b *Builder, base v1.Image, fn []byte, tmp string) (v1.Image, error) {
			return replaceApp(base, layerSpec{Name: "app", CreatedBy: "COPY bootstrap /var/task/bootstrap # buildkit",
				Extra: []extraFile{{Path: "var/task/bootstrap", Mode: 0o644, Content: fn}}}, tmp)
		},
	},
	{
		Name: "debian-go-wrongpath",
		Defect: `ENTRYPOINT ["/usr/local/bin/bootstrap"] while COPY put the function at ` +
			`/var/task/bootstrap: a Dockerfile changed in one place and not the other`,
		Finding:   "LD202",
		Diagnosis: "exec-not-found",
		derive: func(ctx context.Context, b *Builder, base v1.Image, fn []byte, tmp string) (v1.Image, error) {
			cf, err := base.ConfigFile()
			if err != nil {
				return nil, err
			}
			cf = cf.DeepCopy()
			cf.Config.Entrypoint = []string{"/usr/local/bin/bootstrap"}
			cf.History = append(cf.History, v1.History{Created: v1.Time{Time: epoch},
				CreatedBy: `ENTRYPOINT ["/usr/local/bin/bootstrap"]`, EmptyLayer: true})
			return mutate.ConfigFile(base, cf)
		},
	},
	{
		Name: "debian-go-arm64",
		Defect: "the function built for arm64 (go build on an Apple silicon Mac with GOOS=linux " +
			"but no GOARCH=amd64) in an amd64 image",
		Finding:   "LD301",
		Diagnosis: "exec-format-error",
		derive: func(ctx context.Context, b *Builder, base v1.Image, _ []byte, tmp string) (v1.Image, error) {
			bin, err := b.goFunction(ctx, "arm64")
			if err != nil {
				return nil, err
			}
			fn, err := os.ReadFile(bin)
			if err != nil {
				return nil, err
			}
			return replaceApp(base, layerSpec{Name: "app", CreatedBy: "COPY bootstrap /var/task/bootstrap # buildkit",
				Extra: []extraFile{{Path: "var/task/bootstrap", Mode: 0o755, Content: fn}}}, tmp)
		},
	},
}

// TwinInfo describes a built twin; it is written last, as NAME/info.json.
type TwinInfo struct {
	Version string `json:"version"`
	Name    string `json:"name"`
	// Base is the manifest digest of the debian-go image it was made from.
	Base string `json:"base"`
	// Archive is the docker save tarball, relative to Dir.
	Archive string  `json:"archive"`
	Defect  string  `json:"defect"`
	Seconds float64 `json:"seconds"`
	// Dir is the twin's directory (set by LoadTwin, not stored).
	Dir string `json:"-"`
}

// ArchivePath is the docker save tarball.
func (i *TwinInfo) ArchivePath() string { return filepath.Join(i.Dir, i.Archive) }

// twinByName returns the twin called name.
func twinByName(name string) (*Twin, error) {
	var names []string
	for i := range Twins {
		if Twins[i].Name == name {
			return &Twins[i], nil
		}
		names = append(names, Twins[i].Name)
	}
	return nil, fmt.Errorf("unknown twin %q (known: %s)", name, strings.Join(names, ", "))
}

// baseDigest is the manifest digest of the built debian-go image.
func baseDigest(info *Info) (v1.Hash, error) {
	idx, err := layout.ImageIndexFromPath(info.LayoutPath())
	if err != nil {
		return v1.Hash{}, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	if len(m.Manifests) != 1 {
		return v1.Hash{}, fmt.Errorf("%s: %d images in the OCI layout, want 1", info.LayoutPath(), len(m.Manifests))
	}
	return m.Manifests[0].Digest, nil
}

// LoadTwin returns the twin name built under dir, when it is complete, of
// the current TwinsVersion, and made from the debian-go image built there
// now.
func LoadTwin(dir, name string) (*TwinInfo, error) {
	if _, err := twinByName(name); err != nil {
		return nil, err
	}
	base, err := Load(dir, "debian-go")
	if err != nil {
		return nil, err
	}
	digest, err := baseDigest(base)
	if err != nil {
		return nil, err
	}
	idir := filepath.Join(dir, name)
	raw, err := os.ReadFile(filepath.Join(idir, "info.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (run `make demo` or realimage -twins)", ErrMissing, idir)
	}
	if err != nil {
		return nil, err
	}
	var info TwinInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, fmt.Errorf("%s/info.json: %v", idir, err)
	}
	switch {
	case info.Version != TwinsVersion:
		return nil, fmt.Errorf("%w: %s is from recipe %s, want %s (run realimage -twins)", ErrMissing, idir, info.Version, TwinsVersion)
	case info.Base != digest.String():
		return nil, fmt.Errorf("%w: %s was made from debian-go %s, which is now %s (run realimage -twins)", ErrMissing, idir, info.Base, digest)
	}
	info.Dir = idir
	if _, err := os.Stat(info.ArchivePath()); err != nil {
		return nil, fmt.Errorf("%w: %s is incomplete: %v (run realimage -twins)", ErrMissing, idir, err)
	}
	return &info, nil
}

// TwinPath returns the docker save tarball of the twin name, making it
// (in a few seconds, with the go command) when it is missing or stale.
// When debian-go is not built, t is skipped, or fails under
// LAMBDOCTOR_REQUIRE_REALIMAGES=1.
func TwinPath(t testing.TB, name string) string {
	t.Helper()
	base := Get(t, "debian-go")
	b := &Builder{Dir: filepath.Dir(base.Dir)}
	info, _, err := b.BuildTwin(context.Background(), name)
	if err != nil {
		t.Fatalf("making the twin %s: %v", name, err)
	}
	return info.ArchivePath()
}

// BuildTwin makes the twin name from the debian-go image (built first when
// missing) unless it is already built from the current recipe and that
// debian-go; cached says which.
func (b *Builder) BuildTwin(ctx context.Context, name string) (info *TwinInfo, cached bool, err error) {
	tw, err := twinByName(name)
	if err != nil {
		return nil, false, err
	}
	if info, err := LoadTwin(b.Dir, name); err == nil {
		return info, true, nil
	}
	base, _, err := b.Build(ctx, "debian-go")
	if err != nil {
		return nil, false, err
	}
	start := time.Now()
	info, err = b.writeTwin(ctx, tw, base, start)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	return info, false, nil
}

func (b *Builder) writeTwin(ctx context.Context, tw *Twin, baseInfo *Info, start time.Time) (*TwinInfo, error) {
	digest, err := baseDigest(baseInfo)
	if err != nil {
		return nil, err
	}
	lp, err := layout.FromPath(baseInfo.LayoutPath())
	if err != nil {
		return nil, err
	}
	base, err := lp.Image(digest)
	if err != nil {
		return nil, err
	}
	fn, err := appFile(base, "var/task/bootstrap")
	if err != nil {
		return nil, fmt.Errorf("debian-go: %w", err)
	}
	final := filepath.Join(b.Dir, tw.Name)
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	b.logf("%s: %s", tw.Name, tw.Defect)
	img, err := tw.derive(ctx, b, base, fn, tmp)
	if err != nil {
		return nil, err
	}
	tag, err := name.NewTag("lambdoctor.test/realimage/" + tw.Name + ":" + TwinsVersion)
	if err != nil {
		return nil, err
	}
	b.logf("%s: writing the docker save tarball", tw.Name)
	if err := tarball.WriteToFile(filepath.Join(tmp, "image.tar"), tag, img); err != nil {
		return nil, err
	}
	// The layer written by derive is inside the tarball now.
	if err := os.RemoveAll(filepath.Join(tmp, "layers")); err != nil {
		return nil, err
	}
	info := &TwinInfo{Version: TwinsVersion, Name: tw.Name, Base: digest.String(), Archive: "image.tar",
		Defect: tw.Defect, Seconds: time.Since(start).Seconds()}
	if err := publish(tmp, final, info); err != nil {
		return nil, err
	}
	info.Dir = final
	return info, nil
}

// appFile reads the file at path (no leading slash) from the image's last
// layer, the application layer.
func appFile(img v1.Image, path string) ([]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("the image has no layers")
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("no %s in the last layer", path)
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimPrefix(hdr.Name, "./") == path && hdr.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}

// replaceApp rebuilds base with its last layer, the application layer,
// replaced by app (written under tmp/layers): the image a Dockerfile with
// a different COPY makes, layer for layer.
func replaceApp(base v1.Image, app layerSpec, tmp string) (v1.Image, error) {
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := base.Layers()
	if err != nil {
		return nil, err
	}
	var history []v1.History
	for _, h := range cf.History {
		if !h.EmptyLayer {
			history = append(history, h)
		}
	}
	if len(history) != len(layers) || len(layers) < 2 {
		return nil, fmt.Errorf("base image: %d layers and %d layer history entries", len(layers), len(history))
	}
	if err := os.MkdirAll(filepath.Join(tmp, "layers"), 0o755); err != nil {
		return nil, err
	}
	lf, err := writeLayer(app, filepath.Join(tmp, "layers", "app.tar.gz"))
	if err != nil {
		return nil, err
	}
	appLayer, err := fileLayer(lf)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	for i, l := range layers[:len(layers)-1] {
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: history[i]}); err != nil {
			return nil, err
		}
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: appLayer, History: v1.History{CreatedBy: lf.CreatedBy, Created: v1.Time{Time: epoch}}})
	if err != nil {
		return nil, err
	}
	out, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	out = out.DeepCopy()
	out.OS, out.Architecture = cf.OS, cf.Architecture
	out.Created = cf.Created
	out.Config = cf.Config
	return mutate.ConfigFile(img, out)
}
