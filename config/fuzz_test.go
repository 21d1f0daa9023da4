package config

import "testing"

// A .lambdoctor.yaml is user input: Parse must reject bad files with an
// error, never panic or hang.
func FuzzParse(f *testing.F) {
	f.Add([]byte("arch: arm64\nfail-on: warning\nimages:\n  - fn.tar\n"))
	f.Add([]byte("ignore:\n  - id: entrypoint-not-found\n    paths: [/opt/bin/*]\n    reason: x\n    expires: 2025-12-31\n"))
	f.Add([]byte("severity:\n  LD601: warning\ndisable: [LD101]\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(".lambdoctor.yaml", b)
	})
}
