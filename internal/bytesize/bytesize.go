// Package bytesize formats byte counts for people: the one formatter of
// lambdoctor's reports, progress lines and limit messages.
package bytesize

import "fmt"

// Decimal formats n bytes with SI units, as docker does ("999 B",
// "1.5 kB", "12.3 MB"): the sizes users compare with `docker images`.
func Decimal(n int64) string {
	v, exp, ok := scale(n, 1000)
	if !ok {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGTPE"[exp])
}

// scale divides n by the largest power of unit (unit, unit², ...) that
// leaves at least 1, and says which (0 for unit); ok is false below unit.
func scale(n, unit int64) (v float64, exp int, ok bool) {
	if n < unit {
		return 0, 0, false
	}
	div := unit
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return float64(n) / float64(div), exp, true
}

// Binary formats n bytes with IEC units ("700 B", "4 MiB", "1.5 GiB"):
// the limits, which are powers of two, read whole.
func Binary(n int64) string {
	v, exp, ok := scale(n, 1024)
	if !ok {
		return fmt.Sprintf("%d B", n)
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}
