//go:build !unix

package cmd

import "os"

// terminalWidth is 0 where the width is not read: the report is not
// wrapped.
func terminalWidth(*os.File) int { return 0 }
