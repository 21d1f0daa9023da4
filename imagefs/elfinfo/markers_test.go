package elfinfo

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
)

// TestMarkerScanFindsEveryMarker: each marker is found wherever it sits
// (at the start, inside, across two writes at every split, at the end),
// whatever the write sizes, and a marker's anchor alone, or the marker with
// one byte changed, is not taken for it.
func TestMarkerScanFindsEveryMarker(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 3000)
	for i := range noise {
		// Common program bytes, including the markers' first bytes.
		noise[i] = "\xff\x00 DGIAicgo/:"[rng.IntN(12)]
	}
	scan := func(data []byte, chunk int) Marker {
		m := markerScan{biOff: -1}
		for off := 0; off < len(data); off += chunk {
			m.write(data[off:min(off+chunk, len(data))], int64(off))
		}
		return m.found
	}
	for i, s := range markerBytes {
		bit := Marker(1) << i
		for _, at := range []int{0, 1, 15, 16, 17, 1000, len(noise) - len(s)} {
			data := bytes.Clone(noise)
			copy(data[at:], s)
			for _, chunk := range []int{1, 2, 3, 7, 16, 64, 1000, len(data)} {
				if got := scan(data, chunk); got&bit == 0 {
					t.Errorf("%q at %d, writes of %d bytes: not found", s, at, chunk)
				}
			}
			if k := markerAnchors[i]; k > 0 {
				near := bytes.Clone(noise)
				copy(near[at+k:], s[k:]) // the anchor without the marker's start
				near[at+k-1] = '#'
				for _, chunk := range []int{1, 7, 64, len(near)} {
					if got := scan(near, chunk); got&bit != 0 {
						t.Errorf("%q's anchor alone at %d, writes of %d bytes: taken for the marker", s, at+k, chunk)
					}
				}
			}
			bad := bytes.Clone(data)
			bad[at+len(s)-1] ^= 0x20
			if got := scan(bad, 64); got&bit != 0 && !bytes.Contains(bad, []byte(s)) {
				t.Errorf("%q with its last byte changed: found", s)
			}
		}
	}
}

// BenchmarkMarkerScan scans this test binary, a Go program of several MB,
// for the markers in 32 KiB writes, as the layer pass does.
func BenchmarkMarkerScan(b *testing.B) {
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(data)))
	for range b.N {
		m := markerScan{biOff: -1}
		for off := 0; off < len(data); off += 32 << 10 {
			m.write(data[off:min(off+32<<10, len(data))], int64(off))
		}
	}
}
