package source

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// maxLinkHops bounds symlink chains inside an archive (docker save links
// shared layers as ../<id>/layer.tar).
const maxLinkHops = 16

// errNotTar is returned by indexTar when the file does not start with a tar
// header at all.
var errNotTar = errors.New("not a tar archive")

// member is one entry of an indexed tar archive.
type member struct {
	name     string
	typ      byte
	offset   int64 // of the data, for regular files
	size     int64
	linkname string
}

// tarFile is a tar archive indexed in one pass: for every regular member,
// the offset and size of its data, so members are served as
// io.SectionReaders without scanning the archive again. Nothing is ever
// extracted: member names and links are resolved within the index only.
type tarFile struct {
	f       *os.File
	size    int64
	members map[string]member
}

// countingReader tracks the position in the underlying file. archive/tar
// reads headers block by block and skips data with Seek, so after Next the
// position is the start of the member's data.
type countingReader struct {
	r   io.ReadSeeker
	pos int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.pos += int64(n)
	return n, err
}

func (c *countingReader) Seek(offset int64, whence int) (int64, error) {
	n, err := c.r.Seek(offset, whence)
	if err == nil {
		c.pos = n
	}
	return n, err
}

// indexTar reads every header of the tar in f once. It returns errNotTar
// (wrapped) when the first header is not a tar header, and a Corrupt
// LoadError when the archive is truncated or damaged further on.
func indexTar(f *os.File) (*tarFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seeking: %w", err)
	}
	tf := &tarFile{f: f, size: fi.Size(), members: map[string]member{}}
	cr := &countingReader{r: f}
	tr := tar.NewReader(cr)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return nil, fmt.Errorf("%w: empty file", errNotTar)
			}
			return tf, nil
		}
		if err != nil {
			if n == 0 {
				return nil, fmt.Errorf("%w: %v", errNotTar, err)
			}
			return nil, errorf(Corrupt, "archive is truncated or damaged after %d entries: %v", n, err)
		}
		name, ok := cleanMemberName(hdr.Name)
		if !ok {
			continue // "..", absolute escapes: never served
		}
		m := member{name: name, typ: hdr.Typeflag, size: hdr.Size, linkname: hdr.Linkname}
		switch hdr.Typeflag {
		case tar.TypeReg: // archive/tar reports TypeRegA ('\x00') as TypeReg
			if isSparse(hdr) {
				continue
			}
			m.typ = tar.TypeReg
			m.offset = cr.pos
			if hdr.Size < 0 || m.offset+hdr.Size > tf.size {
				return nil, errorf(Corrupt, "archive is truncated: member %q needs %d bytes at offset %d, file is %d bytes",
					name, hdr.Size, m.offset, tf.size)
			}
		case tar.TypeSymlink, tar.TypeLink:
			m.size = 0
		default:
			continue
		}
		tf.members[name] = m // a later duplicate wins, as on extraction
	}
}

// isSparse reports GNU or PAX sparse members, whose data is not stored
// contiguously.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// cleanMemberName normalises a member name ("./a//b" → "a/b") and rejects
// names with ".." elements or nothing left.
func cleanMemberName(name string) (string, bool) {
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", false
		}
	}
	c := strings.TrimPrefix(path.Clean("/"+name), "/")
	return c, c != ""
}

// has reports whether name is a member (of any kind).
func (t *tarFile) has(name string) bool {
	_, ok := t.members[name]
	return ok
}

// resolve finds the regular member for name, following symlinks and
// hardlinks inside the archive only.
func (t *tarFile) resolve(name string) (member, error) {
	cur, ok := cleanMemberName(name)
	if !ok {
		return member{}, errorf(Corrupt, "unsafe member name %q", name)
	}
	for hop := 0; hop <= maxLinkHops; hop++ {
		m, ok := t.members[cur]
		if !ok {
			return member{}, fmt.Errorf("%q: %w", name, os.ErrNotExist)
		}
		switch m.typ {
		case tar.TypeReg:
			return m, nil
		case tar.TypeSymlink:
			target := m.linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(cur), target)
			}
			next, ok := cleanMemberName(target)
			if !ok || strings.HasPrefix(path.Clean(target), "..") {
				return member{}, errorf(Corrupt, "member %q links outside the archive (%q)", cur, m.linkname)
			}
			cur = next
		case tar.TypeLink:
			next, ok := cleanMemberName(m.linkname)
			if !ok {
				return member{}, errorf(Corrupt, "member %q links outside the archive (%q)", cur, m.linkname)
			}
			cur = next
		}
	}
	return member{}, errorf(Corrupt, "member %q: too many links", name)
}

// section returns a reader over m's data.
func (t *tarFile) section(m member) *io.SectionReader {
	return io.NewSectionReader(t.f, m.offset, m.size)
}

// opener returns an Open func serving m's raw bytes. What it returns can
// also be read at offsets (ReadAt, Size), so that imagefs reads files of
// the layer later without copying the blob.
func (t *tarFile) opener(m member) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		return sectionCloser{t.section(m)}, nil
	}
}

// sectionCloser is a section of the archive with a no-op Close: the
// archive stays open until the image is closed.
type sectionCloser struct{ *io.SectionReader }

func (sectionCloser) Close() error { return nil }

// readFile returns the bytes of a small member (JSON), refusing it from
// its size when it is over limit (limitName names the limit, what the
// document).
func (t *tarFile) readFile(name string, limit int64, limitName, what string) ([]byte, error) {
	m, err := t.resolve(name)
	if err != nil {
		return nil, err
	}
	if m.size > limit {
		return nil, tooBig(what, m.size, limit, limitName)
	}
	var buf bytes.Buffer
	buf.Grow(int(m.size))
	if _, err := io.Copy(&buf, t.section(m)); err != nil {
		return nil, errorf(Corrupt, "reading member %q: %v", name, err)
	}
	return buf.Bytes(), nil
}
