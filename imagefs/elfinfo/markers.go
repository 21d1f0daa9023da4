package elfinfo

import (
	"bytes"
	"encoding/binary"
)

// Marker is a byte string a Go program is searched for as it streams by.
// Go programs keep the full names of the functions they link in their
// pclntab, so "crypto/tls." is there exactly when the program links the
// TLS client, and a module's path when it links that module.
type Marker uint16

// The markers, and what they show.
const (
	// MarkGoBuildInfo: the "\xff Go buildinf:" header of the build
	// information the Go linker writes (runtime/debug.ReadBuildInfo).
	MarkGoBuildInfo Marker = 1 << iota
	// MarkCryptoTLS: functions of crypto/tls, the TLS client.
	MarkCryptoTLS
	// MarkX509Fallback: golang.org/x/crypto/x509roots/fallback, a root
	// store compiled into the program.
	MarkX509Fallback
	// MarkISRGRootX1, MarkAmazonRootCA1, MarkDigiCert: names of root
	// certificates, which an embedded root store carries.
	MarkISRGRootX1
	MarkAmazonRootCA1
	MarkDigiCert
)

// markerBytes are the strings of the markers, in bit order.
var markerBytes = [...]string{
	"\xff Go buildinf:",
	"crypto/tls.",
	"golang.org/x/crypto/x509roots/fallback",
	"ISRG Root X1",
	"Amazon Root CA 1",
	"DigiCert",
}

const allMarkers = Marker(1<<len(markerBytes) - 1)

// markerAnchors are, for each marker, where the part of it a write is
// searched for starts: a suffix whose first byte is rarer in programs than
// the marker's own first byte ("\xff" and "D" are common in machine code,
// and bytes.Index checks every occurrence of the first byte). A hit is the
// marker when the bytes before it complete it. On an 8 MB aws-lambda-go
// program the six searches take 4.4 ms instead of 8.5 ms.
var markerAnchors = [len(markerBytes)]int{len("\xff Go "), 0, 0, len("ISRG "), 0, len("Di")}

// contains reports whether p holds marker i starting within p (one that
// starts before p is the joint's: see write).
func contains(p []byte, i int) bool {
	s, k := markerBytes[i], markerAnchors[i]
	if k == 0 {
		return bytes.Contains(p, []byte(s))
	}
	anchor := []byte(s[k:])
	for from := k; from+len(anchor) <= len(p); {
		j := bytes.Index(p[from:], anchor)
		if j < 0 {
			return false
		}
		j += from
		if string(p[j-k:j]) == s[:k] {
			return true
		}
		from = j + 1
	}
	return false
}

// maxMarker is the longest marker's length.
const maxMarker = len("golang.org/x/crypto/x509roots/fallback")

// markerScan searches a stream for the markers.
type markerScan struct {
	on    bool
	found Marker
	// tail is the end of what was scanned, for markers that straddle two
	// writes.
	tail []byte
	// biOff is the offset of the build information's header, once found
	// (-1 before); biPre is the part of it written before the write it
	// was found in, when it straddled two.
	biOff int64
	biPre []byte
}

// all reports whether there is nothing left to look for.
func (m *markerScan) all() bool { return m.found == allMarkers && m.biOff >= 0 }

// write scans p, which starts at offset base of the stream.
func (m *markerScan) write(p []byte, base int64) {
	if m.all() || len(p) == 0 {
		return
	}
	// Where the last write meets this one.
	before := len(m.tail)
	joint := append(m.tail, p[:min(len(p), maxMarker-1)]...)
	jointBase := base - int64(before)
	for i, s := range markerBytes {
		bit := Marker(1) << i
		if m.found&bit != 0 {
			continue
		}
		if bytes.Contains(joint, []byte(s)) || contains(p, i) {
			m.found |= bit
		}
	}
	if m.biOff < 0 && m.found&MarkGoBuildInfo != 0 {
		m.findHeader(joint, jointBase, before, p, base)
	}
	if len(p) >= maxMarker-1 {
		m.tail = append(joint[:0], p[len(p)-(maxMarker-1):]...)
	} else {
		m.tail = append(m.tail[:0], joint[max(0, len(joint)-(maxMarker-1)):]...)
	}
}

// findHeader looks for the build information's header in the joint and
// in p: the magic at an offset that is a multiple of 16, as the linker
// aligns it (debug/buildinfo searches the same way). A program may hold
// the magic elsewhere too, as a string constant (the Go linker does).
func (m *markerScan) findHeader(joint []byte, jointBase int64, before int, p []byte, base int64) {
	magic := []byte(markerBytes[0])
	find := func(b []byte, at int64, from int) (int, bool) {
		for i := from; i < len(b); {
			j := bytes.Index(b[i:], magic)
			if j < 0 {
				return 0, false
			}
			if (at+int64(i+j))%16 == 0 {
				return i + j, true
			}
			i += j + 1
		}
		return 0, false
	}
	// In the joint, only matches that start before p do not recur in p.
	if j, ok := find(joint[:min(len(joint), before+len(magic)-1)], jointBase, 0); ok && j < before {
		m.biOff = jointBase + int64(j)
		m.biPre = append(m.biPre[:0], joint[j:before]...)
		return
	}
	if j, ok := find(p, base, 0); ok {
		m.biOff = base + int64(j)
		m.biPre = m.biPre[:0]
	}
}

// isGoNote reports whether the notes in b hold a Go build ID (owner "Go",
// type 4, as cmd/link writes in .note.go.buildid).
func isGoNote(b []byte, bo binary.ByteOrder) bool {
	for len(b) >= 12 {
		namesz, descsz, typ := bo.Uint32(b), bo.Uint32(b[4:]), bo.Uint32(b[8:])
		name := (uint64(namesz) + 3) &^ 3
		desc := (uint64(descsz) + 3) &^ 3
		if 12+name+desc > uint64(len(b)) {
			return false
		}
		// cmd/link writes the name "Go\x00\x00" with namesz 4.
		if typ == 4 && (namesz == 3 || namesz == 4) && string(b[12:15]) == "Go\x00" {
			return true
		}
		b = b[12+name+desc:]
	}
	return false
}

// Holds reports whether a scanned Go program holds the string s; known is
// false when s is not a marker or the program was not scanned.
func (e *Info) Holds(s string) (holds, known bool) {
	if !e.Scanned {
		return false, false
	}
	for i, m := range markerBytes {
		if m == s {
			return e.Markers&(Marker(1)<<i) != 0, true
		}
	}
	return false, false
}

// maxBuildInfo bounds the Go build information kept: its 32-byte header,
// the Go version and the module information (a line per module).
const maxBuildInfo = 256 << 10

// parseBuildInfo reads the Go version and module information from the
// build information at the start of b, in the format Go 1.18 and later
// write (flags bit 2: the strings follow the header, each a uvarint length
// and its bytes; see debug/buildinfo). Older formats, which point to the
// strings instead, give "".
func parseBuildInfo(b []byte) (version, modinfo string) {
	const hdr = 32
	if len(b) < hdr || string(b[:14]) != markerBytes[0] || b[15]&2 == 0 {
		return "", ""
	}
	b = b[hdr:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	v, ok := str()
	if !ok {
		return "", ""
	}
	mod, ok := str()
	if !ok {
		return "", ""
	}
	// The module information is framed by 16-byte sentinels.
	if len(mod) >= 33 && mod[len(mod)-17] == '\n' {
		mod = mod[16 : len(mod)-16]
	} else {
		mod = ""
	}
	return v, mod
}
