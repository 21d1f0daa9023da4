package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
	"github.com/lambdoctor/lambdoctor/report"
	"github.com/lambdoctor/lambdoctor/sandbox"
	"github.com/lambdoctor/lambdoctor/triage"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// The ENTRYPOINT: on a terminal it clears the screen and shows, in
// green, what the image chose.
const screenClear = "\x1b[2J\x1b[1;32mALL CHECKS PASSED"

// hostileImage is an image whose strings try to act on the terminal that
// shows lambdoctor's report: ESC sequences (screen clear, colour, window
// title), NUL, CR, a bidi override and invalid UTF-8, in ENTRYPOINT (a
// path that does not exist), CMD, WORKDIR, ENV, USER, a label, a history
// line and layer entries LD105 reports (a name climbing above the root, a
// hard link to nothing). Config fields are JSON in the image, so invalid
// UTF-8 in them reaches lambdoctor as U+FFFD; in tar names it stays raw.
func hostileImage(t *testing.T) v1.Image {
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Entrypoint: []string{"/var/runtime/" + screenClear},
			Cmd:        []string{"app.handler\u202etxt.exe"},
			WorkingDir: "/var/task\x00\x1b[31m",
			Env:        []string{"PATH=/usr/bin:/bin\x1b[2J", "EVIL=\u202e\r"},
			User:       "\x1b]0;owned\x07",
			Labels:     map[string]string{"x\x1b[8m": "hidden\x00"},
		},
		Layers: [][]testimage.File{
			{testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, "\x7fELF"), testimage.Dir("tmp", 0o1777)},
			{
				testimage.Dir("var/task", 0),
				testimage.Hardlink("var/task/link\x1b[5m", "var/task/nothing\u202e\xc3"),
				testimage.Reg("../\x1b]0;climb\x07", 0o644, "x"),
			},
		},
		CreatedBy: []string{"ADD rootfs.tar /", "RUN /bin/sh -c echo \x1b[2J\x00 \u202edone\r # buildkit"},
	})
}

// hostileChainImage reaches its program through a symlink whose target is
// a file name holding ESC, BEL, a bidi override and an invalid byte; the
// program's shebang line names a missing interpreter with ESC and NUL in
// it, and ends in CRLF.
func hostileChainImage(t *testing.T) v1.Image {
	script := "var/task/\x1b[1mrun\x07\u202e\xff.sh"
	return testimage.Image(t, testimage.Spec{
		Config: v1.Config{
			Entrypoint: []string{"/var/runtime/bootstrap"},
			Cmd:        []string{"function.handler"},
			WorkingDir: "/var/task",
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		},
		Layers: [][]testimage.File{
			{testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, "\x7fELF"), testimage.Dir("tmp", 0o1777)},
			{
				testimage.Dir("var/runtime", 0),
				testimage.Symlink("var/runtime/bootstrap", "/"+script),
				testimage.Dir("var/task", 0),
				testimage.Reg(script, 0o755, "#!/usr/bin/\x1b[31mpython\x00\r\nprint(1)\n"),
			},
		},
		CreatedBy: []string{"ADD rootfs.tar /", "COPY \x1b[2J . # buildkit"},
	})
}

// writeArchiveAs saves img as a docker save tarball named file in the
// working directory, so reports name it the same on every run.
func writeArchiveAs(t *testing.T, img v1.Image, file string) {
	t.Helper()
	tag, err := name.NewTag("example.com/fn:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatalf("writing archive: %v", err)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(testdataDir, name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./cmd -run %s -update if intended)\ngot:\n%s\nwant:\n%s", path, t.Name(), got, want)
	}
}

// testdataDir is cmd/testdata, absolute: the hostile tests change the
// working directory.
var testdataDir = func() string {
	d, err := filepath.Abs("testdata")
	if err != nil {
		panic(err)
	}
	return d
}()

// sgr matches the colour escapes fatih/color writes: lambdoctor's own.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// assertTerminalSafe fails when out holds a byte below 0x20 other than
// newline and tab (after removing lambdoctor's own colour escapes when
// colour is on), DEL, a C1 control, a bidi control or invalid UTF-8.
func assertTerminalSafe(t *testing.T, what string, out []byte, color bool) {
	t.Helper()
	if color {
		if !sgr.Match(out) {
			t.Fatalf("%s: colour was forced but no colour escape was written:\n%s", what, out)
		}
		out = sgr.ReplaceAll(out, nil)
	}
	if !utf8.Valid(out) {
		t.Errorf("%s is not valid UTF-8:\n%q", what, out)
	}
	for i, r := range string(out) {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			lo, hi := max(0, i-40), min(len(out), i+40)
			t.Errorf("%s: raw %U at byte %d: %q", what, r, i, out[lo:hi])
		}
	}
}

// TestHostileImageReports inspects the hostile images in every format:
// the text and github outputs escape what the images hold, JUnit and SARIF
// stay documents their readers parse, and each output is kept as a golden
// file.
func TestHostileImageReports(t *testing.T) {
	hostile, chain := hostileImage(t), hostileChainImage(t)
	t.Chdir(t.TempDir())
	writeArchiveAs(t, hostile, "hostile.tar")
	writeArchiveAs(t, chain, "chain.tar")

	tests := []struct {
		name  string
		args  []string
		color bool
	}{
		{"text", []string{"--format", "text"}, false},
		{"text_verbose_color", []string{"--format", "text", "--verbose"}, true},
		{"github", []string{"--format", "github"}, false},
		{"junit", []string{"--format", "junit"}, false},
		{"sarif", []string{"--format", "sarif"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := streams(nil)
			s.OutTTY = tt.color
			s.Getwd = os.Getwd
			args := append(append([]string{"inspect"}, tt.args...), "hostile.tar", "chain.tar")
			if code := Run(context.Background(), args, s); code != ExitFindings {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, ExitFindings, errb)
			}
			if errb.Len() > 0 {
				t.Errorf("stderr: %q", errb)
			}
			golden(t, "hostile_"+tt.name, out.Bytes())
			switch tt.name {
			case "junit":
				assertXML(t, out.Bytes())
			case "sarif":
				if !json.Valid(out.Bytes()) {
					t.Fatal("the SARIF output is not JSON")
				}
				if bytes.ContainsFunc(out.Bytes(), func(r rune) bool { return r < 0x20 && r != '\n' }) {
					t.Error("the SARIF output holds a raw control character")
				}
			default:
				assertTerminalSafe(t, tt.name, out.Bytes(), tt.color)
				for _, want := range []string{`\x1b[2J\x1b[1;32mALL CHECKS PASSED`, `\x00`, `\u202e`, `\xff`} {
					if !strings.Contains(out.String(), want) {
						t.Errorf("the report does not show %s escaped", want)
					}
				}
			}
		})
	}
}

// assertXML parses b to the end with encoding/xml.
func assertXML(t *testing.T, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("the JUnit output does not parse: %v", err)
		}
	}
}

// hostileText holds what an image or a function can put in a string to act
// on a terminal, and printable text that must survive.
const hostileText = screenClear + "\x1b]0;owned\x07 nul\x00 cr\r del\x7f c1\u009b2J raw\x9b bad\xff\xfe rlo\u202eexe.txt\u2066 café 日本"

// fillStrings sets every exported string reachable from v (a pointer) to
// s, allocating pointers and giving slices one element; byte slices (the
// function's raw answers) get s's bytes.
func fillStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fillStrings(v.Elem(), s)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillStrings(v.Field(i), s)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(s))
			return
		}
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		for i := 0; i < v.Len(); i++ {
			fillStrings(v.Index(i), s)
		}
	case reflect.String:
		v.SetString(s)
	}
}

// assertShowsEscaped fails unless out shows the hostile text escaped, its
// printable part intact.
func assertShowsEscaped(t *testing.T, what string, out string) {
	t.Helper()
	for _, want := range []string{`\x1b[2J\x1b[1;32mALL CHECKS PASSED`, `nul\x00`, `\u202e`, `bad\xff\xfe`, "café 日本"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s does not show %s:\n%s", what, want, out)
		}
	}
}

// TestHostileRunText writes a run report every string of which comes from
// a hostile function: its command, answers, errors, output lines and the
// diagnosis read from them.
func TestHostileRunText(t *testing.T) {
	for _, tt := range []struct {
		name  string
		edit  func(*emulate.Outcome)
		color bool
	}{
		{"exec error", func(*emulate.Outcome) {}, false},
		{"exec error, colour", func(*emulate.Outcome) {}, true},
		{"killed", func(r *emulate.Outcome) { r.Exit.ExecError, r.Exit.StoppedByLambdoctor = "", false }, true},
		{"success", func(r *emulate.Outcome) { r.Result = emulate.ResultSuccess }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			static := &report.Report{}
			fillStrings(reflect.ValueOf(static), hostileText)
			static.Findings[0].Severity = checks.Error
			r := &emulate.Outcome{}
			fillStrings(reflect.ValueOf(r), hostileText)
			tt.edit(r)
			doc := emulate.NewDoc(static.Tool, static, r)
			var out bytes.Buffer
			if err := emulate.WriteText(&out, doc, report.Options{Color: tt.color}); err != nil {
				t.Fatal(err)
			}
			assertTerminalSafe(t, "run text", out.Bytes(), tt.color)
			assertShowsEscaped(t, "run text", out.String())
		})
	}
}

// TestHostileWhyText writes why's text for a log whose lines, and the
// image they point at, are hostile.
func TestHostileWhyText(t *testing.T) {
	for _, loadFailed := range []bool{false, true} {
		doc := &triage.Doc{}
		fillStrings(reflect.ValueOf(doc), hostileText)
		doc.Matches[0].Count = 2
		doc.Matches[0].Checks = []string{"LD202"}
		if !loadFailed {
			doc.Image.Error = nil
			doc.Image.Checks[0].Status = string(checks.StatusError)
		}
		var out bytes.Buffer
		if err := triage.WriteText(&out, doc); err != nil {
			t.Fatal(err)
		}
		assertTerminalSafe(t, "why text", out.Bytes(), false)
		assertShowsEscaped(t, "why text", out.String())
	}
}

// TestHostileWhyLog runs `lambdoctor why` on a log whose launch error names
// an entrypoint holding ESC sequences, as Lambda would log it.
func TestHostileWhyLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log.txt")
	line := "INIT_REPORT Init Duration: 0.25 ms Phase: init Status: error Error Type: Runtime.InvalidEntrypoint\n" +
		"IMAGE Launch error: fork/exec /var/runtime/" + screenClear + "\x00\u202e\xff: no such file or directory Entrypoint: [/var/runtime/" + screenClear + "]\n"
	if err := os.WriteFile(log, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	s, out, errb := streams(nil)
	Run(context.Background(), []string{"why", "--file", log}, s)
	if !strings.Contains(out.String(), "line 2") {
		t.Fatalf("the launch error was not recognised:\n%s\nstderr: %s", out, errb)
	}
	assertTerminalSafe(t, "why output", out.Bytes(), false)
	assertTerminalSafe(t, "why stderr", errb.Bytes(), false)
	if !strings.Contains(out.String(), `/var/runtime/\x1b[2J\x1b[1;32mALL CHECKS PASSED\x00\u202e\xff`) {
		t.Errorf("the log line is not shown escaped:\n%s", out)
	}
}

// TestHostileErrorsOnStderr: errors reach standard error through one
// place, printErr, which escapes them.
func TestHostileErrorsOnStderr(t *testing.T) {
	t.Run("printErr", func(t *testing.T) {
		var b bytes.Buffer
		printErr(&b, fmt.Errorf("reading %s: %w", "/var/task/"+hostileText, errors.New("layer 1: bad entry \x00\x1b[2J")))
		assertTerminalSafe(t, "stderr", b.Bytes(), false)
		assertShowsEscaped(t, "stderr", b.String())
		if !strings.HasPrefix(b.String(), "lambdoctor: reading /var/task/") || strings.Count(b.String(), "\n") != 1 {
			t.Errorf("not one line: %q", b.String())
		}
	})
	t.Run("printWarnings", func(t *testing.T) {
		s, _, errb := streams(nil)
		printWarnings(s, []string{".lambdoctor.yaml:3: ignore " + hostileText + " matched nothing"})
		assertTerminalSafe(t, "stderr", errb.Bytes(), false)
		assertShowsEscaped(t, "stderr", errb.String())
	})

	dir := t.TempDir()
	notImage := filepath.Join(dir, "fn"+screenClear+".tar")
	if err := os.WriteFile(notImage, []byte("not a tar "+hostileText), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"missing --dockerfile", []string{"inspect", "--dockerfile", filepath.Join(dir, "Dockerfile"+screenClear), notImage}, ExitUsage},
		{"run on what is not an image", []string{"run", notImage}, ExitLoad},
		{"unknown check", []string{"explain", "LD" + screenClear}, ExitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.args[0] == "run" {
				if err := sandbox.Supported(); err != nil {
					t.Skipf("run stops before loading here: %v", err)
				}
			}
			s, out, errb := streams(nil)
			if code := Run(context.Background(), tt.args, s); code != tt.want {
				t.Fatalf("exit %d, want %d\nstdout: %q\nstderr: %q", code, tt.want, out, errb)
			}
			assertTerminalSafe(t, "stderr", errb.Bytes(), false)
			if !strings.Contains(errb.String(), `\x1b[2J\x1b[1;32mALL CHECKS PASSED`) {
				t.Errorf("stderr does not name the path, escaped: %q", errb)
			}
		})
	}
}
