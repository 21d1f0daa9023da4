package inspect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/dockerfile"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/lambda"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Function is what a deployment definition sets for one function, which
// Lambda applies on top of the image.
type Function struct {
	// Arch is "amd64" or "arm64".
	Arch string
	// Overrides is the function's ImageConfig.
	Overrides analyze.ImageConfig
	// Env is the function's environment, KEY=value.
	Env []string
	// Dockerfile maps findings to its lines; nil for none.
	Dockerfile     *dockerfile.File
	DockerfilePath string
	// Name is the function's name in the reports.
	Name string
}

// For returns a session that inspects images as fn runs them and shares
// s's checks, policy, ignore counts (Warnings covers both) and temporary
// directory. Closing it does nothing: close s.
func (s *Session) For(fn Function) *Session {
	c := *s
	c.ownsTmp = false
	c.opts.Arch = fn.Arch
	if c.opts.Arch == "" {
		c.opts.Arch = "amd64"
	}
	c.opts.Overrides, c.opts.Env = fn.Overrides, fn.Env
	c.opts.Dockerfile, c.opts.DockerfilePath = fn.Dockerfile, fn.DockerfilePath
	c.opts.Name = fn.Name
	return &c
}

// applyEnv sets the function's environment over the image's ENV, as
// Lambda does, and returns the reserved names it left out.
func applyEnv(img *source.Image, env []string) []string {
	if len(env) == 0 {
		return nil
	}
	var applied, reserved []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if lambda.IsReserved(k) {
			reserved = append(reserved, k)
			continue
		}
		applied = append(applied, kv)
	}
	if len(applied) > 0 {
		if img.Config == nil {
			img.Config = &v1.ConfigFile{}
		}
		cfg := *img.Config
		cfg.Config.Env = append(slices.Clone(cfg.Config.Env), applied...)
		img.Config = &cfg
	}
	return reserved
}

// reportReserved adds to LD602's result an error for each reserved name
// the function's environment sets: Lambda refuses the configuration
// (CreateFunction and UpdateFunctionConfiguration fail with
// InvalidParameterValueException), so the deploy fails.
func reportReserved(results []checks.Result, reserved []string) []checks.Result {
	if len(reserved) == 0 {
		return results
	}
	for i := range results {
		r := &results[i]
		if r.Meta.ID != "LD602" || r.Status == checks.StatusSkipped {
			continue
		}
		for _, k := range reserved {
			f := checks.NewFinding(r.Meta, fmt.Sprintf("The function's environment variables set %s, a name Lambda reserves and sets itself: Lambda refuses it in the function's configuration (CreateFunction and UpdateFunctionConfiguration fail with InvalidParameterValueException), so the deploy fails.", k))
			f.Severity = checks.Error
			f.Title = "the function's environment sets a variable Lambda reserves"
			f.Evidence = []string{"function environment: " + k}
			f.Fix = fmt.Sprintf("remove %s from the function's environment variables in its deployment definition; Lambda sets it itself", k)
			r.Findings = append(r.Findings, f)
		}
		if r.Status == checks.StatusPassed {
			r.Status = checks.StatusFailed
		}
	}
	return results
}
