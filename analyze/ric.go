package analyze

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
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
// (GET /2018-06-01/runtime/invocation/next) and calls the handler. The
// runtime checks (LD401-LD404) read it through (*Target).RuntimeClient and
// (*Target).ric, computed once per target.

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
	javaRICClass   = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"
	dotnetRICDLL   = "Amazon.Lambda.RuntimeSupport.dll"
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

var (
	pythonName = regexp.MustCompile(`^python[0-9.]*$`)
	nodeName   = regexp.MustCompile(`^(node|nodejs)[0-9.]*$`)
	rubyName   = regexp.MustCompile(`^ruby[0-9.]*$`)
	javaName   = regexp.MustCompile(`^java$`)
	dotnetName = regexp.MustCompile(`^dotnet$`)
)

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

// WebServers are Python modules run with -m that serve HTTP and never
// poll the Runtime API.
var WebServers = map[string]bool{"uvicorn": true, "gunicorn": true, "flask": true, "http.server": true, "hypercorn": true, "daphne": true, "waitress": true, "streamlit": true, "fastapi": true}

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
	nameBase, pathBase := linkBases(l)
	switch {
	case l.IsAWSBaseEntrypoint():
		a.awsBase(t, c, i)
		return true
	case nameBase == "aws_lambda_ric" || pathBase == "aws_lambda_ric":
		a.setClient(c, i, ClientRuby, "ruby", l.Path)
		a.Handler = argHandler(t, c, i, l.Args, 0)
		return true
	case nameBase == "aws-lambda-ric" || strings.Contains(l.Path, "/aws-lambda-ric/"):
		a.setClient(c, i, ClientNode, "nodejs", l.Path)
		a.Handler = argHandler(t, c, i, l.Args, 0)
		return true
	case nameBase == "npx" || pathBase == "npx-cli.js":
		return a.npx(t, c, i, l.Args)
	case isName(l, pythonName) && l.Kind == LinkELF:
		return a.python(t, c, i)
	case isName(l, nodeName) && l.Kind == LinkELF:
		return a.node(t, c, i)
	case isName(l, rubyName) && l.Kind == LinkELF:
		return a.ruby(t, c, i)
	case isName(l, javaName) && l.Kind == LinkELF:
		for j, arg := range l.Args {
			if arg == javaRICClass {
				a.setClient(c, i, ClientJava, "java", l.Path, fmt.Sprintf("%s starts the main class %s", l.Path, javaRICClass))
				a.Handler = argHandler(t, c, i, l.Args, j+1)
				return true
			}
		}
		a.Lang, a.LangLink = "java", i
		a.Undecided = fmt.Sprintf("%s does not start %s; the classes or jar it runs were not inspected", l.Path, javaRICClass)
		return true
	case isName(l, dotnetName) && l.Kind == LinkELF:
		return a.dotnet(t, c, i)
	}
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

// awsBase handles /lambda-entrypoint.sh: the handler is its only argument
// and the client is what /var/runtime/bootstrap starts.
func (a *RICAnalysis) awsBase(t *Target, c *Chain, i int) {
	l := &c.Links[i]
	argv := t.Argv()
	a.Handler = handlerArg{From: "CMD"}
	if len(l.Args) == 1 {
		from := "CMD[0]"
		if argv.Overrides.Command != nil {
			from = "ImageConfig.Command[0]"
		}
		a.Handler = handlerArg{Set: true, Value: l.Args[0], Known: true, From: from}
	}
	boot := t.FS.Resolve("/var/runtime/bootstrap")
	if boot.Err != nil || boot.Entry == nil || !boot.Entry.IsRegular() {
		a.Missing = fmt.Sprintf("%s runs /var/runtime/bootstrap, which does not exist in this image", l.Path)
		a.Link = i
		return
	}
	lang := awsBaseLanguage(t, c, i)
	ev := fmt.Sprintf("/var/runtime/bootstrap: %s", t.Describe(boot.Entry))
	// A provided.* image whose bootstrap is the user's binary.
	if bytes.HasPrefix(t.FS.Head("/var/runtime/bootstrap"), []byte("\x7fELF")) {
		name, blang, bev, err := binaryClient(t, "/var/runtime/bootstrap")
		switch {
		case err != nil:
			a.Undecided = err.Error()
			return
		case name == "":
			a.Lang, a.LangLink, a.Program = blang, i, "/var/runtime/bootstrap"
			a.Why = append([]string{ev}, bev...)
			return
		}
		a.setClient(c, i, name, blang, "/var/runtime/bootstrap", append([]string{ev}, bev...)...)
		return
	}
	a.setClient(c, i, ClientAWSBase, lang, "/var/runtime/bootstrap", ev)
}

// awsBaseLanguage guesses the runtime of an AWS base image from what its
// bootstrap starts, then from /var/lang/bin.
func awsBaseLanguage(t *Target, c *Chain, from int) string {
	for j := from + 1; j < len(c.Links); j++ {
		l := &c.Links[j]
		switch {
		case isName(l, pythonName):
			return "python"
		case isName(l, nodeName):
			return "nodejs"
		case isName(l, rubyName):
			return "ruby"
		case isName(l, javaName):
			return "java"
		case isName(l, dotnetName):
			return "dotnet"
		}
	}
	for _, p := range []struct{ glob, lang string }{
		{"/var/lang/bin/python3*", "python"}, {"/var/lang/bin/node", "nodejs"}, {"/var/lang/bin/ruby", "ruby"},
		{"/var/lang/bin/java", "java"}, {"/var/lang/bin/dotnet", "dotnet"}, {"/var/runtime/" + dotnetRICDLL, "dotnet"},
	} {
		dir := path.Dir(p.glob)
		ents, err := t.FS.ReadDir(strings.TrimPrefix(dir, "/"))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if ok, _ := path.Match(path.Base(p.glob), e.Name()); ok {
				return p.lang
			}
		}
	}
	return ""
}

// pythonArgs splits a python command line: the module after -m, or the
// script, or -c code, and the arguments after it.
func pythonArgs(args []string) (module, script, code string, rest []string, ok bool) {
	for j := 0; j < len(args); j++ {
		a := args[j]
		switch {
		case a == "-m" && j+1 < len(args):
			return args[j+1], "", "", args[j+2:], true
		case strings.HasPrefix(a, "-m") && len(a) > 2:
			return a[2:], "", "", args[j+1:], true
		case a == "-c" && j+1 < len(args):
			return "", "", args[j+1], args[j+2:], true
		case a == "-W" || a == "-X" || a == "--check-hash-based-pycs":
			j++
		case a == "-" || a == "--":
			if a == "--" && j+1 < len(args) {
				return "", args[j+1], "", args[j+2:], true
			}
			return "", "", "", nil, false
		case strings.HasPrefix(a, "-"):
		default:
			return "", a, "", args[j+1:], true
		}
	}
	return "", "", "", nil, false
}

func (a *RICAnalysis) python(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	module, script, code, _, ok := pythonArgs(l.Args)
	a.Lang, a.LangLink = "python", i
	switch {
	case !ok:
		a.Undecided = fmt.Sprintf("%s gets no script or module to run", l.Name)
	case module == "awslambdaric":
		idx := indexOf(l.Args, "awslambdaric")
		if idx < 0 {
			idx = indexOf(l.Args, "-mawslambdaric")
		}
		a.Handler = argHandler(t, c, i, l.Args, idx+1)
		where, ev := findPythonPackage(t, l, "awslambdaric")
		if where == "" {
			a.Missing = fmt.Sprintf("the entrypoint runs %s -m awslambdaric, but there is no awslambdaric package in the directories that python searches", l.Name)
			a.Why = ev
			a.Link = i
			return true
		}
		a.setClient(c, i, ClientPython, "python", where, ev...)
	case code != "":
		if name, ok := textClient([]byte(code), "python"); ok {
			a.setClient(c, i, name, "python", l.Path, "python -c code mentions the runtime client")
			return true
		}
		a.Undecided = fmt.Sprintf("%s runs -c code, which was not followed", l.Name)
	case module != "":
		a.Program = module
		if WebServers[module] || WebServers[strings.SplitN(module, ".", 2)[0]] {
			a.Why = []string{fmt.Sprintf("python -m %s runs a web server, which never polls the Runtime API", module)}
			return true
		}
		where, _ := findPythonModule(t, l, module)
		if where == "" {
			a.Undecided = fmt.Sprintf("the module %s that %s runs was not found, so its code was not scanned", module, l.Name)
			return true
		}
		a.scanSources(t, c, i, where, "python")
	default:
		p := path.Join("/", t.Argv().WorkingDir, script)
		if strings.HasPrefix(script, "/") {
			p = path.Clean(script)
		}
		a.Program = p
		a.scanSources(t, c, i, p, "python")
	}
	return true
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
	exts := map[string][]string{
		"python": {".py"},
		"nodejs": {".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".json"},
		"ruby":   {".rb"},
	}[lang]
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
	if lang == "python" && r.Entry.IsRegular() && !strings.HasSuffix(r.Final, ".py") {
		// A console-script stub (/usr/local/bin/uvicorn): judge the module
		// it imports.
		if b, err := ReadBounded(t.FS, r.Final, MaxSourceRead); err == nil {
			if m := stubImport.FindSubmatch(b); m != nil {
				mod := string(m[1])
				top := strings.SplitN(mod, ".", 2)[0]
				switch {
				case WebServers[top]:
					a.Why = append(a.Why, fmt.Sprintf("%s is the command-line entry of %s, a web server, which never polls the Runtime API", r.Final, top))
				default:
					where, _ := findPythonModule(t, &c.Links[i], top)
					if where == "" {
						a.Undecided = fmt.Sprintf("%s runs the package %s, which was not found, so its code was not scanned", r.Final, top)
						return
					}
					a.Why = append(a.Why, fmt.Sprintf("%s imports %s from %s", r.Final, mod, where))
					sub := &RICAnalysis{Link: -1, LangLink: -1, NPX: -1}
					sub.scanSources(t, c, i, where, lang)
					if sub.Client.Name != "" || sub.Undecided != "" {
						a.Client, a.Link, a.Undecided = sub.Client, sub.Link, sub.Undecided
						return
					}
					a.Why = append(a.Why, sub.Why...)
				}
			}
		}
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

// stubImport finds the module a console-script stub imports.
var stubImport = regexp.MustCompile(`(?m)^from ([A-Za-z_][\w.]*) import`)

// textClient looks for the markers of a runtime client in source text.
func textClient(b []byte, lang string) (string, bool) {
	switch {
	case bytes.Contains(b, []byte("awslambdaric")):
		return ClientPython, true
	case bytes.Contains(b, []byte("aws-lambda-ric")):
		return ClientNode, true
	case bytes.Contains(b, []byte("aws_lambda_ric")):
		return ClientRuby, true
	case bytes.Contains(b, []byte(javaRICClass)):
		return ClientJava, true
	case bytes.Contains(b, []byte("Amazon.Lambda.RuntimeSupport")):
		return ClientDotnet, true
	case bytes.Contains(b, []byte("2018-06-01/runtime")), bytes.Contains(b, []byte("AWS_LAMBDA_RUNTIME_API")):
		return ClientCustom, true
	}
	return "", false
}

// nodeArgs returns the script node runs and the arguments after it.
func nodeArgs(args []string) (script string, rest []string, code bool) {
	for j := 0; j < len(args); j++ {
		a := args[j]
		switch {
		case a == "-e" || a == "--eval" || a == "-p" || a == "--print":
			return "", nil, true
		case a == "-r" || a == "--require" || a == "--import" || a == "--loader" || a == "--experimental-loader" || a == "--env-file" || a == "-C" || a == "--conditions" || a == "--title" || a == "--inspect-port":
			j++
		case a == "--":
			if j+1 < len(args) {
				return args[j+1], args[j+2:], false
			}
			return "", nil, false
		case strings.HasPrefix(a, "-"):
		default:
			return a, args[j+1:], false
		}
	}
	return "", nil, false
}

func (a *RICAnalysis) node(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	script, rest, code := nodeArgs(l.Args)
	a.Lang, a.LangLink = "nodejs", i
	switch {
	case code:
		a.Undecided = fmt.Sprintf("%s runs -e code, which was not followed", l.Name)
	case script == "":
		a.Undecided = fmt.Sprintf("%s gets no script to run", l.Name)
	case strings.Contains(script, "aws-lambda-ric"):
		a.setClient(c, i, ClientNode, "nodejs", t.ResolveArg(script), fmt.Sprintf("%s runs the aws-lambda-ric script %s", l.Name, script))
		a.Handler = argHandler(t, c, i, l.Args, len(l.Args)-len(rest))
	case base(script) == "npx-cli.js" || base(script) == "npx":
		return a.npx(t, c, i, rest)
	case base(script) == "npm-cli.js" || base(script) == "npm":
		a.Undecided = fmt.Sprintf("%s runs npm, whose package.json scripts were not followed", l.Name)
	default:
		p := t.ResolveArg(script)
		a.Program = p
		a.scanSources(t, c, i, p, "nodejs")
	}
	return true
}

// ResolveArg makes a script argument absolute against the working
// directory.
func (t *Target) ResolveArg(p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	return path.Join("/", t.Argv().WorkingDir, p)
}

// npx handles `npx [options] <command> args`.
func (a *RICAnalysis) npx(t *Target, c *Chain, i int, args []string) bool {
	cmd, j := "", 0
	for j = 0; j < len(args); j++ {
		x := args[j]
		if x == "-p" || x == "--package" || x == "-c" || x == "--call" {
			j++
			continue
		}
		if strings.HasPrefix(x, "-") {
			continue
		}
		cmd = x
		break
	}
	a.Lang, a.LangLink = "nodejs", i
	if cmd == "aws-lambda-ric" || strings.HasPrefix(cmd, "aws-lambda-ric@") {
		a.Handler = argHandler(t, c, i, args, j+1)
		where := FindNodeRIC(t)
		if where == "" {
			a.Missing = "the entrypoint runs npx aws-lambda-ric, but no aws-lambda-ric is installed where npx looks (node_modules/.bin above the working directory, or PATH), so npx would download it at start"
			a.Link = i
			return true
		}
		a.setClient(c, i, ClientNode, "nodejs", where, "npx runs the aws-lambda-ric installed at "+where)
		return true
	}
	a.Undecided = fmt.Sprintf("npx runs %q, which was not followed", cmd)
	return true
}

func (a *RICAnalysis) ruby(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	a.Lang, a.LangLink = "ruby", i
	var script string
	j := 0
	for ; j < len(l.Args); j++ {
		x := l.Args[j]
		if x == "-e" {
			a.Undecided = fmt.Sprintf("%s runs -e code, which was not followed", l.Name)
			return true
		}
		if x == "-I" || x == "-r" {
			j++
			continue
		}
		if !strings.HasPrefix(x, "-") {
			script = x
			break
		}
	}
	if script == "" {
		a.Undecided = fmt.Sprintf("%s gets no script to run", l.Name)
		return true
	}
	rest := l.Args[j+1:]
	if (base(script) == "bundle" || base(script) == "bundler") && len(rest) > 1 && rest[0] == "exec" {
		if base(rest[1]) == "aws_lambda_ric" {
			a.setClient(c, i, ClientRuby, "ruby", script, "bundle exec runs aws_lambda_ric")
			a.Handler = argHandler(t, c, i, l.Args, j+3)
			return true
		}
		a.Undecided = fmt.Sprintf("bundle exec runs %q, which was not followed", rest[1])
		return true
	}
	p := t.ResolveArg(script)
	a.Program = p
	a.scanSources(t, c, i, p, "ruby")
	return true
}

func (a *RICAnalysis) dotnet(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	a.Lang, a.LangLink = "dotnet", i
	for j, x := range l.Args {
		if !strings.HasSuffix(strings.ToLower(x), ".dll") {
			continue
		}
		p := t.ResolveArg(x)
		if base(x) == dotnetRICDLL {
			a.setClient(c, i, ClientDotnet, "dotnet", p, fmt.Sprintf("%s runs %s", l.Name, p))
			a.Handler = argHandler(t, c, i, l.Args, j+1)
			return true
		}
		beside := path.Join(path.Dir(p), dotnetRICDLL)
		if r := t.FS.Resolve(beside); r.Err == nil && r.Entry != nil {
			a.setClient(c, i, ClientDotnet, "dotnet", beside, fmt.Sprintf("%s is next to %s", beside, p))
			return true
		}
		a.Program = p
		a.Why = []string{fmt.Sprintf("%s runs %s, and there is no %s next to it", l.Name, p, dotnetRICDLL)}
		return true
	}
	a.Undecided = fmt.Sprintf("%s runs no .dll that could be followed", l.Name)
	return true
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

// binaryClient reads an ELF and says which client it links: Go build
// info, then strings. lang is "go" for Go binaries.
func binaryClient(t *Target, p string) (name, lang string, ev []string, err error) {
	r := t.FS.Resolve(p)
	if r.Err != nil || r.Entry == nil {
		return "", "", nil, fmt.Errorf("%w: %s could not be resolved", ErrNotApplicable, p)
	}
	if r.Entry.Size > maxBinaryRead {
		return "", "", nil, fmt.Errorf("%w: %s is %d bytes, more than the %d searched for a runtime client", ErrNotApplicable, p, r.Entry.Size, maxBinaryRead)
	}
	b, err := t.readFile(r.Final)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: reading %s: %v", ErrNotApplicable, p, err)
	}
	if bi, err := buildinfo.Read(bytes.NewReader(b)); err == nil {
		lang = "go"
		for _, d := range bi.Deps {
			if d.Path == "github.com/aws/aws-lambda-go" {
				return ClientGo, "go", []string{fmt.Sprintf("%s is a Go binary (%s, main module %s) linking github.com/aws/aws-lambda-go %s", p, bi.GoVersion, bi.Path, d.Version)}, nil
			}
		}
		ev = append(ev, fmt.Sprintf("%s is a Go binary (%s, main module %s) whose build info lists %d module(s), none of them github.com/aws/aws-lambda-go", p, bi.GoVersion, bi.Path, len(bi.Deps)))
	}
	for _, packer := range []string{"UPX!", "_MEIPASS", "PyInstaller", "pkg/prelude/bootstrap.js", "__nuitka"} {
		if bytes.Contains(b, []byte(packer)) {
			return "", "", nil, fmt.Errorf("%w: %s is packed (it contains %q), so its strings cannot be searched for a runtime client", ErrNotApplicable, p, packer)
		}
	}
	switch {
	case bytes.Contains(b, []byte("lambda_runtime")) || bytes.Contains(b, []byte("lambda-runtime")):
		return ClientRust, "rust", []string{fmt.Sprintf("%s contains the string \"lambda_runtime\" (the Rust crate)", p)}, nil
	case bytes.Contains(b, []byte("Amazon.Lambda.RuntimeSupport")):
		return ClientDotnet, "dotnet", []string{fmt.Sprintf("%s contains \"Amazon.Lambda.RuntimeSupport\"", p)}, nil
	case bytes.Contains(b, []byte("2018-06-01/runtime")) || bytes.Contains(b, []byte("AWS_LAMBDA_RUNTIME_API")):
		return ClientCustom, lang, []string{fmt.Sprintf("%s contains the Runtime API path or AWS_LAMBDA_RUNTIME_API", p)}, nil
	}
	ev = append(ev, fmt.Sprintf("%s (%d bytes) contains neither %s nor AWS_LAMBDA_RUNTIME_API nor a runtime client's name", p, len(b), RuntimeAPIPath))
	return "", lang, ev, nil
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

// findNPX returns the index of the first npx or npm link, -1 if none.
func findNPX(c *Chain) int {
	for i := range c.Links {
		l := &c.Links[i]
		n, p := linkBases(l)
		switch {
		case n == "npx" || n == "npm" || p == "npx-cli.js" || p == "npm-cli.js":
			return i
		case isName(l, nodeName):
			if s, _, _ := nodeArgs(l.Args); s != "" {
				if b := base(s); b == "npx" || b == "npm" || b == "npx-cli.js" || b == "npm-cli.js" {
					return i
				}
			}
		}
	}
	return -1
}

// NPXCommand returns the program npx/npm runs at link i, its arguments
// and whether it is npm (not npx).
func NPXCommand(c *Chain, i int) (tool string, args []string, toolPath string) {
	l := &c.Links[i]
	n, p := linkBases(l)
	switch {
	case n == "npx" || p == "npx-cli.js":
		return "npx", l.Args, l.Path
	case n == "npm" || p == "npm-cli.js":
		return "npm", l.Args, l.Path
	}
	s, rest, _ := nodeArgs(l.Args)
	tool = "npx"
	if b := base(s); b == "npm" || b == "npm-cli.js" {
		tool = "npm"
	}
	return tool, rest, s
}

// FindNodeRIC finds the aws-lambda-ric npx would run: a
// node_modules/.bin/aws-lambda-ric in the working directory or above, a
// node_modules/aws-lambda-ric there, or the command on PATH.
func FindNodeRIC(t *Target) string {
	wd := path.Join("/", t.Argv().WorkingDir)
	for dir := wd; ; dir = path.Dir(dir) {
		for _, p := range []string{path.Join(dir, "node_modules/.bin/aws-lambda-ric"), path.Join(dir, "node_modules/aws-lambda-ric")} {
			if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil {
				return p
			}
		}
		if dir == "/" {
			break
		}
	}
	if lk := LookupExec(t.FS, t.Config(), "aws-lambda-ric", wd); lk.Found() {
		return lk.Path()
	}
	return ""
}

// NodeRICBin returns the script of an installed aws-lambda-ric package
// (from its package.json "bin"), given the package directory.
func NodeRICBin(t *Target, pkgDir string) string {
	b, err := ReadBounded(t.FS, path.Join(pkgDir, "package.json"), MaxSourceRead)
	if err == nil {
		var pj struct {
			Bin json.RawMessage `json:"bin"`
		}
		if json.Unmarshal(b, &pj) == nil && len(pj.Bin) > 0 {
			var one string
			var many map[string]string
			switch {
			case json.Unmarshal(pj.Bin, &one) == nil && one != "":
				return path.Join(pkgDir, one)
			case json.Unmarshal(pj.Bin, &many) == nil && many["aws-lambda-ric"] != "":
				return path.Join(pkgDir, many["aws-lambda-ric"])
			}
		}
	}
	for _, cand := range []string{"bin/index.mjs", "bin/index.js"} {
		if r := t.FS.Resolve(path.Join(pkgDir, cand)); r.Err == nil && r.Entry != nil {
			return path.Join(pkgDir, cand)
		}
	}
	return ""
}

// findInstalledClients walks the image for runtime clients by name.
func findInstalledClients(t *Target) []installedClient {
	var out []installedClient
	_ = t.FS.Walk(func(e *imagefs.Entry) error {
		b := path.Base(e.Path)
		switch {
		case b == "awslambdaric" && e.IsDir():
			if _, ok := t.FS.Lookup(e.Path + "/__init__.py"); ok {
				out = append(out, installedClient{ClientPython, e.Path, e.Layer})
			}
		case b == "aws-lambda-ric" && e.IsDir() && path.Base(path.Dir(e.Path)) == "node_modules":
			out = append(out, installedClient{ClientNode, e.Path, e.Layer})
		case b == "aws_lambda_ric" && !e.IsDir() && path.Base(path.Dir(e.Path)) == "bin" && !strings.Contains(e.Path, "/gems/"):
			out = append(out, installedClient{ClientRuby, e.Path, e.Layer})
		case b == dotnetRICDLL && !e.IsDir():
			out = append(out, installedClient{ClientDotnet, e.Path, e.Layer})
		case strings.HasPrefix(b, "aws-lambda-java-runtime-interface-client") && strings.HasSuffix(b, ".jar"):
			out = append(out, installedClient{ClientJava, e.Path, e.Layer})
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

// pythonVersion reads "3.12" from a python link's names.
func pythonVersion(l *Link) string {
	for _, n := range []string{base(l.Path), base(l.Name)} {
		if v := strings.TrimPrefix(n, "python"); v != n && strings.Count(v, ".") == 1 {
			return v
		}
	}
	return ""
}

// pythonPath returns the directories a python started by link l
// searches: the working directory (sys.path[0] for -m), PYTHONPATH, and
// every site-packages/dist-packages directory in the image for its
// version (all versions when it is unknown). zip is set when PYTHONPATH
// holds an archive, which is not searched.
func pythonPath(t *Target, l *Link, extra ...string) (dirs []string, zip bool) {
	cfg := t.Config()
	seen := map[string]bool{}
	add := func(d string) {
		if d == "" || !strings.HasPrefix(d, "/") {
			return
		}
		d = path.Clean(d)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	add(path.Join("/", t.Argv().WorkingDir))
	for _, d := range extra {
		add(d)
	}
	if pp, ok := Getenv(cfg.Env, "PYTHONPATH"); ok {
		for _, d := range strings.Split(pp, ":") {
			if strings.HasSuffix(d, ".zip") || strings.HasSuffix(d, ".egg") {
				zip = true
			}
			add(d)
		}
	}
	ver := ""
	if l != nil {
		ver = pythonVersion(l)
	}
	for _, d := range sitePackages(t) {
		if ver != "" && strings.Contains(d, "/python3.") && !strings.Contains(d, "/python"+ver+"/") {
			continue
		}
		add(d)
	}
	return dirs, zip
}

// sitePackages lists every site-packages and dist-packages directory in
// the image, computed once.
func sitePackages(t *Target) []string {
	return t.facts.sitePackages.get(func() []string {
		var out []string
		_ = t.FS.Walk(func(e *imagefs.Entry) error {
			if b := path.Base(e.Path); e.IsDir() && (b == "site-packages" || b == "dist-packages") {
				out = append(out, e.Path)
			}
			return nil
		})
		return out
	})
}

// findPythonModule finds module (dotted) in the directories python
// searches; it returns the file or package directory found.
func findPythonModule(t *Target, l *Link, module string, extra ...string) (string, []string) {
	dirs, _ := pythonPath(t, l, extra...)
	rel := strings.ReplaceAll(module, ".", "/")
	for _, d := range dirs {
		if p := PythonModuleAt(t.FS, path.Join(d, rel)); p != "" {
			return p, dirs
		}
	}
	return "", dirs
}

// PythonModuleAt returns what imports as the module at stem (a path
// without extension): stem.py, stem/ (a package, or a namespace package),
// stem.pyc, or an extension module stem.*.so.
func PythonModuleAt(fsys *imagefs.FS, stem string) string {
	for _, p := range []string{stem + ".py", stem + ".pyc", stem + ".so", stem + ".abi3.so"} {
		if r := fsys.Resolve(p); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
			return p
		}
	}
	if r := fsys.Resolve(stem); r.Err == nil && r.Entry != nil && r.Entry.IsDir() {
		return stem
	}
	dir, name := path.Split(stem)
	if ents, err := fsys.ReadDir(strings.TrimPrefix(path.Clean(dir), "/")); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), name+".") && strings.HasSuffix(e.Name(), ".so") && !e.IsDir() {
				return path.Join(dir, e.Name())
			}
		}
	}
	return ""
}

// findPythonPackage finds the package a `python -m pkg` imports.
func findPythonPackage(t *Target, l *Link, pkg string) (string, []string) {
	p, dirs := findPythonModule(t, l, pkg)
	if p != "" {
		return p, []string{fmt.Sprintf("the %s package is at %s", pkg, p)}
	}
	ev := []string{fmt.Sprintf("looked for %s in %s", pkg, strings.Join(dirs, ", "))}
	return "", ev
}

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

// NodePath is the node binary the image has: the one on the chain, else
// the one on PATH, else /usr/local/bin/node.
func NodePath(t *Target, ch *Chain) string {
	for i := range ch.Links {
		if l := &ch.Links[i]; isName(l, nodeName) && l.Lookup.Found() {
			return l.Lookup.Path()
		}
	}
	if lk := LookupExec(t.FS, t.Config(), "node", t.Argv().WorkingDir); lk.Found() {
		return lk.Path()
	}
	return "/usr/local/bin/node"
}
