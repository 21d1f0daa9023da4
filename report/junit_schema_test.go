package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestJUnitGoldensValidate checks every JUnit golden (these and the
// command's) against the Jenkins xunit plugin's junit-10.xsd
// (testdata/schema, MIT-licensed, from jenkinsci/xunit-plugin), with
// libxml2's xmllint. Without xmllint the test is skipped, unless
// LAMBDOCTOR_REQUIRE_VALIDATORS=1 (as in CI, whose set-up installs
// Debian's libxml2-utils).
func TestJUnitGoldensValidate(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("LAMBDOCTOR_REQUIRE_VALIDATORS") == "1" {
			t.Fatal("xmllint is not installed (apt-get install libxml2-utils)")
		}
		t.Skip("xmllint is not installed (apt-get install libxml2-utils)")
	}
	goldens, _ := filepath.Glob("testdata/junit*.golden")
	more, _ := filepath.Glob("../cmd/testdata/*junit*.golden")
	goldens = append(goldens, more...)
	if len(goldens) < 2 {
		t.Fatalf("found only %d JUnit goldens", len(goldens))
	}
	for _, g := range goldens {
		out, err := exec.Command(xmllint, "--noout", "--schema", "testdata/schema/junit-10.xsd", g).CombinedOutput()
		if err != nil {
			t.Errorf("%s does not validate against junit-10.xsd: %v\n%s", g, err, out)
		}
	}
}
