package source

import (
	"io"
	"sync"
)

// Progress is how far one transfer of a load got, for a display: the blob
// of a registry layer (Layer > 0) or a daemon's export (Layer == 0).
type Progress struct {
	// Layer is the layer's number, from 1, and Layers the image's layer
	// count; both 0 for a daemon export (`docker save` sends the whole
	// image in one stream).
	Layer, Layers int
	// Read is the bytes transferred so far; Total the bytes expected (the
	// layer's size in its manifest), -1 when unknown (a daemon export).
	Read, Total int64
	// Done is set once, on the transfer's last report: it ended, whether
	// complete, failed or abandoned.
	Done bool
}

// progressReader reports the bytes read through it to report, and Done
// once, at the end of the stream or on Close, whichever comes first.
type progressReader struct {
	r      io.Reader
	report func(Progress)
	p      Progress
	once   sync.Once
}

func newProgressReader(r io.Reader, p Progress, report func(Progress)) *progressReader {
	pr := &progressReader{r: r, report: report, p: p}
	report(pr.p)
	return pr
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.Read += int64(n)
	if err != nil {
		pr.finish()
	} else if n > 0 {
		pr.report(pr.p)
	}
	return n, err
}

// finish reports Done, once.
func (pr *progressReader) finish() {
	pr.once.Do(func() {
		p := pr.p
		p.Done = true
		pr.report(p)
	})
}

// progressOpener reports the reads of every blob open returns as layer
// (1-based) of layers, size bytes expected.
func progressOpener(open func() (io.ReadCloser, error), layer, layers int, size int64, report func(Progress)) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		total := size
		if total <= 0 {
			total = -1
		}
		return &progressReadCloser{progressReader: newProgressReader(rc, Progress{Layer: layer, Layers: layers, Total: total}, report), c: rc}, nil
	}
}

type progressReadCloser struct {
	*progressReader
	c io.Closer
}

func (p *progressReadCloser) Close() error {
	p.finish()
	return p.c.Close()
}
