package report

import (
	"cmp"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/fatih/color"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/internal/bytesize"
	"github.com/lambdoctor/lambdoctor/internal/history"
)

// textWriter writes reports for people, readable in one pass. Nothing is
// wrapped: long paths and commands stay on one line for the terminal to
// fold.
type textWriter struct {
	verbose bool
	// wrap is the terminal's width (Options.Width), 0 for no wrapping.
	wrap int
	// compact writes a finding per line (Options.Compact).
	compact bool
	// width of the label column of the finding being written.
	width int

	bold, faint *color.Color
	sev         map[checks.Severity]*color.Color
	pass, skip  *color.Color
	warn        *color.Color // check that could not run
	fail        *color.Color // load failure
}

func newTextWriter(opts Options) writer {
	// Every colour is decided here, from opts alone: never from
	// color.NoColor, which looks at the process's stdout.
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if opts.Color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	red := mk(color.FgRed, color.Bold)
	yellow := mk(color.FgYellow)
	return &textWriter{
		verbose: opts.Verbose,
		wrap:    opts.Width,
		compact: opts.Compact,
		bold:    mk(color.Bold),
		faint:   mk(color.Faint),
		sev: map[checks.Severity]*color.Color{
			checks.Error:   red,
			checks.Warning: yellow,
			checks.Info:    mk(color.FgCyan),
		},
		pass: mk(color.FgGreen),
		skip: mk(color.Faint),
		warn: yellow,
		fail: red,
	}
}

func (t *textWriter) write(w io.Writer, reports []*Report) error {
	var b strings.Builder
	for i, r := range reports {
		if i > 0 {
			b.WriteString("\n")
		}
		t.report(&b, forTerminal(r))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing text report: %w", err)
	}
	return nil
}

func (t *textWriter) report(b *strings.Builder, r *Report) {
	t.header(b, r)
	t.function(b, r.Function)
	if r.Error != nil {
		// Ref is escaped already: %q would double its backslashes.
		fmt.Fprintf(b, "%s cannot inspect \"%s\": %s\n", t.fail.Sprint("✗"), r.Image.Ref, indent(r.Error.Message, "  "))
		return
	}
	t.image(b, r.Image)
	b.WriteString("\n")

	status := r.count()
	var active, suppressed []Finding
	for _, f := range r.Findings {
		if f.Suppressed {
			suppressed = append(suppressed, f)
		} else {
			active = append(active, f)
		}
	}
	if len(active) == 0 {
		if n := status[checks.StatusError]; n > 0 {
			fmt.Fprintf(b, "no problems found, but %s could not run\n", plural(n, "check", "checks"))
		} else {
			fmt.Fprintf(b, "%s no problems found\n", t.pass.Sprint("✓"))
		}
		b.WriteString("\n")
	}
	for _, f := range active {
		if t.compact {
			t.compactFinding(b, f)
			continue
		}
		t.finding(b, f)
		b.WriteString("\n")
	}
	if t.compact && len(active) > 0 {
		b.WriteString("\n")
	}
	if len(suppressed) > 0 {
		for _, f := range suppressed {
			t.suppressed(b, f)
		}
		b.WriteString("\n")
	}
	if t.checkErrors(b, r.Checks) {
		b.WriteString("\n")
	}
	if t.verbose && len(r.Checks) > 0 {
		t.checkList(b, r.Checks)
		b.WriteString("\n")
	}
	t.summary(b, r.Summary, status)
	if r.Image.PushedFormUnknown {
		fmt.Fprintf(b, "note: a %s source cannot show whether the pushed tag will name an image manifest or an index (which Lambda rejects): inspect the registry reference after pushing (docker buildx build --provenance=false --sbom=false)\n", r.Image.Source)
	}
}

// header names the tool and the image as the user wrote it.
func (t *textWriter) header(b *strings.Builder, r *Report) {
	tool := strings.TrimSpace(t.bold.Sprint(r.Tool.Name) + " " + r.Tool.Version)
	ref := r.Image.Ref
	if src := r.Image.Source; src != "" && !strings.HasPrefix(ref, src+":") {
		ref += " " + t.faint.Sprintf("(%s)", src)
	}
	b.WriteString(join(" · ", tool, ref) + "\n")
}

// function is the function the image was inspected as, with what its
// configuration applies, and what Lambda reports it could not apply.
func (t *textWriter) function(b *strings.Builder, fn *Function) {
	if fn == nil {
		return
	}
	var mem, timeout, tmp, env string
	if fn.MemoryMB > 0 {
		mem = fmt.Sprintf("%d MB memory", fn.MemoryMB)
	}
	if fn.TimeoutSeconds > 0 {
		timeout = fmt.Sprintf("%d s timeout", fn.TimeoutSeconds)
	}
	if fn.EphemeralStorageMB > 0 {
		tmp = fmt.Sprintf("%d MB /tmp", fn.EphemeralStorageMB)
	}
	if n := len(fn.Environment); n > 0 {
		env = plural(n, "environment variable", "environment variables")
	}
	fmt.Fprintf(b, "%s %s\n", t.faint.Sprint("lambda"), join(" · ", fn.ID, fn.Architecture, mem, timeout, tmp, env))
	pad := strings.Repeat(" ", len("lambda "))
	ic := fn.ImageConfig
	var ep, cmd, wd string
	if ic.EntryPoint != nil {
		ep = "EntryPoint " + analyze.JSONList(ic.EntryPoint)
	}
	if ic.Command != nil {
		cmd = "Command " + analyze.JSONList(ic.Command)
	}
	if ic.WorkingDirectory != "" {
		wd = "WorkingDirectory " + ic.WorkingDirectory
	}
	if set := join(" · ", ep, cmd, wd); set != "" {
		fmt.Fprintf(b, "%sImageConfig %s\n", pad, set)
	}
	for _, p := range fn.Problems {
		fmt.Fprintf(b, "%s%s %s\n", pad, t.warn.Sprint("!"), p)
	}
}

// image is the one-line identity of the loaded image, plus its index.
func (t *textWriter) image(b *strings.Builder, img Image) {
	id := join(" ", shortDigest(img.Digest), img.Platform)
	fmt.Fprintf(b, "%s  %s\n", t.faint.Sprint("image"),
		join(" · ", id, plural(len(img.Layers), "layer", "layers"), layersSize(img.Layers)))
	if rc := img.RuntimeClient; rc != nil {
		fmt.Fprintf(b, "%s %s\n", t.faint.Sprint("client"), join(" · ", rc.Name, rc.Path))
	}
	if img.Index == nil {
		return
	}
	var children []string
	attestations := 0
	for i, m := range img.Index.Manifests {
		if m.Attestation {
			attestations++
			continue
		}
		p := m.Platform
		if p == "" {
			p = "unknown platform"
		}
		if i == img.Index.Selected {
			p += " (selected)"
		}
		children = append(children, p)
	}
	var att string
	if attestations > 0 {
		att = plural(attestations, "attestation", "attestations")
	}
	fmt.Fprintf(b, "%s  %s\n", t.faint.Sprint("index"),
		join(" · ", shortDigest(img.Index.Digest), strings.Join(children, ", "), att))
}

func (t *textWriter) finding(b *strings.Builder, f Finding) {
	c, ok := t.sev[f.Severity]
	if !ok {
		c = t.faint
	}
	fmt.Fprintf(b, "%s %s %s\n", c.Sprint(marker(f.Severity)+" "+strings.ToUpper(f.Severity.String())), t.bold.Sprint(f.ID), f.Name)
	msg := f.Message
	if msg == "" {
		msg = f.Title
	}
	if msg != "" {
		fmt.Fprintf(b, "  %s\n", indent(t.fill(shortenDigests(msg), 2), "  "))
	}
	t.width = labelWidth
	if l := f.Location; l != nil {
		// The one longer label widens this finding's column only.
		t.width = len("dockerfile")
		t.line(b, "dockerfile", fmt.Sprintf("%s:%d %s", l.File, l.Line, l.Instruction))
	}
	t.field(b, "path", f.Path)
	if l := f.Layer; l != nil {
		t.field(b, "layer", join(" ", fmt.Sprintf("#%d", l.Index), shortDigest(l.Digest), t.createdBy(l.CreatedBy)))
	}
	for i, e := range f.Evidence {
		label := ""
		if i == 0 {
			label = "evidence"
		}
		t.line(b, label, shortenDigests(e))
	}
	t.field(b, "fix", f.Fix)
	t.field(b, "docs", f.Docs)
}

// compactFinding is a finding on one line: severity, ID, name, path and
// the first sentence of the message (--compact).
func (t *textWriter) compactFinding(b *strings.Builder, f Finding) {
	c, ok := t.sev[f.Severity]
	if !ok {
		c = t.faint
	}
	msg := firstLine(cmp.Or(f.Message, f.Title))
	if i := strings.Index(msg, ". "); i > 0 {
		msg = msg[:i+1]
	}
	fmt.Fprintf(b, "%s %s %s\n", c.Sprint(marker(f.Severity)+" "+f.ID), join(" ", f.Name, f.Path)+":", shortenDigests(msg))
}

// suppressed is the one dimmed line of a finding an ignore entry matched.
func (t *textWriter) suppressed(b *strings.Builder, f Finding) {
	line := join(" ", "- suppressed", f.ID, f.Name, f.Path)
	if f.SuppressionReason != "" {
		line += ": " + firstLine(f.SuppressionReason)
	}
	b.WriteString(t.faint.Sprint(line) + "\n")
}

// field writes a labelled value, if there is one.
func (t *textWriter) field(b *strings.Builder, label, value string) {
	if value != "" {
		t.line(b, label, value)
	}
}

// labelWidth fits the longest label, "evidence"; a finding with a
// Dockerfile location widens it to fit "dockerfile".
const labelWidth = 8

// line writes one labelled line; an empty label continues the one above.
// Lines inside value are aligned under its start.
func (t *textWriter) line(b *strings.Builder, label, value string) {
	width := max(t.width, labelWidth)
	pad := strings.Repeat(" ", max(width-len(label), 0))
	if label != "" {
		label = t.faint.Sprint(label)
	}
	fmt.Fprintf(b, "  %s%s  %s\n", label, pad, indent(t.fill(value, 2+width+2), strings.Repeat(" ", 2+width+2)))
}

// fill wraps each line of s to the terminal's width when it starts at
// column at (the caller indents the continuation lines to it): between
// words only, so a word longer than the room (a URL, a path) stands alone
// on its line, whole. Without a width, s is returned as it is.
func (t *textWriter) fill(s string, at int) string {
	room := t.wrap - at
	if t.wrap <= 0 || room < 20 {
		return s
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		var cur strings.Builder
		n := 0
		for _, w := range strings.Fields(line) {
			l := utf8.RuneCountInString(w)
			if n > 0 && n+1+l > room {
				out = append(out, cur.String())
				cur.Reset()
				n = 0
			}
			if n > 0 {
				cur.WriteByte(' ')
				n++
			}
			cur.WriteString(w)
			n += l
		}
		out = append(out, cur.String())
	}
	return strings.Join(out, "\n")
}

// checkErrors lists the checks that could not run; they are shown whatever
// the verbosity, since the diagnosis is incomplete without them. It reports
// whether it wrote anything.
func (t *textWriter) checkErrors(b *strings.Builder, results []CheckResult) bool {
	wrote := false
	for _, c := range results {
		if c.Status != string(checks.StatusError) {
			continue
		}
		msg, rest, _ := strings.Cut(c.Error, "\n")
		// "! check " is 8 columns; the text after it wraps under itself.
		text := t.fill(fmt.Sprintf("%s %s could not run: %s", c.ID, c.Name, msg), 8)
		id, rest2, _ := strings.Cut(text, " ")
		fmt.Fprintf(b, "%s check %s %s\n", t.warn.Sprint("!"), t.bold.Sprint(id), indent(rest2, "        "))
		if t.verbose && strings.TrimSpace(rest) != "" {
			fmt.Fprintf(b, "    %s\n", indent(strings.TrimRight(rest, "\n"), "    "))
		}
		wrote = true
	}
	return wrote
}

// checkList lists every check and how it ended (verbose only).
func (t *textWriter) checkList(b *strings.Builder, results []CheckResult) {
	b.WriteString(t.faint.Sprint("checks") + "\n")
	width := 0
	for _, c := range results {
		width = max(width, utf8.RuneCountInString(c.ID+" "+c.Name))
	}
	for _, c := range results {
		var mark, outcome string
		switch checks.Status(c.Status) {
		case checks.StatusPassed:
			mark, outcome = t.pass.Sprint("✓"), "passed"
		case checks.StatusFailed:
			mark, outcome = t.sev[checks.Error].Sprint("✗"), plural(c.Findings, "finding", "findings")
		case checks.StatusError:
			mark, outcome = t.warn.Sprint("!"), "could not run"
		case checks.StatusSkipped:
			mark, outcome = t.skip.Sprint("-"), "skipped"
			if c.Error != "" {
				outcome += ": " + firstLine(c.Error)
			}
		default:
			mark, outcome = "?", c.Status
		}
		name := c.ID + " " + c.Name
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(name))
		fmt.Fprintf(b, "  %s %s %s%s  %s\n", mark, t.bold.Sprint(c.ID), c.Name, pad, outcome)
	}
}

// summary is the last line: findings by severity, then checks by status.
func (t *textWriter) summary(b *strings.Builder, s Summary, status map[checks.Status]int) {
	count := func(n int, c *color.Color, one, many string) string {
		text := plural(n, one, many)
		if n == 0 {
			return text
		}
		return c.Sprint(text)
	}
	findings := strings.Join([]string{
		count(s.Error, t.sev[checks.Error], "error", "errors"),
		count(s.Warning, t.sev[checks.Warning], "warning", "warnings"),
		count(s.Info, t.sev[checks.Info], "info", "info"),
	}, ", ")
	if s.Suppressed > 0 {
		findings += fmt.Sprintf(", %d suppressed", s.Suppressed)
	}
	run := status[checks.StatusPassed] + status[checks.StatusFailed] + status[checks.StatusError]
	ran := []string{
		plural(run, "check", "checks") + " run",
		fmt.Sprintf("%d passed", status[checks.StatusPassed]),
	}
	if n := status[checks.StatusError]; n > 0 {
		ran = append(ran, fmt.Sprintf("%d could not run", n))
	}
	if n := status[checks.StatusSkipped]; n > 0 {
		ran = append(ran, fmt.Sprintf("%d skipped", n))
	}
	b.WriteString(findings + " · " + strings.Join(ran, ", ") + "\n")
}

// createdBy makes a history created_by read like the Dockerfile line that
// made it, on one line; shortened (between words) unless verbose.
func (t *textWriter) createdBy(s string) string {
	s = history.Parse(s).String()
	const maxLen = 72
	if t.verbose || utf8.RuneCountInString(s) <= maxLen {
		return s
	}
	cut := string([]rune(s)[:maxLen-1])
	// Cut between words when one ends late enough, so paths stay whole.
	if i := strings.LastIndexByte(cut, ' '); i > len(cut)/2 {
		return cut[:i] + " …"
	}
	return cut + "…"
}

// marker is the sign shown before a finding of severity s.
func marker(s checks.Severity) string {
	switch s {
	case checks.Error:
		return "✗"
	case checks.Warning:
		return "!"
	case checks.Info:
		return "i"
	}
	return "?"
}

// shortDigest shortens "sha256:<64 hex>" to its first 12 hex digits.
func shortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12] + "…"
}

var digestRE = regexp.MustCompile(`\bsha(256|384|512):[0-9a-f]{32,}\b`)

// shortenDigests shortens every full digest inside free text.
func shortenDigests(s string) string {
	return digestRE.ReplaceAllStringFunc(s, shortDigest)
}

// layersSize is the total size of the layers, stored and unpacked, as far
// as it is known.
func layersSize(layers []Layer) string {
	if len(layers) == 0 {
		return ""
	}
	var stored, unpacked int64
	for _, l := range layers {
		if stored >= 0 {
			stored = addKnown(stored, l.Size)
		}
		if unpacked >= 0 {
			unpacked = addKnown(unpacked, l.UncompressedSize)
		}
	}
	switch {
	case stored >= 0 && unpacked >= 0:
		return fmt.Sprintf("%s (%s unpacked)", bytesize.Decimal(stored), bytesize.Decimal(unpacked))
	case stored >= 0:
		return bytesize.Decimal(stored)
	case unpacked >= 0:
		return bytesize.Decimal(unpacked) + " unpacked"
	}
	return ""
}

// addKnown adds n to sum, or returns -1 when n is unknown (negative).
func addKnown(sum, n int64) int64 {
	if n < 0 {
		return -1
	}
	return sum + n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// join joins the non-empty parts with sep.
func join(sep string, parts ...string) string {
	kept := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// indent puts prefix before every line of s but the first.
func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
