package report

import (
	"cmp"
	"maps"
	"slices"

	"github.com/lambdoctor/lambdoctor/deploy"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
)

// Function is the Lambda function a report is about, when its image was
// inspected as the function runs it (inspect --function,
// --all-functions): who the function is, and the configuration Lambda
// applies over the image.
type Function struct {
	// ID names the function in reports: its name for a live function.
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Tool is where the configuration was read: "lambda" for the live
	// function (deploy.Function.Tool).
	Tool string `json:"tool"`
	// Source is where it was read: the function's ARN for a live
	// function.
	Source string `json:"source,omitempty"`
	// ARN is the function's ARN (live functions).
	ARN string `json:"arn,omitempty"`
	// ImageURI is the image as the function's configuration names it
	// (Code.ImageUri: a tag or a digest); Image is the reference that was
	// inspected (Code.ResolvedImageUri, the digest Lambda runs); Digest is
	// that digest.
	ImageURI string `json:"imageUri,omitempty"`
	Image    string `json:"image,omitempty"`
	Digest   string `json:"digest,omitempty"`
	// ImageConfig is the function's ImageConfig, applied over the image's
	// ENTRYPOINT, CMD and WORKDIR; an empty one leaves them in force.
	ImageConfig deploy.ImageConfig `json:"imageConfig"`
	// Architecture is the function's, as Lambda names it: x86_64 or
	// arm64.
	Architecture string `json:"architecture"`
	// Environment are the names of the function's environment variables,
	// sorted. Their values are left out: they often hold secrets, and
	// reports travel (CI artifacts, code scanning).
	Environment []string `json:"environment"`
	// MemoryMB, TimeoutSeconds and EphemeralStorageMB are omitted when
	// the configuration does not say (Lambda's defaults apply).
	MemoryMB           int `json:"memoryMB,omitempty"`
	TimeoutSeconds     int `json:"timeoutSeconds,omitempty"`
	EphemeralStorageMB int `json:"ephemeralStorageMB,omitempty"`
	// State is the live function's state (Active, Pending, Inactive,
	// Failed).
	State string `json:"state,omitempty"`
	// Problems are what Lambda reports it could not apply or read for the
	// function (ImageConfigResponse.Error, Environment.Error, a Failed
	// state), one line each.
	Problems []string `json:"problems"`
}

// NewFunction is the report's Function for f: its identity and its
// configuration, the environment reduced to its names. x86_64 stands for
// an unset architecture, Lambda's default.
func NewFunction(f deploy.Function) *Function {
	env := slices.Sorted(maps.Keys(f.Environment))
	if env == nil {
		env = []string{}
	}
	return &Function{
		ID:                 f.ID,
		Name:               f.Name,
		Tool:               f.Tool,
		Source:             f.Source,
		Image:              f.Image,
		ImageConfig:        f.ImageConfig,
		Architecture:       cmp.Or(f.Architecture, "x86_64"),
		Environment:        env,
		MemoryMB:           f.MemoryMB,
		TimeoutSeconds:     f.TimeoutSeconds,
		EphemeralStorageMB: f.EphemeralStorageMB,
		Problems:           []string{},
	}
}

// escapeFunction is fn with every string escaped for a terminal.
func escapeFunction(fn *Function) *Function {
	if fn == nil {
		return nil
	}
	c := *fn
	for _, p := range []*string{&c.ID, &c.Name, &c.Tool, &c.Source, &c.ARN, &c.ImageURI, &c.Image, &c.Digest, &c.Architecture, &c.State, &c.ImageConfig.WorkingDirectory} {
		*p = termsafe.Line(*p)
	}
	line := func(l []string) []string {
		if l == nil {
			return nil
		}
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = termsafe.Line(s)
		}
		return out
	}
	c.ImageConfig.EntryPoint = line(fn.ImageConfig.EntryPoint)
	c.ImageConfig.Command = line(fn.ImageConfig.Command)
	c.Environment = line(fn.Environment)
	c.Problems = line(fn.Problems)
	return &c
}
