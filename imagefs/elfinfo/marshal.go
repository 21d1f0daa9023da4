package elfinfo

import (
	delf "debug/elf"
	"encoding/binary"
	"errors"
)

// The encoding Marshal writes: a format byte, then the identity, flags and
// strings, lengths as uvarints. imagefs keeps it in layer indexes and the
// layer cache; bump marshalFormat (and the cache's version) when it
// changes.
const marshalFormat = 1

// Flag bits of the encoding.
const (
	fHasDynamic = 1 << iota
	fDynamicRead
	fHasRunPath
	fHeaderOnly
	fGo
	fScanned
)

// errFormat is an encoding Unmarshal cannot read.
var errFormat = errors.New("elfinfo: malformed encoding")

// Marshal encodes e compactly.
func Marshal(e *Info) []byte {
	b := make([]byte, 0, 32+len(e.Interp)+len(e.Soname)+16*len(e.Needed))
	b = append(b, marshalFormat, byte(e.Class), byte(e.Data), byte(e.OSABI))
	b = binary.AppendUvarint(b, uint64(e.Type))
	b = binary.AppendUvarint(b, uint64(e.Machine))
	var f byte
	set := func(bit byte, on bool) {
		if on {
			f |= bit
		}
	}
	set(fHasDynamic, e.HasDynamic)
	set(fDynamicRead, e.DynamicRead)
	set(fHasRunPath, e.HasRunPath)
	set(fHeaderOnly, e.HeaderOnly)
	set(fGo, e.Go)
	set(fScanned, e.Scanned)
	b = append(b, f)
	b = binary.AppendUvarint(b, uint64(e.Markers))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	list := func(l []string) {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	str(e.Interp)
	str(e.Soname)
	list(e.Needed)
	list(e.RPath)
	list(e.RunPath)
	str(e.GoVersion)
	str(e.GoModInfo)
	return b
}

// Unmarshal decodes what Marshal wrote. It never panics on other input.
func Unmarshal(b []byte) (*Info, error) {
	if len(b) < 5 || b[0] != marshalFormat {
		return nil, errFormat
	}
	e := &Info{Class: delf.Class(b[1]), Data: delf.Data(b[2]), OSABI: delf.OSABI(b[3])}
	b = b[4:]
	bad := false
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	e.Type = delf.Type(uv())
	e.Machine = delf.Machine(uv())
	if bad || len(b) < 1 {
		return nil, errFormat
	}
	f := b[0]
	b = b[1:]
	e.HasDynamic, e.DynamicRead, e.HasRunPath, e.HeaderOnly = f&fHasDynamic != 0, f&fDynamicRead != 0, f&fHasRunPath != 0, f&fHeaderOnly != 0
	e.Go, e.Scanned = f&fGo != 0, f&fScanned != 0
	e.Markers = Marker(uv())
	str := func() string {
		n := uv()
		if bad || n > uint64(len(b)) {
			bad = true
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	list := func() []string {
		n := uv()
		if bad || n > uint64(len(b)) {
			bad = true
			return nil
		}
		var l []string
		for range n {
			l = append(l, str())
		}
		return l
	}
	e.Interp = str()
	e.Soname = str()
	e.Needed = list()
	e.RPath = list()
	e.RunPath = list()
	e.GoVersion = str()
	e.GoModInfo = str()
	if bad || len(b) != 0 {
		return nil, errFormat
	}
	return e, nil
}
