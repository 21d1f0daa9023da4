package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
)

// hostile holds what an image can put in a string to act on a terminal:
// screen clear and colour, an OSC title ended by BEL, NUL, CR, DEL, an
// encoded C1 CSI, a raw 8-bit CSI byte, invalid UTF-8, a bidi override and
// isolate, and printable text that must survive (accents, CJK).
const hostile = "\x1b[2J\x1b[1;32mALL CHECKS PASSED\x1b]0;owned\x07 nul\x00 cr\r del\x7f c1\u009b2J raw\x9b bad\xff\xfe rlo\u202eexe.txt\u2066 café 日本"

// fillStrings sets every exported string reachable from v (a pointer) to
// s, allocating pointers and giving slices one element, so a field added
// to the model is covered without editing the test.
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
		if v.Type().Elem().Kind() == reflect.Uint8 { // []byte, json.RawMessage
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

// eachString calls fn with the path and value of every exported string
// reachable from v.
func eachString(v reflect.Value, path string, fn func(path, s string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			eachString(v.Elem(), path, fn)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				eachString(v.Field(i), path+"."+f.Name, fn)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			eachString(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.String:
		fn(path, v.String())
	}
}

// hostileReport is a report every string of which is hostile: all of
// them can come from the image, the registry or the command line.
func hostileReport() *Report {
	r := &Report{}
	fillStrings(reflect.ValueOf(r), hostile)
	r.Findings[0].Severity = checks.Error
	r.Checks[0].Status = string(checks.StatusError)
	return r
}

func TestForTerminalEscapesEveryString(t *testing.T) {
	r := hostileReport()
	r.Error = nil // a failed report has no findings; both halves are checked
	failed := hostileReport()
	for _, in := range []*Report{r, failed} {
		before := fmt.Sprintf("%#v", *in)
		out := forTerminal(in)
		n := 0
		eachString(reflect.ValueOf(out), "Report", func(path, s string) {
			n++
			if termsafe.Text(s) != s {
				t.Errorf("%s not escaped: %q", path, s)
			}
			if !strings.Contains(s, "café 日本") && !strings.HasSuffix(path, ".Status") {
				t.Errorf("%s lost its printable text: %q", path, s)
			}
		})
		if n < 40 {
			t.Fatalf("only %d strings walked: fillStrings missed the model", n)
		}
		if after := fmt.Sprintf("%#v", *in); after != before {
			t.Error("forTerminal changed the report it was given")
		}
		eachString(reflect.ValueOf(in), "Report", func(path, s string) {
			if s != hostile && !strings.HasSuffix(path, ".Status") {
				t.Errorf("forTerminal changed %s of the original report: %q", path, s)
			}
		})
	}
}

// sgr matches the colour escapes fatih/color writes: lambdoctor's own.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// assertTerminalSafe fails when out holds a byte below 0x20 other than
// newline and tab (after removing lambdoctor's own colour escapes when
// colour is on), DEL, a C1 control, a bidi control or invalid UTF-8.
func assertTerminalSafe(t *testing.T, out []byte, color bool) {
	t.Helper()
	if color {
		if !sgr.Match(out) {
			t.Fatalf("colour was forced but no colour escape was written:\n%s", out)
		}
		out = sgr.ReplaceAll(out, nil)
	}
	if !utf8.Valid(out) {
		t.Errorf("output is not valid UTF-8:\n%q", out)
	}
	for i, r := range string(out) {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			lo, hi := max(0, i-40), min(len(out), i+40)
			t.Errorf("raw %U at byte %d: %q", r, i, out[lo:hi])
		}
	}
}

func TestHostileStringsNeverReachTheTerminal(t *testing.T) {
	ok := hostileReport()
	ok.Error = nil
	reports := []*Report{ok, hostileReport()}
	for _, tt := range []struct {
		format string
		opts   Options
	}{
		{"text", Options{}},
		{"text", Options{Color: true}},
		{"text", Options{Verbose: true}},
		{"text", Options{Verbose: true, Color: true}},
		{"github", Options{}},
	} {
		t.Run(fmt.Sprintf("%s %+v", tt.format, tt.opts), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, reports, tt.opts); err != nil {
				t.Fatal(err)
			}
			assertTerminalSafe(t, buf.Bytes(), tt.opts.Color)
			for _, want := range []string{`\x1b[2J\x1b[1;32mALL CHECKS PASSED`, `nul\x00`, `\u202e`, `\xff\xfe`, "café 日本"} {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, buf.String())
				}
			}
		})
	}
}

// JUnit and SARIF are files for machines: they keep the text, and must
// stay documents their readers can parse whatever the image holds.
func TestHostileStringsKeepMachineFormatsValid(t *testing.T) {
	ok := hostileReport()
	ok.Error = nil
	reports := []*Report{ok, hostileReport()}

	var junit bytes.Buffer
	if err := Write(&junit, "junit", reports, Options{FailOn: checks.Info}); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(junit.Bytes()))
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("the JUnit file does not parse: %v\n%q", err, junit.Bytes())
			}
			break
		}
		switch tok := tok.(type) {
		case xml.CharData:
			text.Write(tok)
		case xml.StartElement:
			for _, a := range tok.Attr {
				text.WriteString(a.Value)
			}
		}
	}
	// What XML cannot hold is escaped; what it can (ESC's [2J, DEL, C1,
	// bidi, accents) is kept.
	for _, want := range []string{`\x1b[2J\x1b[1;32mALL CHECKS PASSED`, `\x00`, `\x07`, `\xff\xfe`, "\x7f", "\u009b", "\u202e", "café 日本"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("JUnit text lacks %q", want)
		}
	}

	var sarif bytes.Buffer
	if err := Write(&sarif, "sarif", reports, Options{}); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(sarif.Bytes()) {
		t.Fatalf("the SARIF file is not JSON:\n%s", sarif.Bytes())
	}
	for _, b := range sarif.Bytes() {
		if b < 0x20 && b != '\n' {
			t.Fatalf("the SARIF file holds a raw %#x", b)
		}
	}
	var doc struct {
		Runs []struct {
			Results []struct{ Message struct{ Text string } }
		}
	}
	if err := json.Unmarshal(sarif.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// JSON carries the exact text, but for invalid UTF-8, which
	// encoding/json writes as U+FFFD.
	var want strings.Builder
	for _, r := range hostile { // each invalid byte is one U+FFFD
		want.WriteRune(r)
	}
	if len(doc.Runs) == 0 || len(doc.Runs[0].Results) == 0 || !strings.HasPrefix(doc.Runs[0].Results[0].Message.Text, want.String()) {
		t.Errorf("SARIF message is not the image's text as is: %+v", doc)
	}
}
