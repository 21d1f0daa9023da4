package elfinfo

import (
	"os"
	"reflect"
	"testing"
)

// FuzzStream feeds arbitrary bytes to a Stream in two writes: it never
// panics, and what it returns for a whole file is what Parse returns (with
// the fields only a Stream sets cleared).
func FuzzStream(f *testing.F) {
	if exe, err := os.Executable(); err == nil {
		if b, err := os.ReadFile(exe); err == nil {
			f.Add(b[:min(len(b), 8<<10)], uint16(100))
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"), uint16(3))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		var s Stream
		s.Reset(int64(len(b)))
		c := min(int(cut), len(b))
		s.Write(b[:c])
		s.Write(b[c:])
		got := s.Result()
		if got == nil {
			return
		}
		if _, err := Unmarshal(Marshal(got)); err != nil {
			t.Fatalf("Unmarshal(Marshal(%+v)): %v", got, err)
		}
		want, err := Parse(b)
		if err != nil {
			t.Fatalf("Stream gave %+v where Parse fails: %v", got, err)
		}
		plain := *got
		plain.Go, plain.Scanned, plain.Markers, plain.GoVersion, plain.GoModInfo = false, false, 0, "", ""
		if !reflect.DeepEqual(&plain, want) {
			t.Fatalf("Stream %+v, Parse %+v", &plain, want)
		}
	})
}

// FuzzUnmarshal: arbitrary encodings never panic.
func FuzzUnmarshal(f *testing.F) {
	f.Add(Marshal(&Info{Interp: "/lib/ld.so", Needed: []string{"libc.so.6"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		Unmarshal(b)
	})
}
