package analyze

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"
)

// This file models how the dynamic linker finds a DT_NEEDED library inside
// the image: glibc's ld.so (DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH,
// /etc/ld.so.cache, the default directories) and musl's (LD_LIBRARY_PATH,
// DT_RPATH/DT_RUNPATH, /etc/ld-musl-<arch>.path or its defaults).

// LDFiles are the files the library search reads: checks that search
// libraries list them in Meta.Needs so the filesystem pass keeps them.
var LDFiles = []string{
	"/etc/ld.so.cache",
	"/etc/ld.so.conf",
	"/etc/ld.so.conf.d/*",
	"/etc/ld-musl-*.path",
}

// ld.so.cache formats.
const (
	ldCacheOldMagic = "ld.so-1.7.0"
	ldCacheNewMagic = "glibc-ld.so.cache1.1"
)

// ld.so.cache entry flags (glibc elf/cache.h / ldconfig.h).
const (
	ldFlagTypeMask     = 0x00ff
	ldFlagELFLibc6     = 0x0003
	ldFlagRequiredMask = 0xff00
	ldFlagX8664Lib64   = 0x0300
	ldFlagAArch64Lib64 = 0x0a00
)

// LDCacheEntry is one library the cache lists.
type LDCacheEntry struct {
	Name  string // the soname looked up ("libc.so.6")
	Path  string // where it is ("/lib64/libc.so.6")
	Flags int32
}

// LDCache is a parsed /etc/ld.so.cache.
type LDCache struct {
	// Format is "new" (glibc-ld.so.cache1.1), "old+new" or "old".
	Format  string
	Entries []LDCacheEntry
}

// ParseLDCache reads an ld.so.cache in the new format, the old format, or
// the old format with the new one appended (as ldconfig writes with
// -c compat).
func ParseLDCache(b []byte) (*LDCache, error) {
	if bytes.HasPrefix(b, []byte(ldCacheNewMagic)) {
		entries, err := parseLDCacheNew(b)
		if err != nil {
			return nil, err
		}
		return &LDCache{Format: "new", Entries: entries}, nil
	}
	if !bytes.HasPrefix(b, []byte(ldCacheOldMagic)) {
		return nil, errors.New("not an ld.so.cache (unknown magic)")
	}
	const oldHeader, oldEntry = 16, 12 // magic[12] + nlibs; flags, key, value
	if len(b) < oldHeader {
		return nil, errors.New("truncated ld.so.cache header")
	}
	n := uint64(binary.LittleEndian.Uint32(b[12:]))
	end := uint64(oldHeader) + n*oldEntry
	if end > uint64(len(b)) {
		return nil, fmt.Errorf("ld.so.cache lists %d entries beyond its size", n)
	}
	// The new format, when present, follows the old entries aligned to 8.
	if off := (end + 7) &^ 7; off < uint64(len(b)) && bytes.HasPrefix(b[off:], []byte(ldCacheNewMagic)) {
		entries, err := parseLDCacheNew(b[off:])
		if err != nil {
			return nil, err
		}
		return &LDCache{Format: "old+new", Entries: entries}, nil
	}
	// Old format only: strings follow the entries, little-endian.
	strs := b[end:]
	c := &LDCache{Format: "old"}
	for i := range n {
		e := b[oldHeader+i*oldEntry:]
		flags := int32(binary.LittleEndian.Uint32(e))
		k, v := binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[8:])
		name, ok1 := cstring(strs, uint64(k))
		p, ok2 := cstring(strs, uint64(v))
		if ok1 && ok2 {
			c.Entries = append(c.Entries, LDCacheEntry{Name: name, Path: p, Flags: flags})
		}
	}
	return c, nil
}

// parseLDCacheNew reads a new-format cache starting at b[0]; string offsets
// are relative to b.
func parseLDCacheNew(b []byte) ([]LDCacheEntry, error) {
	// magic[17] version[3] nlibs len_strings flags(u8) pad[3]
	// extension_offset unused[3]: 48 bytes. Entries: flags(i32) key(u32)
	// value(u32) osversion(u32) hwcap(u64): 24 bytes.
	const header, entry = 48, 24
	if len(b) < header {
		return nil, errors.New("truncated ld.so.cache header")
	}
	// The cache is written in the host's byte order; Lambda's hosts are
	// little-endian. A big-endian cache has an implausible count.
	var bo binary.ByteOrder = binary.LittleEndian
	n := uint64(bo.Uint32(b[20:]))
	if n*entry > uint64(len(b)) {
		bo = binary.BigEndian
		n = uint64(bo.Uint32(b[20:]))
	}
	if header+n*entry > uint64(len(b)) {
		return nil, fmt.Errorf("ld.so.cache lists %d entries beyond its size", n)
	}
	out := make([]LDCacheEntry, 0, n)
	for i := range n {
		e := b[header+i*entry:]
		flags := int32(bo.Uint32(e))
		name, ok1 := cstring(b, uint64(bo.Uint32(e[4:])))
		p, ok2 := cstring(b, uint64(bo.Uint32(e[8:])))
		if ok1 && ok2 {
			out = append(out, LDCacheEntry{Name: name, Path: p, Flags: flags})
		}
	}
	return out, nil
}

func cstring(b []byte, off uint64) (string, bool) {
	if off >= uint64(len(b)) {
		return "", false
	}
	s := b[off:]
	i := bytes.IndexByte(s, 0)
	if i < 0 {
		return "", false
	}
	return string(s[:i]), true
}

// cacheFlagsFit reports whether a cache entry's flags suit a glibc
// process of architecture arch, as _dl_cache_check_flags does.
func cacheFlagsFit(flags int32, arch string) bool {
	if flags&ldFlagTypeMask != ldFlagELFLibc6 {
		return false
	}
	req := flags & ldFlagRequiredMask
	switch arch {
	case "amd64":
		return req == ldFlagX8664Lib64
	case "arm64":
		return req == ldFlagAArch64Lib64
	}
	return true
}

// LDConfig is the image's dynamic-linker configuration.
type ldConfig struct {
	Cache    *LDCache
	CacheErr error // why /etc/ld.so.cache could not be used; nil if absent
	// ConfDirs are the directories /etc/ld.so.conf names (includes
	// expanded): ld.so reads them only through the cache ldconfig builds.
	ConfDirs []string
	// MuslPath is the content of /etc/ld-musl-<arch>.path, split, and
	// MuslPathFile its name ("" when absent).
	MuslPath     []string
	MuslPathFile string
}

// LDConfig reads the dynamic-linker configuration once per Target.
func (t *Target) LDConfig(arch string) *ldConfig {
	return t.facts.ldConfig.get(arch, func() *ldConfig {
		c := &ldConfig{}
		if b, err := t.FS.ReadFile("etc/ld.so.cache"); err == nil {
			c.Cache, c.CacheErr = ParseLDCache(b)
		}
		seen := map[string]bool{}
		var readConf func(p string, depth int)
		readConf = func(p string, depth int) {
			if depth > 8 || seen[p] {
				return
			}
			seen[p] = true
			b, err := t.FS.ReadFile(strings.TrimPrefix(p, "/"))
			if err != nil {
				return
			}
			for _, line := range strings.Split(string(b), "\n") {
				if i := strings.IndexByte(line, '#'); i >= 0 {
					line = line[:i]
				}
				fields := strings.Fields(line)
				if len(fields) == 0 {
					continue
				}
				if fields[0] == "include" {
					for _, g := range fields[1:] {
						if !strings.HasPrefix(g, "/") {
							g = path.Join(path.Dir(p), g)
						}
						for _, m := range t.globFiles(g) {
							readConf(m, depth+1)
						}
					}
					continue
				}
				if fields[0] == "hwcap" {
					continue
				}
				for _, d := range strings.FieldsFunc(line, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' || r == '=' }) {
					if strings.HasPrefix(d, "/") {
						c.ConfDirs = append(c.ConfDirs, path.Clean(d))
					}
				}
			}
		}
		readConf("/etc/ld.so.conf", 0)
		if ma := muslArch(arch); ma != "" {
			f := "/etc/ld-musl-" + ma + ".path"
			if b, err := t.FS.ReadFile(strings.TrimPrefix(f, "/")); err == nil {
				c.MuslPathFile = f
				for _, d := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ':' || r == '\n' }) {
					if d = strings.TrimSpace(d); d != "" {
						c.MuslPath = append(c.MuslPath, d)
					}
				}
			}
		}
		return c
	})
}

// globFiles expands a glob of absolute paths (only the last component may
// hold wildcards) to the regular files it names, sorted.
func (t *Target) globFiles(g string) []string {
	dir, pat := path.Split(g)
	ents, err := t.FS.ReadDir(strings.TrimPrefix(path.Clean(dir), "/"))
	if err != nil {
		return nil
	}
	var out []string
	for _, de := range ents {
		if ok, _ := path.Match(pat, de.Name()); ok && !de.IsDir() {
			out = append(out, path.Join(dir, de.Name()))
		}
	}
	return out
}

// muslArch is musl's name for an architecture.
func muslArch(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return ""
}

// gnuTriplet is the Debian multiarch directory name of an architecture.
func gnuTriplet(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64-linux-gnu"
	case "arm64":
		return "aarch64-linux-gnu"
	}
	return ""
}

// glibcDefaultDirs are the directories ld.so searches after the cache.
// The set is generous on purpose: distributions build glibc with
// different system directories (/lib64 on Amazon Linux and Fedora, the
// multiarch directories on Debian), and a library found in any of them is
// not reported.
func glibcDefaultDirs(arch string) []string {
	dirs := []string{}
	if arch == "amd64" || arch == "arm64" || arch == "" {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	if tr := gnuTriplet(arch); tr != "" {
		dirs = append(dirs, "/lib/"+tr, "/usr/lib/"+tr)
	}
	return append(dirs, "/lib", "/usr/lib")
}

// muslDefaultDirs is musl's search path when no .path file exists.
var muslDefaultDirs = []string{"/lib", "/usr/local/lib", "/usr/lib"}

// lambdaLibraryPath is the LD_LIBRARY_PATH AWS documents for its managed
// runtimes (and AWS base images set in ENV). Whether Lambda sets it for
// container images whose ENV does not is unconfirmed, so a library found
// only there is not reported.
const lambdaLibraryPath = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"

// expandDST expands $ORIGIN, $LIB and $PLATFORM (and their ${...} forms)
// in a DT_RPATH/DT_RUNPATH entry; $LIB and $PLATFORM give several
// candidates because their values depend on how glibc was built.
func expandDST(dir string, origins []string, arch string) []string {
	libs := []string{"lib64", "lib"}
	if tr := gnuTriplet(arch); tr != "" {
		libs = append(libs, "lib/"+tr)
	}
	platform := []string{muslArch(arch)}
	if platform[0] == "" {
		platform = []string{arch}
	}
	out := []string{dir}
	expand := func(tok string, vals []string) {
		var next []string
		for _, d := range out {
			if !strings.Contains(d, "$"+tok) && !strings.Contains(d, "${"+tok+"}") {
				next = append(next, d)
				continue
			}
			for _, v := range vals {
				next = append(next, strings.ReplaceAll(strings.ReplaceAll(d, "${"+tok+"}", v), "$"+tok, v))
			}
		}
		out = next
	}
	expand("ORIGIN", origins)
	expand("LIB", libs)
	expand("PLATFORM", platform)
	var clean []string
	seen := map[string]bool{}
	for _, d := range out {
		if !strings.HasPrefix(d, "/") {
			continue // relative entries are relative to the process cwd; rare, not modelled
		}
		d = path.Clean(d)
		if !seen[d] {
			seen[d] = true
			clean = append(clean, d)
		}
	}
	return clean
}

// splitPathList splits a colon (or semicolon) separated list of
// directories, dropping empty and relative entries.
func splitPathList(s string) []string {
	return absDirs(s, ":;")
}

// absDirs returns the absolute directories of a list separated by any of
// seps, cleaned; relative entries (which resolve against a working
// directory only known at run time) are left out.
func absDirs(s, seps string) []string {
	var out []string
	for _, d := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) }) {
		if strings.HasPrefix(d, "/") {
			out = append(out, path.Clean(d))
		}
	}
	return out
}
