// Command lambdoctor tells why an AWS Lambda container image won't start.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/lambdoctor/lambdoctor/cmd"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

func main() {
	// `lambdoctor run` re-executes this binary as the sandbox's init.
	sandbox.MaybeInit()
	os.Exit(run())
}

// run is Main, with a CPU profile written to $LAMBDOCTOR_CPUPROFILE and a
// heap profile (allocations sampled every 4 KiB, what is live at the end)
// to $LAMBDOCTOR_MEMPROFILE when they are set (for performance reports:
// `go tool pprof lambdoctor FILE`).
func run() int {
	if p := os.Getenv("LAMBDOCTOR_MEMPROFILE"); p != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			f, err := os.Create(p)
			if err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "lambdoctor: LAMBDOCTOR_MEMPROFILE: %v\n", err)
			}
		}()
	}
	if p := os.Getenv("LAMBDOCTOR_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "lambdoctor: LAMBDOCTOR_CPUPROFILE: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "lambdoctor: LAMBDOCTOR_CPUPROFILE: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	return cmd.Main()
}
