package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
)

// layerAnomaly is LD105: layers hold entries a careful unpacker may refuse
// or treat differently (names climbing above the root, hard links to
// nothing, entries below a file, unsupported types). How Lambda's unpacker
// treats them is unconfirmed, so they are warnings; kinds that runtimes are
// known to handle the same way as lambdoctor are info or not reported.
type layerAnomaly struct{}

func (layerAnomaly) Meta() Meta {
	return Meta{
		ID:       "LD105",
		Name:     "layer-anomaly",
		Title:    "layer entries that Lambda may unpack differently or refuse",
		Severity: Warning,
		Category: CategoryImage,
	}
}

// maxAnomalyExamples is how many anomalies of a kind are listed.
const maxAnomalyExamples = 10

// anomalyKind describes how LD105 reports an imagefs anomaly kind.
type anomalyKind struct {
	kind imagefs.AnomalyKind
	sev  Severity
	// what names the problem, plural, for the message.
	what string
	// effect says what lambdoctor did and what Lambda may do.
	effect string
	fix    string
}

// anomalyKinds lists the reported kinds, most serious first.
// AnomalySymlinkParent is not reported: container runtimes write through a
// symlinked parent directory, as lambdoctor does.
var anomalyKinds = []anomalyKind{
	{
		kind:   imagefs.AnomalyUnsafeName,
		sev:    Warning,
		what:   "entries whose names climb above the image root (\"../\") or are unusable",
		effect: "Container unpackers either reject such a layer or drop the entries, and which one Lambda does is unconfirmed, so the files may be missing at runtime or the image may fail with \"ImageLayerFailure\"",
		fix:    "rebuild the layer from a directory with COPY (COPY ./build/ /var/task/) instead of ADD of a hand-made tarball, or recreate the tarball with relative names (tar -C build -cf layer.tar .)",
	},
	{
		kind:   imagefs.AnomalyDanglingHardlink,
		sev:    Warning,
		what:   "hard links to files that do not exist (or to directories)",
		effect: "Docker and containerd fail to unpack such a layer, and what Lambda does is unconfirmed: the image may be refused or the linked files may be missing",
		fix:    "create the link in the Dockerfile after its target exists (RUN ln -f /path/to/target /path/to/link), or copy the file instead of linking it",
	},
	{
		kind:   imagefs.AnomalyParentNotDir,
		sev:    Warning,
		what:   "entries below a path that is a file, not a directory",
		effect: "A runtime cannot create them (\"not a directory\"), and whether Lambda refuses the layer or drops them is unconfirmed",
		fix:    "remove the file that stands where a directory is expected before writing below it (RUN rm -f /path && mkdir -p /path), or fix the COPY destination",
	},
	{
		kind:   imagefs.AnomalyUnsupportedType,
		sev:    Warning,
		what:   "entries of a tar type lambdoctor does not model",
		effect: "Other checks did not see them; how Lambda's unpacker treats them is unconfirmed",
		fix:    "rebuild the layer with docker buildx build so it holds only regular files, directories, symlinks and hard links",
	},
	{
		kind:   imagefs.AnomalyEscapingLink,
		sev:    Info,
		what:   "symlinks whose targets climb above the image root",
		effect: "They resolve clamped at / (as the kernel does inside the container root), so they work if the clamped path exists; a strict unpacker could refuse them, which is unconfirmed for Lambda",
		fix:    "make the link absolute or relative within the image (RUN ln -sf /usr/share/real /path/to/link)",
	},
	{
		kind:   imagefs.AnomalyDuplicateEntry,
		sev:    Info,
		what:   "paths written twice in the same layer",
		effect: "The later entry wins, as with Docker and containerd; a different unpacker could keep the first, which is unconfirmed for Lambda",
		fix:    "rebuild the layer so each path appears once (the tool that wrote the tarball appended the same path twice)",
	},
	{
		kind:   imagefs.AnomalyBadWhiteout,
		sev:    Info,
		what:   "whiteout entries that name nothing, or AUFS metadata",
		effect: "They were ignored, as container runtimes ignore them",
		fix:    "nothing is required; rebuilding with docker buildx build drops them",
	},
}

func (c layerAnomaly) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	all := t.FS.Anomalies()
	byKind := map[imagefs.AnomalyKind][]imagefs.Anomaly{}
	dropped := map[int]string{} // layer -> truncation detail
	for _, a := range all {
		if a.Kind == imagefs.AnomalyTruncated {
			dropped[a.Layer] = a.Detail
			continue
		}
		byKind[a.Kind] = append(byKind[a.Kind], a)
	}
	var out []Finding
	for _, k := range anomalyKinds {
		list := byKind[k.kind]
		if len(list) == 0 {
			continue
		}
		first := list[0]
		var layers []int
		seen := map[int]bool{}
		for _, a := range list {
			if !seen[a.Layer] {
				seen[a.Layer] = true
				layers = append(layers, a.Layer)
			}
		}
		msg := fmt.Sprintf("%d %s (%s), first %s in %s: %s. %s.", len(list), k.what, k.kind, analyze.QuoteJSON(first.Path), t.LayerLabel(first.Layer), first.Detail, k.effect)
		if len(layers) > 1 {
			msg += fmt.Sprintf(" They are in %d layers.", len(layers))
		}
		f := NewFinding(c.Meta(), msg)
		f.Severity = k.sev
		if strings.HasPrefix(first.Path, "/") {
			f.Path = first.Path
		}
		f.Layer = layerRef(t, first.Layer)
		for i, a := range list {
			if i == maxAnomalyExamples {
				f.Evidence = append(f.Evidence, fmt.Sprintf("… and %d more", len(list)-maxAnomalyExamples))
				break
			}
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s in %s: %s", analyze.QuoteJSON(a.Path), t.LayerLabel(a.Layer), a.Detail))
		}
		for _, l := range layers {
			if d, ok := dropped[l]; ok {
				f.Evidence = append(f.Evidence, fmt.Sprintf("%s: %s", t.LayerLabel(l), d))
			}
		}
		f.Fix = k.fix
		out = append(out, f)
	}
	return out, nil
}
