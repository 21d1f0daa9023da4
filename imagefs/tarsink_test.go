package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// sinkEntry is what the sink reported for one entry.
type sinkEntry struct {
	h   tarHeader
	off int64
}

// sinkParse feeds stream to a tarSink in chunks of random sizes.
func sinkParse(stream []byte, r *rand.Rand) ([]sinkEntry, error) {
	var got []sinkEntry
	s := &tarSink{ctx: context.Background()}
	s.entry = func(h *tarHeader, off int64) (capturePlan, error) {
		got = append(got, sinkEntry{*h, off})
		return capturePlan{}, nil
	}
	for len(stream) > 0 {
		n := min(len(stream), 1+r.IntN(1500))
		if _, err := s.Write(stream[:n]); err != nil {
			return got, err
		}
		stream = stream[n:]
	}
	return got, s.finish()
}

func randName(r *rand.Rand, unicode bool) string {
	parts := 1 + r.IntN(8)
	var b strings.Builder
	for i := range parts {
		if i > 0 {
			b.WriteByte('/')
		}
		n := 1 + r.IntN(40)
		for range n {
			switch {
			case unicode && r.IntN(20) == 0:
				b.WriteString("é")
			default:
				b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789._-"[r.IntN(39)])
			}
		}
	}
	return b.String()
}

// TestTarSinkMatchesArchiveTar writes random archives in every format
// archive/tar writes (USTAR, PAX, GNU: long names, base-256 numbers, PAX
// records) and checks that the sink reports what archive/tar reads, with
// content at the offsets it reports.
func TestTarSinkMatchesArchiveTar(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	types := []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo, tar.TypeReg, tar.TypeReg}
	formats := []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU, tar.FormatUnknown}
	for iter := range 300 {
		format := formats[iter%len(formats)]
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		written := 0
		for range 1 + r.IntN(25) {
			h := &tar.Header{
				Typeflag: types[r.IntN(len(types))],
				Name:     randName(r, format != tar.FormatUSTAR && format != tar.FormatGNU),
				Mode:     int64(r.IntN(0o10000)),
				Uid:      r.IntN(70000),
				Gid:      r.IntN(70000),
				ModTime:  time.Unix(int64(r.IntN(2_000_000_000)), 0),
				Format:   format,
			}
			if r.IntN(10) == 0 {
				h.Uid = 1<<22 + r.IntN(1<<30) // beyond octal: base-256 or PAX
			}
			if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
				h.Linkname = randName(r, false)
			}
			var body []byte
			if h.Typeflag == tar.TypeReg {
				body = make([]byte, r.IntN(3000))
				for i := range body {
					body[i] = byte(r.Uint32())
				}
				h.Size = int64(len(body))
			}
			if h.Typeflag == tar.TypeDir {
				h.Name += "/"
			}
			if err := tw.WriteHeader(h); err != nil {
				continue // not representable in this format
			}
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
			written++
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		stream := buf.Bytes()
		if r.IntN(3) == 0 {
			stream = append(stream, make([]byte, 512*r.IntN(20))...)
		}

		got, err := sinkParse(stream, r)
		if err != nil {
			t.Fatalf("iteration %d (%v): sink: %v", iter, format, err)
		}
		tr := tar.NewReader(bytes.NewReader(stream))
		k := 0
		for ; ; k++ {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if k >= len(got) {
				t.Fatalf("iteration %d: sink reported %d entries, archive/tar more", iter, len(got))
			}
			g := got[k].h
			want := tarHeader{name: h.Name, linkname: h.Linkname, typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, size: h.Size, mtime: h.ModTime.Unix()}
			if g != want {
				t.Fatalf("iteration %d (%v) entry %d:\n\tsink %+v\n\ttar  %+v", iter, format, k, g, want)
			}
			content, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if off := got[k].off; !bytes.Equal(stream[off:off+int64(len(content))], content) || off%blockSize != 0 {
				t.Fatalf("iteration %d entry %d: content not at offset %d", iter, k, off)
			}
		}
		if k != len(got) || k != written {
			t.Fatalf("iteration %d: sink %d entries, archive/tar %d, written %d", iter, len(got), k, written)
		}
	}
}

// rawHeader builds a USTAR (or GNU, if gnu) header block by hand.
func rawHeader(name string, typ byte, size int64, gnu bool) []byte {
	b := make([]byte, blockSize)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typ
	if gnu {
		copy(b[257:], "ustar  \x00")
	} else {
		copy(b[257:], "ustar\x0000")
	}
	sealHeader(b)
	return b
}

func sealHeader(b []byte) {
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
}

func padded(b []byte) []byte {
	return append(b, make([]byte, -len(b)&(blockSize-1))...)
}

// paxRecord formats "%d %s=%s\n", whose length counts its own digits.
func paxRecord(k, v string) string {
	rec := " " + k + "=" + v + "\n"
	n := len(rec) + 1
	for len(rec)+len(fmt.Sprint(n)) != n {
		n = len(rec) + len(fmt.Sprint(n))
	}
	return fmt.Sprint(n) + rec
}

func TestTarSinkSparseAndOddities(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	// Old GNU sparse file with one extension header, then a regular file.
	sparse := rawHeader("sparse.img", 'S', 1024, true)
	copy(sparse[483:], fmt.Sprintf("%011o\x00", 1<<20)) // realsize
	sparse[482] = 1                                     // isextended
	sealHeader(sparse)
	ext := make([]byte, blockSize) // extension header, last one
	var stream []byte
	stream = append(stream, sparse...)
	stream = append(stream, ext...)
	stream = append(stream, bytes.Repeat([]byte{'s'}, 1024)...)
	stream = append(stream, rawHeader("after", '0', 3, false)...)
	stream = append(stream, padded([]byte("abc"))...)
	// PAX sparse 1.0.
	pax := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", "real/name") + paxRecord("GNU.sparse.realsize", "99999")
	stream = append(stream, rawHeader("PaxHeaders/x", 'x', int64(len(pax)), false)...)
	stream = append(stream, padded([]byte(pax))...)
	stream = append(stream, rawHeader("GNUSparseFile.0/x", '0', 600, false)...)
	stream = append(stream, padded(bytes.Repeat([]byte{'p'}, 600))...)
	// A global PAX header, a legacy directory and a header-only type with a
	// size field.
	gpax := paxRecord("comment", "made by git")
	stream = append(stream, rawHeader("pax_global_header", 'g', int64(len(gpax)), false)...)
	stream = append(stream, padded([]byte(gpax))...)
	stream = append(stream, rawHeader("olddir/", '\x00', 0, false)...)
	stream = append(stream, rawHeader("dirwithsize", '5', 4096, false)...)
	stream = append(stream, rawHeader("last", '0', 1, false)...)
	stream = append(stream, padded([]byte("z"))...)
	stream = append(stream, make([]byte, 2*blockSize)...)

	got, err := sinkParse(stream, r)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got {
		lines = append(lines, fmt.Sprintf("%s %c size=%d sparse=%v content=%q", e.h.name, e.h.typ, e.h.size, e.h.sparse, stream[e.off:e.off+min(e.h.size, 3)]))
	}
	want := []string{
		`sparse.img S size=1048576 sparse=true content="sss"`,
		`after 0 size=3 sparse=false content="abc"`,
		`real/name 0 size=99999 sparse=true content="ppp"`,
		` g size=0 sparse=false content=""`,
		`olddir/ 5 size=0 sparse=false content=""`,
		`dirwithsize 5 size=4096 sparse=false content="las"`,
		`last 0 size=1 sparse=false content="z"`,
	}
	if d := diffLines(lines, want); d != "" {
		t.Error(d)
	}
}

func TestTarSinkEnds(t *testing.T) {
	entry := append(rawHeader("a", '0', 700, false), padded(bytes.Repeat([]byte{'a'}, 700))...)
	badSum := rawHeader("b", '0', 0, false)
	badSum[0] = 'c'
	tests := []struct {
		name   string
		stream []byte
		err    bool
	}{
		{"end marker", append(bytes.Clone(entry), make([]byte, 1024)...), false},
		{"no end marker", entry, false},
		{"one zero block", append(bytes.Clone(entry), make([]byte, 512)...), false},
		{"empty", nil, false},
		{"ends in padding", entry[:512+700+10], false},
		{"ends in content", entry[:600], true},
		{"ends in a header", entry[:100], true},
		{"zero block then header", append(append(bytes.Clone(entry), make([]byte, 512)...), entry...), true},
		{"bad checksum", badSum, true},
		{"meta header without entry", append(rawHeader("L", 'L', 3, true), padded([]byte("abc"))...), true},
		{"oversized meta", rawHeader("x", 'x', maxPAXSize+1, false), true},
		{"bad PAX record", append(rawHeader("x", 'x', 6, false), padded([]byte("9 a=b\n"))...), true},
		{"negative PAX size", paxEntry(paxRecord("size", "-5"), "f", '0'), true},
		{"garbage", bytes.Repeat([]byte("garbage!"), 64), true},
	}
	for _, tt := range tests {
		_, err := sinkParse(tt.stream, rand.New(rand.NewPCG(2, 2)))
		if (err != nil) != tt.err {
			t.Errorf("%s: err = %v", tt.name, err)
		}
		if err != nil && !errors.Is(err, errHeader) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrLimit) {
			t.Errorf("%s: unexpected error kind %v", tt.name, err)
		}
	}
}

func TestSparseFileInView(t *testing.T) {
	sparse := rawHeader("disk.img", 'S', 512, true)
	copy(sparse[483:], fmt.Sprintf("%011o\x00", 1<<20))
	sealHeader(sparse)
	stream := append(sparse, make([]byte, 512)...)
	stream = append(stream, make([]byte, 1024)...)
	f, err := Build(context.Background(), []Layer{blobLayer(gzipOf(t, stream), nil)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := f.Lookup("/disk.img")
	if !ok || e.Size != 1<<20 || e.Type != TypeReg {
		t.Fatalf("entry = %+v", e)
	}
	if _, err := f.ReadFile("disk.img"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ReadFile(sparse) err = %v", err)
	}
	if got := kinds(f); len(got) != 1 || got[0] != "sparse-file /disk.img" {
		t.Errorf("anomalies = %v", got)
	}
}

// TestChecksumWords checks the word-at-a-time checksumOK and isZeroBlock
// against byte-by-byte sums, on blocks of low, high and mixed bytes.
func TestChecksumWords(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var b [blockSize]byte
	for k := range 3000 {
		for i := range b {
			v := byte(r.Uint32())
			switch k % 4 {
			case 0:
				v |= 0x80
			case 1:
				v &= 0x7f
			case 2:
				v = 0xff
			}
			b[i] = v
		}
		var unsigned, signed int64
		for i, c := range b {
			if 148 <= i && i < 156 {
				c = ' '
			}
			unsigned += int64(c)
			signed += int64(int8(c))
		}
		for _, sum := range []int64{unsigned, signed, unsigned + 1, signed - 1, 0} {
			want := sum == unsigned || sum == signed
			if got := checksumOK(&b, sum); got != want {
				t.Fatalf("block %d, sum %d: checksumOK = %v, want %v", k, sum, got, want)
			}
		}
		if isZeroBlock(&b) {
			t.Fatalf("block %d: isZeroBlock = true", k)
		}
		b[r.IntN(blockSize)] = 0
	}
	var z [blockSize]byte
	if !isZeroBlock(&z) {
		t.Fatal("isZeroBlock(zeros) = false")
	}
	z[511] = 1
	if isZeroBlock(&z) {
		t.Fatal("isZeroBlock(last byte set) = true")
	}
}
