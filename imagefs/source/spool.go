package source

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compression of a whole archive file, from its magic bytes.
type compression string

const (
	compressNone  compression = ""
	compressGzip  compression = "gzip"
	compressZstd  compression = "zstd"
	compressBzip2 compression = "bzip2"
	compressXz    compression = "xz"
)

func sniffCompression(head []byte) compression {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return compressGzip
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return compressZstd
	case bytes.HasPrefix(head, []byte("BZh")):
		return compressBzip2
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return compressXz
	}
	return compressNone
}

// openArchive opens the tar at p and indexes it. A gzip, zstd or bzip2
// compressed archive (`docker save | gzip`) is first decompressed into a
// temporary file in tempDir so that members can be served by offset; the
// returned cleanup closes the archive and removes that file.
//
// label names the archive in messages: p, or "stdin" for a spooled pipe.
func openArchive(p, label, tempDir string) (*tarFile, func() error, error) {
	// O_NONBLOCK: a FIFO put in place after loadPath's check must not
	// block the open; it is refused by the check that follows.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, errorf(NotFound, "opening %s: %v", label, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, errorf(NotAnImage, "%s is not a regular file", label)
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	comp := sniffCompression(head[:n])
	cleanup := f.Close
	if comp == compressXz {
		f.Close()
		return nil, nil, errorf(NotAnImage, "%s is xz-compressed: decompress it first (xz -d)", label)
	}
	if comp != compressNone {
		spooled, err := spoolDecompressed(f, label, comp, tempDir)
		f.Close()
		if errors.Is(err, errNotTar) {
			return nil, nil, errorf(NotAnImage, "%s is a %s-compressed file but not a tar archive: expected a docker save archive or an OCI archive", label, comp)
		}
		if err != nil {
			return nil, nil, err
		}
		f = spooled
		name := spooled.Name()
		cleanup = func() error {
			err := spooled.Close()
			if rerr := os.Remove(name); rerr != nil && err == nil {
				err = rerr
			}
			return err
		}
	}
	tf, err := indexTar(f)
	if err != nil {
		cleanup()
		if errors.Is(err, errNotTar) {
			what := "file"
			if comp != compressNone {
				what = string(comp) + "-compressed file"
			}
			return nil, nil, errorf(NotAnImage, "%s is a %s but not a tar archive: expected a docker save archive or an OCI archive", label, what)
		}
		return nil, nil, reclassify(Corrupt, err, "reading %s", label)
	}
	return tf, cleanup, nil
}

// spoolDecompressed decompresses f into a new temporary file in tempDir,
// up to the end of the tar archive it holds. The archive may take at most
// maxImageBytes, and for gzip at most maxDeflateRatio times f's size.
// label names f in messages.
func spoolDecompressed(f *os.File, label string, comp compression, tempDir string) (*os.File, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, errorf(Corrupt, "seeking %s: %v", label, err)
	}
	limit := spoolLimit{bytes: maxImageBytes, name: "maxImageBytes", why: "Lambda images are at most 10 GB uncompressed"}
	var r io.Reader
	switch comp {
	case compressGzip:
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, errorf(Corrupt, "%s: bad gzip header: %v", label, err)
		}
		defer zr.Close()
		r = zr
		if fi, err := f.Stat(); err == nil {
			if ratio := fi.Size()*maxDeflateRatio + deflateSlack; ratio < limit.bytes {
				limit = spoolLimit{bytes: ratio, name: "maxDeflateRatio",
					why: fmt.Sprintf("gzip expands %s at most %d times", humanSize(fi.Size()), maxDeflateRatio)}
			}
		}
	case compressZstd:
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(maxZstdWindow))
		if err != nil {
			return nil, errorf(Corrupt, "%s: bad zstd stream: %v", label, err)
		}
		defer zr.Close()
		r = zr
		if fi, err := f.Stat(); err == nil {
			if ratio := fi.Size()*maxDeflateRatio + zstdExpansionFloor; ratio < limit.bytes {
				limit = spoolLimit{bytes: ratio, name: "maxDeflateRatio",
					why: fmt.Sprintf("an archive of %s is taken for a decompression bomb past %s: zstd expanding more than any gzip stream can (%d times) beyond its first GiB", humanSize(fi.Size()), humanSize(ratio), maxDeflateRatio)}
			}
		}
	case compressBzip2:
		r = bzip2.NewReader(f)
	}
	out, err := spoolTar(r, tempDir, "lambdoctor-archive-*.tar", limit, "the archive")
	if err != nil {
		return nil, reclassify(Corrupt, err, "decompressing %s (%s)", label, comp)
	}
	return out, nil
}

// deflateSlack covers gzip's header and trailer in the ratio bound.
const deflateSlack = 64 << 10

// spoolLimit is the most a spooled archive may take, and why.
type spoolLimit struct {
	bytes int64
	name  string // the constant, for the message
	why   string
}

// spoolTar copies the tar archive r into a new temporary file in tempDir
// and returns it open and rewound; on error the file is removed. It reads
// r as a tar while copying: a member whose declared size would take the
// archive past limit is refused from its header, before its data is read,
// and copying stops at the archive's end (its two zero blocks), so
// whatever follows is never decompressed. what names the archive.
func spoolTar(r io.Reader, tempDir, pattern string, limit spoolLimit, what string) (*os.File, error) {
	out, err := os.CreateTemp(tempDir, pattern)
	if err != nil {
		return nil, errorf(Usage, "creating a temporary file (set the temp dir to a writable directory): %v", err)
	}
	fail := func(err error) (*os.File, error) {
		out.Close()
		os.Remove(out.Name())
		return nil, err
	}
	w := &cappedWriter{f: out, limit: limit, what: what}
	tr := tar.NewReader(io.TeeReader(r, w))
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return fail(fmt.Errorf("%w: empty archive", errNotTar))
			}
			break
		}
		if err != nil {
			var le *LoadError
			switch {
			case errors.As(err, &le):
				return fail(err)
			case errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded):
				return fail(errorf(Corrupt, "a zstd frame asks for a window larger than %s (maxZstdWindow)", humanSize(maxZstdWindow)))
			case n == 0:
				return fail(fmt.Errorf("%w: %v", errNotTar, err))
			}
			return fail(errorf(Corrupt, "archive is truncated or damaged after %d entries: %v", n, err))
		}
		if end := w.n + blockRound(hdr.Size); hdr.Size < 0 || end > limit.bytes {
			return fail(w.over(fmt.Sprintf("member %q declares %s", hdr.Name, humanSize(hdr.Size))))
		}
	}
	if err := w.finish(); err != nil {
		return fail(err)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return out, nil
}

// blockRound rounds n up to tar's 512-byte blocks.
func blockRound(n int64) int64 {
	return (n + 511) &^ 511
}

// cappedWriter writes to f and fails past limit. Blocks of zeros are
// skipped rather than written, leaving holes that read back as zeros: a
// stream of zeros (the cheapest thing to compress) costs no disk. finish
// sets the file's size.
type cappedWriter struct {
	f     *os.File
	n     int64
	limit spoolLimit
	what  string
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.limit.bytes {
		return 0, c.over("")
	}
	total := len(p)
	for len(p) > 0 {
		chunk := p[:min(len(p), 64<<10)]
		if !allZero(chunk) {
			if _, err := c.f.WriteAt(chunk, c.n); err != nil {
				return 0, err
			}
		}
		c.n += int64(len(chunk))
		p = p[len(chunk):]
	}
	return total, nil
}

// finish gives the file its full size (a trailing hole included).
func (c *cappedWriter) finish() error {
	return c.f.Truncate(c.n)
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// over is the error for an archive that needs more than the limit.
func (c *cappedWriter) over(detail string) error {
	if detail != "" {
		detail = ": " + detail
	}
	return errorf(Corrupt, "%s would take more than %s%s (%s: %s)", c.what, humanSize(c.limit.bytes), detail, c.limit.name, c.limit.why)
}
