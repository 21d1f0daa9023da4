package analyze

import "testing"

// TestRuntimes holds the registered runtimes to what the analysis relies
// on: distinct clients, languages, orders and link priorities (ties would
// make the outcome depend on file order), and complete handler syntaxes.
func TestRuntimes(t *testing.T) {
	if len(runtimes) < 5 {
		t.Fatalf("%d runtimes registered, want python, nodejs, ruby, java and dotnet", len(runtimes))
	}
	clients, langs, orders, prios := map[string]bool{}, map[string]bool{}, map[int]bool{}, map[int]bool{}
	for i, r := range runtimes {
		if r.Client == "" || r.Language == "" || clients[r.Client] || langs[r.Language] || orders[r.order] {
			t.Errorf("runtime %+v: empty or repeated client, language or order", r)
		}
		clients[r.Client], langs[r.Language], orders[r.order] = true, true, true
		if i > 0 && runtimes[i-1].order > r.order {
			t.Errorf("runtimes out of order: %s before %s", runtimes[i-1].Language, r.Language)
		}
		if runtimeOf(r.Language) != r || runtimeOfClient(r.Client) != r {
			t.Errorf("%s: runtimeOf or runtimeOfClient finds another runtime", r.Language)
		}
		if r.tlsName == nil || r.tlsWhy == nil || r.tlsStack == StackNone {
			t.Errorf("%s: no TLS stack", r.Language)
		}
		if h := r.handler; h != nil && (h.parse == nil || h.roots == nil || h.resolve == nil || h.sourceExt == "" || h.label == "" || h.baseLabel == "" || len(h.functions) == 0) {
			t.Errorf("%s: incomplete handler syntax %+v", r.Language, h)
		}
		for _, l := range r.links {
			if prios[l.prio] || l.match == nil || l.follow == nil {
				t.Errorf("%s: link recogniser with repeated priority %d or no match/follow", r.Language, l.prio)
			}
			prios[l.prio] = true
		}
	}
	for _, lang := range []string{"python", "nodejs", "ruby"} {
		if !checksHandler(runtimeOf(lang)) {
			t.Errorf("the handler of %s is not checked", lang)
		}
	}
	for i := 1; i < len(linkRecognisers); i++ {
		if linkRecognisers[i-1].prio >= linkRecognisers[i].prio {
			t.Errorf("link recognisers out of order at %d", i)
		}
	}
}
