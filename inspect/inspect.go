// Package inspect is lambdoctor's pipeline, once: load an image, build its
// filesystem (imagefs.Build), run the checks (checks.Run), build the report
// and pass it through the report stages (severity overrides, ignores with
// their use counted, Dockerfile locations). `inspect`, the git hook,
// `why --image` and `run` all go through a Session.
package inspect

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"crypto/sha256"
	"encoding/hex"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/config"
	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/report"
)

// LoadFunc loads an image; source.Load outside tests.
type LoadFunc func(ctx context.Context, ref string, opts source.Options) (*source.Image, error)

// Options configure a Session. The zero value inspects amd64 images with
// every check, no config and no cache.
type Options struct {
	// Tool names lambdoctor in the reports.
	Tool report.Tool
	// Arch is the function's architecture, "amd64" or "arm64" ("" is
	// amd64).
	Arch string
	// Overrides is the function's ImageConfig (--entrypoint, --cmd,
	// --workdir).
	Overrides analyze.ImageConfig
	// Checks are the checks to run; nil runs checks.All(). The ones the
	// policy disables are replaced by a check that ends skipped.
	Checks []checks.Check
	// Policy is the decoded .lambdoctor.yaml; nil for none.
	Policy *config.Config
	// Disable are the IDs of the checks the command line disables
	// (--disable), besides the policy's; DisabledBy says how, for the
	// skipped checks' message ("with --disable" when empty).
	Disable    []string
	DisabledBy string
	// Ignore are the command line's ignores (--ignore), applied after the
	// Dockerfile's comments and the policy's.
	Ignore []Ignore
	// Dockerfile, when set, gives findings the instruction that caused
	// them, and its `# lambdoctor ignore=` comments apply; DockerfilePath
	// is how reports name it.
	Dockerfile     *dockerfile.File
	DockerfilePath string
	// Source carries the loader's settings: network limits, the transport.
	// Arch, TempDir and Cache are set by the session.
	Source source.Options
	// Cache is the layer-index cache; nil when off.
	Cache *imagefs.Cache
	// TempDir holds what loading spools; "" makes (and Close removes) one.
	TempDir string
	// Load is source.Load when nil.
	Load LoadFunc
	// Now is when ignores expire against; the zero value is time.Now().
	Now time.Time
	// Name identifies the image across builds in the reports (--name);
	// "" derives it from the reference (source.StableName).
	Name string
	// Unpack builds the filesystem for an unpack (run): the pass keeps the
	// decompressed layers so that the unpack does not decompress them
	// again (imagefs.Options.Unpacking).
	Unpack bool
}

// Session inspects one or more images with the same options and counts
// which ignores of the policy were used across them. Open, Inspect and
// their As forms may be called from several goroutines at once.
type Session struct {
	opts    Options
	list    []checks.Check
	stages  *stages
	stageMu sync.Mutex // stages counts the ignores' use across images
	tmp     string
	ownsTmp bool
}

// As are the settings of one image of a session that differ from the
// session's: the functions of a deployment (or of an account) each have
// their own architecture, ImageConfig and name, and one session keeps
// the use of the policy's ignores counted across all of them.
type As struct {
	// Arch is "amd64" or "arm64"; "" is amd64.
	Arch string
	// Overrides is the function's ImageConfig.
	Overrides analyze.ImageConfig
	// Name is the report's stable name (Options.Name); "" derives it
	// from the reference.
	Name string
}

// as are the session's own settings.
func (s *Session) as() As {
	return As{Arch: s.opts.Arch, Overrides: s.opts.Overrides, Name: s.opts.Name}
}

// New starts a session.
func New(opts Options) (*Session, error) {
	opts.Arch = cmp.Or(opts.Arch, "amd64")
	if opts.Load == nil {
		opts.Load = source.Load
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	list := opts.Checks
	if list == nil {
		list = checks.All()
	}
	st, err := newStages(opts)
	if err != nil {
		return nil, err
	}
	s := &Session{opts: opts, list: withoutDisabled(list, opts), stages: st, tmp: opts.TempDir}
	if s.tmp == "" {
		tmp, err := os.MkdirTemp("", "lambdoctor-")
		if err != nil {
			return nil, fmt.Errorf("creating a temporary directory: %w", err)
		}
		s.tmp, s.ownsTmp = tmp, true
	}
	return s, nil
}

// Close removes the session's temporary directory, when it made one.
func (s *Session) Close() {
	if s.ownsTmp {
		os.RemoveAll(s.tmp)
	}
}

// Checks are the checks the session runs, disabled ones included (they end
// skipped).
func (s *Session) Checks() []checks.Check { return slices.Clone(s.list) }

// Image is one loaded and inspected image. Its filesystem stays open for
// what comes after the checks (run unpacks it) until Close.
type Image struct {
	Source *source.Image
	FS     *imagefs.FS
	Target *analyze.Target
	// Report is the staged report of the checks.
	Report *report.Report
}

// Close releases the filesystem and the loaded image; it may be called
// more than once.
func (im *Image) Close() {
	if im.FS != nil {
		im.FS.Close()
	}
	if im.Source != nil {
		im.Source.Close()
	}
}

// Open loads ref, builds its filesystem, runs the checks and stages the
// report. An error is a load error: the image could not be loaded or read.
func (s *Session) Open(ctx context.Context, ref string) (*Image, error) {
	return s.OpenAs(ctx, ref, s.as())
}

// OpenAs is Open with the architecture, ImageConfig and name of as in
// place of the session's.
func (s *Session) OpenAs(ctx context.Context, ref string, as As) (*Image, error) {
	as.Arch = cmp.Or(as.Arch, "amd64")
	sopts := s.opts.Source
	sopts.Arch, sopts.TempDir, sopts.Cache = as.Arch, s.tmp, s.opts.Cache
	img, err := s.opts.Load(ctx, ref, sopts)
	if err != nil {
		return nil, err
	}
	bo := BuildOptions(s.list, s.tmp, s.opts.Cache)
	if s.opts.Unpack {
		bo = bo.Unpacking()
	}
	fsys, err := imagefs.Build(ctx, img.Layers, bo)
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("reading %q: %w", ref, err)
	}
	t := &analyze.Target{Image: img, FS: fsys, Arch: as.Arch, Overrides: as.Overrides}
	results := checks.Run(ctx, s.list, t)
	ri := reportImage(img, t)
	ri.Name = cmp.Or(as.Name, source.StableName(img.Ref, img.Source))
	if rc := t.RuntimeClient(); rc.Name != "" {
		ri.RuntimeClient = &rc
	}
	r := report.New(s.opts.Tool, ri, results)
	if s.opts.Dockerfile != nil {
		locateFindings(r, s.opts.Dockerfile, s.opts.DockerfilePath)
	}
	s.stageMu.Lock()
	s.stages.apply(r)
	s.stageMu.Unlock()
	return &Image{Source: img, FS: fsys, Target: t, Report: r}, nil
}

// Inspect is Open without the image: the report, or, when the image could
// not be loaded, a failed report (its kind from source.KindOf, "load" when
// unclassified) and the load error.
func (s *Session) Inspect(ctx context.Context, ref string) (*report.Report, error) {
	return s.InspectAs(ctx, ref, s.as())
}

// InspectAs is Inspect with the architecture, ImageConfig and name of as
// in place of the session's.
func (s *Session) InspectAs(ctx context.Context, ref string, as As) (*report.Report, error) {
	im, err := s.OpenAs(ctx, ref, as)
	if err != nil {
		return Failed(s.opts.Tool, ref, as.Name, err), err
	}
	im.Close()
	return im.Report, nil
}

// Failed is the report of an image that could not be loaded; name is its
// --name, or "" to derive one from a docker: or registry: reference.
func Failed(tool report.Tool, ref, name string, err error) *report.Report {
	r := report.Failed(tool, ref, LoadKind(err), err.Error())
	kind := source.Kind("")
	switch {
	case strings.HasPrefix(ref, "docker:"):
		kind = source.Daemon
	case strings.HasPrefix(ref, "registry:"):
		kind = source.Registry
	}
	r.Image.Name = cmp.Or(name, source.StableName(ref, kind))
	return r
}

// LoadKind classifies a load error for machines: source.KindOf, or "load"
// when the error is not classified.
func LoadKind(err error) string {
	return cmp.Or(string(source.KindOf(err)), "load")
}

// Warnings are the lines to print after the session: expired ignores, and
// ignores that matched nothing in any image (only when allLoaded: an image
// that could not be read might have matched).
func (s *Session) Warnings(allLoaded bool) []string {
	s.stageMu.Lock()
	defer s.stageMu.Unlock()
	return s.stages.warnings(allLoaded)
}

// BuildOptions are the imagefs options of an inspection running list: the
// captures the checks need, and the cache.
func BuildOptions(list []checks.Check, tmp string, cache *imagefs.Cache) imagefs.Options {
	return imagefs.Options{Capture: captureFor(list), CaptureKey: captureKey(list), TempDir: tmp, Cache: cache}
}

// captureFor returns the capture policy of the filesystem pass: the full
// content of every path a check declared it needs.
func captureFor(list []checks.Check) func(name string, size int64) bool {
	var globs []string
	for _, c := range list {
		globs = append(globs, c.Meta().Needs...)
	}
	slices.Sort(globs)
	globs = slices.Compact(globs)
	// It is asked for every regular file of every layer: globs whose
	// directory is literal (all of them, as checks declare them) are
	// looked up by the file's directory, and only their last component is
	// matched; '*' does not match '/', so that is what path.Match does.
	byDir := map[string][]string{}
	var other []string
	for _, g := range globs {
		if dir := path.Dir(g); strings.HasPrefix(g, "/") && !strings.ContainsAny(dir, `*?[\`) {
			byDir[dir] = append(byDir[dir], path.Base(g))
			continue
		}
		other = append(other, g)
	}
	return func(name string, _ int64) bool {
		p := "/" + strings.TrimPrefix(name, "/")
		dir, base := path.Split(p)
		if dir != "/" {
			dir = dir[:len(dir)-1]
		}
		for _, g := range byDir[dir] {
			if ok, _ := path.Match(g, base); ok {
				return true
			}
		}
		for _, g := range other {
			if ok, _ := path.Match(g, p); ok {
				return true
			}
		}
		return false
	}
}

// captureKey names the capture policy of captureFor(list) for the cache:
// a hash of the sorted, deduplicated globs.
func captureKey(list []checks.Check) string {
	var globs []string
	for _, c := range list {
		globs = append(globs, c.Meta().Needs...)
	}
	slices.Sort(globs)
	globs = slices.Compact(globs)
	sum := sha256.Sum256([]byte(strings.Join(globs, "\x00")))
	return "globs:" + hex.EncodeToString(sum[:16])
}

// reportImage describes the image for the report; a layer is named as
// findings name it (analyze.Target.LayerRef: its digest, else its DiffID).
func reportImage(img *source.Image, t *analyze.Target) report.Image {
	ri := report.Image{
		Ref:       img.Ref,
		Source:    string(img.Source),
		Digest:    img.Digest,
		MediaType: img.MediaType,
		Platform:  platformString(img),
		IsIndex:   img.Index != nil,

		PushedFormUnknown: img.PushedFormUnknown,
	}
	if ix := img.Index; ix != nil {
		rix := &report.Index{Digest: ix.Digest, MediaType: ix.MediaType, Selected: ix.Selected}
		for _, m := range ix.Manifests {
			p := ""
			if m.Platform != nil {
				p = m.Platform.String()
			}
			rix.Manifests = append(rix.Manifests, report.IndexManifest{Digest: m.Digest, MediaType: m.MediaType, Platform: p, Attestation: m.Attestation})
		}
		ri.Index = rix
	}
	for _, l := range t.FS.Layers() {
		if l.Digest == "" {
			l.Digest = l.DiffID
		}
		ri.Layers = append(ri.Layers, l)
	}
	return ri
}

func platformString(img *source.Image) string {
	p := img.Platform
	if p.OS == "" && p.Architecture == "" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
