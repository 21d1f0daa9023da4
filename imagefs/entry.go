package imagefs

import (
	"archive/tar"
	"io/fs"
	"time"
)

// Entry types, as normalized tar typeflags. Regular files ('0', NUL and
// contiguous '7') are TypeReg; hard links take the type of their target.
const (
	TypeReg     byte = tar.TypeReg
	TypeDir     byte = tar.TypeDir
	TypeSymlink byte = tar.TypeSymlink
	TypeChar    byte = tar.TypeChar
	TypeBlock   byte = tar.TypeBlock
	TypeFifo    byte = tar.TypeFifo
)

// Entry describes one path of the merged view, as the layer that last wrote
// it declared it.
type Entry struct {
	// Path is absolute and clean ("/usr/bin/python3"; "/" for the root).
	Path string
	// Type is one of TypeReg, TypeDir, TypeSymlink, TypeChar, TypeBlock,
	// TypeFifo.
	Type byte
	// Mode holds the permission bits plus fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky; never type bits.
	Mode fs.FileMode
	// UID and GID are the numeric owner.
	UID, GID int
	// Size is the content size of regular files (0 for other types).
	Size int64
	// Linkname is the symlink target exactly as written in the layer.
	Linkname string
	// Layer is the index (base = 0) of the layer that last wrote the path.
	Layer int
	// HardlinkTo is the absolute path of the original file when the entry
	// came from a hard link; the entry then carries the original's metadata.
	HardlinkTo string
	// ModTime is the modification time recorded in the layer, in seconds.
	ModTime time.Time
	// Implicit is true for directories that no layer declared: they were
	// created (0755, root) because a layer holds files below them.
	Implicit bool
}

// IsDir reports whether e is a directory.
func (e *Entry) IsDir() bool { return e.Type == TypeDir }

// IsRegular reports whether e is a regular file.
func (e *Entry) IsRegular() bool { return e.Type == TypeReg }

// IsSymlink reports whether e is a symbolic link.
func (e *Entry) IsSymlink() bool { return e.Type == TypeSymlink }

// FileMode returns e's mode with the io/fs type bits set.
func (e *Entry) FileMode() fs.FileMode { return e.Mode | typeMode(e.Type) }

// LayerInfo describes one layer of the image as Build read it.
type LayerInfo struct {
	// Index is the position of the layer, base = 0.
	Index int `json:"index"`
	// Digest is the blob's digest as stored; reports put the DiffID here
	// when the source does not know it. DiffID, MediaType and CreatedBy
	// are copied from the Layer.
	Digest    string `json:"digest"`
	DiffID    string `json:"-"`
	MediaType string `json:"mediaType"`
	// Size is the stored (compressed) size, -1 when unknown.
	Size int64 `json:"size"`
	// UncompressedSize is the size of the layer's tar stream, -1 when
	// unknown.
	UncompressedSize int64 `json:"uncompressedSize"`
	// CreatedBy is the config history's created_by for the layer.
	CreatedBy string `json:"createdBy,omitempty"`
	// Entries is the number of tar entries in the layer, whiteouts and
	// skipped entries included.
	Entries int `json:"-"`
}

// AnomalyKind names a kind of odd layer entry.
type AnomalyKind string

// Kinds of anomalies. None is fatal; entries flagged as skipped are not in
// the merged view.
const (
	// AnomalyUnsafeName: a name whose ".." components climb above the root
	// (or otherwise unusable); the entry is skipped.
	AnomalyUnsafeName AnomalyKind = "unsafe-name"
	// AnomalyEscapingLink: a symlink whose literal target climbs above "/".
	// It is kept; resolution clamps it at the root, chroot-style.
	AnomalyEscapingLink AnomalyKind = "escaping-link"
	// AnomalyDanglingHardlink: a hard link to nothing (or to a directory);
	// the entry is skipped.
	AnomalyDanglingHardlink AnomalyKind = "dangling-hardlink"
	// AnomalyDuplicateEntry: a layer writes the same path twice, not both as
	// directories; the later entry wins.
	AnomalyDuplicateEntry AnomalyKind = "duplicate-entry"
	// AnomalyUnsupportedType: an entry of a type lambdoctor does not model
	// (or a non-directory at the root); the entry is skipped.
	AnomalyUnsupportedType AnomalyKind = "unsupported-type"
	// AnomalyBadWhiteout: a whiteout that names nothing usable, such as
	// ".wh." alone or AUFS ".wh..wh.*" metadata other than the opaque
	// marker; it is ignored.
	AnomalyBadWhiteout AnomalyKind = "bad-whiteout"
	// AnomalySymlinkParent: a parent directory of the entry is a symlink in
	// the merged view; the entry is written through it (resolved
	// chroot-style), as container runtimes do.
	AnomalySymlinkParent AnomalyKind = "symlink-parent"
	// AnomalyParentNotDir: a parent of the entry is a non-directory that
	// does not resolve to a directory; the entry is skipped (a runtime
	// would fail to unpack the layer).
	AnomalyParentNotDir AnomalyKind = "parent-not-dir"
	// AnomalySparseFile: a GNU sparse file. It is kept, with its logical
	// size, but its content cannot be read (lambdoctor does not expand
	// sparse maps; image builders do not write sparse files).
	AnomalySparseFile AnomalyKind = "sparse-file"
	// AnomalyTruncated: too many anomalies in one layer; the rest are
	// counted in Detail and dropped.
	AnomalyTruncated AnomalyKind = "too-many-anomalies"
)

// Anomaly is an odd entry found while building the view.
type Anomaly struct {
	// Layer is the index of the layer holding the entry.
	Layer int
	// Path is the entry's name: absolute and clean when it could be
	// cleaned, as written otherwise; a name of PathMax bytes or more keeps
	// its first 200 bytes and its length ("aaa… (5000 bytes)").
	Path string
	// Kind classifies the anomaly.
	Kind AnomalyKind
	// Detail says what exactly is odd.
	Detail string
}
