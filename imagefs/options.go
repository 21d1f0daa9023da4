package imagefs

import "runtime"

// Options tune Build. The zero value is ready to use.
type Options struct {
	// Parallelism is the number of layers decoded at once; 0 means
	// runtime.GOMAXPROCS(0).
	Parallelism int
	// HeadSize is the number of bytes captured from the start of every
	// regular file with an exec bit, every regular file under
	// /opt/extensions and every file Capture accepts (so checks can read
	// shebangs and ELF headers without re-reading layers). 0 means 512; a
	// negative value disables head capture. For ELF files the capture is
	// extended to cover the program headers and the PT_INTERP string when
	// they lie within the first ElfHeadMax bytes.
	HeadSize int
	// Capture, when set, is asked for every regular file (with its absolute
	// path as written in its layer, "/etc/passwd", and its size) whether its
	// whole content should be kept in memory, up to MaxCapture bytes. Use
	// it for small configuration files checks read (/etc/passwd, CA
	// bundles, ld.so.cache). It is called from several goroutines at once.
	Capture func(name string, size int64) bool
	// MaxCapture caps what Capture keeps per file; 0 means 4 MiB. Longer
	// files keep their first MaxCapture bytes and are re-read when opened.
	MaxCapture int64
	// MaxEntries caps the number of tar entries over all layers, and of
	// the directories their paths imply that no layer declares, against
	// entry bombs; 0 means 5,000,000. Build fails with an error wrapping
	// ErrTooManyEntries and ErrLimit beyond it.
	MaxEntries int
	// TempDir is where the FS keeps what reads after Build need: the
	// restart points' windows and copies of layers the source can only
	// stream. The files are unlinked as soon as they are created. "" means
	// os.TempDir().
	TempDir string
	// CheckpointEvery is the spacing, in bytes of uncompressed output, of
	// the restart points recorded in gzip layers: a read after Build
	// decompresses at most that much more than the file it reads. Each
	// restart point keeps a 32 KiB window in TempDir. 0 means
	// DefaultCheckpointEvery; a negative value records none (every read
	// then decompresses its layer from the start).
	CheckpointEvery int64
	// Cache, when set, is consulted before each layer is read and filled
	// with what the pass learns (see Cache): a layer it holds is not
	// opened unless a read needs content that was not captured.
	Cache *Cache
	// KeepDecompressed makes the pass keep the decompressed tar stream of
	// every compressed layer it reads, in an unlinked temporary file in
	// TempDir, so that reads after Build decompress nothing: for a caller
	// about to read every file once (lambdoctor run's unpack), this halves
	// the decompression, for the layers' uncompressed size in TempDir
	// until Close. Layers that come from the Cache are not read by the
	// pass and are not copied. When the copy cannot be written (TempDir
	// full, say) the layer is read as without it.
	KeepDecompressed bool
	// CaptureKey names the Capture function, for the Cache: two Builds
	// whose Capture functions accept the same files must give the same
	// key, different ones different keys (a hash of the rules, say). With
	// Capture set and no CaptureKey, the Cache is not used.
	CaptureKey string

	// expansionFloor replaces the constant of the same name when set: fuzz
	// targets lower it so that a mutated stream decompresses megabytes,
	// not a gigabyte, before the limit stops it.
	expansionFloor int64
}

// Unpacking returns o set up for a caller that reads every file once after
// Build, as lambdoctor run's unpack does: KeepDecompressed set.
func (o Options) Unpacking() Options {
	o.KeepDecompressed = true
	return o
}

// Defaults for Options.
const (
	DefaultHeadSize   = 512
	DefaultMaxCapture = 4 << 20
	DefaultMaxEntries = 5_000_000
	// DefaultCheckpointEvery bounds the decompression of a read to 512 KiB
	// more than the file, for 6.25% of the layer's size in windows.
	DefaultCheckpointEvery = 512 << 10
	// ElfHeadMax bounds the extended capture of ELF files.
	ElfHeadMax = 4096
	// maxAnomaliesPerLayer bounds the anomalies recorded per layer.
	maxAnomaliesPerLayer = 1000
	// maxLayers is what a uint16 layer index holds.
	maxLayers = 1<<16 - 1
)

func (o Options) withDefaults() Options {
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	switch {
	case o.HeadSize == 0:
		o.HeadSize = DefaultHeadSize
	case o.HeadSize < 0:
		o.HeadSize = 0
	}
	if o.MaxCapture <= 0 {
		o.MaxCapture = DefaultMaxCapture
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxEntries > 1<<32-2 {
		o.MaxEntries = 1<<32 - 2
	}
	return o
}
