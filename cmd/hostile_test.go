package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
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
