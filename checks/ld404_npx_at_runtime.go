package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// npxAtRuntime is LD404: the entrypoint starts the function through npx
// or npm (the Node.js RIC README's ENTRYPOINT ["/usr/local/bin/npx",
// "aws-lambda-ric"]) without pointing npm's cache at /tmp. npm 7 and later
// create ~/.npm (cache and _logs) at start; on Lambda HOME is
// /home/sbx_user1051 on a read-only file system, so npm fails with EROFS
// and exit status 226 (aws/aws-lambda-base-images#63,
// aws/aws-lambda-nodejs-runtime-interface-client#56). npm 6's npx runs an
// already installed command without touching its cache (libnpx), so it
// is only reported when it would have to install the package.
type npxAtRuntime struct{}

func (npxAtRuntime) Meta() Meta {
	return Meta{
		ID:       "LD404",
		Name:     "npx-at-runtime",
		Title:    "npx/npm starts the function and needs a writable HOME",
		Severity: Error,
		Category: CategoryRuntime,
	}
}

// npmCacheEnv are the variables that move npm's cache.
var npmCacheEnv = []string{"NPM_CONFIG_CACHE", "npm_config_cache"}

// underTmp reports whether p is /tmp or below it.
func underTmp(p string) bool {
	p = path.Clean(p)
	return p == "/tmp" || strings.HasPrefix(p, "/tmp/")
}

// npmVersion reads the version of the npm package a npx/npm script
// belongs to (…/node_modules/npm/bin/npx-cli.js); 0 when unknown.
func npmVersion(t *analyze.Target, script string) (major int, version, pkg string) {
	if script == "" {
		return 0, "", ""
	}
	r := t.FS.Resolve(t.ResolveArg(script))
	if r.Err != nil || r.Entry == nil {
		return 0, "", ""
	}
	pkg = path.Join(path.Dir(path.Dir(r.Final)), "package.json")
	b, err := analyze.ReadBounded(t.FS, pkg, analyze.MaxSourceRead)
	if err != nil {
		return 0, "", ""
	}
	var pj struct{ Name, Version string }
	if json.Unmarshal(b, &pj) != nil || pj.Name != "npm" || pj.Version == "" {
		return 0, "", ""
	}
	major, _ = strconv.Atoi(strings.SplitN(pj.Version, ".", 2)[0])
	return major, pj.Version, pkg
}

func (c npxAtRuntime) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	if t.Argv().Empty() {
		return nil, nil
	}
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	a := t.RIC()
	if a.NPX < 0 {
		return nil, nil
	}
	cfg := t.Config()
	for _, k := range npmCacheEnv {
		if v, ok := analyze.Getenv(cfg.Env, k); ok && underTmp(v) {
			return nil, nil
		}
	}
	home, homeSet := analyze.Getenv(cfg.Env, "HOME")
	if homeSet && underTmp(home) {
		return nil, nil
	}
	ch := t.Chain()
	l := &ch.Links[a.NPX]
	tool, args, script := analyze.NPXCommand(ch, a.NPX)
	major, version, pkg := npmVersion(t, script)
	cmd := ""
	for j := 0; j < len(args); j++ {
		if x := args[j]; x == "-p" || x == "--package" || x == "-c" || x == "--call" {
			j++
		} else if !strings.HasPrefix(x, "-") {
			cmd = x
			break
		}
	}
	installed := ""
	if tool == "npx" && cmd != "" {
		installed = findNodeCommand(t, cmd)
	}

	f := NewFinding(c.Meta(), "")
	ev := t.Argv().Evidence()
	ev = append(ev, "entrypoint chain: "+ch.Describe(a.NPX))
	if version != "" {
		ev = append(ev, fmt.Sprintf("npm %s (%s)", version, pkg))
	} else {
		ev = append(ev, "npm's version could not be read")
	}
	for _, k := range npmCacheEnv {
		if v, ok := analyze.Getenv(cfg.Env, k); ok {
			ev = append(ev, fmt.Sprintf("ENV %s=%s (not under /tmp)", k, v))
		}
	}
	if homeSet {
		ev = append(ev, fmt.Sprintf("ENV HOME=%s (not under /tmp)", home))
	} else {
		ev = append(ev, "no ENV HOME and no NPM_CONFIG_CACHE")
	}
	if installed != "" {
		ev = append(ev, fmt.Sprintf("%s is installed at %s", cmd, installed))
	}
	f.Path = l.Path
	if l.Entry != nil {
		f.Layer = layerRef(t, l.Entry.Layer)
	}
	const symptom = `on Lambda HOME is /home/sbx_user1051 on a read-only file system, so npm fails with "npm ERR! code EROFS … EROFS: read-only file system, mkdir '/home/sbx_user1051'" and the runtime stops: "Runtime exited with error: exit status 226" (Runtime.ExitError)`
	what := fmt.Sprintf("the entrypoint starts the function through %s", tool)
	if cmd != "" {
		what = fmt.Sprintf("the entrypoint starts the function through %s %s", tool, cmd)
	}
	switch {
	case major >= 7:
		f.Message = fmt.Sprintf("%s (npm %s), and since npm 7 %s creates its cache and log directory under HOME (~/.npm/_logs) when it starts: %s.", upperFirst(what), version, map[string]string{"npx": "npx (npm exec)", "npm": "npm"}[tool], symptom)
	case major > 0 && tool == "npx" && installed != "":
		return nil, nil // npm 6's npx runs an installed command without its cache
	case major > 0 && tool == "npx":
		f.Message = fmt.Sprintf("%s (npm %s), and %s is not installed where npx looks (node_modules/.bin above the working directory, or PATH), so npx downloads it into its cache under HOME first: %s.", upperFirst(what), version, cmd, symptom)
	case major > 0:
		f.Severity = Warning
		f.Message = fmt.Sprintf("%s (npm %s). npm writes its cache and logs under HOME; %s. Unconfirmed for npm %d: whether it writes there when it only runs a script.", upperFirst(what), version, symptom, major)
	default:
		f.Severity = Warning
		f.Message = fmt.Sprintf("%s, and npm's version could not be read. npm 7 and later create their cache and log directory under HOME when they start: %s.", upperFirst(what), symptom)
	}

	// Fix: run node on the client's script directly when it is installed.
	fix := "ENV NPM_CONFIG_CACHE=/tmp/.npm (as the Node.js RIC README does)"
	if cmd == "aws-lambda-ric" && installed != "" {
		pkgDir := installed
		if r := t.FS.Resolve(installed); r.Err == nil && r.Final != "" {
			pkgDir = r.Final
		}
		const marker = "/node_modules/aws-lambda-ric"
		if i := strings.Index(pkgDir+"/", marker+"/"); i >= 0 {
			pkgDir = pkgDir[:i+len(marker)]
		}
		if bin := analyze.NodeRICBin(t, pkgDir); bin != "" {
			fix = analyze.DockerfileExec("ENTRYPOINT", []string{analyze.NodePath(t, ch), bin}) + " (node on the client's script, no npx), or " + fix
		}
	}
	f.Fix = fix
	f.Evidence = ev
	f.Source = t.Argv().Arg0Field()
	return []Finding{f}, nil
}

// findNodeCommand finds the command npx runs without installing it:
// node_modules/.bin/<cmd> in the working directory or above, or <cmd> on
// PATH.
func findNodeCommand(t *analyze.Target, cmd string) string {
	if at := strings.LastIndexByte(cmd, '@'); at > 0 {
		cmd = cmd[:at]
	}
	if cmd == "aws-lambda-ric" {
		return analyze.FindNodeRIC(t)
	}
	wd := path.Join("/", t.Argv().WorkingDir)
	for dir := wd; ; dir = path.Dir(dir) {
		p := path.Join(dir, "node_modules/.bin", path.Base(cmd))
		if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil {
			return p
		}
		if dir == "/" {
			break
		}
	}
	if lk := analyze.LookupExec(t.FS, t.Config(), path.Base(cmd), wd); lk.Found() {
		return lk.Path()
	}
	return ""
}
