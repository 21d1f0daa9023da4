// Package report turns check results into the report lambdoctor prints.
//
// The model (Report) is built once, by New or Failed; writers only format
// it (see Write). The JSON form of the model is a contract: fields may be
// added, never renamed or removed, and lists are never null.
//
// report does not import imagefs: the caller fills Image and Layer from
// whatever loaded the image.
package report

import (
	"cmp"
	"slices"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/imagefs"
)

// SchemaVersion is the version of the JSON contract. It changes only when a
// field is renamed or removed, which we avoid.
const SchemaVersion = 1

// Tool names the program that wrote a report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Image describes the image a report is about.
type Image struct {
	// Ref is the reference as the user wrote it.
	Ref string `json:"ref"`
	// Name identifies the image across builds in JUnit suite names, SARIF
	// categories and fingerprints: --name, else the reference without its
	// tag or digest (source.StableName). Reports without one use Ref.
	Name string `json:"name,omitempty"`
	// Source is where the image was read from ("docker-archive", "oci",
	// "registry", ...).
	Source string `json:"source"`
	// Digest of the selected image manifest; "" when the source has none
	// (legacy docker save archives).
	Digest string `json:"digest"`
	// MediaType of the selected image manifest; "" when the source has
	// none (legacy docker save archives) or the image was not loaded, as
	// for Digest.
	MediaType string `json:"mediaType"`
	// Platform is "os/arch" with the variant appended when there is one
	// ("linux/arm64/v8"): v1.Platform's String method.
	Platform string `json:"platform"`
	// IsIndex is true when the reference resolved to an image index (or
	// manifest list) and Index describes it.
	IsIndex bool   `json:"isIndex"`
	Index   *Index `json:"index,omitempty"`
	// PushedFormUnknown is true for a docker save archive or a daemon image:
	// the form the image will have once pushed (an image manifest, or an
	// index Lambda rejects) is decided by the push and cannot be seen here.
	PushedFormUnknown bool `json:"pushedFormUnknown,omitempty"`
	// Layers, base first. Never nil in a built report.
	Layers []Layer `json:"layers"`
	// RuntimeClient is what implements the Lambda Runtime API in this
	// image, as the entrypoint chain shows it; nil when none was recognised.
	RuntimeClient *analyze.ClientInfo `json:"runtimeClient,omitempty"`
}

// Index describes the image index a reference resolved to.
type Index struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	// Manifests are the index's children, in index order. Never nil in a
	// built report.
	Manifests []IndexManifest `json:"manifests"`
	// Selected is the position in Manifests of the image that was loaded.
	Selected int `json:"selected"`
}

// IndexManifest is one child of an image index.
type IndexManifest struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	// Platform as in Image.Platform; "" when the child declares none.
	Platform string `json:"platform"`
	// Attestation is true for buildx provenance/SBOM attestation manifests.
	Attestation bool `json:"attestation"`
}

// Layer describes one layer of the image: imagefs's description of what
// the pass read (imagefs.LayerInfo), the one layer type from the pass to
// the reports. Its Digest is the DiffID when the source does not know the
// blob's.
type Layer = imagefs.LayerInfo

// Finding is one diagnosed problem, as the check returned it: the one
// finding model (checks.Finding), with the fields the report stages set
// (Suppressed, SuppressionReason, Location).
type Finding = checks.Finding

// SourceLocation is a place in a Dockerfile (checks.SourceLocation).
type SourceLocation = checks.SourceLocation

// LayerRef names the layer a finding comes from (checks.LayerRef).
type LayerRef = checks.LayerRef

// CheckResult is how one check ended on the image.
type CheckResult struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"` // "passed", "failed", "error" or "skipped"
	// Error says why the check ended in status "error" or "skipped".
	Error string `json:"error,omitempty"`
	// Findings is the number of findings the check returned.
	Findings int `json:"findings"`

	// The check's catalogue entry, for the writers that describe every
	// check run (SARIF rules, JUnit test cases). Not part of the JSON
	// contract: `lambdoctor checks --format json` lists the catalogue.
	Title    string          `json:"-"`
	Severity checks.Severity `json:"-"` // default severity
	Category checks.Category `json:"-"`
	Docs     string          `json:"-"`
}

// Summary counts findings by severity.
type Summary struct {
	Error   int `json:"error"`
	Warning int `json:"warning"`
	Info    int `json:"info"`
	// Suppressed counts the findings an ignore entry matched; they are not
	// in the counts above.
	Suppressed int `json:"suppressed,omitempty"`
}

// LoadFailure says why an image could not be loaded at all.
type LoadFailure struct {
	// Kind classifies the failure for machines (chosen by the caller, e.g.
	// "not-found", "auth", "unsupported").
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Report is everything lambdoctor says about one image.
type Report struct {
	SchemaVersion int   `json:"schemaVersion"`
	Tool          Tool  `json:"tool"`
	Image         Image `json:"image"`
	// Function is the Lambda function whose image this is, with the
	// configuration the inspection applied (NewFunction); nil when an
	// image was inspected on its own.
	Function *Function `json:"function,omitempty"`
	// Findings, most severe first, then by check ID, then by path.
	Findings []Finding `json:"findings"`
	// Checks, in the order they ran.
	Checks  []CheckResult `json:"checks"`
	Summary Summary       `json:"summary"`
	// Error is set when the image could not be loaded; the report then has
	// no findings and no checks.
	Error *LoadFailure `json:"error,omitempty"`
}

// Document holds the reports of several images inspected in one call.
type Document struct {
	SchemaVersion int       `json:"schemaVersion"`
	Tool          Tool      `json:"tool"`
	Reports       []*Report `json:"reports"`
}

// New builds the report for an image from its check results: findings are
// ordered by severity (most severe first), then check ID, then path, and
// counted in the summary. img is copied; nil lists become empty ones, and
// IsIndex is set when img.Index is.
func New(tool Tool, img Image, results []checks.Result) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          tool,
		Image:         normalizeImage(img),
		Findings:      []Finding{},
		Checks:        make([]CheckResult, 0, len(results)),
	}
	for _, res := range results {
		r.Checks = append(r.Checks, CheckResult{
			ID:       res.Meta.ID,
			Name:     res.Meta.Name,
			Status:   string(res.Status),
			Error:    res.Err,
			Findings: len(res.Findings),
			Title:    res.Meta.Title,
			Severity: res.Meta.Severity,
			Category: cmp.Or(res.Meta.Category, checks.CategoryOf(res.Meta.ID)),
			Docs:     res.Meta.DocsURL(),
		})
		for _, f := range res.Findings {
			r.Findings = append(r.Findings, reported(f))
		}
	}
	sortFindings(r.Findings)
	r.Summary = summarize(r.Findings)
	return r
}

// Failed builds the report for an image that could not be loaded: kind
// classifies the failure for machines, msg explains it to people.
func Failed(tool Tool, ref string, kind, msg string) *Report {
	return &Report{
		SchemaVersion: SchemaVersion,
		Tool:          tool,
		Image:         normalizeImage(Image{Ref: ref}),
		Findings:      []Finding{},
		Checks:        []CheckResult{},
		Error:         &LoadFailure{Kind: kind, Message: msg},
	}
}

// NewDocument gathers the reports of one call; its tool is the first
// report's.
func NewDocument(reports []*Report) *Document {
	d := &Document{SchemaVersion: SchemaVersion, Reports: reports}
	if d.Reports == nil {
		d.Reports = []*Report{}
	}
	if len(reports) > 0 {
		d.Tool = reports[0].Tool
	}
	return d
}

// Max returns the highest severity among the findings that are not
// suppressed, 0 if there are none.
func (r *Report) Max() checks.Severity {
	var m checks.Severity
	for _, f := range r.Findings {
		if !f.Suppressed {
			m = max(m, f.Severity)
		}
	}
	return m
}

// count returns how many checks ended in each status.
func (r *Report) count() map[checks.Status]int {
	n := map[checks.Status]int{}
	for _, c := range r.Checks {
		n[checks.Status(c.Status)]++
	}
	return n
}

// reported is f as a report holds it: its own copy of Evidence, never nil.
func reported(f checks.Finding) Finding {
	f.Evidence = slices.Clone(f.Evidence)
	if f.Evidence == nil {
		f.Evidence = []string{}
	}
	return f
}

// normalizeImage copies img's lists, so a report never shares them with the
// caller, and replaces nil lists with empty ones.
func normalizeImage(img Image) Image {
	img.Layers = slices.Clone(img.Layers)
	if img.Layers == nil {
		img.Layers = []Layer{}
	}
	if img.Index != nil {
		idx := *img.Index
		idx.Manifests = slices.Clone(idx.Manifests)
		if idx.Manifests == nil {
			idx.Manifests = []IndexManifest{}
		}
		img.Index = &idx
		img.IsIndex = true
	}
	return img
}

// StableName is the image's Name, or its Ref when it has none.
func (i Image) StableName() string {
	if i.Name != "" {
		return i.Name
	}
	return i.Ref
}
