package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// testEpoch is the mtime of every generated entry.
var testEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// tf is one tar entry of a test layer.
type tf struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	body     string
	link     string
}

func reg(name string, mode int64, body string) tf {
	return tf{name: name, typ: tar.TypeReg, mode: mode, body: body}
}
func dir(name string, mode int64) tf { return tf{name: name, typ: tar.TypeDir, mode: mode} }
func sym(name, target string) tf {
	return tf{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hard(name, target string) tf {
	return tf{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}
func wh(name string) tf {
	i := strings.LastIndexByte(name, '/')
	return reg(name[:i+1]+".wh."+name[i+1:], 0o644, "")
}
func opq(d string) tf { return reg(strings.TrimSuffix(d, "/")+"/.wh..wh..opq", 0o644, "") }

// tarOf writes entries, in order, as a tar stream.
func tarOf(t testing.TB, entries ...tf) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Linkname: e.link, ModTime: testEpoch, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("writing header %q: %v", e.name, err)
		}
		if typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// blobLayer makes a Layer serving blob at offsets, as files do; opens
// counts calls to Open.
func blobLayer(blob []byte, opens *int) Layer {
	l := streamLayer(blob, opens)
	l.Open = func() (io.ReadCloser, error) {
		if opens != nil {
			*opens++
		}
		return nopCloserAt{bytes.NewReader(blob)}, nil
	}
	return l
}

// nopCloserAt is a blob that can be read at offsets, with a no-op Close.
type nopCloserAt struct{ *bytes.Reader }

func (nopCloserAt) Close() error { return nil }

// streamLayer makes a Layer serving blob as a stream only, as registries
// do; opens counts calls to Open.
func streamLayer(blob []byte, opens *int) Layer {
	return Layer{
		Digest:    fmt.Sprintf("sha256:%x", sha256.Sum256(blob)),
		MediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
		Size:      int64(len(blob)),
		CreatedBy: "COPY . /",
		Open: func() (io.ReadCloser, error) {
			if opens != nil {
				*opens++
			}
			return io.NopCloser(bytes.NewReader(blob)), nil
		},
	}
}

// gz is a gzip layer of entries.
func gz(t testing.TB, entries ...tf) Layer {
	t.Helper()
	return blobLayer(gzipOf(t, tarOf(t, entries...)), nil)
}

// build builds an FS of gzip layers.
func build(t testing.TB, layers ...[]tf) *FS {
	t.Helper()
	ls := make([]Layer, len(layers))
	for i, es := range layers {
		ls[i] = gz(t, es...)
	}
	f, err := Build(context.Background(), ls, Options{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return f
}

// listing renders the merged view, root excluded, one line per entry:
// "/path reg 0644 u:g L1 =content", "/d dir 0755", "/l sym ->target".
func listing(t testing.TB, f *FS) []string {
	t.Helper()
	var out []string
	err := f.Walk(func(e *Entry) error {
		if e.Path == "/" {
			return nil
		}
		var s string
		switch e.Type {
		case TypeDir:
			s = fmt.Sprintf("%s dir %04o", e.Path, uint32(e.Mode.Perm()))
		case TypeSymlink:
			s = fmt.Sprintf("%s sym ->%s", e.Path, e.Linkname)
		case TypeReg:
			b, err := fs.ReadFile(f, e.Path[1:])
			if err != nil {
				t.Fatalf("ReadFile(%s): %v", e.Path, err)
			}
			s = fmt.Sprintf("%s reg %04o =%s", e.Path, uint32(e.Mode.Perm()), b)
		default:
			s = fmt.Sprintf("%s type=%c", e.Path, e.Type)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kinds(f *FS) []string {
	var out []string
	for _, a := range f.Anomalies() {
		out = append(out, fmt.Sprintf("%s %s", a.Kind, a.Path))
	}
	sort.Strings(out)
	return out
}

func diffLines(got, want []string) string {
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return ""
	}
	return fmt.Sprintf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
}
