// Package termsafe makes text from an image safe to print on a terminal.
//
// An image chooses its paths, link targets, config fields, history lines and
// file contents, and a function chooses what it prints: any of them can hold
// bytes a terminal acts on (ESC starts a control sequence that can clear the
// screen, move the cursor or retitle the window; CR overwrites a line; a
// bidi override reorders what follows, as in "Trojan Source",
// CVE-2021-42574). lambdoctor's human-readable outputs pass every such
// string through Text or Line before formatting (and before colour), so
// what reaches the terminal is what lambdoctor wrote. JSON and SARIF are
// encodings of their own and carry the exact text; JUnit too, but for the
// few characters XML cannot hold at all, which XML escapes.
//
// What is escaped, and how:
//
//   - C0 controls (U+0000–U+001F) but tab, and newline in Text, and DEL
//     (U+007F): \xNN, with \n and \r for newline and carriage return;
//   - C1 controls (U+0080–U+009F, which some terminals take as 8-bit
//     CSI, OSC and the like) and the bidi embedding, override and isolate
//     characters U+202A–U+202E and U+2066–U+2069: \uNNNN;
//   - each byte that is not part of valid UTF-8: \xNN (so \x9b is a raw
//     byte and \u009b the encoded C1 character).
//
// Everything else, accents and CJK and emoji included, is kept as is. A
// backslash is not doubled: the escaped form is for reading, not for
// decoding back (the JSON output has the exact bytes).
package termsafe

import (
	"strings"
	"unicode/utf8"
)

// Text escapes s for a terminal, keeping newlines and tabs: for messages,
// evidence and other text lambdoctor lays out over several lines.
func Text(s string) string { return escape(s, modeText) }

// Line escapes s for a terminal, newlines included: for values shown on one
// line (paths, references, digests, command words).
func Line(s string) string { return escape(s, modeLine) }

// XML escapes, the same way, only what an XML 1.0 document cannot hold at
// all, even as a character reference: C0 controls but tab, newline and
// carriage return, U+FFFE, U+FFFF and bytes that are not UTF-8 (the Char
// production, https://www.w3.org/TR/xml/#charsets). encoding/xml writes
// CDATA sections as given, so without this a NUL in a finding would make
// the whole JUnit file unreadable.
func XML(s string) string { return escape(s, modeXML) }

// mode is what escape lets through.
type mode int

const (
	modeText mode = iota // terminal, multi-line
	modeLine             // terminal, one line
	modeXML              // XML 1.0 character data
)

// escape escapes s for m.
func escape(s string, m mode) string {
	i := firstUnsafe(s, m)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if unsafeByte(c, m) {
				writeByte(&b, c)
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			writeHex(&b, `\x`, uint32(c), 2)
		case unsafeRune(r, m):
			writeHex(&b, `\u`, uint32(r), 4)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// firstUnsafe is the index of the first byte of s that escape changes, or
// -1.
func firstUnsafe(s string, m mode) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if unsafeByte(c, m) {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r, m) {
			return i
		}
		i += size
	}
	return -1
}

// unsafeByte reports whether the ASCII byte c is a control character m
// escapes.
func unsafeByte(c byte, m mode) bool {
	switch c {
	case '\t':
		return false
	case '\n':
		return m == modeLine
	case '\r':
		return m != modeXML
	case 0x7f:
		return m != modeXML
	}
	return c < 0x20
}

// unsafeRune reports whether m escapes the non-ASCII rune r: for a
// terminal, a C1 control or a bidi control that can reorder text; for XML,
// the two noncharacters U+FFFE and U+FFFF.
func unsafeRune(r rune, m mode) bool {
	if m == modeXML {
		return r == 0xfffe || r == 0xffff
	}
	return (r >= 0x80 && r <= 0x9f) ||
		(r >= 0x202a && r <= 0x202e) ||
		(r >= 0x2066 && r <= 0x2069)
}

func writeByte(b *strings.Builder, c byte) {
	switch c {
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	default:
		writeHex(b, `\x`, uint32(c), 2)
	}
}

// writeHex writes prefix and the low digits hex digits of v, lowercase.
func writeHex(b *strings.Builder, prefix string, v uint32, digits int) {
	const hex = "0123456789abcdef"
	b.WriteString(prefix)
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		b.WriteByte(hex[(v>>uint(shift))&0xf])
	}
}

// Clip shortens s to at most n bytes, then "…", without splitting a UTF-8
// sequence. It does not escape: pass the result to Text or Line.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return s[:n] + "…"
}
