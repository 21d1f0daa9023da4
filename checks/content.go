package checks

import (
	"strings"
)

// fileCacheBudget bounds the bytes of file content a Target keeps for the
// checks that read the same program (the ELF checks, the runtime-client
// detection and the TLS classification all read the entrypoint binary).
const fileCacheBudget = 128 << 20

type fileContent struct {
	b   []byte
	err error
}

// readFile returns the content of the file at the resolved absolute path
// abs. Reading a file that was not captured decompresses its layer up to
// it, so content is kept for the next check while the budget allows.
func (t *Target) readFile(abs string) ([]byte, error) {
	key := "file:" + abs
	t.mu.Lock()
	if v, ok := t.memos[key]; ok {
		t.mu.Unlock()
		c := v.(fileContent)
		return c.b, c.err
	}
	t.mu.Unlock()
	b, err := t.FS.ReadFile(strings.TrimPrefix(abs, "/"))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cached+int64(len(b)) <= fileCacheBudget {
		if t.memos == nil {
			t.memos = make(map[string]any)
		}
		t.memos[key] = fileContent{b, err}
		t.cached += int64(len(b))
	}
	return b, err
}
