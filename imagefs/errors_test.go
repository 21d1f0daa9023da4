package imagefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// failingReader returns data, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestBuildErrors(t *testing.T) {
	good := gzipOf(t, tarOf(t, reg("a", 0o644, strings.Repeat("a", 50000)), reg("b", 0o644, "b")))
	plain := tarOf(t, reg("a", 0o644, strings.Repeat("a", 50000)), reg("b", 0o644, "b"))
	zst := zstdOf(t, plain)
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-6] ^= 0xff
	garbage := bytes.Repeat([]byte("not a tar header "), 64)
	trailing := append(bytes.Clone(good), "junk after the gzip stream"...)

	tests := []struct {
		name    string
		blob    []byte
		readErr error
		corrupt bool
		is      error
	}{
		{name: "truncated gzip", blob: good[:len(good)/2], corrupt: true, is: io.ErrUnexpectedEOF},
		{name: "gzip without trailer", blob: good[:len(good)-8], corrupt: true},
		{name: "gzip bad checksum", blob: badCRC, corrupt: true},
		{name: "gzip bad header", blob: append([]byte{0x1f, 0x8b, 0, 0}, good[4:]...), corrupt: true},
		{name: "gzip trailing garbage", blob: trailing, corrupt: true},
		{name: "truncated zstd", blob: zst[:len(zst)/2], corrupt: true},
		{name: "truncated tar", blob: plain[:700], corrupt: true, is: io.ErrUnexpectedEOF},
		{name: "garbage tar", blob: garbage, corrupt: true},
		{name: "source read error", blob: good, readErr: errors.New("connection reset")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := Layer{
				Digest: "sha256:badbadbad",
				Open: func() (io.ReadCloser, error) {
					var r io.Reader = bytes.NewReader(tt.blob)
					if tt.readErr != nil {
						r = &failingReader{r: r, err: tt.readErr}
					}
					return io.NopCloser(r), nil
				},
			}
			_, err := Build(context.Background(), []Layer{gz(t, reg("ok", 0o644, "ok")), bad, gz(t, reg("ok2", 0o644, "ok"))}, Options{})
			if err == nil {
				t.Fatal("Build succeeded")
			}
			if errors.Is(err, ErrCorruptLayer) != tt.corrupt {
				t.Errorf("errors.Is(%v, ErrCorruptLayer) = %v", err, !tt.corrupt)
			}
			if !strings.HasPrefix(err.Error(), "layer 1 (sha256:badbadbad): ") {
				t.Errorf("error %q does not name the layer", err)
			}
			if tt.corrupt && !strings.HasSuffix(err.Error(), ": corrupt layer") {
				t.Errorf("error %q", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if tt.readErr != nil && !errors.Is(err, tt.readErr) {
				t.Errorf("source error lost: %v", err)
			}
			var le *LayerError
			if !errors.As(err, &le) || le.Index != 1 || le.Digest != "sha256:badbadbad" {
				t.Errorf("LayerError = %+v", le)
			}
		})
	}
}

func TestBuildOpenError(t *testing.T) {
	l := Layer{Digest: "sha256:x", Open: func() (io.ReadCloser, error) { return nil, errors.New("no such blob") }}
	_, err := Build(context.Background(), []Layer{l}, Options{})
	if err == nil || errors.Is(err, ErrCorruptLayer) || err.Error() != "layer 0 (sha256:x): opening: no such blob" {
		t.Errorf("err = %v", err)
	}
}

func TestMaxEntries(t *testing.T) {
	var es []tf
	for i := range 30 {
		es = append(es, reg(fmt.Sprintf("f%d", i), 0o644, ""))
	}
	layers := []Layer{gz(t, es...), gz(t, es...)}
	if _, err := Build(context.Background(), layers, Options{MaxEntries: 60}); err != nil {
		t.Errorf("60 entries with MaxEntries 60: %v", err)
	}
	_, err := Build(context.Background(), layers, Options{MaxEntries: 59})
	if !errors.Is(err, ErrTooManyEntries) || !errors.Is(err, ErrLimit) || errors.Is(err, ErrCorruptLayer) {
		t.Errorf("err = %v, want ErrTooManyEntries", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "more than 59 entries over all layers") || !strings.HasSuffix(msg, "(Options.MaxEntries)") {
		t.Errorf("message %q", msg)
	}
}

func TestBuildCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Build(ctx, []Layer{gz(t, reg("a", 0o644, "a")), gz(t, reg("b", 0o644, "b"))}, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestBuildParallelismIsDeterministic(t *testing.T) {
	var layers []Layer
	for i := range 12 {
		var es []tf
		for j := range 50 {
			es = append(es, reg(fmt.Sprintf("d%d/f%d", j%7, j), 0o644, fmt.Sprintf("layer %d file %d", i, j)))
		}
		if i%3 == 2 {
			es = append(es, wh(fmt.Sprintf("d%d", i%7)), opq(fmt.Sprintf("d%d", (i+1)%7)))
		}
		layers = append(layers, gz(t, es...))
	}
	var want []string
	for _, p := range []int{1, 2, 3, 8, 32} {
		f, err := Build(context.Background(), layers, Options{Parallelism: p})
		if err != nil {
			t.Fatal(err)
		}
		got := listing(t, f)
		if want == nil {
			want = got
			continue
		}
		if d := diffLines(got, want); d != "" {
			t.Errorf("Parallelism %d: %s", p, d)
		}
	}
}
