package checks

import (
	"errors"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
)

// ErrNotApplicable, wrapped with a reason, is returned for a fact this
// image does not have (no filesystem was loaded, the image has no command,
// no handler to resolve): whatever needs the fact does not apply.
var ErrNotApplicable = errors.New("check does not apply")

// Target is what checks look at.
type Target struct {
	Image *source.Image
	FS    *imagefs.FS
	// Arch is the function's architecture: "amd64" or "arm64".
	Arch string
	// Overrides is the function's ImageConfig (--entrypoint, --cmd,
	// --workdir), applied over the image config by Argv.
	Overrides ImageConfig

	mu     sync.Mutex
	memos  map[string]any
	cached int64 // bytes of file content held in memos (see readFile)
}

// memo returns the value computed by f for key, computing it once per
// Target: facts several checks share (the entrypoint chain, parsed ELF
// files, the CA bundle) are derived once.
func (t *Target) memo(key string, f func() any) any {
	t.mu.Lock()
	if v, ok := t.memos[key]; ok {
		t.mu.Unlock()
		return v
	}
	t.mu.Unlock()
	v := f()
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.memos[key]; ok {
		return old
	}
	if t.memos == nil {
		t.memos = make(map[string]any)
	}
	t.memos[key] = v
	return v
}

// Config returns the image config, never nil.
func (t *Target) Config() v1.Config {
	if t.Image == nil || t.Image.Config == nil {
		return v1.Config{}
	}
	return t.Image.Config.Config
}
