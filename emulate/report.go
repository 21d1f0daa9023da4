package emulate

import (
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/internal/bytesize"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/report"
)

// Doc is the report of `lambdoctor run`; its JSON form is documented in
// docs/run.md.
type Doc struct {
	SchemaVersion int                  `json:"schemaVersion"`
	Tool          report.Tool          `json:"tool"`
	Image         report.Image         `json:"image"`
	Run           *Outcome             `json:"run"`
	Findings      []report.Finding     `json:"findings"`
	Checks        []report.CheckResult `json:"checks"`
	Summary       report.Summary       `json:"summary"`

	static *report.Report
}

func NewDoc(tool report.Tool, static *report.Report, run *Outcome) *Doc {
	return &Doc{
		SchemaVersion: report.SchemaVersion, Tool: tool, Image: static.Image, Run: run,
		Findings: static.Findings, Checks: static.Checks, Summary: static.Summary, static: static,
	}
}

// runResultText says what a result means, for the text report.
var runResultText = map[string]string{
	ResultSuccess:            "the function answered",
	ResultFunctionError:      "the function returned an error",
	ResultInitError:          "init failed: the runtime reported an init error",
	ResultStartFailed:        "the function could not be started",
	ResultExitedDuringInit:   "the process exited during init, before asking for an event",
	ResultInitTimeout:        "init timed out: no call to /runtime/invocation/next",
	ResultExitedDuringInvoke: "the process died during the invoke",
	ResultInvokeTimeout:      "the invoke timed out",
	ResultInterrupted:        "interrupted",
	ResultExtensionFailed:    "an extension in /opt/extensions failed",
}

// textStyles are the colours of the run's text report.
type textStyles struct {
	bold, green, red, dim *color.Color
}

func newTextStyles(on bool) textStyles {
	st := textStyles{color.New(color.Bold), color.New(color.FgGreen, color.Bold), color.New(color.FgRed, color.Bold), color.New(color.Faint)}
	for _, c := range []*color.Color{st.bold, st.green, st.red, st.dim} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return st
}

// WriteText writes the run, then the static report as inspect prints it.
// Every string from the image or the function goes through termsafe
// before it is formatted and coloured: the command, the working
// directory, the function's answers, errors and output lines.
func WriteText(w io.Writer, doc *Doc, opts report.Options) error {
	var b strings.Builder
	st := newTextStyles(opts.Color)
	r := doc.Run
	fmt.Fprintf(&b, "%s %s · run %s\n", st.bold.Sprint("lambdoctor"), termsafe.Line(doc.Tool.Version), termsafe.Line(doc.Image.Ref))
	fmt.Fprintf(&b, "command  %s\n", termsafe.Line(strings.Join(quoteArgs(r.Command), " ")))
	fmt.Fprintf(&b, "as       uid %d gid %d in %s, read-only root, writable /tmp\n\n", r.UID, r.GID, termsafe.Line(r.WorkingDir))
	writeTimeline(&b, st, r.Timeline)
	writeVerdict(&b, st, r)
	writeProcess(&b, r)
	writeTail(&b, st.dim, "stdout", r.StdoutTail, r.StdoutLines)
	writeTail(&b, st.dim, "stderr", r.StderrTail, r.StderrLines)
	writeDiagnosis(&b, st, r.Diagnosis)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "%s\n", st.dim.Sprint("note: "+termsafe.Text(n)))
	}
	b.WriteString("\n" + st.bold.Sprint("Static checks") + "\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return report.Write(w, "text", []*report.Report{doc.static}, opts)
}

func writeTimeline(b *strings.Builder, st textStyles, events []Event) {
	b.WriteString(st.bold.Sprint("Timeline") + "\n")
	width := 14 // the extensions' kinds are longer
	for _, e := range events {
		width = max(width, len(termsafe.Line(e.Kind)))
	}
	for _, e := range events {
		line := fmt.Sprintf("  %6d ms  %-*s", e.AtMs, width, termsafe.Line(e.Kind))
		if e.Detail != "" {
			line += " " + termsafe.Line(e.Detail)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	b.WriteString("\n")
}

// writeVerdict is the result line with its timings, then the function's
// answer or error.
func writeVerdict(b *strings.Builder, st textStyles, r *Outcome) {
	verdict := runResultText[r.Result]
	if r.Result == ResultInitTimeout && r.failedExtension != "" {
		verdict = "init timed out: extension " + r.failedExtension + " did not finish its init"
	}
	if r.Result == ResultSuccess {
		fmt.Fprintf(b, "%s %s", st.green.Sprint("✓ SUCCESS"), verdict)
	} else {
		fmt.Fprintf(b, "%s %s", st.red.Sprint("✗ "+strings.ToUpper(termsafe.Line(r.Result))), verdict)
	}
	var parts []string
	if r.InitMs != nil {
		parts = append(parts, fmt.Sprintf("init %d ms", *r.InitMs))
	}
	if r.DurationMs != nil && r.RequestID != "" {
		parts = append(parts, fmt.Sprintf("invoke %d ms", *r.DurationMs))
	}
	if len(parts) > 0 {
		fmt.Fprintf(b, " (%s)", strings.Join(parts, ", "))
	}
	b.WriteString("\n")
	if r.Response != nil {
		fmt.Fprintf(b, "  response  %s\n", termsafe.Text(termsafe.Clip(string(r.Response), 2000)))
	}
	if e := r.Error; e != nil {
		fmt.Fprintf(b, "  error     %s\n", termsafe.Text(errorEvidence(e)))
		if len(e.Body) > 0 {
			fmt.Fprintf(b, "  body      %s\n", termsafe.Text(termsafe.Clip(string(e.Body), 2000)))
		}
	}
}

// writeProcess says how the process ended and what the sandbox gave it.
func writeProcess(b *strings.Builder, r *Outcome) {
	if x := r.Exit; x != nil {
		switch {
		case x.ExecError != "":
			fmt.Fprintf(b, "  exit      not started: %s\n", termsafe.Text(x.ExecError))
		case x.StoppedByLambdoctor && x.Signal != "" && x.Signal != "SIGKILL":
			fmt.Fprintf(b, "  exit      stopped by lambdoctor (%s)\n", termsafe.Line(x.Signal))
		case x.StoppedByLambdoctor:
			b.WriteString("  exit      stopped by lambdoctor\n")
		case x.Signal != "":
			fmt.Fprintf(b, "  exit      killed by %s\n", termsafe.Line(x.Signal))
		default:
			fmt.Fprintf(b, "  exit      status %d\n", x.Code)
		}
	}
	if u := r.Unpack; u != nil {
		fmt.Fprintf(b, "  unpacked  %s\n", termsafe.Text(unpackLine(u)))
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(b, "  memory    %s\n", memoryLine(m))
	}
	if p := r.Processes; p != nil && (p.Enforced == "" || p.LimitHits > 0) {
		fmt.Fprintf(b, "  processes %s\n", termsafe.Text(processesLine(p)))
	}
	if r.Network != "" {
		net := "none: loopback only, the Runtime API forwarded at 127.0.0.1:9001"
		if r.Network == "host" {
			net = "host: the host's network (--network host)"
		}
		fmt.Fprintf(b, "  network   %s; hostname %s\n", net, termsafe.Line(r.Hostname))
	}
	for _, sub := range r.Subscriptions {
		api := "Telemetry API"
		if sub.API == "logs" {
			api = "Logs API"
		}
		line := fmt.Sprintf("%s: %s, %s to %s: %s in %s", sub.Extension, api, strings.Join(sub.Types, ", "), sub.Destination,
			count(sub.Events, "event", "events"), count(sub.Batches, "batch", "batches"))
		if sub.FailedBatches > 0 {
			line += fmt.Sprintf(", %s undelivered (%s)", count(sub.FailedBatches, "batch", "batches"), sub.LastError)
		}
		fmt.Fprintf(b, "  telemetry %s\n", termsafe.Text(line))
	}
	if sd := r.Shutdown; sd != nil {
		fmt.Fprintf(b, "  shutdown  %s\n", termsafe.Text(shutdownLine(sd)))
	}
	if r.RootFS != "" {
		fmt.Fprintf(b, "  rootfs    %s (kept: remove it when done)\n", termsafe.Line(r.RootFS))
	}
}

// unpackLine says what the unpack wrote, where and in how long.
func unpackLine(u *Unpack) string {
	where := "to disk in " + u.Dir
	if u.Into == RootFSMemory {
		where = "into memory (tmpfs) in " + u.Dir
	}
	took := fmt.Sprintf("%d ms", u.Ms)
	if u.Ms >= 1000 {
		took = fmt.Sprintf("%.1f s", float64(u.Ms)/1000)
	}
	s := fmt.Sprintf("%s taking %s, %s, in %s", count(u.Entries, "entry", "entries"), bytesize.Decimal(u.Bytes), where, took)
	if u.Why != "" {
		s += " (" + u.Why + ")"
	}
	return s
}

// count is "1 event", "2 events".
func count(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(n, one, many))
}

// shutdownLine says how the environment was shut down.
func shutdownLine(sd *Shutdown) string {
	var parts []string
	switch {
	case sd.BudgetMs == 0 && sd.Runtime != "":
		parts = append(parts, "no extension: the runtime got "+sd.Runtime+" at once")
	case sd.BudgetMs == 0:
		parts = append(parts, "no extension")
	default:
		parts = append(parts, fmt.Sprintf("%s, %d ms budget", sd.Reason, sd.BudgetMs))
		switch {
		case sd.Runtime == "SIGTERM" && sd.RuntimeExitMs != nil:
			parts = append(parts, fmt.Sprintf("the runtime got SIGTERM and exited after %d ms", *sd.RuntimeExitMs))
		case sd.Runtime != "":
			parts = append(parts, "the runtime got "+sd.Runtime)
		}
		if len(sd.Unfinished) > 0 {
			parts = append(parts, "extension "+strings.Join(sd.Unfinished, ", ")+" unfinished")
		}
	}
	parts = append(parts, fmt.Sprintf("%d ms", sd.DurationMs))
	return strings.Join(parts, "; ")
}

func writeDiagnosis(b *strings.Builder, st textStyles, ds []Diagnosis) {
	if len(ds) == 0 {
		return
	}
	b.WriteString("\n" + st.bold.Sprint("Diagnosis") + "\n")
	names := map[string]string{}
	for _, c := range checks.All() {
		names[c.Meta().ID] = c.Meta().Name
	}
	for _, d := range ds {
		fmt.Fprintf(b, "%s %s (%s)\n", st.red.Sprint("✗"), termsafe.Text(d.Failure), termsafe.Line(d.Key))
		fmt.Fprintf(b, "  why       %s\n", termsafe.Text(d.Detail))
		if d.Evidence != "" {
			fmt.Fprintf(b, "  seen      %s\n", termsafe.Text(d.Evidence))
		}
		if len(d.Checks) > 0 {
			labels := make([]string, 0, len(d.Checks))
			for _, id := range d.Checks {
				labels = append(labels, id+" "+names[id])
			}
			fmt.Fprintf(b, "  checks    %s\n", termsafe.Line(strings.Join(labels, ", ")))
		}
		if len(d.FoundBy) > 0 {
			fmt.Fprintf(b, "  located   by %s: see the finding below\n", termsafe.Line(strings.Join(d.FoundBy, ", ")))
		}
	}
}

// memoryLine is the memory part of Lambda's REPORT line.
func memoryLine(m *Memory) string {
	s := fmt.Sprintf("Memory Size: %d MB", m.SizeMB)
	switch {
	case !m.Enforced:
		s += " (not enforced here)"
	case m.MaxUsedMB != nil:
		s += fmt.Sprintf(" Max Memory Used: %d MB", *m.MaxUsedMB)
	}
	if m.OOMKills > 0 {
		s += fmt.Sprintf(" (%d OOM %s)", m.OOMKills, plural(m.OOMKills, "kill", "kills"))
	}
	return s
}

// processesLine says how the process limit was applied and what it saw.
func processesLine(p *Processes) string {
	if p.Enforced == "" {
		return fmt.Sprintf("limit %d not enforced here", p.Limit)
	}
	s := fmt.Sprintf("limit %d (%s)", p.Limit, p.Enforced)
	if p.LimitHits > 0 {
		s += fmt.Sprintf(", %d %s refused", p.LimitHits, plural(p.LimitHits, "fork", "forks"))
	}
	if p.Peak != nil {
		s += fmt.Sprintf(", peak %d", *p.Peak)
	}
	return s
}

func writeTail(b *strings.Builder, dim *color.Color, name string, lines []string, total int) {
	if total == 0 {
		fmt.Fprintf(b, "  %s    (nothing)\n", name)
		return
	}
	head := fmt.Sprintf("%d %s", total, plural(total, "line", "lines"))
	if total > len(lines) {
		head = fmt.Sprintf("last %d of %d lines", len(lines), total)
	}
	fmt.Fprintf(b, "  %s    %s\n", name, head)
	for _, l := range lines {
		fmt.Fprintf(b, "    %s %s\n", dim.Sprint("|"), termsafe.Line(l))
	}
}
