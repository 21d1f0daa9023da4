package imagefs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Build reads layers (base first) and returns the merged, read-only view of
// the image's filesystem.
//
// Each layer is read in one streaming pass, Parallelism layers at a time
// (largest first when sizes are known); the passes build compact records
// that are merged into one tree in layer order as soon as the layers below
// are merged, then dropped. Nothing is extracted to disk and, apart from the
// heads and captures Options ask for, no content is kept: opening a file
// re-reads its layer from the restart point before it (see ReadFiles). The
// FS holds temporary files for that (in Options.TempDir, unlinked at once):
// Close releases them.
//
// Build fails on a layer that cannot be opened or read, one whose
// compressed stream or tar archive is corrupt (errors.Is(err,
// ErrCorruptLayer)), or when a layer or the image exceeds a limit against
// hostile images (errors.Is(err, ErrLimit); see limits.go and
// docs/limits.md), such as Options.MaxEntries. Odd entries are not errors:
// see Anomalies; entries no Linux runtime could create (names or link
// targets of PathMax bytes or more) are skipped with an anomaly.
func Build(ctx context.Context, layers []Layer, opts Options) (*FS, error) {
	if len(layers) > maxLayers {
		return nil, fmt.Errorf("%d layers: at most %d are supported", len(layers), maxLayers)
	}
	opts = opts.withDefaults()
	f := &FS{
		root:   &node{typ: TypeDir, mode: 0o755, flags: flagImplicit},
		layers: slices.Clone(layers),
		info:   make([]LayerInfo, len(layers)),
		access: make([]layerAccess, len(layers)),
		store:  &windowStore{dir: opts.TempDir},
	}
	if opts.Cache != nil {
		f.cache, f.learn = opts.Cache, &learner{}
	}
	for i, l := range layers {
		f.info[i] = LayerInfo{Index: i, Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, CreatedBy: l.CreatedBy, Size: l.Size}
	}
	if len(layers) == 0 {
		f.count()
		return f, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &decoder{fs: f, opts: opts}
	if opts.KeepDecompressed {
		d.plainLeft.Store(math.MaxInt64)
	}
	order := schedule(layers)
	type done struct {
		i   int
		res *layerResult
		err error
	}
	results := make(chan done, len(layers))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(opts.Parallelism, len(layers)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(order) || ctx.Err() != nil {
					return
				}
				i := order[k]
				res, err := d.layer(ctx, i, layers[i])
				results <- done{i, res, err}
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	m := &merger{f: f, d: d}
	pending := make([]*layerResult, len(layers))
	merged := 0
	var failure error
	failedAt := len(layers)
	for r := range results {
		if r.err != nil {
			// Keep the lowest-numbered real failure; the others may be
			// consequences of cancelling.
			real := !isCtxErr(r.err)
			if failure == nil || real && (isCtxErr(failure) || r.i < failedAt) {
				failure, failedAt = r.err, r.i
			}
			cancel()
			continue
		}
		if failure != nil {
			continue
		}
		pending[r.i] = r.res
		for merged < len(layers) && pending[merged] != nil {
			res := pending[merged]
			pending[merged] = nil
			if err := m.apply(merged, res); err != nil {
				failure, failedAt = &LayerError{Index: merged, Digest: layers[merged].Digest, Err: err}, merged
				cancel()
				break
			}
			f.info[merged].Entries = res.entries
			f.info[merged].UncompressedSize = res.uncompressed
			f.access[merged] = res.access
			f.passBytes += res.uncompressed
			merged++
		}
	}
	if failure != nil {
		f.Close()
		return nil, failure
	}
	if merged != len(layers) {
		// Only a cancelled context stops workers without an error.
		f.Close()
		return nil, ctx.Err()
	}
	f.count()
	return f, nil
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// schedule returns the order in which to decode layers: largest first when
// sizes are known, so that the longest decode does not start last.
func schedule(layers []Layer) []int {
	order := make([]int, len(layers))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		sa, sb := layers[a].Size, layers[b].Size
		switch {
		case sa == sb, sa < 0 && sb < 0:
			return 0
		case sa < 0:
			return 1
		case sb < 0:
			return -1
		case sa > sb:
			return -1
		}
		return 1
	})
	return order
}
