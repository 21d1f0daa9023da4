package cmd

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/bytesize"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
)

// progressTransport reports, on a terminal, the bytes of each blob (layer
// or config) pulled from a registry: one line per blob, rewritten in place
// while it downloads and finished with its total.
type progressTransport struct {
	next  http.RoundTripper
	w     io.Writer
	every time.Duration // between in-place updates
	mu    sync.Mutex    // one line at a time on w
}

// newProgressTransport wraps the network transport of source, with
// connect as its connect timeout.
func newProgressTransport(w io.Writer, connect time.Duration) *progressTransport {
	return &progressTransport{next: source.NewTransport(connect), w: w, every: 100 * time.Millisecond}
}

func (p *progressTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	digest := blobDigest(req)
	if digest == "" {
		return resp, nil
	}
	resp.Body = &progressBody{ReadCloser: resp.Body, p: p, digest: digest, total: resp.ContentLength}
	return resp, nil
}

// blobDigest returns the digest of a blob request, following a redirect
// (to a CDN or S3) back to the registry's /blobs/ URL.
func blobDigest(req *http.Request) string {
	for r := req; r != nil; {
		if _, d, ok := strings.Cut(r.URL.Path, "/blobs/"); ok && strings.Contains(d, ":") {
			return d
		}
		if r.Response == nil {
			break
		}
		r = r.Response.Request
	}
	return ""
}

type progressBody struct {
	io.ReadCloser
	p      *progressTransport
	digest string
	total  int64
	n      int64
	last   time.Time
	done   bool
}

func (b *progressBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	b.n += int64(n)
	if err == io.EOF {
		b.finish()
	} else if now := time.Now(); now.Sub(b.last) >= b.p.every {
		b.last = now
		b.p.line(b.digest, b.n, b.total, false)
	}
	return n, err
}

func (b *progressBody) Close() error {
	b.finish()
	return b.ReadCloser.Close()
}

func (b *progressBody) finish() {
	if b.done {
		return
	}
	b.done = true
	b.p.line(b.digest, b.n, b.total, true)
}

func (p *progressTransport) line(digest string, n, total int64, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	short := digest
	if alg, hex, ok := strings.Cut(digest, ":"); ok && len(hex) > 12 {
		short = alg + ":" + hex[:12]
	}
	// The digest is read from the request's URL, which a registry's
	// redirect chooses.
	short = termsafe.Line(short)
	size := bytesize.Decimal(n)
	if total > 0 && !done {
		size += " / " + bytesize.Decimal(total)
	}
	end := ""
	if done {
		end = "\n"
	}
	// \r and clear-to-end-of-line: rewrite the line in place.
	fmt.Fprintf(p.w, "\r\x1b[Kpulling %s  %s%s", short, size, end)
}
