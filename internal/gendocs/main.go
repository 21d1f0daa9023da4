// Command gendocs writes lambdoctor's command-line reference into docs/cli
// (or the directory given as its argument):
//
//	go run ./internal/gendocs
//
// A test in package cmd regenerates it and fails when docs/cli drifts.
package main

import (
	"fmt"
	"os"

	"github.com/lambdoctor/lambdoctor/cmd"
)

func main() {
	dir := "docs/cli"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := cmd.GenDocs(dir); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}
