package analyze

import (
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file recognises the Lambda Web Adapter, an extension that polls the
// Runtime API for a web server.

// findWebAdapter finds the Lambda Web Adapter among the extensions: a
// regular file directly in /opt/extensions named like the adapter.
func findWebAdapter(t *Target) (string, *imagefs.Entry) {
	if r := t.FS.Resolve(WebAdapterPath); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
		return WebAdapterPath, r.Entry
	}
	ents, err := t.FS.ReadDir("opt/extensions")
	if err != nil {
		return "", nil
	}
	for _, e := range ents {
		n := strings.ToLower(e.Name())
		if !strings.Contains(n, "lambda-adapter") && !strings.Contains(n, "web-adapter") {
			continue
		}
		p := path.Join("/opt/extensions", e.Name())
		if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
			return p, r.Entry
		}
	}
	return "", nil
}
