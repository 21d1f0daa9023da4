package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"testing"
)

// TestIdentitiesSurviveRetagging: two builds of one image, tagged with
// different commits (as CI does), give the same JUnit suite name, SARIF
// category and fingerprints, because the writers use Image.Name.
func TestIdentitiesSurviveRetagging(t *testing.T) {
	build := func(tag string) *Report {
		r := catalogued()
		r.Image.Ref = "registry:123456789012.dkr.ecr.us-east-1.amazonaws.com/fn:" + tag
		r.Image.Name = "registry:123456789012.dkr.ecr.us-east-1.amazonaws.com/fn"
		return r
	}
	type ids struct {
		suites, categories, fingerprints []string
	}
	identities := func(r *Report) ids {
		var out ids
		var ju bytes.Buffer
		if err := Write(&ju, "junit", []*Report{r, suppressed()}, Options{}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Suites []struct {
				Name string `xml:"name,attr"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(ju.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		for _, s := range doc.Suites {
			out.suites = append(out.suites, s.Name)
		}
		var sa bytes.Buffer
		if err := Write(&sa, "sarif", []*Report{r, suppressed()}, Options{}); err != nil {
			t.Fatal(err)
		}
		var log struct {
			Runs []struct {
				AutomationDetails *struct {
					ID string `json:"id"`
				} `json:"automationDetails"`
				Results []struct {
					PartialFingerprints map[string]string `json:"partialFingerprints"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(sa.Bytes(), &log); err != nil {
			t.Fatal(err)
		}
		for _, run := range log.Runs {
			if run.AutomationDetails != nil {
				out.categories = append(out.categories, run.AutomationDetails.ID)
			}
			for _, res := range run.Results {
				out.fingerprints = append(out.fingerprints, res.PartialFingerprints[sarifFingerprint])
			}
		}
		return out
	}
	a, b := identities(build("sha-1111111")), identities(build("sha-2222222"))
	if len(a.fingerprints) == 0 || len(a.categories) == 0 || len(a.suites) == 0 {
		t.Fatalf("nothing to compare: %+v", a)
	}
	for name, pair := range map[string][2][]string{"suite names": {a.suites, b.suites}, "SARIF categories": {a.categories, b.categories}, "fingerprints": {a.fingerprints, b.fingerprints}} {
		if len(pair[0]) != len(pair[1]) {
			t.Errorf("%s: %q vs %q", name, pair[0], pair[1])
			continue
		}
		for i := range pair[0] {
			if pair[0][i] != pair[1][i] {
				t.Errorf("%s differ between two tags of one image: %q vs %q", name, pair[0][i], pair[1][i])
			}
		}
	}
	for _, c := range a.categories {
		if bytes.Contains([]byte(c), []byte("//")) {
			t.Errorf("SARIF category %q has a double slash", c)
		}
	}
}
