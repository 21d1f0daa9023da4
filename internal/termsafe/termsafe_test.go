package termsafe

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		name            string
		in              string
		text, line, xml string
	}{
		{"empty", "", "", "", ""},
		{"plain ASCII", "/var/task/app.py", "/var/task/app.py", "/var/task/app.py", "/var/task/app.py"},
		{"accents, CJK, emoji stay", "café/日本語/🙂 ünïcode", "café/日本語/🙂 ünïcode", "café/日本語/🙂 ünïcode", "café/日本語/🙂 ünïcode"},
		{"right-to-left script stays", "שלום مرحبا", "שלום مرحبا", "שלום مرحبا", "שלום مرحبا"},
		{"zero-width joiner stays (emoji sequences)", "👩\u200d💻", "👩\u200d💻", "👩\u200d💻", "👩\u200d💻"},
		{"replacement character itself stays", "\ufffd", "\ufffd", "\ufffd", "\ufffd"},
		{"backslash is not doubled", `C:\x1b \n`, `C:\x1b \n`, `C:\x1b \n`, `C:\x1b \n`},
		{"tab kept", "a\tb", "a\tb", "a\tb", "a\tb"},
		{"newline", "a\nb", "a\nb", `a\nb`, "a\nb"},
		{"carriage return", "ok\rFAIL", `ok\rFAIL`, `ok\rFAIL`, "ok\rFAIL"},
		{"screen clear and colour", "\x1b[2J\x1b[1;32mALL CHECKS PASSED", `\x1b[2J\x1b[1;32mALL CHECKS PASSED`, `\x1b[2J\x1b[1;32mALL CHECKS PASSED`, `\x1b[2J\x1b[1;32mALL CHECKS PASSED`},
		{"OSC window title with BEL", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`, `\x1b]0;pwned\x07`, `\x1b]0;pwned\x07`},
		{"NUL", "a\x00b", `a\x00b`, `a\x00b`, `a\x00b`},
		{"every other C0", "\x01\x08\x0b\x0c\x1f", `\x01\x08\x0b\x0c\x1f`, `\x01\x08\x0b\x0c\x1f`, `\x01\x08\x0b\x0c\x1f`},
		{"DEL", "a\x7fb", `a\x7fb`, `a\x7fb`, "a\x7fb"},
		{"C1 CSI as UTF-8", "a\u009b2Jb", `a\u009b2Jb`, `a\u009b2Jb`, "a\u009b2Jb"},
		{"C1 range ends", "\u0080\u009f\u00a0", `\u0080\u009f` + "\u00a0", `\u0080\u009f` + "\u00a0", "\u0080\u009f\u00a0"},
		{"raw 8-bit CSI byte", "a\x9b2Jb", `a\x9b2Jb`, `a\x9b2Jb`, `a\x9b2Jb`},
		{"invalid UTF-8 bytes", "\xff\xfe ok \xc3", `\xff\xfe ok \xc3`, `\xff\xfe ok \xc3`, `\xff\xfe ok \xc3`},
		{"truncated rune", "é"[:1] + "x", `\xc3x`, `\xc3x`, `\xc3x`},
		{"UTF-8 encoded surrogate", "\xed\xa0\x80", `\xed\xa0\x80`, `\xed\xa0\x80`, `\xed\xa0\x80`},
		{"bidi override (Trojan Source)", "ok\u202eTXT.exe", `ok\u202eTXT.exe`, `ok\u202eTXT.exe`, "ok\u202eTXT.exe"},
		{"every bidi control", "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", `\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069`, `\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069`, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"},
		{"neighbours of the bidi ranges stay", "\u2029\u202f\u2065\u206a", "\u2029\u202f\u2065\u206a", "\u2029\u202f\u2065\u206a", "\u2029\u202f\u2065\u206a"},
		{"XML noncharacters", "a\ufffe\uffffb", "a\ufffe\uffffb", "a\ufffe\uffffb", `a\ufffe\uffffb`},
		{"mixed", "é\x1b日\n\u202e", "é\\x1b日\n\\u202e", `é\x1b日\n\u202e`, "é\\x1b日\n\u202e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.text {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.text)
			}
			if got := Line(tt.in); got != tt.line {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
			}
			if got := XML(tt.in); got != tt.xml {
				t.Errorf("XML(%q) = %q, want %q", tt.in, got, tt.xml)
			}
		})
	}
}

// Every byte value, alone and after a multi-byte rune, comes out as valid
// UTF-8 with no control character a terminal acts on.
func TestEveryByte(t *testing.T) {
	for b := 0; b < 256; b++ {
		for _, s := range []string{string([]byte{byte(b)}), "日" + string([]byte{byte(b)}) + "x"} {
			for name, got := range map[string]string{"Text": Text(s), "Line": Line(s)} {
				if !utf8.ValidString(got) {
					t.Errorf("%s(%q) = %q: not UTF-8", name, s, got)
				}
				if bad := terminalControl(got, name == "Text"); bad != "" {
					t.Errorf("%s(%q) = %q: holds %s", name, s, got, bad)
				}
			}
			if got := XML(s); !xmlParses(got) {
				t.Errorf("XML(%q) = %q: not XML character data", s, got)
			}
		}
	}
}

// terminalControl names the first character of s a terminal would act on.
func terminalControl(s string, newlineOK bool) string {
	for _, r := range s {
		switch {
		case r == '\t', r == '\n' && newlineOK:
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == utf8.RuneError:
			return fmt.Sprintf("%U", r)
		}
	}
	return ""
}

// xmlParses reports whether s, as the CDATA of an element and as an
// attribute, makes a document encoding/xml reads back unchanged.
func xmlParses(s string) bool {
	type doc struct {
		XMLName xml.Name `xml:"doc"`
		Attr    string   `xml:"attr,attr"`
		Text    string   `xml:",cdata"`
	}
	out, err := xml.Marshal(doc{Attr: s, Text: s})
	if err != nil {
		return false
	}
	var back doc
	if err := xml.NewDecoder(bytes.NewReader(out)).Decode(&back); err != nil {
		return false
	}
	// A parser reads a CR in character data as a newline.
	want := strings.ReplaceAll(s, "\r", "\n")
	return back.Text == want && back.Attr == s
}

func TestUnchangedIsSameString(t *testing.T) {
	s := "/var/task/函数.py"
	if got := Text(s); got != s {
		t.Fatalf("Text changed a safe string: %q", got)
	}
	if testing.AllocsPerRun(100, func() { _ = Text(s); _ = Line(s); _ = XML(s) }) != 0 {
		t.Error("escaping a string with nothing to escape allocates")
	}
}

// The XML check above would see the failure XML prevents.
func TestXMLParsesSeesRawControls(t *testing.T) {
	for _, s := range []string{"\x00", "\x1b[2J", "\xff", "\uffff"} {
		if xmlParses(s) {
			t.Errorf("%q went through encoding/xml unescaped and parsed back: the check is blind", s)
		}
	}
}
