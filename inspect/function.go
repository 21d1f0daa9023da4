package inspect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/lambda"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

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
