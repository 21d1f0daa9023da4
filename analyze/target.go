package analyze

import (
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
)

// ErrNotApplicable, wrapped with a reason, is returned for a fact this
// image does not have (no filesystem was loaded, the image has no command,
// no handler to resolve): whatever needs the fact does not apply.
var ErrNotApplicable = errors.New("check does not apply")

// Target is one image as a Lambda function runs it: what checks look at.
type Target struct {
	Image *source.Image
	FS    *imagefs.FS
	// Arch is the function's architecture: "amd64" or "arm64".
	Arch string
	// Overrides is the function's ImageConfig (--entrypoint, --cmd,
	// --workdir), applied over the image config by Argv.
	Overrides ImageConfig

	facts facts
}

// Config returns the image config, never nil.
func (t *Target) Config() v1.Config {
	if t.Image == nil || t.Image.Config == nil {
		return v1.Config{}
	}
	return t.Image.Config.Config
}
