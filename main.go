// Command lambdoctor tells why an AWS Lambda container image won't start.
package main

import (
	"os"

	"github.com/lambdoctor/lambdoctor/cmd"
)

func main() {
	os.Exit(cmd.Main())
}
