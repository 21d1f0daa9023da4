package report

import (
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
)

// forTerminal returns a copy of r in which every string is escaped with
// termsafe, for the writers whose output people read on a terminal or in a
// CI log (text, github): almost every string of a report can come from the
// image (paths, link targets, config fields, history lines, file heads
// quoted as evidence, messages and errors that embed them). Values shown
// on one line are escaped whole (termsafe.Line); text laid out over
// several lines keeps its newlines (termsafe.Text). The writers format
// and colour the copy, so lambdoctor's own escapes are the only ones left.
//
// TestForTerminalEscapesEveryString fills every string field with control
// characters: a field added to the model and not escaped here fails it.
func forTerminal(r *Report) *Report {
	if r == nil {
		return nil
	}
	c := *r
	c.Tool = Tool{Name: termsafe.Line(r.Tool.Name), Version: termsafe.Line(r.Tool.Version)}
	c.Image = escapeImage(r.Image)
	c.Function = escapeFunction(r.Function)
	c.Findings = make([]Finding, len(r.Findings))
	for i, f := range r.Findings {
		c.Findings[i] = escapeFinding(f)
	}
	c.Checks = make([]CheckResult, len(r.Checks))
	for i, cr := range r.Checks {
		cr.ID = termsafe.Line(cr.ID)
		cr.Name = termsafe.Line(cr.Name)
		cr.Status = termsafe.Line(cr.Status)
		cr.Error = termsafe.Text(cr.Error)
		cr.Title = termsafe.Text(cr.Title)
		cr.Category = checks.Category(termsafe.Line(string(cr.Category)))
		cr.Docs = termsafe.Line(cr.Docs)
		c.Checks[i] = cr
	}
	if r.Error != nil {
		c.Error = &LoadFailure{Kind: termsafe.Line(r.Error.Kind), Message: termsafe.Text(r.Error.Message)}
	}
	return &c
}

func escapeImage(img Image) Image {
	img.Ref = termsafe.Line(img.Ref)
	img.Name = termsafe.Line(img.Name)
	img.Source = termsafe.Line(img.Source)
	img.Digest = termsafe.Line(img.Digest)
	img.MediaType = termsafe.Line(img.MediaType)
	img.Platform = termsafe.Line(img.Platform)
	if img.Index != nil {
		idx := *img.Index
		idx.Digest = termsafe.Line(idx.Digest)
		idx.MediaType = termsafe.Line(idx.MediaType)
		idx.Manifests = make([]IndexManifest, len(img.Index.Manifests))
		for i, m := range img.Index.Manifests {
			m.Digest = termsafe.Line(m.Digest)
			m.MediaType = termsafe.Line(m.MediaType)
			m.Platform = termsafe.Line(m.Platform)
			idx.Manifests[i] = m
		}
		img.Index = &idx
	}
	layers := make([]Layer, len(img.Layers))
	for i, l := range img.Layers {
		l.Digest = termsafe.Line(l.Digest)
		l.DiffID = termsafe.Line(l.DiffID)
		l.MediaType = termsafe.Line(l.MediaType)
		// A history line is a shell command: its newlines (continuation
		// lines) are laid out by the writer.
		l.CreatedBy = termsafe.Text(l.CreatedBy)
		layers[i] = l
	}
	if img.Layers != nil {
		img.Layers = layers
	}
	if rc := img.RuntimeClient; rc != nil {
		c := *rc
		c.Name = termsafe.Line(c.Name)
		c.Language = termsafe.Line(c.Language)
		c.Path = termsafe.Line(c.Path)
		c.Evidence = escapeAll(c.Evidence)
		img.RuntimeClient = &c
	}
	return img
}

func escapeFinding(f Finding) Finding {
	f.ID = termsafe.Line(f.ID)
	f.Name = termsafe.Line(f.Name)
	f.Title = termsafe.Text(f.Title)
	f.Message = termsafe.Text(f.Message)
	f.Path = termsafe.Line(f.Path)
	if f.Layer != nil {
		l := *f.Layer
		l.Digest = termsafe.Line(l.Digest)
		l.CreatedBy = termsafe.Text(l.CreatedBy)
		f.Layer = &l
	}
	f.Evidence = escapeAll(f.Evidence)
	f.Fix = termsafe.Text(f.Fix)
	f.Docs = termsafe.Line(f.Docs)
	f.SuppressionReason = termsafe.Text(f.SuppressionReason)
	f.SuppressedBy = termsafe.Line(f.SuppressedBy)
	if f.Location != nil {
		l := *f.Location
		l.File = termsafe.Line(l.File)
		l.Instruction = termsafe.Line(l.Instruction)
		f.Location = &l
	}
	f.Source = termsafe.Line(f.Source)
	return f
}

// escapeAll escapes each of lines as text; nil stays nil.
func escapeAll(lines []string) []string {
	if lines == nil {
		return nil
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = termsafe.Text(l)
	}
	return out
}
