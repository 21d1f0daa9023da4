package cmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCacheSize(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "0": 0, "123456": 123456, "500MB": 500e6, "2GiB": 2 << 30, "1.5G": 3 << 29, "64 KiB": 64 << 10, "10b": 10,
	} {
		if got, err := parseCacheSize(in); err != nil || got != want {
			t.Errorf("parseCacheSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"lots", "-1GB", "GiB", "1e30"} {
		if _, err := parseCacheSize(in); err == nil {
			t.Errorf("parseCacheSize(%q) accepted", in)
		}
	}
}

func cacheEntries(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestInspectCache: inspect fills the cache and reports the same from it;
// --no-cache and LAMBDOCTOR_CACHE_SIZE=0 leave it alone; a bad size is a
// usage error; an unusable directory is a warning.
func TestInspectCache(t *testing.T) {
	img := writeArchive(t, rubySeedImage(t))
	dir := filepath.Join(t.TempDir(), "cache")
	env := map[string]string{"LAMBDOCTOR_CACHE_DIR": dir}
	inspect := func(env map[string]string, args ...string) (int, string, string) {
		s, out, errb := streams(env)
		code := Run(context.Background(), append([]string{"inspect", "--format", "json"}, append(args, img)...), s)
		return code, out.String(), errb.String()
	}
	code, first, errs := inspect(env)
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := cacheEntries(t, dir); n != 6 {
		t.Errorf("%d files in the cache after inspecting 3 layers, want 6", n)
	}
	code, second, errs := inspect(env)
	if code != ExitFindings || second != first {
		t.Errorf("the cached inspection differs (exit %d, %s):\n%s\nwant:\n%s", code, errs, second, first)
	}

	other := filepath.Join(t.TempDir(), "other")
	if code, out, _ := inspect(map[string]string{"LAMBDOCTOR_CACHE_DIR": other}, "--no-cache"); code != ExitFindings || out != first {
		t.Errorf("--no-cache: exit %d", code)
	}
	if code, _, _ := inspect(map[string]string{"LAMBDOCTOR_CACHE_DIR": other, "LAMBDOCTOR_CACHE_SIZE": "0"}); code != ExitFindings {
		t.Errorf("LAMBDOCTOR_CACHE_SIZE=0: exit %d", code)
	}
	if n := cacheEntries(t, other); n != 0 {
		t.Errorf("--no-cache or LAMBDOCTOR_CACHE_SIZE=0 wrote %d cache files", n)
	}

	code, _, errs = inspect(map[string]string{"LAMBDOCTOR_CACHE_DIR": other, "LAMBDOCTOR_CACHE_SIZE": "lots"})
	if code != ExitUsage || !strings.Contains(errs, "LAMBDOCTOR_CACHE_SIZE") {
		t.Errorf("a bad LAMBDOCTOR_CACHE_SIZE: exit %d, stderr %q", code, errs)
	}

	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	code, out, errs := inspect(map[string]string{"LAMBDOCTOR_CACHE_DIR": filepath.Join(notDir, "cache")})
	if code != ExitFindings || out != first || !strings.Contains(errs, "warning: layer cache off") {
		t.Errorf("an unusable cache directory: exit %d, stderr %q", code, errs)
	}
}
