package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/docs"
)

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), the subset
// code scanning tools read. One run per image; one rule per check run on
// it; one result per finding.

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	// sarifImageRoot is the uriBaseId of in-image paths: an image has no
	// source tree, so its paths are relative to the image's root.
	sarifImageRoot = "IMAGEROOT"
	// sarifFingerprint names the partialFingerprints entry; bump the
	// version if what it hashes ever changes.
	sarifFingerprint = "lambdoctor/v1"
	// sarifInformationURI is the tool's home page.
	sarifInformationURI = "https://github.com/lambdoctor/lambdoctor"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                  `json:"tool"`
	AutomationDetails  *sarifAutomation           `json:"automationDetails,omitempty"`
	OriginalURIBaseIDs map[string]sarifArtifactID `json:"originalUriBaseIds"`
	Invocations        []sarifInvocation          `json:"invocations"`
	Results            []sarifResult              `json:"results"`
	Properties         map[string]any             `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	Name             string       `json:"name,omitempty"`
	ShortDescription sarifMessage `json:"shortDescription"`
	// FullDescription and Help come from the check's docs page: GitHub
	// code scanning requires fullDescription (its rule GH2012) and shows
	// help with an alert.
	FullDescription      *sarifMessage      `json:"fullDescription,omitempty"`
	Help                 *sarifHelp         `json:"help,omitempty"`
	HelpURI              string             `json:"helpUri,omitempty"`
	DefaultConfiguration sarifConfiguration `json:"defaultConfiguration"`
	Properties           *sarifRuleProps    `json:"properties,omitempty"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags []string `json:"tags"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

// sarifHelp is a rule's help: the same page as text and as Markdown.
type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

type sarifArtifactID struct {
	URI         string        `json:"uri,omitempty"`
	Description *sarifMessage `json:"description,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level      string              `json:"level"`
	Message    sarifMessage        `json:"message"`
	Associated *sarifDescriptorRef `json:"associatedRule,omitempty"`
	Properties map[string]string   `json:"properties,omitempty"`
}

type sarifDescriptorRef struct {
	ID    string `json:"id"`
	Index *int   `json:"index,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifMessage       `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          *sarifResultProps  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifRegion struct {
	StartLine int           `json:"startLine"`
	EndLine   int           `json:"endLine,omitempty"`
	Snippet   *sarifMessage `json:"snippet,omitempty"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

type sarifResultProps struct {
	Severity string    `json:"severity"`
	Title    string    `json:"title,omitempty"`
	Evidence []string  `json:"evidence,omitempty"`
	Fix      string    `json:"fix,omitempty"`
	Layer    *LayerRef `json:"layer,omitempty"`
	ImageRef string    `json:"imageRef"`
	InPath   string    `json:"path,omitempty"`
}

// sarifWriter writes all reports as one SARIF log, one run per image.
type sarifWriter struct{}

func newSARIFWriter(Options) writer { return sarifWriter{} }

func (sarifWriter) write(w io.Writer, reports []*Report) error {
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: make([]sarifRun, 0, len(reports))}
	for _, r := range reports {
		run := sarifRunFor(r)
		if len(reports) > 1 {
			// Code scanning keeps one analysis per tool and category:
			// several runs of one tool in one file need distinct ones.
			run.AutomationDetails = &sarifAutomation{ID: "lambdoctor/" + strings.TrimLeft(r.Image.StableName(), "/") + "/"}
		}
		log.Runs = append(log.Runs, run)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("writing sarif report: %w", err)
	}
	return nil
}

func sarifRunFor(r *Report) sarifRun {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           cmp.Or(r.Tool.Name, "lambdoctor"),
			Version:        r.Tool.Version,
			InformationURI: sarifInformationURI,
			Rules:          []sarifRule{},
		}},
		OriginalURIBaseIDs: map[string]sarifArtifactID{
			sarifImageRoot: {
				URI:         "file:///",
				Description: &sarifMessage{Text: "the root of the filesystem of image " + r.Image.Ref},
			},
		},
		Results: []sarifResult{},
		Properties: map[string]any{
			"imageRef": r.Image.Ref,
		},
	}
	for k, v := range map[string]string{"imageDigest": r.Image.Digest, "imageSource": r.Image.Source, "platform": r.Image.Platform} {
		if v != "" {
			run.Properties[k] = v
		}
	}
	inv := sarifInvocation{ExecutionSuccessful: r.Error == nil}
	if r.Error != nil {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:      "error",
			Message:    sarifMessage{Text: fmt.Sprintf("cannot inspect %q: %s", r.Image.Ref, r.Error.Message)},
			Properties: map[string]string{"kind": r.Error.Kind},
		})
	}

	index := map[string]int{}
	for _, c := range r.Checks {
		if _, dup := index[c.ID]; dup {
			continue
		}
		index[c.ID] = len(run.Tool.Driver.Rules)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(c))
		if c.Status == string(checks.StatusError) {
			i := index[c.ID]
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
				Level:      "warning",
				Message:    sarifMessage{Text: fmt.Sprintf("%s %s could not run: %s", c.ID, c.Name, c.Error)},
				Associated: &sarifDescriptorRef{ID: c.ID, Index: &i},
			})
		}
	}
	run.Invocations = []sarifInvocation{inv}

	for _, f := range r.Findings {
		i, ok := index[f.ID]
		if !ok {
			// A finding whose check is not among the checks run (a
			// hand-built report): describe the rule from the finding.
			i = len(run.Tool.Driver.Rules)
			index[f.ID] = i
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(CheckResult{
				ID: f.ID, Name: f.Name, Title: f.Title, Severity: f.Severity,
				Category: checks.CategoryOf(f.ID), Docs: f.Docs,
			}))
		}
		run.Results = append(run.Results, sarifResultFor(r.Image, f, i))
	}
	return run
}

func sarifRuleFor(c CheckResult) sarifRule {
	rule := sarifRule{
		ID:                   c.ID,
		Name:                 c.Name,
		ShortDescription:     sarifMessage{Text: cmp.Or(c.Title, c.Name, c.ID)},
		HelpURI:              c.Docs,
		DefaultConfiguration: sarifConfiguration{Level: sarifLevel(c.Severity)},
	}
	if c.Category != "" {
		rule.Properties = &sarifRuleProps{Tags: []string{string(c.Category)}}
	}
	if page, err := docs.CheckPage(c.ID); err == nil {
		if full := docs.Summary(page); full != "" {
			rule.FullDescription = &sarifMessage{Text: full}
		}
		rule.Help = &sarifHelp{Text: string(page), Markdown: string(page)}
	}
	return rule
}

// sarifLevel maps a severity to a SARIF level: error→error,
// warning→warning, info→note.
func sarifLevel(s checks.Severity) string {
	switch s {
	case checks.Error:
		return "error"
	case checks.Warning:
		return "warning"
	}
	return "note"
}

func sarifResultFor(img Image, f Finding, ruleIndex int) sarifResult {
	ref := img.Ref
	text := f.Message
	if f.Fix != "" {
		text += "\nFix: " + f.Fix
	}
	res := sarifResult{
		RuleID:              f.ID,
		RuleIndex:           ruleIndex,
		Level:               sarifLevel(f.Severity),
		Message:             sarifMessage{Text: text},
		Locations:           sarifLocationsFor(ref, f),
		PartialFingerprints: map[string]string{sarifFingerprint: fingerprint(f.ID, f.Path, img.StableName())},
		Properties: &sarifResultProps{
			Severity: f.Severity.String(),
			Title:    f.Title,
			Evidence: f.Evidence,
			Fix:      f.Fix,
			Layer:    f.Layer,
			ImageRef: ref,
			InPath:   f.Path,
		},
	}
	if f.Suppressed {
		// SARIF 2.1.0 §3.35.2: "inSource" for a suppression written in
		// the source (the Dockerfile comment), "external" for one kept
		// elsewhere (the config file, the command line).
		kind := "external"
		if f.SuppressedBy == SuppressedByDockerfile {
			kind = "inSource"
		}
		res.Suppressions = []sarifSuppression{{Kind: kind, Justification: f.SuppressionReason}}
	}
	return res
}

// sarifLocationsFor returns a finding's locations: the Dockerfile line
// that caused it first, when --dockerfile found one (code scanning
// annotates the first location, and only files of the repository), then
// the in-image location.
func sarifLocationsFor(ref string, f Finding) []sarifLocation {
	in := sarifLocationFor(ref, f)
	l := f.Location
	if l == nil {
		return []sarifLocation{in}
	}
	df := sarifLocation{PhysicalLocation: &sarifPhysical{
		// Relative to the repository root, where code scanning resolves
		// it (the path is made so by cmd).
		ArtifactLocation: sarifArtifactLocation{URI: (&url.URL{Path: l.File}).EscapedPath()},
		Region:           &sarifRegion{StartLine: l.Line, EndLine: max(l.EndLine, l.Line)},
	}}
	if l.Instruction != "" {
		df.PhysicalLocation.Region.Snippet = &sarifMessage{Text: l.Instruction}
	}
	return []sarifLocation{df, in}
}

// sarifLocationFor anchors a finding in the image: its in-image path
// relative to IMAGEROOT, or the image root itself for findings about the
// image config (code scanning rejects results without a physical
// location). The image and the layer that wrote the path are logical
// locations.
func sarifLocationFor(ref string, f Finding) sarifLocation {
	// A URI reference: spaces, '%', '#' and '?' in a path are escaped.
	uri := (&url.URL{Path: strings.TrimLeft(f.Path, "/")}).EscapedPath()
	if uri == "" {
		uri = "."
	}
	loc := sarifLocation{
		PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifactLocation{URI: uri, URIBaseID: sarifImageRoot}},
		LogicalLocations: []sarifLogical{{Name: ref, FullyQualifiedName: ref, Kind: "module"}},
	}
	if l := f.Layer; l != nil {
		loc.LogicalLocations = append(loc.LogicalLocations, sarifLogical{
			Name:               fmt.Sprintf("layer #%d", l.Index),
			FullyQualifiedName: fmt.Sprintf("%s/layers/%d@%s", ref, l.Index, l.Digest),
			Kind:               "layer",
		})
	}
	return loc
}

// fingerprint is a stable hash of what identifies a finding across runs:
// the check, the in-image path and the image's stable name (Image.Name:
// no tag, no digest). Digests, tags and messages are left out: they
// change with every build.
func fingerprint(id, path, ref string) string {
	sum := sha256.Sum256([]byte(id + "\x00" + path + "\x00" + ref))
	return hex.EncodeToString(sum[:16])
}
