package emulate

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/lambda"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

const (
	// tailLines is how much of the function's stdout and stderr is shown.
	tailLines = 40
	// FunctionName is the name run gives the function (AWS_LAMBDA_FUNCTION_NAME, the log group).
	FunctionName = "lambdoctor-run"
	runRegion    = "us-east-1"
)

// lambdaEnv is the function's environment (lambda.Environment) for run's
// function name and region.
func lambdaEnv(image, flags []string, api, handler string, memoryMB int) []string {
	return lambda.Environment(image, lambda.Function{
		Name: FunctionName, Region: runRegion, MemoryMB: memoryMB,
		Handler: handler, RuntimeAPI: api, Env: flags,
	})
}

// ReapNotes say what this run removed of killed runs, and what it could
// not.
func ReapNotes(reaped []string, err error) []string {
	var notes []string
	if len(reaped) > 0 {
		notes = append(notes, fmt.Sprintf("removed what killed runs left behind: %s", strings.Join(reaped, ", ")))
	}
	if err != nil {
		notes = append(notes, "could not remove everything killed runs left behind: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return notes
}

// Notes are what the reader should know about how faithful this run was.
func Notes(arch string, img *source.Image, mr *sandbox.Report, mem *Memory) []string {
	var notes []string
	if arch != runtime.GOARCH {
		notes = append(notes, fmt.Sprintf("the function is %s but this machine runs %s: it can only start here through binfmt_misc emulation", arch, runtime.GOARCH))
	}
	if a := img.Platform.Architecture; a != "" && a != runtime.GOARCH && a != arch {
		notes = append(notes, fmt.Sprintf("the image config declares %s; this machine runs %s", a, runtime.GOARCH))
	}
	if mr != nil && len(mr.Skipped) > 0 {
		s := mr.Skipped[0]
		notes = append(notes, fmt.Sprintf("%d %s of the image not unpacked (Lambda has no device nodes either), e.g. %s: %s",
			len(mr.Skipped), plural(len(mr.Skipped), "entry", "entries"), s.Path, s.Reason))
	}
	if mem != nil && !mem.Enforced {
		why := ""
		if mem.NotEnforced != "" {
			why = " (" + mem.NotEnforced + ")"
		}
		notes = append(notes, fmt.Sprintf("memory is not limited to %d MB here%s; it is only announced in AWS_LAMBDA_FUNCTION_MEMORY_SIZE, and an out-of-memory kill cannot happen", mem.SizeMB, why))
	}
	return notes
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
