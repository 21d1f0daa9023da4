package analyze

import (
	"regexp"
	"sort"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// A runtime is what the analysis knows of one language's Lambda runtime
// interface client: how the entrypoint chain starts it, how an installed
// copy is recognised, the handler string it takes and where it loads the
// handler from, and the TLS stack the language's programs verify
// certificates with. Each runtime lives in its own file (client_python.go,
// client_node.go, ...) and registers itself from init, so supporting a new
// client is adding one such file.
//
// Clients that are not tied to an interpreter are recognised elsewhere: the
// AWS base images' bootstrap (client_awsbase.go), native binaries linking a
// client (client_native.go) and the Lambda Web Adapter extension
// (client_webadapter.go).
type runtime struct {
	// Client is the Client* name and Language the language it reports.
	Client, Language string
	// order ranks runtimes where two could claim the same evidence (a
	// source file naming two clients): the lower wins.
	order int
	// interpreter matches the names of the language's interpreter on the
	// chain; nil when it has none.
	interpreter *regexp.Regexp
	// links recognise the chain links that start the client or the
	// interpreter, tried in ascending prio across all runtimes.
	links []linkRecogniser
	// marker is a string whose presence in source text names the client.
	marker string
	// scanExts are the extensions of the source files scanned for markers
	// when the chain ends in this language's interpreter.
	scanExts []string
	// afterScan, when set, looks further when scanning found no marker; it
	// returns true when it decided.
	afterScan func(a *RICAnalysis, t *Target, c *Chain, i int, r imagefs.Resolution, lang string) bool
	// installed reports whether a walked entry is an installed copy of the
	// client.
	installed func(t *Target, e *imagefs.Entry) bool
	// awsBaseGlobs are files whose presence says an AWS base image runs
	// this language (path.Match patterns of file names in a directory).
	awsBaseGlobs []string
	// handler is nil when the client's handler is not checked.
	handler *handlerSyntax
	// tlsName reports whether a program name is this language's; tlsStack
	// and tlsWhy then say how it verifies certificates.
	tlsName  func(name string) bool
	tlsStack TLSStack
	tlsWhy   func(name string) string
}

// linkRecogniser claims a chain link: when match accepts the link, follow
// records what it starts and returns true when the analysis is done.
type linkRecogniser struct {
	prio   int
	match  func(l *Link) bool
	follow func(a *RICAnalysis, t *Target, c *Chain, i int) bool
}

// handlerSyntax is how a client reads its handler string.
type handlerSyntax struct {
	// baseLabel and label name the client in messages, as started by an
	// AWS base image's bootstrap and directly.
	baseLabel, label string
	// sourceExt is the extension of the language's source files.
	sourceExt string
	// parse splits a handler; bad is the client's error text and errType
	// its error type when it rejects the handler.
	parse func(h string) (p ParsedHandler, bad, errType string)
	// roots sets hs.Roots, hs.RootsWhy (and what else the language
	// searches), given the task root and the working directory; an error
	// says why the handler cannot be checked.
	roots func(t *Target, hs *HandlerSpec, taskRoot, wd string) error
	// resolve finds the file the client loads for p, and what was tried.
	resolve func(t *Target, hs HandlerSpec, p ParsedHandler) (string, []string)
	// functions find the functions a source file defines.
	functions []*regexp.Regexp
}

// runtimes are the registered runtimes, in order.
var runtimes []*runtime

// linkRecognisers are every runtime's link recognisers, by prio.
var linkRecognisers []linkRecogniser

// register adds a runtime; the client files call it from init.
func register(r *runtime) {
	runtimes = append(runtimes, r)
	sort.SliceStable(runtimes, func(i, j int) bool { return runtimes[i].order < runtimes[j].order })
	linkRecognisers = append(linkRecognisers, r.links...)
	sort.SliceStable(linkRecognisers, func(i, j int) bool { return linkRecognisers[i].prio < linkRecognisers[j].prio })
}

// runtimeOf returns the runtime of language lang ("python", "nodejs",
// ...), or nil.
func runtimeOf(lang string) *runtime {
	for _, r := range runtimes {
		if r.Language == lang {
			return r
		}
	}
	return nil
}

// runtimeOfClient returns the runtime whose client is named client, or nil.
func runtimeOfClient(client string) *runtime {
	for _, r := range runtimes {
		if r.Client == client {
			return r
		}
	}
	return nil
}

// SourceExt is the extension of language lang's source files (".py"), or
// "" for a language whose handler is not checked.
func SourceExt(lang string) string {
	if r := runtimeOf(lang); r != nil && r.handler != nil {
		return r.handler.sourceExt
	}
	return ""
}
