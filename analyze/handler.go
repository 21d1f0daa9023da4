package analyze

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// HandlerSpec is the handler and how the client in the image resolves it.
type HandlerSpec struct {
	Lang   string // "python", "nodejs" or "ruby"
	Client string // a Client* name
	Base   bool   // started by the AWS base images' /lambda-entrypoint.sh
	Arg    handlerArg
	// Roots are the directories searched, in order, and RootsWhy says
	// what they are.
	Roots    []string
	RootsWhy string
	// Hidden are directories holding packages that the client does not
	// search under Lambda, and why (Python only).
	Hidden []HiddenDir
	// NodePath is NODE_PATH (Node.js only).
	NodePath []string
	// Link is the chain link of the interpreter, when known.
	Link *Link
}

// checksHandler reports whether r is a runtime whose handler is checked.
func checksHandler(r *runtime) bool { return r != nil && r.handler != nil }

// ErrNoClient is wrapped in HandlerContext's error when the image starts no
// runtime interface client that was recognised.
var ErrNoClient = errors.New("no runtime interface client was recognised")

// HandlerContext returns how the image's client resolves its handler, or
// an ErrNotApplicable error saying why the handler is not checked.
func HandlerContext(t *Target) (HandlerSpec, error) {
	var hs HandlerSpec
	if t.Argv().Empty() {
		return hs, fmt.Errorf("%w: the image has no command", ErrNotApplicable)
	}
	if t.FS == nil {
		return hs, fmt.Errorf("%w: no filesystem was loaded", ErrNotApplicable)
	}
	a := t.RIC()
	c := a.Client
	switch {
	case c.Name == ClientAWSBase && checksHandler(runtimeOf(c.Language)):
		hs.Lang, hs.Base = c.Language, true
	case checksHandler(runtimeOfClient(c.Name)) && a.Link >= 0:
		hs.Lang = runtimeOfClient(c.Name).Language
	case c.Name == "":
		return hs, fmt.Errorf("%w: %w", ErrNotApplicable, ErrNoClient)
	default:
		return hs, fmt.Errorf("%w: the handler of %s is not checked", ErrNotApplicable, c.Name)
	}
	hs.Client, hs.Arg = c.Name, a.Handler
	ch := t.Chain()
	for i := range ch.Links {
		l := &ch.Links[i]
		for _, r := range runtimes {
			if checksHandler(r) && r.interpreter != nil && isName(l, r.interpreter) {
				hs.Link = l
			}
		}
	}
	cfg := t.Config()
	wd := path.Join("/", t.Argv().WorkingDir)
	taskRoot := "/var/task"
	if v, ok := Getenv(cfg.Env, "LAMBDA_TASK_ROOT"); ok && strings.HasPrefix(v, "/") {
		taskRoot = path.Clean(v)
	}
	if err := runtimeOf(hs.Lang).handler.roots(t, &hs, taskRoot, wd); err != nil {
		return hs, err
	}
	return hs, nil
}

func uniq(ss ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ClientLabel names the client for messages.
func (hs HandlerSpec) ClientLabel() string {
	r := runtimeOf(hs.Lang)
	switch {
	case !checksHandler(r):
		return ""
	case hs.Base:
		return r.handler.baseLabel
	}
	return r.handler.label
}

// Evidence is the evidence every handler finding starts with.
func (hs HandlerSpec) Evidence(t *Target) []string {
	ev := t.Argv().Evidence()
	ev = append(ev, fmt.Sprintf("handler %s from %s", QuoteJSON(hs.Arg.Value), hs.Arg.From))
	ev = append(ev, "runtime client: "+hs.Client)
	if len(hs.Roots) > 0 {
		ev = append(ev, fmt.Sprintf("searched %s: %s", hs.RootsWhy, strings.Join(hs.Roots, ", ")))
	}
	return ev
}

// CmdSource is the instruction that sets the handler.
func CmdSource(t *Target) string {
	if t.Argv().Overrides.Command != nil {
		return "ImageConfig.Command"
	}
	return "CMD"
}

// ParsedHandler is a handler split the way its client splits it.
type ParsedHandler struct {
	// Module is the module (Python, dotted or with slashes), the file
	// (Node.js: moduleRoot + module; Ruby: the file name).
	Module string
	// ModuleRoot is the Node.js directory prefix ("src/").
	ModuleRoot string
	// Func is the function (Python), the property path (Node.js) or the
	// method (Ruby).
	Func string
}

// ParseHandler splits h for lang; bad is the client's error text and
// errType its error type when it rejects h.
func ParseHandler(lang, h string) (p ParsedHandler, bad, errType string) {
	if r := runtimeOf(lang); checksHandler(r) {
		return r.handler.parse(h)
	}
	return p, "", ""
}

// ResolveHandlerModule finds the file the client would load for p; it
// returns the path found ("" if none) and what was tried.
func ResolveHandlerModule(t *Target, hs HandlerSpec, p ParsedHandler) (string, []string) {
	if r := runtimeOf(hs.Lang); checksHandler(r) {
		return r.handler.resolve(t, hs, p)
	}
	return "", nil
}

// GuessFunction returns the function a module most likely meant as its
// handler: one whose name contains "handler", else the first defined.
func GuessFunction(text, lang string) string {
	var res []*regexp.Regexp
	if r := runtimeOf(lang); checksHandler(r) {
		res = r.handler.functions
	}
	var names []string
	for _, re := range res {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			names = append(names, m[1])
		}
	}
	for _, n := range names {
		if strings.Contains(strings.ToLower(n), "handler") {
			return n
		}
	}
	if len(names) > 0 && !strings.HasPrefix(names[0], "_") {
		return names[0]
	}
	return ""
}
