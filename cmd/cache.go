package cmd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/imagefs"
)

// cacheSizeEnv names the variable bounding the layer cache.
const cacheSizeEnv = "LAMBDOCTOR_CACHE_SIZE"

// noCacheUsage is the help of --no-cache.
const noCacheUsage = "do not read or write the layer-index cache ($LAMBDOCTOR_CACHE_DIR, else lambdoctor/layers in the user cache directory; bounded by $LAMBDOCTOR_CACHE_SIZE, default 2GiB)"

func addNoCacheFlag(f *pflag.FlagSet, p *bool) {
	f.BoolVar(p, "no-cache", false, noCacheUsage)
}

// openLayerCache returns the layer-index cache, nil when off. A cache that
// cannot be used (no home directory, a read-only one) is a warning on
// errw, not a failure: inspecting works without it. A malformed
// LAMBDOCTOR_CACHE_SIZE is a usage error.
func openLayerCache(errw io.Writer, off bool, getenv func(string) string) (*imagefs.Cache, error) {
	if off {
		return nil, nil
	}
	size, err := parseCacheSize(getenv(cacheSizeEnv))
	if err != nil {
		return nil, usageError("%s: %v", cacheSizeEnv, err)
	}
	if size == 0 && getenv(cacheSizeEnv) != "" {
		return nil, nil // LAMBDOCTOR_CACHE_SIZE=0 turns the cache off
	}
	dir, err := getenv(imagefs.CacheDirEnv), error(nil)
	if dir == "" {
		dir, err = imagefs.DefaultCacheDir()
	}
	if err == nil {
		var c *imagefs.Cache
		if c, err = imagefs.OpenCache(dir, size); err == nil {
			return c, nil
		}
	}
	fmt.Fprintf(errw, "lambdoctor: warning: layer cache off: %v\n", err)
	return nil, nil
}

// parseCacheSize parses a size such as 2GiB, 500MB, 1G or 123456 (bytes);
// "" is 0, the default.
func parseCacheSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
	}
	mult := int64(1)
	num := s
	for _, u := range units {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			mult, num = u.mult, strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("%q is not a size (use bytes or a unit: 500MB, 2GiB; 0 turns the cache off)", s)
	}
	return int64(n * float64(mult)), nil
}

// buildOptions are the imagefs options of an inspection: the captures the
// checks need, and the cache.
func buildOptions(list []checks.Check, tmp string, cache *imagefs.Cache) imagefs.Options {
	return imagefs.Options{Capture: captureFor(list), CaptureKey: captureKey(list), TempDir: tmp, Cache: cache, KeepDecompressedUpTo: imagefs.KeepDecompressedSmall}
}

// captureKey names the capture policy of captureFor(list) for the cache:
// a hash of the sorted, deduplicated globs.
func captureKey(list []checks.Check) string {
	var globs []string
	for _, c := range list {
		globs = append(globs, c.Meta().Needs...)
	}
	slices.Sort(globs)
	globs = slices.Compact(globs)
	sum := sha256.Sum256([]byte(strings.Join(globs, "\x00")))
	return "globs:" + hex.EncodeToString(sum[:16])
}

// getenv reads the environment through s.Getenv (os.Getenv when unset).
func (s *IOStreams) getenv(k string) string {
	if s.Getenv == nil {
		return os.Getenv(k)
	}
	return s.Getenv(k)
}
