package imagefs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// content opens the content of the regular file n by re-reading the one
// layer that holds it, up to the file. The reader stops at the end of the
// file's content.
func (f *FS) content(n *node) (io.ReadCloser, error) {
	li, off := n.contentLoc()
	l := f.layers[li]
	if n.flags&flagSparse != 0 {
		return nil, fmt.Errorf("sparse file in layer %d (%s): %w", li, l.Digest, errors.ErrUnsupported)
	}
	if off == noOffset {
		return nil, fmt.Errorf("file beyond 2 TiB in layer %d (%s): %w", li, l.Digest, errors.ErrUnsupported)
	}
	raw, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("opening layer %d (%s): %w", li, l.Digest, err)
	}
	dec, release, err := decompress(bufio.NewReaderSize(raw, 64<<10))
	if err != nil {
		raw.Close()
		return nil, &LayerError{Index: li, Digest: l.Digest, Err: err, Corrupt: true}
	}
	c := &contentReader{r: dec, left: n.size, raw: raw, release: release}
	if err := skip(dec, int64(off)*blockSize); err != nil {
		c.Close()
		return nil, &LayerError{Index: li, Digest: l.Digest, Err: fmt.Errorf("re-reading: %w", noEOF(err)), Corrupt: true}
	}
	return c, nil
}

// skip reads and drops n bytes of r.
func skip(r io.Reader, n int64) error {
	buf := make([]byte, min(n, 32<<10))
	for n > 0 {
		m, err := r.Read(buf[:min(int64(len(buf)), n)])
		n -= int64(m)
		if err == io.EOF && n > 0 {
			return io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// contentReader reads one file of a re-opened layer.
type contentReader struct {
	r       io.Reader
	left    int64
	raw     io.Closer
	release func()
	closed  bool
}

func (c *contentReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err == io.EOF {
		if c.left > 0 {
			err = io.ErrUnexpectedEOF
		} else if n > 0 {
			err = nil
		}
	}
	return n, err
}

func (c *contentReader) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.release()
	return c.raw.Close()
}
