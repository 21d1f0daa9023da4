package analyze

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file recognises the Lambda runtime interface client (RIC) an image
// starts: the program on the entrypoint chain that polls the Runtime API
// (GET /2018-06-01/runtime/invocation/next) and calls the handler. It walks
// the chain and asks the registered runtimes (runtime.go; one file per
// client: client_python.go, client_node.go, client_ruby.go, client_java.go,
// client_dotnet.go) which link starts theirs; the AWS base images'
// bootstrap, native binaries and the Web Adapter have their own files. The
// runtime checks (LD401-LD404) read the result through
// (*Target).RuntimeClient and (*Target).RIC, computed once per target.

// ClientInfo names the runtime interface client an image starts.
type ClientInfo struct {
	// Name is one of the Client* constants, or "" when no client was
	// recognised.
	Name string `json:"name"`
	// Language is "python", "nodejs", "ruby", "java", "dotnet", "go",
	// "rust", "shell" or "" when unknown.
	Language string `json:"language,omitempty"`
	// Path is where the client was found in the image.
	Path string `json:"path,omitempty"`
	// Evidence says how it was recognised.
	Evidence []string `json:"evidence,omitempty"`
}

// Client names.
const (
	ClientPython     = "python-awslambdaric"
	ClientNode       = "node-aws-lambda-ric"
	ClientRuby       = "ruby-aws_lambda_ric"
	ClientJava       = "java-ric"
	ClientDotnet     = "dotnet-runtimesupport"
	ClientGo         = "go-aws-lambda-go"
	ClientRust       = "rust-lambda_runtime"
	ClientAWSBase    = "aws-base-image-bootstrap"
	ClientWebAdapter = "lambda-web-adapter"
	ClientCustom     = "custom-bootstrap"
)

// Well-known paths.
const (
	WebAdapterPath = "/opt/extensions/lambda-adapter"
	RuntimeAPIPath = "/2018-06-01/runtime/invocation/next"
	WebAdapterCopy = "COPY --from=public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1 /lambda-adapter /opt/extensions/lambda-adapter"
)

// Limits of the content the client analysis reads.
const (
	maxBinaryRead  = 256 << 20 // an ELF searched for client strings
	MaxSourceRead  = 1 << 20   // one source file scanned for markers
	maxSourceFiles = 40        // source files scanned per directory
)

// RuntimeClient returns the runtime interface client the image starts,
// computed once. Name is "" when none was recognised (or the chain could
// not be followed far enough to tell).
func (t *Target) RuntimeClient() ClientInfo { return t.RIC().Client }

// handlerArg is the handler string the client receives.
type handlerArg struct {
	// Set is false when the client gets no handler argument at all.
	Set bool
	// Value is the argument; Known is false when it is only known at run
	// time (a shell variable).
	Value string
	Known bool
	// From says where it comes from, for evidence ("CMD[0]").
	From string
}

// installedClient is a client found in the image, on the chain or not.
type installedClient struct {
	Name, Path string
	Layer      int
}

// RICAnalysis is what the runtime checks share.
type RICAnalysis struct {
	Client ClientInfo
	// Link is the index of the chain link that starts the client, -1 when
	// none does (the web adapter is an extension, not on the chain).
	Link int
	// Undecided, when set, says why the absence of a client cannot be
	// claimed: the chain stops at something that was not followed.
	Undecided string
	// Lang is the language of the program the chain ends in when no
	// client was found ("python", "nodejs", ...), LangLink its link, and
	// Program the script or module it runs.
	Lang     string
	LangLink int
	Program  string
	// Why says what was looked at when concluding there is no client.
	Why []string
	// Missing is set when the chain names a client that is not installed
	// where it is looked for (python -m awslambdaric without the package).
	Missing string
	// MissingHidden, with Missing, is a copy of the client found where
	// the language does not look under Lambda, and why.
	MissingHidden *HiddenDir
	// Handler is the handler string the client gets.
	Handler handlerArg
	// NPX is the index of the npx/npm link on the chain, -1 if none.
	NPX int
	// Installed lists the clients present in the image (found by name).
	Installed []installedClient
}

// RIC returns the runtime client analysis of t, computed once.
func (t *Target) RIC() *RICAnalysis {
	return t.facts.ric.get(func() *RICAnalysis { return analyseRIC(t) })
}

// base returns the last element of a path, without a trailing "\r".
func base(p string) string { return path.Base(strings.TrimSuffix(p, "\r")) }

// linkBase returns the names a link is known by: as written and as
// resolved.
func linkBases(l *Link) (string, string) { return base(l.Name), base(l.Path) }

// isName reports whether either name of the link matches re.
func isName(l *Link, re *regexp.Regexp) bool {
	a, b := linkBases(l)
	return re.MatchString(a) || (b != "." && b != "/" && re.MatchString(b))
}

// wrappers start their operand; the analysis follows it.
var wrappers = map[string]int{
	// name: how many non-option words precede the command
	"tini": 0, "tini-static": 0, "dumb-init": 0, "catatonit": 0,
	"gosu": 1, "su-exec": 1, "aws-lambda-rie": 0, "aws-lambda-rie-arm64": 0, "aws-lambda-rie-x86_64": 0,
}

func analyseRIC(t *Target) *RICAnalysis {
	a := &RICAnalysis{Link: -1, LangLink: -1, NPX: -1}
	if t.FS == nil {
		a.Undecided = "no filesystem was loaded"
		return a
	}
	a.Installed = findInstalledClients(t)
	c := t.Chain()
	a.NPX = findNPX(c)
	for i := range c.Links {
		if a.recognise(t, c, i) {
			break
		}
	}
	if a.Client.Name == "" && a.Undecided == "" && a.Missing == "" && a.Lang == "" {
		a.fromEnd(t, c)
	}
	if a.Client.Name == "" && a.Missing == "" {
		if p, e := findWebAdapter(t); e != nil {
			a.Client = ClientInfo{Name: ClientWebAdapter, Path: p, Evidence: []string{
				fmt.Sprintf("%s: %s; Lambda starts it as an extension and it forwards events to the web server as HTTP requests", p, t.Describe(e)),
			}}
			a.Undecided = ""
		}
	}
	return a
}

// setClient records the client found at link i.
func (a *RICAnalysis) setClient(c *Chain, i int, name, lang, where string, ev ...string) {
	a.Client = ClientInfo{Name: name, Language: lang, Path: where}
	a.Client.Evidence = append([]string{"entrypoint chain: " + c.Describe(i)}, ev...)
	a.Link = i
}

// recognise looks at link i; it returns true when the analysis is done.
func (a *RICAnalysis) recognise(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	if l.Entry == nil || l.Kind == LinkNotRegular {
		if a.Client.Name == "" {
			a.Undecided = fmt.Sprintf("the entrypoint chain breaks at %s, which does not resolve to a file", l.Name)
		}
		return true
	}
	if l.IsAWSBaseEntrypoint() {
		a.awsBase(t, c, i)
		return true
	}
	for _, r := range linkRecognisers {
		if r.match(l) {
			return r.follow(a, t, c, i)
		}
	}
	nameBase, _ := linkBases(l)
	if w, ok := wrappers[nameBase]; ok && l.Kind == LinkELF && i == len(c.Links)-1 {
		return a.wrapper(t, c, i, w)
	}
	return false
}

// argHandler is the handler argument at args[j] of link i. A "$@" or "$1"
// left in an exec line stands for the script's own first argument.
func argHandler(t *Target, c *Chain, i int, args []string, j int) handlerArg {
	if j >= len(args) {
		return handlerArg{From: fmt.Sprintf("the arguments of %s", c.Links[i].Name)}
	}
	v := args[j]
	switch strings.Trim(v, `"`) {
	case "$@", "$*", "${@}", "$1", "${1}":
		// The script's own arguments: follow them to the script's caller.
		if from := c.Links[i].From; from != "" {
			for k := i - 1; k >= 0; k-- {
				if c.Links[k].Path == from && c.Links[k].Kind == LinkScript {
					return argHandler(t, c, k, c.Links[k].Args, 0)
				}
			}
		}
	}
	h := handlerArg{Set: true, Value: v, Known: !strings.Contains(v, "$") && !strings.Contains(v, "`"), From: fmt.Sprintf("argument %d of %s", j+1, c.Links[i].Name)}
	if i == 0 {
		// Link 0's arguments are argv[1:]: name the config field.
		argv := t.Argv()
		k := j + 1
		switch {
		case k < len(argv.Entrypoint):
			h.From = fmt.Sprintf("ENTRYPOINT[%d]", k)
		case argv.Overrides.Command != nil:
			h.From = fmt.Sprintf("ImageConfig.Command[%d]", k-len(argv.Entrypoint))
		case len(argv.Entrypoint) > 0:
			h.From = fmt.Sprintf("CMD[%d]", k-len(argv.Entrypoint))
		default:
			h.From = fmt.Sprintf("CMD[%d]", k)
		}
	}
	return h
}

// scanSources scans a program's source and its sibling files for the
// markers of a runtime client.
func (a *RICAnalysis) scanSources(t *Target, c *Chain, i int, p, lang string) {
	r := t.FS.Resolve(p)
	if r.Err != nil || r.Entry == nil {
		a.Undecided = fmt.Sprintf("%s does not exist, so what it runs is unknown", p)
		return
	}
	dir := r.Final
	if r.Entry.IsRegular() {
		dir = path.Dir(r.Final)
	}
	var exts []string
	rt := runtimeOf(lang)
	if rt != nil {
		exts = rt.scanExts
	}
	files := []string{}
	if r.Entry.IsRegular() {
		files = append(files, r.Final)
	}
	// The program's directory, then its subdirectories one level down
	// (not installed packages).
	var subdirs []string
	addDir := func(d string, descend bool) {
		ents, err := t.FS.ReadDir(strings.TrimPrefix(d, "/"))
		if err != nil {
			return
		}
		for _, e := range ents {
			if len(files) >= maxSourceFiles {
				return
			}
			fp := path.Join(d, e.Name())
			if fp == r.Final {
				continue
			}
			if e.IsDir() {
				switch n := e.Name(); {
				case !descend, strings.HasPrefix(n, "."), n == "node_modules", n == "__pycache__", n == "site-packages", n == "dist-packages", n == "vendor", n == "test", n == "tests":
				default:
					subdirs = append(subdirs, fp)
				}
				continue
			}
			for _, x := range exts {
				if strings.HasSuffix(e.Name(), x) {
					files = append(files, fp)
					break
				}
			}
		}
	}
	binDir := path.Base(dir) == "bin" || path.Base(dir) == "sbin"
	addDir(dir, !binDir && dir != "/")
	for _, d := range subdirs {
		addDir(d, false)
	}
	read := 0
	for _, f := range files {
		b, err := ReadBounded(t.FS, f, MaxSourceRead)
		if err != nil {
			continue
		}
		read++
		if name, ok := textClient(b, lang); ok {
			a.setClient(c, i, name, lang, f, fmt.Sprintf("%s mentions the runtime client or the Runtime API", f))
			a.Undecided = ""
			return
		}
	}
	if read == 0 {
		a.Undecided = fmt.Sprintf("the source of %s could not be read", p)
		return
	}
	if rt != nil && rt.afterScan != nil && rt.afterScan(a, t, c, i, r, lang) {
		return
	}
	a.Why = append(a.Why, fmt.Sprintf("scanned %d %s file(s) in %s (%s): none mentions a runtime interface client, %s or AWS_LAMBDA_RUNTIME_API", read, lang, dir, strings.Join(trimDir(files, dir), ", "), RuntimeAPIPath))
}

func trimDir(files []string, dir string) []string {
	out := make([]string, 0, len(files))
	for i, f := range files {
		if i == 6 {
			out = append(out, fmt.Sprintf("… %d more", len(files)-6))
			break
		}
		out = append(out, strings.TrimPrefix(strings.TrimPrefix(f, dir), "/"))
	}
	return out
}

// textClient looks for the markers of a runtime client in source text.
func textClient(b []byte, lang string) (string, bool) {
	for _, r := range runtimes {
		if r.marker != "" && bytes.Contains(b, []byte(r.marker)) {
			return r.Client, true
		}
	}
	if bytes.Contains(b, []byte("2018-06-01/runtime")) || bytes.Contains(b, []byte("AWS_LAMBDA_RUNTIME_API")) {
		return ClientCustom, true
	}
	return "", false
}

// ResolveArg makes a script argument absolute against the working
// directory.
func (t *Target) ResolveArg(p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	return path.Join("/", t.Argv().WorkingDir, p)
}

// wrapper follows an init wrapper (tini, dumb-init, gosu ...) to the
// program it starts, when that is a binary or a script.
func (a *RICAnalysis) wrapper(t *Target, c *Chain, i int, skip int) bool {
	l := &c.Links[i]
	var operand string
	n := 0
	for _, x := range l.Args {
		if x == "--" {
			continue
		}
		if strings.HasPrefix(x, "-") && operand == "" && n == 0 {
			continue
		}
		if n < skip {
			n++
			continue
		}
		operand = x
		break
	}
	if operand == "" {
		a.Undecided = fmt.Sprintf("%s starts no program that could be followed", l.Name)
		return true
	}
	lk := LookupExec(t.FS, t.Config(), operand, t.Argv().WorkingDir)
	if !lk.Found() {
		a.Undecided = fmt.Sprintf("%s starts %s, which does not resolve", l.Name, operand)
		return true
	}
	p := lk.Resolution().Final
	head := t.FS.Head(p)
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		name, lang, ev, err := binaryClient(t, p)
		if err != nil {
			a.Undecided = err.Error()
			return true
		}
		if name != "" {
			a.setClient(c, i, name, lang, p, ev...)
			return true
		}
	default:
		b, err := ReadBounded(t.FS, p, MaxSourceRead)
		if err == nil {
			if name, ok := textClient(b, ""); ok {
				a.setClient(c, i, name, "", p, fmt.Sprintf("%s mentions the runtime client or the Runtime API", p))
				return true
			}
		}
	}
	a.Undecided = fmt.Sprintf("%s starts %s, which was not followed further", l.Name, p)
	return true
}

// fromEnd decides from the last link when no link was recognised.
func (a *RICAnalysis) fromEnd(t *Target, c *Chain) {
	if len(c.Links) == 0 {
		a.Undecided = "the image has no command"
		return
	}
	last := len(c.Links) - 1
	l := &c.Links[last]
	// A client named in a script on the chain (a custom bootstrap, a
	// wrapper whose exec could not be followed).
	for j := range c.Links {
		s := &c.Links[j]
		if s.Kind != LinkScript || s.Path == "" {
			continue
		}
		text := s.Text()
		if text == nil {
			b, err := ReadBounded(t.FS, s.Path, MaxScriptRead)
			if err != nil {
				continue
			}
			text = b
		}
		if name, ok := scriptClient(text); ok {
			a.setClient(c, j, name, "shell", s.Path, fmt.Sprintf("%s mentions the runtime client or %s", s.Path, RuntimeAPIPath))
			return
		}
	}
	switch {
	case c.End != "":
		a.Undecided = "the entrypoint chain could not be followed: " + c.End
	case l.Kind == LinkELF && (Shells[base(l.Name)] || Shells[base(l.Path)] || base(l.Name) == "env"):
		a.Undecided = fmt.Sprintf("the chain ends in %s, whose commands were not followed", l.Name)
	case l.Kind == LinkELF:
		name, lang, ev, err := binaryClient(t, l.Path)
		switch {
		case err != nil:
			a.Undecided = err.Error()
		case name != "":
			a.setClient(c, last, name, lang, l.Path, ev...)
		case hasFileOperand(t, l.Args):
			a.Undecided = fmt.Sprintf("%s gets a program as an argument, which was not followed", l.Path)
		default:
			a.Lang, a.LangLink, a.Program = lang, last, l.Path
			a.Why = ev
		}
	case l.Kind == LinkScript:
		a.Undecided = fmt.Sprintf("the chain ends in the script %s, whose interpreter %s was not followed", l.Path, l.Shebang.Interpreter)
	default:
		a.Undecided = fmt.Sprintf("the chain ends in %s (%s), which was not followed", l.Path, l.Kind)
	}
}

// scriptClient looks for strong markers in a shell script: a client's
// name or the Runtime API path (the variable name alone is not enough:
// emulator wrappers test it).
func scriptClient(b []byte) (string, bool) {
	if bytes.Contains(b, []byte("2018-06-01/runtime")) {
		return ClientCustom, true
	}
	name, ok := textClient(b, "")
	if ok && name != ClientCustom {
		return name, true
	}
	return "", false
}

// hasFileOperand reports whether an argument names a file in the image
// (the program may be a wrapper that starts it).
func hasFileOperand(t *Target, args []string) bool {
	for _, x := range args {
		if strings.HasPrefix(x, "-") || x == "" {
			continue
		}
		if strings.Contains(x, "/") {
			p := t.ResolveArg(x)
			if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() && r.Entry.Mode&0o111 != 0 {
				return true
			}
		}
	}
	return false
}

// ReadBounded reads at most n bytes of the file at abs.
func ReadBounded(fsys *imagefs.FS, abs string, n int64) ([]byte, error) {
	r := fsys.Resolve(abs)
	if r.Err != nil || r.Entry == nil {
		return nil, fs.ErrNotExist
	}
	if !r.Entry.IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", abs)
	}
	if r.Entry.Size <= n {
		return fsys.ReadFile(strings.TrimPrefix(r.Final, "/"))
	}
	return ReadPrefix(fsys, r.Final, n)
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// findInstalledClients walks the image for runtime clients by name.
func findInstalledClients(t *Target) []installedClient {
	var out []installedClient
	_ = t.FS.Walk(func(e *imagefs.Entry) error {
		for _, r := range runtimes {
			if r.installed != nil && r.installed(t, e) {
				out = append(out, installedClient{r.Client, e.Path, e.Layer})
				break
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Path) < len(out[j].Path) })
	return out
}

// InstalledOf returns the installs of client name.
func (a *RICAnalysis) InstalledOf(name string) []installedClient {
	var out []installedClient
	for _, c := range a.Installed {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// InstalledOnly says which clients are installed but not started.
func (a *RICAnalysis) InstalledOnly() string {
	if len(a.Installed) == 0 {
		return ""
	}
	var ps []string
	for _, ic := range a.Installed {
		ps = append(ps, ic.Path)
	}
	if len(ps) > 3 {
		ps = append(ps[:3], "…")
	}
	return "A runtime interface client is installed (" + strings.Join(ps, ", ") + "), but the entrypoint does not start it."
}
