package emulate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/internal/bytesize"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

// Where run unpacks the root filesystem (run --rootfs).
const (
	// RootFSAuto unpacks into memory when the tree fits (see
	// sandbox.MemoryBase), else to disk; to disk with Function.Keep, so
	// that a kept tree holds no memory.
	RootFSAuto = "auto"
	// RootFSMemory unpacks into a tmpfs, or fails.
	RootFSMemory = "memory"
	// RootFSDisk unpacks into the temporary directory ($TMPDIR).
	RootFSDisk = "disk"
)

// RootFSChoices are the values of Function.RootFSIn.
var RootFSChoices = []string{RootFSAuto, RootFSMemory, RootFSDisk}

// Unpack is how the root filesystem was written.
type Unpack struct {
	// Bytes is what the tree's files take (each rounded up to 4 KiB
	// pages), Entries its entries.
	Bytes   int64 `json:"bytes"`
	Entries int   `json:"entries"`
	Ms      int64 `json:"ms"`
	// Into is RootFSMemory or RootFSDisk; Dir the directory the run's
	// own directory was made in (a tmpfs, or $TMPDIR).
	Into string `json:"into"`
	Dir  string `json:"dir"`
	// Why says why an automatic choice went to disk.
	Why string `json:"why,omitempty"`
}

// memoryBase is sandbox.MemoryBase; tests replace it.
var memoryBase = sandbox.MemoryBase

// pageSize is what tmpfs rounds each file up to.
const pageSize = 4096

// treeSize is what the merged tree of fsys takes once written: its
// regular files rounded up to pages (directories and short symlinks take
// no pages on a tmpfs), and its number of entries.
func treeSize(fsys *imagefs.FS) (bytes int64, entries int) {
	fsys.Walk(func(e *imagefs.Entry) error {
		entries++
		if e.Type == imagefs.TypeReg && e.HardlinkTo == "" {
			bytes += (e.Size + pageSize - 1) / pageSize * pageSize
		}
		return nil
	})
	return bytes, entries
}

// placeRootFS decides where the tree goes, and creates the run directory
// on a tmpfs when it goes into memory (w.mem, w.RootFS moved there).
func placeRootFS(w *Workspace, fn Function, need int64, entries int) (*Unpack, error) {
	up := &Unpack{Bytes: need, Into: RootFSDisk, Dir: filepath.Dir(filepath.Dir(w.RootFS))}
	mode := fn.RootFSIn
	if mode == "" {
		mode = RootFSAuto
	}
	switch mode {
	case RootFSDisk:
		return up, nil
	case RootFSAuto:
		if fn.Keep {
			up.Why = "--keep writes it to disk, where a kept tree holds no memory"
			return up, nil
		}
	case RootFSMemory:
	default:
		return nil, fmt.Errorf("unknown root filesystem place %q (want one of auto, memory, disk)", mode)
	}
	base, err := memoryBase(need, entries)
	if err == nil {
		var rd *sandbox.RunDir
		if rd, err = sandbox.CreateRunDirIn(base); err == nil {
			w.mem, w.RootFS = rd, filepath.Join(rd.Path, "rootfs")
			up.Into, up.Dir = RootFSMemory, base
			return up, nil
		}
		err = fmt.Errorf("creating a directory in %s: %w", base, err)
	}
	if mode == RootFSMemory {
		return nil, fmt.Errorf("--rootfs memory: %w", err)
	}
	up.Why = err.Error()
	return up, nil
}

// toDisk removes the tree unpacked into memory and its run directory, and
// makes an empty root filesystem directory in the workspace's own.
func (w *Workspace) toDisk() error {
	if err := w.mem.Remove(); err != nil {
		return fmt.Errorf("removing the unfinished tree from memory: %w", err)
	}
	w.mem, w.RootFS = nil, filepath.Join(w.dir.Path, "rootfs")
	if err := os.Mkdir(w.RootFS, 0o755); err != nil {
		return fmt.Errorf("creating the root filesystem directory: %w", err)
	}
	return nil
}

// unpack writes the image's root filesystem into the workspace (into
// memory or to disk, see placeRootFS) and closes im's layers.
func unpack(ctx context.Context, w *Workspace, im *inspect.Image, fn Function) (*sandbox.Report, *Unpack, error) {
	start := time.Now()
	need, entries := treeSize(im.FS)
	up, err := placeRootFS(w, fn, need, entries)
	if err != nil {
		return nil, nil, err
	}
	up.Entries = entries
	if err := os.Mkdir(w.RootFS, 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating the root filesystem directory: %w", err)
	}
	ref := im.Source.Ref
	// The unpack reads every file: what the checks read is what the layer
	// cache should keep for the next inspection.
	im.FS.StopLearning()
	mr, err := sandbox.MaterializeReport(ctx, im.FS, w.RootFS)
	if err != nil && errors.Is(err, syscall.ENOSPC) && up.Into == RootFSMemory && fn.RootFSIn != RootFSMemory && ctx.Err() == nil {
		// The tmpfs filled up meanwhile (something else wrote to it):
		// an automatic choice goes to disk instead.
		full := up.Dir
		if err = w.toDisk(); err == nil {
			up.Into, up.Dir = RootFSDisk, filepath.Dir(w.dir.Path)
			up.Why = full + " filled up while the tree was unpacked into it"
			mr, err = sandbox.MaterializeReport(ctx, im.FS, w.RootFS)
		}
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, nil, fmt.Errorf("interrupted while unpacking %q", ref)
		case errors.Is(err, sandbox.ErrUnsupported):
			return nil, nil, sandboxError(err)
		}
		if up.Into == RootFSMemory {
			err = fmt.Errorf("%w (unpacking into memory, %s in %s; --rootfs disk writes it under $TMPDIR instead)",
				err, bytesize.Decimal(need), up.Dir)
		}
		return nil, nil, fmt.Errorf("unpacking %q: %w", ref, err)
	}
	// The image's layers are no longer needed: free the spooled copies.
	im.Close()
	up.Ms = time.Since(start).Milliseconds()
	return mr, up, nil
}
