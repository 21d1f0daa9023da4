// Package bytesize formats byte counts for people: the one formatter of
// lambdoctor's reports, progress lines and limit messages.
package bytesize

import "fmt"

// Decimal formats n bytes with SI units, as docker does ("999 B",
// "1.5 kB", "12.3 MB"): the sizes users compare with `docker images`.
func Decimal(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// Binary formats n bytes with IEC units ("700 B", "4 MiB", "1.5 GiB"):
// the limits, which are powers of two, read whole.
func Binary(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}
