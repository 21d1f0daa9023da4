// Command lambdoctor tells why an AWS Lambda container image won't start.
package main

import (
	"os"

	"github.com/lambdoctor/lambdoctor/cmd"
	"github.com/lambdoctor/lambdoctor/sandbox"
)

func main() {
	// `lambdoctor run` re-executes this binary as the sandbox's init.
	sandbox.MaybeInit()
	os.Exit(cmd.Main())
}
