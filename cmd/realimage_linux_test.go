//go:build linux

package cmd

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/internal/realimage"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// TestRealImageDebianGoAnswersUnderRun boots the debian-go real-shaped
// image (a Debian bookworm base of thousands of files and an aws-lambda-go
// function) with `lambdoctor run` and expects its answer within
// realRunLimit, unpacking included.
func TestRealImageDebianGoAnswersUnderRun(t *testing.T) {
	path := realimage.Path(t, "debian-go")
	requireSandbox(t)
	isolate(t)
	ctx, cancel := context.WithTimeout(context.Background(), realRunLimit)
	defer cancel()
	s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	start := time.Now()
	code := Run(ctx, []string{"run", "--format", "json", "--event", writeEvent(t, `{"name":"ci"}`), path}, s)
	if ctx.Err() != nil {
		t.Fatalf("lambdoctor run did not answer within %s (exit %d): %s", realRunLimit, code, errb.String())
	}
	var doc emulate.Doc
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Run == nil {
		t.Fatalf("exit %d, stdout is not a run report (%v):\n%s\nstderr: %s", code, err, out.String(), errb.String())
	}
	if code != ExitOK || doc.Run.Result != emulate.ResultSuccess {
		t.Fatalf("exit %d, result %q, want 0 and success; run: %+v\nfindings: %+v\nstderr: %s", code, doc.Run.Result, doc.Run, doc.Findings, errb.String())
	}
	var resp struct {
		Greeting string `json:"greeting"`
		OS       string `json:"os"`
	}
	if err := json.Unmarshal(doc.Run.Response, &resp); err != nil {
		t.Fatalf("response %s: %v", doc.Run.Response, err)
	}
	if resp.Greeting != "hello ci" || resp.OS != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("response %s, want hello ci from Debian 12", doc.Run.Response)
	}
	// Lambda's root is read-only: a tree this size goes into memory
	// where a tmpfs can take it (run --rootfs auto).
	up := doc.Run.Unpack
	if up == nil || up.Entries < 1000 || up.Bytes < 50<<20 {
		t.Fatalf("the report says %+v of the unpack, want its size and entries", up)
	}
	if _, err := sandbox.MemoryBase(up.Bytes, up.Entries); err == nil && up.Into != emulate.RootFSMemory {
		t.Errorf("unpacked %s in %s although a tmpfs could take it", up.Into, up.Dir)
	}
	t.Logf("lambdoctor run answered in %s; unpacked %d MB (%d entries) into %s in %d ms",
		time.Since(start).Round(time.Millisecond), up.Bytes>>20, up.Entries, up.Into, up.Ms)
}

// realRunLimit bounds the whole run of a 96 MB / 5,700-entry image: the
// unpack should cost about one pass over its 37 MB of gzip layers.
const realRunLimit = 2 * time.Minute

// TestRealImageBrokenTwinsFailUnderRun makes the broken twins of debian-go
// (the same function with one defect each, as `make demo` shows them) and
// expects each defect to be found twice: by inspect as its one error
// finding, and by run, which cannot start the function and names the same
// cause, located by that finding. The README's sample of each twin (its
// inspect --compact report and run's diagnosis) is checked against what
// the commands print (-update rewrites it).
func TestRealImageBrokenTwinsFailUnderRun(t *testing.T) {
	for _, tw := range realimage.Twins {
		t.Run(tw.Name, func(t *testing.T) {
			path := realimage.TwinPath(t, tw.Name)
			shown := "build/realimages/" + tw.Name + "/image.tar"

			s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
			code := Run(context.Background(), []string{"inspect", "--format", "json", path}, s)
			var static realInspect
			if err := json.Unmarshal(out.Bytes(), &static); err != nil {
				t.Fatalf("inspect: exit %d, stdout is not the JSON report: %v\n%s\nstderr: %s", code, err, out.String(), errb.String())
			}
			var errs []string
			for _, f := range static.Findings {
				if f.Severity == "error" {
					errs = append(errs, f.ID)
				}
			}
			if code != ExitFindings || !slices.Equal(errs, []string{tw.Finding}) {
				t.Errorf("inspect: exit %d, error findings %v, want 1 and only %s:\n%v", code, errs, tw.Finding, errorsIn(static))
			}
			s, out, errb = streams(map[string]string{"NO_COLOR": "1"})
			if code := Run(context.Background(), []string{"inspect", "--compact", path}, s); code != ExitFindings {
				t.Errorf("inspect --compact: exit %d, want %d: %s", code, ExitFindings, errb.String())
			}
			compact := strings.ReplaceAll(out.String(), path, shown)

			if tw.Finding == "LD301" && foreignArchEmulated() {
				t.Skip("binfmt_misc runs aarch64 programs on this machine (qemu-user), so the arm64 twin starts under run")
			}
			requireSandbox(t)
			isolate(t)
			raw, code, stderr := runTwin(t, "json", path)
			var doc emulate.Doc
			if err := json.Unmarshal(raw, &doc); err != nil || doc.Run == nil {
				t.Fatalf("run: exit %d, stdout is not a run report (%v):\n%s\nstderr: %s", code, err, raw, stderr)
			}
			d := doc.Run
			if code != ExitFindings || d.Result != emulate.ResultStartFailed {
				t.Fatalf("run: exit %d, result %q, want 1 and %s; stderr: %s", code, d.Result, emulate.ResultStartFailed, stderr)
			}
			if d.Error == nil || d.Error.Type != "Runtime.InvalidEntrypoint" {
				t.Errorf("run: error %+v, want Runtime.InvalidEntrypoint, as Lambda reports it", d.Error)
			}
			if len(d.Diagnosis) == 0 {
				t.Fatalf("run: no diagnosis, want %s", tw.Diagnosis)
			}
			if first := d.Diagnosis[0]; first.Key != tw.Diagnosis || !slices.Contains(first.FoundBy, tw.Finding) {
				t.Errorf("run: first diagnosis %s located by %v, want %s located by %s", first.Key, first.FoundBy, tw.Diagnosis, tw.Finding)
			}

			text, code, stderr := runTwin(t, "text", path)
			if code != ExitFindings {
				t.Fatalf("run --format text: exit %d, want 1; stderr: %s", code, stderr)
			}
			diag := diagnosisBlock(string(text))
			if diag == "" {
				t.Fatalf("run --format text: no Diagnosis section:\n%s", text)
			}
			checkREADMEBlock(t, "$ lambdoctor inspect --compact "+shown+"\n",
				compact+"$ sudo lambdoctor run "+shown+"\n"+runTrimmed+diag, maskSizes)
		})
	}
}

// maskSizes hides the sizes of a report (37.2 MB): those of a real-shaped
// image depend on the Debian packages and the Go toolchain of the day it
// was built.
func maskSizes(s string) string { return sizeRE.ReplaceAllString(s, "N $1") }

var sizeRE = regexp.MustCompile(`\b[0-9]+(?:\.[0-9]+)? (B|kB|MB|GB)\b`)

// runTrimmed stands, in the README, for the part of run's report before
// its diagnosis.
const runTrimmed = "(the command, the timeline and the result, trimmed)\n"

// runTwin runs `lambdoctor run --format FORMAT path` with the default
// event.
func runTwin(t *testing.T, format, path string) (stdout []byte, code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), realRunLimit)
	defer cancel()
	s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	code = Run(ctx, []string{"run", "--format", format, path}, s)
	if ctx.Err() != nil {
		t.Fatalf("lambdoctor run did not end within %s (exit %d): %s", realRunLimit, code, errb.String())
	}
	return out.Bytes(), code, errb.String()
}

// diagnosisBlock is the Diagnosis section of run's text report, from its
// title to the blank line that ends it.
func diagnosisBlock(report string) string {
	start := strings.Index(report, "\nDiagnosis\n")
	if start < 0 {
		return ""
	}
	block := report[start+1:]
	if end := strings.Index(block, "\n\n"); end >= 0 {
		block = block[:end+1]
	}
	return block
}

// foreignArchEmulated says whether binfmt_misc hands aarch64 programs to an
// emulator here (qemu-user-static registers qemu-aarch64), so that an
// arm64 binary runs instead of failing with exec format error.
func foreignArchEmulated() bool {
	raw, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64")
	return err == nil && strings.HasPrefix(string(raw), "enabled")
}
