package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// clientNativeMissing is LD405: the runtime interface client is installed,
// but the compiled part its own code loads before it can poll the Runtime
// API is not: Python awslambdaric's runtime_client extension (missing, or
// built for another Python version or platform) and Node.js
// aws-lambda-ric's addon (rapid-client.node, runtime-client.node: missing
// when npm's postinstall build did not run, or built on macOS). Where each
// client loads it from is read from the client's own code
// (analyze.ClientNativePart).
type clientNativeMissing struct{}

func (clientNativeMissing) Meta() Meta {
	return Meta{
		ID:       "LD405",
		Name:     "client-native-missing",
		Title:    "the runtime client's compiled part is missing or built for another platform",
		Severity: Error,
		Category: CategoryRuntime,
	}
}

func (c clientNativeMissing) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	if a := t.RIC(); a.Link < 0 || a.Client.Name != analyze.ClientPython && a.Client.Name != analyze.ClientNode {
		return nil, nil // no client whose compiled part is known (LD401 says when there is none)
	}
	n, err := t.ClientNativePart()
	if err != nil {
		return nil, err
	}
	if n.Found != "" {
		return nil, nil
	}
	a := t.RIC()
	ch := t.Chain()
	f := NewFinding(c.Meta(), "")
	ev := t.Argv().Evidence()
	ev = append(ev, "entrypoint chain: "+ch.Describe(a.Link))
	ev = append(ev, fmt.Sprintf("runtime client: %s at %s", n.Client, n.Package))
	ev = append(ev, n.Evidence...)
	f.Evidence = ev
	f.Path = n.Wanted[0]
	if r := t.FS.Resolve(n.Package); r.Err == nil && r.Entry != nil {
		f.Layer = layerRef(t, r.Entry.Layer)
	}
	f.Source = t.Argv().Arg0Field()
	switch n.Client {
	case analyze.ClientPython:
		l := &ch.Links[a.Link]
		py := l.Name
		if l.Lookup.Found() {
			py = l.Lookup.Path()
		}
		f.Message = fmt.Sprintf(`awslambdaric is installed, but %s. awslambdaric imports it inside "try: import runtime_client / except ImportError: runtime_client = None" (lambda_runtime_client.py), so the handler still loads; the first poll for an event then fails with "AttributeError: 'NoneType' object has no attribute 'next'", and init fails with "Runtime exited with error: exit status 1" (Runtime.ExitError).`, n.Problem)
		f.Fix = fmt.Sprintf("install awslambdaric with the python that runs it, on Linux, in the image (RUN %s -m pip install --target %s awslambdaric), rather than copying it from another Python version's build stage or a macOS host", py, path.Join("/", t.Argv().WorkingDir))
	case analyze.ClientNode:
		f.Message = fmt.Sprintf(`%s. The client requires it when it creates its Runtime API client, before it loads the handler, so Node.js stops with "Error: Cannot find module '%s'" (code MODULE_NOT_FOUND) and init fails with "Runtime exited with error: exit status 1" (Runtime.ExitError).`, upperFirst(n.Problem), n.Module)
		if strings.Contains(n.Problem, "not a Linux ELF") {
			f.Message = fmt.Sprintf(`The aws-lambda-ric package at %s loads %s, but %s. Node.js's dlopen refuses it ("invalid ELF header", code ERR_DLOPEN_FAILED) before the handler loads, and init fails with "Runtime exited with error: exit status 1" (Runtime.ExitError).`, n.Package, n.Module, n.Problem)
		}
		f.Fix = fmt.Sprintf("build the addon in the image: RUN apt-get install -y g++ make cmake autoconf automake libtool python3 (or dnf install on Amazon Linux), then RUN npm install aws-lambda-ric in %s without --ignore-scripts; do not COPY a node_modules installed on macOS", path.Dir(path.Dir(n.Package)))
	}
	return []Finding{f}, nil
}
