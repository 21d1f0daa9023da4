package imagefs

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
)

// content opens the content of the regular file n by re-reading the one
// layer that holds it, up to its entry. The reader stops at the end of the
// entry.
func (f *FS) content(n *node) (io.ReadCloser, error) {
	li, ord := n.contentLoc()
	l := f.layers[li]
	raw, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("opening layer %d (%s): %w", li, l.Digest, err)
	}
	dec, release, err := decompress(bufio.NewReaderSize(raw, 64<<10))
	if err != nil {
		raw.Close()
		return nil, &LayerError{Index: li, Digest: l.Digest, Err: err, Corrupt: true}
	}
	c := &contentReader{raw: raw, release: release}
	tr := tar.NewReader(&tarStream{r: dec, ctx: context.Background()})
	for k := uint32(0); ; k++ {
		hdr, err := next(tr)
		if err != nil {
			c.Close()
			return nil, &LayerError{Index: li, Digest: l.Digest, Err: fmt.Errorf("re-reading entry %d: %w", ord, noEOF(err)), Corrupt: true}
		}
		if k < ord {
			continue
		}
		if hdr.Size != n.size {
			c.Close()
			return nil, &LayerError{Index: li, Digest: l.Digest, Err: fmt.Errorf("entry %d (%s) changed size on re-read: %d, was %d", ord, hdr.Name, hdr.Size, n.size)}
		}
		break
	}
	c.r = tr
	return c, nil
}

// contentReader reads one entry of a re-opened layer.
type contentReader struct {
	r       io.Reader
	raw     io.Closer
	release func()
	closed  bool
}

func (c *contentReader) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *contentReader) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.release()
	return c.raw.Close()
}
