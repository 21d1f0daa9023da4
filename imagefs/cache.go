package imagefs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The persistent layer-index cache. Rebuilt images share their base layers
// and CI jobs inspect nearly the same image again and again, so what the
// pass learns about a layer is kept on disk and reused by later Builds:
//
//   - the entries part (records, captured bytes, anomalies, entry count,
//     uncompressed size), keyed by the layer's DiffID, the capture policy
//     (Options.HeadSize, MaxCapture and CaptureKey) and the index format
//     version;
//   - the access part (the compression, the blob size and the gzip restart
//     points with their 32 KiB windows), keyed as well by the digest of the
//     compressed blob and the restart-point spacing, since windows are valid
//     only for the exact bytes they were recorded from.
//
// An entry is written only when the pass itself hashed the layer and found
// the digests the keys name: the tar stream's SHA-256 equals the DiffID and
// the blob's SHA-256 is the blob digest the access part is filed under. So a
// config that lies about its diff_ids cannot plant an index that another
// image would then trust.
//
// Every file is written to a temporary name in the cache directory and
// renamed into place (readers see a whole file or none: two processes
// building the same layer both write, the last rename wins, both are
// valid). Its header, key and metadata are covered by a SHA-256 and its
// size must match the lengths its header records: a truncated or altered
// file is ignored, removed and rebuilt. The windows of the access part are
// not read at load (they stay in the cache file, read at an offset when a
// restart point is used) but each carries a CRC-32 checked when it is read;
// a bad one makes the read restart from the start of the layer and removes
// the file. Files are touched when used, and the cache is trimmed to its
// size bound by removing the least recently used files.

// cacheVersion is the layer index format version. Bump it whenever what a
// pass records changes (record layout, capture rules, anomaly texts, the
// restart-point format): files of other versions are never read and age out
// of the cache.
// Version 2: the pass skips names, components and link targets past
// PathMax and NameMax, and keeps only the PAX records it uses.
// Version 3: entries carry the ELF summaries the pass makes (elfinfo).
// Version 4: the summaries carry the symbol version tables.
// Version 5: restart points carry their probes, proven on first use.
const cacheVersion = 5

// DefaultCacheSize is the size bound of a cache opened with a zero size.
const DefaultCacheSize = 2 << 30

// CacheDirEnv names the environment variable overriding the cache directory.
const CacheDirEnv = "LAMBDOCTOR_CACHE_DIR"

// Cache is a directory of layer indexes shared by lambdoctor processes.
// It is safe for concurrent use, by goroutines and by processes.
type Cache struct {
	dir string
	max int64
	// evictMu serialises this process's trims.
	evictMu sync.Mutex
}

// DefaultCacheDir returns $LAMBDOCTOR_CACHE_DIR when it is set, else
// lambdoctor/layers under the user cache directory (os.UserCacheDir:
// $XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS).
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(CacheDirEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (%v): set %s", err, CacheDirEnv)
	}
	return filepath.Join(base, "lambdoctor", "layers"), nil
}

// OpenCache opens (creating it, mode 0700) the cache directory dir, bounded
// to maxBytes (0 means DefaultCacheSize).
func OpenCache(dir string, maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheSize
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the cache directory: %w", err)
	}
	return &Cache{dir: dir, max: maxBytes}, nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// MaxBytes returns the cache's size bound.
func (c *Cache) MaxBytes() int64 { return c.max }

// Get returns the record a source stored under kind and key with Put, and
// whether there was a sound one. Sources keep small facts there (what a
// daemon export held) to avoid work the layer indexes make unneeded.
func (c *Cache) Get(kind, key string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	e, err := c.open(kind, key)
	if err != nil {
		return nil, false
	}
	defer e.f.Close()
	if e.tail != 0 {
		c.discard(e.f.Name())
		return nil, false
	}
	return e.meta, true
}

// Put stores b under kind and key (see Get). Errors say why nothing was
// stored; the cache stays sound whatever happens.
func (c *Cache) Put(kind, key string, b []byte) error {
	if c == nil {
		return nil
	}
	return c.write(kind, key, b, nil)
}

// cacheMagic starts every cache file.
const cacheMagic = "LDXCACHE"

// cacheHeaderLen is the fixed header: magic, version (u32), kind (4
// bytes), key length (u32), tail length (u64), meta length (u64).
const cacheHeaderLen = 8 + 4 + 4 + 4 + 8 + 8

// maxCacheMeta bounds the metadata read into memory from one file.
const maxCacheMeta = 1 << 32

// fileName returns the file kind and key are stored in.
func (c *Cache) fileName(kind, key string) string {
	h := sha256.New()
	fmt.Fprintf(h, "lambdoctor-cache %d\x00%s\x00%s", cacheVersion, kind, key)
	return filepath.Join(c.dir, fmt.Sprintf("%s-v%d-%s", strings.ToLower(kind), cacheVersion, hex.EncodeToString(h.Sum(nil)[:20])))
}

// cacheFile is an opened, verified cache file.
type cacheFile struct {
	f *os.File
	// meta is the verified metadata; tail is the length of the region
	// between the key and meta, which starts at tailOff.
	meta    []byte
	tail    int64
	tailOff int64
}

// errCacheMiss is a missing file.
var errCacheMiss = errors.New("not in the cache")

// open opens and verifies the file of kind and key. A file that exists but
// does not verify is removed.
func (c *Cache) open(kind, key string) (*cacheFile, error) {
	p := c.fileName(kind, key)
	f, err := os.Open(p)
	if err != nil {
		return nil, errCacheMiss
	}
	e, err := readCacheFile(f, kind, key)
	if err != nil {
		f.Close()
		c.discard(p)
		return nil, err
	}
	now := time.Now()
	os.Chtimes(p, now, now)
	return e, nil
}

// readCacheFile verifies f's header, key, size and checksum.
func readCacheFile(f *os.File, kind, key string) (*cacheFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var hdr [cacheHeaderLen]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("short header: %w", err)
	}
	if string(hdr[:8]) != cacheMagic || binary.LittleEndian.Uint32(hdr[8:]) != cacheVersion || string(hdr[12:16]) != kindTag(kind) {
		return nil, errors.New("not a cache file of this version and kind")
	}
	klen := int64(binary.LittleEndian.Uint32(hdr[16:]))
	tail := binary.LittleEndian.Uint64(hdr[20:])
	mlen := binary.LittleEndian.Uint64(hdr[28:])
	if klen != int64(len(key)) || mlen > maxCacheMeta || tail > 1<<50 {
		return nil, errors.New("bad lengths")
	}
	if want := cacheHeaderLen + klen + int64(tail) + int64(mlen) + sha256.Size; fi.Size() != want {
		return nil, fmt.Errorf("size %d, header says %d", fi.Size(), want)
	}
	kb := make([]byte, klen)
	if _, err := f.ReadAt(kb, cacheHeaderLen); err != nil {
		return nil, err
	}
	if string(kb) != key {
		return nil, errors.New("another key")
	}
	tailOff := cacheHeaderLen + klen
	rest := make([]byte, int64(mlen)+sha256.Size)
	if _, err := f.ReadAt(rest, tailOff+int64(tail)); err != nil {
		return nil, err
	}
	meta, sum := rest[:mlen], rest[mlen:]
	h := sha256.New()
	h.Write(hdr[:])
	h.Write(kb)
	h.Write(meta)
	if !bytes.Equal(h.Sum(nil), sum) {
		return nil, errors.New("checksum mismatch")
	}
	return &cacheFile{f: f, meta: meta, tail: int64(tail), tailOff: tailOff}, nil
}

// kindTag is the 4-byte kind written in headers.
func kindTag(kind string) string {
	return (kind + "____")[:4]
}

// write stores a file of kind and key: the tail region written by tail
// (nil for none), then meta.
func (c *Cache) write(kind, key string, meta []byte, tail func(w io.Writer) (int64, error)) error {
	tmp, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var hdr [cacheHeaderLen]byte
	if _, err := tmp.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(tmp, key); err != nil {
		return err
	}
	var tlen int64
	if tail != nil {
		if tlen, err = tail(tmp); err != nil {
			return err
		}
	}
	copy(hdr[:], cacheMagic)
	binary.LittleEndian.PutUint32(hdr[8:], cacheVersion)
	copy(hdr[12:16], kindTag(kind))
	binary.LittleEndian.PutUint32(hdr[16:], uint32(len(key)))
	binary.LittleEndian.PutUint64(hdr[20:], uint64(tlen))
	binary.LittleEndian.PutUint64(hdr[28:], uint64(len(meta)))
	h := sha256.New()
	h.Write(hdr[:])
	io.WriteString(h, key)
	h.Write(meta)
	if _, err := tmp.Write(meta); err != nil {
		return err
	}
	if _, err := tmp.Write(h.Sum(nil)); err != nil {
		return err
	}
	if _, err := tmp.WriteAt(hdr[:], 0); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.fileName(kind, key)); err != nil {
		return err
	}
	ok = true
	c.trim()
	return nil
}

// discard removes a file found unsound.
func (c *Cache) discard(p string) {
	os.Remove(p)
}

// staleTemp is the age after which a temporary file is taken for the
// leftover of a process that died while writing.
const staleTemp = time.Hour

// trim removes the least recently used files until the cache fits its
// bound, and stale temporary files.
func (c *Cache) trim() {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type file struct {
		p    string
		size int64
		used time.Time
	}
	var files []file
	var total int64
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile by another process
		}
		p := filepath.Join(c.dir, e.Name())
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if time.Since(fi.ModTime()) > staleTemp {
				os.Remove(p)
			}
			continue
		}
		files = append(files, file{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	if total <= c.max {
		return
	}
	slices.SortFunc(files, func(a, b file) int { return a.used.Compare(b.used) })
	for _, f := range files {
		if total <= c.max {
			break
		}
		if err := os.Remove(f.p); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= f.size
		}
	}
}

// Size returns the bytes the cache's files take.
func (c *Cache) Size() (int64, error) {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
	}
	return total, nil
}
