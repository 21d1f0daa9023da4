package imagefs

import (
	"encoding/binary"
	"slices"
	"sort"
	"sync"
)

// Learned reads: with a Cache, the bytes read after the pass (the ELF
// headers and dynamic sections the checks parse, a handler module) are
// kept, per layer, under the layer's DiffID when the FS is closed. The tar
// stream of a DiffID is always the same bytes, so the next Build that
// finds the layer in the cache serves those reads from memory, without
// opening the layer: inspecting an image again decompresses nothing, and a
// daemon or registry image whose layers are all cached is not exported or
// downloaded.

// Bounds of what is learned, so that a cache entry stays small.
const (
	// maxLearnedPerLayer bounds the bytes kept for one layer.
	maxLearnedPerLayer = 8 << 20
	// maxLearnedPerFS bounds what one FS records before Close.
	maxLearnedPerFS = 16 << 20
	// maxLearnedPerFile bounds what is learned of one file: parsers read
	// headers and tables; a whole large program read to search its
	// strings is not worth keeping (nor holding in memory until Close).
	maxLearnedPerFile = 1 << 20
)

const kindReads = "READ"

// readsKey is the cache key of a layer's learned reads.
func readsKey(diffID string) string { return "reads\x00" + diffID }

// extent is bytes of a layer's tar stream at an offset.
type extent struct {
	off int64
	b   []byte
}

// extentAt returns the bytes known from offset off on, nil when off is not
// in a known extent. exts are sorted and do not overlap.
func extentAt(exts []extent, off int64) []byte {
	i := sort.Search(len(exts), func(i int) bool { return exts[i].off+int64(len(exts[i].b)) > off })
	if i == len(exts) || exts[i].off > off {
		return nil
	}
	return exts[i].b[off-exts[i].off:]
}

// mergeExtents returns the union of exts, sorted, adjacent and overlapping
// extents joined, cut at max bytes in all.
func mergeExtents(exts []extent, max int) []extent {
	slices.SortFunc(exts, func(a, b extent) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return len(b.b) - len(a.b)
	})
	var out []extent
	total := 0
	for _, e := range exts {
		if n := len(out); n > 0 {
			last := &out[n-1]
			end := last.off + int64(len(last.b))
			if e.off <= end {
				if tail := e.off + int64(len(e.b)) - end; tail > 0 {
					if total+int(tail) > max {
						break
					}
					last.b = append(last.b[:len(last.b):len(last.b)], e.b[int64(len(e.b))-tail:]...)
					total += int(tail)
				}
				continue
			}
		}
		if total+len(e.b) > max {
			break
		}
		out = append(out, extent{off: e.off, b: e.b})
		total += len(e.b)
	}
	return out
}

// encodeMerged is encodeExtents(mergeExtents(exts, max)) with the bytes
// copied once: the merged extents are laid out as pieces of exts' slices,
// then written into a buffer of the right size. (Joining them first made
// an inspection filling the cache hold every learned byte three times.)
func encodeMerged(exts []extent, max int) []byte {
	slices.SortFunc(exts, func(a, b extent) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return len(b.b) - len(a.b)
	})
	type seg struct {
		off   int64
		n     int
		parts [][]byte
	}
	var segs []seg
	total := 0
	for _, e := range exts {
		if n := len(segs); n > 0 {
			last := &segs[n-1]
			end := last.off + int64(last.n)
			if e.off <= end {
				if tail := e.off + int64(len(e.b)) - end; tail > 0 {
					if total+int(tail) > max {
						break
					}
					last.parts = append(last.parts, e.b[int64(len(e.b))-tail:])
					last.n += int(tail)
					total += int(tail)
				}
				continue
			}
		}
		if total+len(e.b) > max {
			break
		}
		segs = append(segs, seg{off: e.off, n: len(e.b), parts: [][]byte{e.b}})
		total += len(e.b)
	}
	b := make([]byte, 0, binary.MaxVarintLen64*(1+2*len(segs))+total)
	b = binary.AppendUvarint(b, uint64(len(segs)))
	for _, sg := range segs {
		b = binary.AppendUvarint(b, uint64(sg.off))
		b = binary.AppendUvarint(b, uint64(sg.n))
		for _, p := range sg.parts {
			b = append(b, p...)
		}
	}
	return b
}

// encodeExtents: count, then offset, length and bytes of each.
func encodeExtents(exts []extent) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(exts)))
	for _, e := range exts {
		b = binary.AppendUvarint(b, uint64(e.off))
		b = binary.AppendUvarint(b, uint64(len(e.b)))
		b = append(b, e.b...)
	}
	return b
}

// decodeExtents decodes what encodeExtents wrote, nil when b is malformed.
func decodeExtents(b []byte) []extent {
	r := &decoderBuf{b: b}
	n := r.bounded(uint64(len(b))) // each extent takes bytes
	exts := make([]extent, 0, n)
	var end int64
	for range n {
		off := r.u()
		ln := r.bounded(maxLearnedPerLayer)
		i, j := r.take(ln)
		if r.err != nil || off > 1<<62 || int64(off) < end {
			return nil
		}
		exts = append(exts, extent{off: int64(off), b: b[i:j:j]})
		end = int64(off) + int64(ln)
	}
	if r.err != nil || r.pos != len(b) {
		return nil
	}
	return exts
}

// learned returns what earlier inspections read of layer l.
func learned(c *Cache, l Layer) []extent {
	if b, ok := c.Get(kindReads, readsKey(l.DiffID)); ok {
		return decodeExtents(b)
	}
	return nil
}

// learner records the bytes read after the pass, per layer.
type learner struct {
	mu     sync.Mutex
	layers map[int][]extent
	bytes  int
	// stopped is set by StopLearning.
	stopped bool
}

// StopLearning stops keeping what is read for later inspections: what
// follows (an unpack of every file, say) would crowd out the reads the
// checks made, which are the ones worth keeping.
func (f *FS) StopLearning() {
	if f.learn == nil {
		return
	}
	f.learn.mu.Lock()
	f.learn.stopped = true
	f.learn.mu.Unlock()
}

// record keeps a copy of b, read at offset off of layer li.
func (l *learner) record(li int, off int64, b []byte) {
	if l == nil || len(b) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || l.bytes+len(b) > maxLearnedPerFS {
		return
	}
	if l.layers == nil {
		l.layers = map[int][]extent{}
	}
	l.layers[li] = append(l.layers[li], extent{off: off, b: append([]byte(nil), b...)})
	l.bytes += len(b)
}

// saveLearned stores what f learned of each cached layer, merged with
// what was known before.
func (f *FS) saveLearned() {
	if f.learn == nil || f.cache == nil {
		return
	}
	f.learn.mu.Lock()
	layers := f.learn.layers
	f.learn.layers = nil
	f.learn.mu.Unlock()
	for li, exts := range layers {
		// What a layer learned is freed once it is written.
		delete(layers, li)
		diffID := f.info[li].DiffID
		if !sha256DigestRE.MatchString(diffID) || !f.access[li].verified {
			continue
		}
		all := append(slices.Clone(f.access[li].known), exts...)
		f.cache.Put(kindReads, readsKey(diffID), encodeMerged(all, maxLearnedPerLayer))
	}
}
