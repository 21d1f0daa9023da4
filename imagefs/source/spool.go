package source

import (
	"bytes"
	"compress/bzip2"
	"errors"
	"io"
	"os"

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

// maxDecompressed bounds what a compressed archive may expand to in
// TempDir. Lambda images are at most 10 GB, so a bigger archive is hostile
// or not an image.
const maxDecompressed = 32 << 30

// openArchive opens the tar at p and indexes it. A gzip, zstd or bzip2
// compressed archive (`docker save | gzip`) is first decompressed into a
// temporary file in tempDir so that members can be served by offset; the
// returned cleanup closes the archive and removes that file.
func openArchive(p, tempDir string) (*tarFile, func() error, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, errorf(NotFound, "opening %s: %v", p, err)
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	comp := sniffCompression(head[:n])
	cleanup := f.Close
	if comp == compressXz {
		f.Close()
		return nil, nil, errorf(NotAnImage, "%s is xz-compressed: decompress it first (xz -d)", p)
	}
	if comp != compressNone {
		spooled, err := spoolDecompressed(f, comp, tempDir)
		f.Close()
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
			return nil, nil, errorf(NotAnImage, "%s is a %s but not a tar archive: expected a docker save archive or an OCI archive", p, what)
		}
		return nil, nil, reclassify(Corrupt, err, "reading %s", p)
	}
	return tf, cleanup, nil
}

// spoolDecompressed decompresses f into a new temporary file in tempDir.
func spoolDecompressed(f *os.File, comp compression, tempDir string) (*os.File, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, errorf(Corrupt, "seeking %s: %v", f.Name(), err)
	}
	var r io.Reader
	switch comp {
	case compressGzip:
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, errorf(Corrupt, "%s: bad gzip header: %v", f.Name(), err)
		}
		defer zr.Close()
		r = zr
	case compressZstd:
		zr, err := zstd.NewReader(f)
		if err != nil {
			return nil, errorf(Corrupt, "%s: bad zstd stream: %v", f.Name(), err)
		}
		defer zr.Close()
		r = zr
	case compressBzip2:
		r = bzip2.NewReader(f)
	}
	out, err := spool(io.LimitReader(r, maxDecompressed+1), tempDir, "lambdoctor-archive-*.tar")
	if err != nil {
		return nil, reclassify(Corrupt, err, "decompressing %s (%s)", f.Name(), comp)
	}
	if fi, err := out.Stat(); err == nil && fi.Size() > maxDecompressed {
		out.Close()
		os.Remove(out.Name())
		return nil, errorf(Corrupt, "%s decompresses to more than %d GiB: not a Lambda image (10 GB at most)", f.Name(), maxDecompressed>>30)
	}
	return out, nil
}

// spool copies r into a new temporary file in tempDir and returns it open.
// On error the file is removed.
func spool(r io.Reader, tempDir, pattern string) (*os.File, error) {
	out, err := os.CreateTemp(tempDir, pattern)
	if err != nil {
		return nil, errorf(Usage, "creating a temporary file (set the temp dir to a writable directory): %v", err)
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		os.Remove(out.Name())
		return nil, err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		out.Close()
		os.Remove(out.Name())
		return nil, err
	}
	return out, nil
}
