package analyze

import (
	"sync"
)

// facts are what the analysis derives from a Target's image, each computed
// at most once however many checks ask: the entrypoint chain, the runtime
// client, the ELF scan and the parsed files it reads, the dynamic-linker
// configuration, the TLS stack and CA files, the image's sizes, and file
// contents read from the layers. Every fact has its own typed field; the
// zero value is ready to use, so a Target is built with a literal.
type facts struct {
	chain        lazy[*Chain]
	ric          lazy[*RICAnalysis]
	sitePackages lazy[[]string]
	binaries     lazy[binariesResult]
	tls          lazy[TLSProgram]
	dockerCerts  lazy[[]string]
	sizes        lazy[ImageSizes]
	ldConfig     keyed[string, *ldConfig] // by architecture
	elf          keyed[string, *ELFFile]  // by resolved path
	bundles      keyed[string, bundlesResult]
	files        fileCache
	scripts      lazy[[]*Script]
	applets      keyed[string, busyboxApplets] // by resolved path
	shellBinary  keyed[string, []byte]         // by resolved path
}

// binariesResult is the outcome of the binary scan.
type binariesResult struct {
	scan *BinScan
	err  error
}

// bundlesResult is the outcome of a walk for CA bundle files.
type bundlesResult struct {
	found []string
	err   error
}

// lazy is a value computed once, on first use.
type lazy[T any] struct {
	once sync.Once
	v    T
}

// get returns the value, computing it with f on the first call.
func (l *lazy[T]) get(f func() T) T {
	l.once.Do(func() { l.v = f() })
	return l.v
}

// preset makes v the value, unless it was computed already.
func (l *lazy[T]) preset(v T) {
	l.once.Do(func() { l.v = v })
}

// keyed is a set of values computed once per key.
type keyed[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// get returns the value for k, computing it with f the first time. f runs
// without the lock held, so it may itself use other facts; when two callers
// race, the first value stored wins.
func (c *keyed[K, V]) get(k K, f func() V) V {
	if v, ok := c.peek(k); ok {
		return v
	}
	return c.put(k, f())
}

// peek returns the value for k, if it was computed.
func (c *keyed[K, V]) peek(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// put stores v for k unless a value is there already, and returns the
// value stored.
func (c *keyed[K, V]) put(k K, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		return old
	}
	if c.m == nil {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	return v
}
