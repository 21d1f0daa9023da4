package analyze

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file is the Node.js runtime: aws-lambda-ric started directly, by
// node or by npx, its handler syntax (dir/file.export) and the directories
// it loads the handler from (the app root, node_modules, NODE_PATH).

// nodeName matches the names of a Node.js interpreter.
var nodeName = regexp.MustCompile(`^(node|nodejs)[0-9.]*$`)

func init() {
	register(&runtime{
		Client: ClientNode, Language: "nodejs", order: 2,
		interpreter: nodeName,
		links: []linkRecogniser{{
			// The client's own command (node_modules/.bin/aws-lambda-ric).
			prio: 20,
			match: func(l *Link) bool {
				nameBase, _ := linkBases(l)
				return nameBase == "aws-lambda-ric" || strings.Contains(l.Path, "/aws-lambda-ric/")
			},
			follow: func(a *RICAnalysis, t *Target, c *Chain, i int) bool {
				l := &c.Links[i]
				a.setClient(c, i, ClientNode, "nodejs", l.Path)
				a.Handler = argHandler(t, c, i, l.Args, 0)
				return true
			},
		}, {
			prio: 30,
			match: func(l *Link) bool {
				nameBase, pathBase := linkBases(l)
				return nameBase == "npx" || pathBase == "npx-cli.js"
			},
			follow: func(a *RICAnalysis, t *Target, c *Chain, i int) bool { return a.npx(t, c, i, c.Links[i].Args) },
		}, {
			prio:   50,
			match:  func(l *Link) bool { return isName(l, nodeName) && l.Kind == LinkELF },
			follow: (*RICAnalysis).node,
		}},
		marker:   "aws-lambda-ric",
		scanExts: []string{".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".json"},
		installed: func(t *Target, e *imagefs.Entry) bool {
			return path.Base(e.Path) == "aws-lambda-ric" && e.IsDir() && path.Base(path.Dir(e.Path)) == "node_modules"
		},
		awsBaseGlobs: []string{"/var/lang/bin/node"},
		handler: &handlerSyntax{
			baseLabel: "the AWS Node.js base image's runtime",
			label:     "the Node.js runtime interface client (aws-lambda-ric)",
			sourceExt: ".js",
			parse:     parseNode,
			roots:     rootsNode,
			resolve:   resolveNode,
			functions: []*regexp.Regexp{regexp.MustCompile(`exports\.([A-Za-z_$][\w$]*)\s*=`), regexp.MustCompile(`export\s+(?:async\s+)?(?:function\*?|const|let|var)\s+([A-Za-z_$][\w$]*)`)},
		},
		tlsName:  func(n string) bool { return n == "node" || n == "nodejs" },
		tlsStack: StackNode,
		tlsWhy:   func(string) string { return "Node.js" },
	})
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
		a.Handler = argHandler(t, c, i, l.Args, len(l.Args)-len(rest))
		p := t.ResolveArg(script)
		if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil {
			if err := SandboxAccess(t.FS, r, PermRead); err != nil {
				// Installed where only the user who built the image can
				// read it (npm install -g under /root's prefix).
				a.Missing = fmt.Sprintf("the entrypoint runs %s on the aws-lambda-ric script %s, which Lambda's user cannot read", l.Name, p)
				a.MissingHidden = &HiddenDir{Path: p, Why: err.Error()}
				a.Why = []string{fmt.Sprintf("%s: %s", p, t.Describe(r.Entry)), err.Error()}
				a.Link = i
				return true
			}
		}
		a.setClient(c, i, ClientNode, "nodejs", p, fmt.Sprintf("%s runs the aws-lambda-ric script %s", l.Name, script))
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

// NodeBasename is Node's path.basename: trailing slashes dropped.
func NodeBasename(h string) string {
	s := strings.TrimRight(h, "/")
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// parseNode splits a handler the way the nodejs client does.
func parseNode(h string) (p ParsedHandler, bad, errType string) {
	if strings.Contains(h, "..") {
		return p, fmt.Sprintf("'%s' is not a valid handler name. Use absolute paths when specifying root directories in handler names.", h), "Runtime.MalformedHandlerName"
	}
	b := NodeBasename(h)
	p.ModuleRoot = h[:strings.Index(h, b)]
	i := strings.IndexByte(b, '.')
	if i < 0 {
		return p, "Bad handler", "Runtime.MalformedHandlerName"
	}
	p.Module, p.Func = b[:i], b[i+1:]
	if p.Func == "" {
		return p, h + " is undefined or not exported", "Runtime.HandlerNotFound"
	}
	return p, "", ""
}

// resolveNode finds the file the nodejs client loads for p.
func resolveNode(t *Target, hs HandlerSpec, p ParsedHandler) (string, []string) {
	var tried []string
	wd := path.Join("/", t.Argv().WorkingDir)
	exts := []string{"", ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"}
	if m := NodeRICMajor(t); !hs.Base && (m == 1 || m == 2) {
		// 2.x (lib/utils/UserFunction.js _canLoadAsFile): the path or
		// path.js, then require.resolve.
		exts = []string{"", ".js"}
	}
	for _, root := range hs.Roots {
		lsp := path.Join(root, p.ModuleRoot, p.Module)
		if strings.HasPrefix(p.ModuleRoot, "/") {
			lsp = path.Join(p.ModuleRoot, p.Module)
		}
		for _, ext := range exts {
			tried = append(tried, lsp+ext)
			if r := t.FS.Resolve(lsp + ext); r.Err == nil && r.Entry != nil && (r.Entry.IsRegular() || r.Entry.IsDir()) {
				return lsp + ext, tried
			}
		}
	}
	// require.resolve(module, {paths: [appRoot, moduleRoot]}): the
	// node_modules directories above each, then NODE_PATH.
	starts := append([]string{}, hs.Roots...)
	if p.ModuleRoot != "" {
		starts = append(starts, path.Join(wd, p.ModuleRoot))
	}
	var dirs []string
	for _, s := range starts {
		for d := s; ; d = path.Dir(d) {
			if path.Base(d) != "node_modules" {
				dirs = append(dirs, path.Join(d, "node_modules"))
			}
			if d == "/" {
				break
			}
		}
	}
	dirs = append(dirs, hs.NodePath...)
	for _, d := range uniq(dirs...) {
		for _, ext := range []string{"", ".js", ".json", ".node"} {
			if r := t.FS.Resolve(path.Join(d, p.Module) + ext); r.Err == nil && r.Entry != nil {
				return path.Join(d, p.Module) + ext, tried
			}
		}
	}
	tried = append(tried, fmt.Sprintf("node_modules/%s above %s", p.Module, strings.Join(starts, ", ")))
	return "", tried
}

// rootsNode sets the directories the nodejs client searches for the handler.
func rootsNode(t *Target, hs *HandlerSpec, taskRoot, wd string) error {
	cfg := t.Config()
	hs.Roots = []string{wd}
	hs.RootsWhy = "the working directory, which the RIC uses as its app root"
	if hs.Base {
		hs.Roots = uniq(taskRoot, wd)
		hs.RootsWhy = "LAMBDA_TASK_ROOT and the working directory"
	}
	if np, ok := Getenv(cfg.Env, "NODE_PATH"); ok {
		hs.NodePath = append(hs.NodePath, absDirs(np, ":")...)
	}
	return nil
}
