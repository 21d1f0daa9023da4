package analyze

import (
	"strings"
	"sync"
)

// fileCacheBudget bounds the bytes of file content a Target keeps for the
// checks that read the same program (the ELF checks, the runtime-client
// detection and the TLS classification all read the entrypoint binary).
const fileCacheBudget = 128 << 20

type fileContent struct {
	b   []byte
	err error
}

// fileCache keeps the content of files read from the layers, up to
// fileCacheBudget bytes.
type fileCache struct {
	mu     sync.Mutex
	m      map[string]fileContent
	cached int64 // bytes held
}

// readFile returns the content of the file at the resolved absolute path
// abs. Reading a file that was not captured decompresses its layer up to
// it, so content is kept for the next check while the budget allows.
func (t *Target) readFile(abs string) ([]byte, error) {
	c := &t.facts.files
	c.mu.Lock()
	if v, ok := c.m[abs]; ok {
		c.mu.Unlock()
		return v.b, v.err
	}
	c.mu.Unlock()
	b, err := t.FS.ReadFile(strings.TrimPrefix(abs, "/"))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached+int64(len(b)) <= fileCacheBudget {
		if c.m == nil {
			c.m = make(map[string]fileContent)
		}
		c.m[abs] = fileContent{b, err}
		c.cached += int64(len(b))
	}
	return b, err
}
