package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X github.com/lambdoctor/lambdoctor/cmd.version=v1.2.3".
var version = ""

// Version returns lambdoctor's version: the one stamped at build time, else
// the module version `go install` recorded, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd(streams *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print lambdoctor's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						rev = " (" + s.Value[:12] + ")"
					}
				}
			}
			if _, err := fmt.Fprintf(streams.Out, "lambdoctor %s%s %s %s/%s\n", Version(), rev, runtime.Version(), runtime.GOOS, runtime.GOARCH); err != nil {
				return writeError(err)
			}
			return nil
		},
	}
}
