package imagefs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/fstest"
)

func TestFSConformance(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 4096)
	f := build(t,
		[]tf{
			dir("etc/", 0o755), reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
			dir("usr/", 0o755), dir("usr/bin/", 0o755), reg("usr/bin/tool", 0o755, "#!/bin/sh\necho hi\n"),
			reg("usr/bin/big", 0o755, big),
			dir("usr/lib64/", 0o755), sym("lib64", "usr/lib64"), reg("usr/lib64/libc.so.6", 0o755, "\x7fELF..."),
			sym("usr/bin/sh", "tool"),
			dir("var/", 0o755), dir("var/old/", 0o755), reg("var/old/x", 0o644, "x"),
			{name: "dev/null", typ: TypeChar, mode: 0o666},
		},
		[]tf{
			wh("var/old"), reg("var/new", 0o600, "new"), hard("etc/passwd-", "etc/passwd"),
			sym("usr/bin/abs", "/etc/passwd"),
			reg("empty", 0o644, ""),
		},
	)
	if err := fstest.TestFS(f, "etc/passwd", "etc/passwd-", "usr/bin/tool", "usr/bin/big", "usr/bin/sh", "usr/bin/abs",
		"lib64", "usr/lib64/libc.so.6", "var/new", "dev/null", "empty"); err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(f, "usr/bin/big"); err != nil || string(b) != big {
		t.Errorf("ReadFile(big): %d bytes, %v", len(b), err)
	}
	if _, err := f.Open("var/old/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(whited out) err = %v", err)
	}
	for _, bad := range []string{"/etc/passwd", "etc/../etc/passwd", "etc/", ""} {
		if _, err := f.Open(bad); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := f.ReadFile("usr"); !errors.Is(err, ErrIsDir) {
		t.Errorf("ReadFile(dir) err = %v", err)
	}
	if _, err := f.ReadDir("etc/passwd"); !errors.Is(err, ErrNotDir) {
		t.Errorf("ReadDir(file) err = %v", err)
	}
}

func TestWalkAndLen(t *testing.T) {
	f := build(t,
		[]tf{reg("b/z", 0o644, ""), reg("b/a", 0o644, ""), reg("a", 0o644, ""), reg("c/d/e", 0o644, "")},
		[]tf{reg("b/m", 0o644, "")},
	)
	var got []string
	if err := f.Walk(func(e *Entry) error { got = append(got, e.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"/", "/a", "/b", "/b/a", "/b/m", "/b/z", "/c", "/c/d", "/c/d/e"}
	if d := diffLines(got, want); d != "" {
		t.Error(d)
	}
	if f.Len() != len(want) {
		t.Errorf("Len = %d, want %d", f.Len(), len(want))
	}
	got = nil
	err := f.Walk(func(e *Entry) error {
		got = append(got, e.Path)
		switch e.Path {
		case "/b":
			return fs.SkipDir
		case "/c/d":
			return fs.SkipAll
		}
		return nil
	})
	if err != nil || strings.Join(got, " ") != "/ /a /b /c /c/d" {
		t.Errorf("Walk with SkipDir/SkipAll = %v, %v", got, err)
	}
	boom := errors.New("boom")
	if err := f.Walk(func(e *Entry) error { return boom }); err != boom {
		t.Errorf("Walk error = %v", err)
	}
}

func TestLayersInfo(t *testing.T) {
	l0 := gz(t, reg("a", 0o644, "aaaa"), wh("x"))
	l1 := blobLayer(tarOf(t, reg("b", 0o644, "bb")), nil)
	l1.DiffID, l1.CreatedBy, l1.Size = "sha256:diff", "RUN make", -1
	f, err := Build(context.Background(), []Layer{l0, l1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	info := f.Layers()
	if len(info) != 2 {
		t.Fatalf("Layers = %+v", info)
	}
	if i := info[0]; i.Index != 0 || i.Digest != l0.Digest || i.Entries != 2 || i.UncompressedSize != int64(len(tarOf(t, reg("a", 0o644, "aaaa"), wh("x")))) || i.Size != l0.Size {
		t.Errorf("layer 0 = %+v", i)
	}
	if i := info[1]; i.Index != 1 || i.DiffID != "sha256:diff" || i.CreatedBy != "RUN make" || i.Size != -1 || i.Entries != 1 || i.MediaType == "" {
		t.Errorf("layer 1 = %+v", i)
	}
	empty, err := Build(context.Background(), nil, Options{})
	if err != nil || empty.Len() != 1 || len(empty.Layers()) != 0 {
		t.Errorf("empty image: %v, %v", empty, err)
	}
}

func TestCompressions(t *testing.T) {
	tarA := tarOf(t, dir("etc/", 0o755), reg("etc/os-release", 0o644, "ID=amzn\n"), reg("etc/big", 0o644, strings.Repeat("z", 100000)))
	tarB := tarOf(t, reg("etc/os-release", 0o644, "ID=debian\n"), reg("bin/app", 0o755, "#!/bin/sh\n"))
	tarC := tarOf(t, reg("opt/c", 0o644, "c"))
	for _, tt := range []struct {
		name   string
		layers []Layer
	}{
		{"gzip+zstd+tar", []Layer{blobLayer(gzipOf(t, tarA), nil), blobLayer(zstdOf(t, tarB), nil), blobLayer(tarC, nil)}},
		{"tar+gzip+zstd", []Layer{blobLayer(tarA, nil), blobLayer(gzipOf(t, tarB), nil), blobLayer(zstdOf(t, tarC), nil)}},
		{"zstd+tar+gzip", []Layer{blobLayer(zstdOf(t, tarA), nil), blobLayer(tarB, nil), blobLayer(gzipOf(t, tarC), nil)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Build(context.Background(), tt.layers, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"/bin dir 0755", "/bin/app reg 0755 =#!/bin/sh\n", "/etc dir 0755", "/etc/big reg 0644 =" + strings.Repeat("z", 100000),
				"/etc/os-release reg 0644 =ID=debian\n", "/opt dir 0755", "/opt/c reg 0644 =c"}
			if d := diffLines(listing(t, f), want); d != "" {
				t.Error(d)
			}
		})
	}
}

// elf64 returns an ELF64 little-endian file of size bytes with phnum program
// headers at phoff and, if interp is set, a PT_INTERP segment holding it
// right after them.
func elf64(size int, phoff uint64, phnum uint16, interp string) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint64(b[0x20:], phoff)
	le.PutUint16(b[0x36:], 56)
	le.PutUint16(b[0x38:], phnum)
	end := phoff + 56*uint64(phnum)
	for k := range uint64(phnum) {
		if phoff+k*56+56 > uint64(size) {
			break
		}
		ph := b[phoff+k*56:]
		le.PutUint32(ph, 1) // PT_LOAD
		if k == 1 && interp != "" {
			le.PutUint32(ph, 3)
			le.PutUint64(ph[8:], end)
			le.PutUint64(ph[32:], uint64(len(interp)+1))
			copy(b[end:], interp+"\x00")
		}
	}
	return b
}

func TestHeadCapture(t *testing.T) {
	exe := elf64(10000, 64, 13, "/lib64/ld-linux-x86-64.so.2")
	lib := elf64(10000, 64, 9, "")
	farPh := elf64(10000, 5000, 9, "")
	elf32 := make([]byte, 3000)
	copy(elf32, "\x7fELF\x01\x01\x01")
	binary.LittleEndian.PutUint32(elf32[0x1c:], 52)
	binary.LittleEndian.PutUint16(elf32[0x2a:], 32)
	binary.LittleEndian.PutUint16(elf32[0x2c:], 40) // ends at 1332
	script := "#!/usr/bin/env python3\n" + strings.Repeat("#", 2000)
	conf := strings.Repeat("c", 3000)
	blob := gzipOf(t, tarOf(t,
		reg("usr/bin/app", 0o755, string(exe)),
		reg("usr/lib/libx.so", 0o755, string(lib)),
		reg("usr/lib/far.so", 0o755, string(farPh)),
		reg("usr/lib/elf32", 0o700, string(elf32)),
		reg("usr/bin/script", 0o755, script),
		reg("usr/bin/tiny", 0o755, "#!/bin/sh\n"),
		reg("opt/extensions/ext", 0o644, script),
		reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		reg("etc/big.conf", 0o644, conf),
		reg("etc/notes", 0o644, "n"),
	))
	opens := 0
	layer := blobLayer(blob, &opens)
	f, err := Build(context.Background(), []Layer{layer}, Options{
		Capture: func(name string, size int64) bool {
			return name == "/etc/passwd" || name == "/etc/big.conf" || name == "/usr/bin/tiny"
		},
		MaxCapture: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		n    int
		full bool
	}{
		{"/usr/bin/app", 792 + 28, false},
		{"/usr/lib/libx.so", 64 + 9*56, false},
		{"/usr/lib/far.so", 512, false},
		{"/usr/lib/elf32", 1332, false},
		{"/usr/bin/script", 512, false},
		{"/usr/bin/tiny", 10, true},
		{"/opt/extensions/ext", 512, false},
		{"/etc/passwd", 26, true},
		{"/etc/big.conf", 1000, false},
		{"/etc/notes", 0, false},
	}
	for _, tt := range tests {
		h := f.Head(tt.path)
		if len(h) != tt.n {
			t.Errorf("Head(%s) = %d bytes, want %d", tt.path, len(h), tt.n)
		}
		want, err := f.ReadFile(tt.path[1:])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(want, h) {
			t.Errorf("Head(%s) is not a prefix of the content", tt.path)
		}
	}
	if !bytes.Equal(f.Head("/usr/bin/app")[792:], []byte("/lib64/ld-linux-x86-64.so.2\x00")) {
		t.Errorf("interpreter not captured")
	}
	// Captured files are served from memory; the others re-read the layer.
	opens = 0
	for _, p := range []string{"etc/passwd", "usr/bin/tiny"} {
		if _, err := f.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	if opens != 0 {
		t.Errorf("captured reads opened the layer %d times", opens)
	}
	if _, err := f.ReadFile("etc/notes"); err != nil || opens != 1 {
		t.Errorf("uncaptured read: %v, %d opens", err, opens)
	}
	// Disabling heads.
	f, err = Build(context.Background(), []Layer{layer}, Options{HeadSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	if h := f.Head("/usr/bin/app"); h != nil {
		t.Errorf("HeadSize -1: head of %d bytes", len(h))
	}
}

func TestContentRereadsOnlyOwningLayer(t *testing.T) {
	var opens [3]int
	payload := strings.Repeat("payload-", 5000)
	layers := []Layer{
		blobLayer(gzipOf(t, tarOf(t, reg("a/one", 0o644, "one"), reg("a/two", 0o644, payload))), &opens[0]),
		blobLayer(zstdOf(t, tarOf(t, reg("b", 0o644, "b"), hard("c", "a/two"))), &opens[1]),
		blobLayer(tarOf(t, reg("d", 0o644, "dd"), reg("a/one", 0o644, "ONE")), &opens[2]),
	}
	f, err := Build(context.Background(), layers, Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	opens = [3]int{}
	tests := []struct {
		name, want string
		opens      [3]int
	}{
		{"a/two", payload, [3]int{1, 0, 0}},
		{"c", payload, [3]int{1, 0, 0}}, // hard link: content lives in layer 0
		{"a/one", "ONE", [3]int{0, 0, 1}},
		{"b", "b", [3]int{0, 1, 0}},
	}
	for _, tt := range tests {
		opens = [3]int{}
		file, err := f.Open(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if opens != [3]int{} {
			t.Errorf("Open(%s) read a layer before Read", tt.name)
		}
		b, err := io.ReadAll(file)
		if err != nil || string(b) != tt.want {
			t.Errorf("Read(%s) = %q, %v", tt.name, b, err)
		}
		if err := file.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if opens != tt.opens {
			t.Errorf("Read(%s) opened layers %v, want %v", tt.name, opens, tt.opens)
		}
	}
	if e, _ := f.Lookup("/c"); e.HardlinkTo != "/a/two" || e.Layer != 1 || e.Size != int64(len(payload)) {
		t.Errorf("hard link entry = %+v", e)
	}
}

func TestOpenStreamedClose(t *testing.T) {
	f := build(t, []tf{reg("f", 0o644, strings.Repeat("x", 10000))})
	file, err := f.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, err := file.Read(buf); n == 0 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := file.Read(buf); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Read after Close = %v", err)
	}
	if err := file.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
}
