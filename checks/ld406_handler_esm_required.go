package checks

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// handlerESMRequired is LD406: the Node.js handler is a .js file written
// as an ES module (import/export), and the runtime client loads it with
// require() on a Node.js that cannot require an ES module. aws-lambda-ric
// 3.x (UserFunction.js, also the AWS base images' runtime that carries the
// same loader) require()s a .js file unless the nearest package.json says
// "type": "module"; 2.x require()s every file. Node.js loads such a file
// only from 20.19, 22.12 and 23.0, where require(esm) and module syntax
// detection are on by default — and never under an explicit "type":
// "commonjs". The Node.js version is read from the image (node_version.h
// next to the binary, or ENV NODE_VERSION); when it is unknown, only the
// explicit "commonjs" case is reported.
type handlerESMRequired struct{}

func (handlerESMRequired) Meta() Meta {
	return Meta{
		ID:       "LD406",
		Name:     "handler-esm-required",
		Title:    "the handler is an ES module that the runtime client loads with require()",
		Severity: Error,
		Category: CategoryRuntime,
	}
}

// esmFirst finds the first top-level import or export statement (not a
// dynamic import()).
var esmFirst = regexp.MustCompile(`(?m)^\s*(import\s*[^\s(]|export\b)`)

func (c handlerESMRequired) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	hs, err := handlerContext(t)
	if err != nil {
		return nil, err
	}
	if hs.Lang != "nodejs" {
		return nil, nil
	}
	if !hs.Arg.Set || !hs.Arg.Known {
		return nil, fmt.Errorf("%w: the handler is not a literal argument", ErrSkip)
	}
	p, bad, _ := analyze.ParseHandler(hs.Lang, hs.Arg.Value)
	if bad != "" {
		return nil, nil // LD403's case
	}
	found, _ := analyze.ResolveHandlerModule(t, hs, p)
	if found == "" || path.Ext(found) != ".js" {
		return nil, nil // missing (LD402), or not a .js file
	}
	loader, major, err := nodeLoader(t, hs)
	if err != nil {
		return nil, err
	}
	m, err := analyze.ReadJSModule(t, found)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSkip, err)
	}
	if m.Syntax != "esm" {
		return nil, nil
	}
	pj, typ := analyze.NodePackageType(t, path.Dir(found))
	if typ == "module" && major != 2 {
		return nil, nil // imported as an ES module (3.x reads "type")
	}
	node := analyze.NodePath(t, t.Chain())
	v := analyze.ImageNodeVersion(t, node)
	if typ != "commonjs" && (v.Major == 0 || v.RequiresESM()) {
		if v.Major == 0 {
			return nil, fmt.Errorf("%w: %s is an ES module that %s loads with require(), which works from Node.js 20.19/22.12, and the version of %s could not be read", ErrSkip, found, loader, node)
		}
		return nil, nil
	}
	f, ev := handlerModuleFinding(c.Meta(), t, hs, found)
	ev = append(ev, fmt.Sprintf("esbuild's parse: %s has ES module syntax (import/export)", found))
	scope := "no package.json above it"
	switch {
	case pj != "" && typ == "":
		scope = fmt.Sprintf("%s has no \"type\"", pj)
	case pj != "":
		scope = fmt.Sprintf("%s says \"type\": %q", pj, typ)
	}
	ev = append(ev, "package scope: "+scope)
	ev = append(ev, "client loader: "+loader)
	why := ""
	switch {
	case typ == "commonjs":
		why = fmt.Sprintf(`%s says "type": "commonjs", so Node.js parses every .js file there as CommonJS, in every version`, pj)
	default:
		ev = append(ev, fmt.Sprintf("Node.js %s (%s)", v, v.From))
		why = fmt.Sprintf("Node.js %s (read from %s) cannot require() an ES module: require(esm) and module syntax detection are on by default only from Node.js 20.19, 22.12 and 23.0", v, v.From)
	}
	b, _ := analyze.ReadBounded(t.FS, found, analyze.MaxSourceRead)
	symptom := `"Runtime.UserCodeSyntaxError: SyntaxError: Unexpected token 'export'"`
	if mm := esmFirst.FindSubmatch(b); mm != nil && strings.HasPrefix(string(mm[1]), "import") {
		symptom = `"Runtime.UserCodeSyntaxError: SyntaxError: Cannot use import statement outside a module"`
	}
	if typ == "module" { // 2.x under "type": "module"
		symptom = `"Error [ERR_REQUIRE_ESM]: require() of ES Module ` + found + ` … not supported"`
	}
	f.Evidence = ev
	f.Message = fmt.Sprintf("%s is written as an ES module (import/export), but %s loads it with require() (%s), and %s. Init fails while loading the handler with %s.", found, loader, scope, why, symptom)
	dir := path.Dir(found)
	switch {
	case major == 2:
		f.Fix = fmt.Sprintf("aws-lambda-ric 2.x loads only CommonJS: compile the handler to CommonJS (tsc --module commonjs, esbuild --format=cjs), or upgrade to aws-lambda-ric 3 and add \"type\": \"module\" to %s", path.Join(dir, "package.json"))
	case typ == "commonjs":
		f.Fix = fmt.Sprintf("set \"type\": \"module\" in %s, or rename %s to %s (the client tries .mjs as an ES module)", pj, path.Base(found), strings.TrimSuffix(path.Base(found), ".js")+".mjs")
	default:
		f.Fix = fmt.Sprintf("add \"type\": \"module\" to %s (COPY a package.json with {\"type\": \"module\"}), or rename %s to %s; the handler string stays the same", path.Join(dir, "package.json"), path.Base(found), strings.TrimSuffix(path.Base(found), ".js")+".mjs")
	}
	return []Finding{f}, nil
}

// nodeLoader says how the image's Node.js client loads a .js handler,
// from the client's own code: aws-lambda-ric 2.x and 3.x, or an AWS base
// image whose /var/runtime carries 3.x's loader, require() it. major is
// the client's major version (3 for the base image's loader).
func nodeLoader(t *analyze.Target, hs analyze.HandlerSpec) (string, int, error) {
	if hs.Base {
		for _, p := range []string{"/var/runtime/index.mjs", "/var/runtime/UserFunction.js"} {
			b, err := analyze.ReadBounded(t.FS, p, 8*analyze.MaxSourceRead)
			if err == nil && strings.Contains(string(b), "_hasPackageJsonTypeModule") && strings.Contains(string(b), "_tryRequireFile") {
				return fmt.Sprintf("the base image's runtime (%s, whose loader require()s a .js file unless its package.json says \"type\": \"module\")", p), 3, nil
			}
		}
		return "", 0, fmt.Errorf("%w: the base image's runtime loader was not recognised", ErrSkip)
	}
	switch major := analyze.NodeRICMajor(t); major {
	case 3:
		return "aws-lambda-ric 3.x (UserFunction.js: a .js file is require()d unless the nearest package.json says \"type\": \"module\")", 3, nil
	case 1, 2:
		return fmt.Sprintf("aws-lambda-ric %d.x (UserFunction.js require()s the file)", major), 2, nil
	case 0:
		return "", 0, fmt.Errorf("%w: the aws-lambda-ric version could not be read", ErrSkip)
	default:
		return "", 0, fmt.Errorf("%w: aws-lambda-ric %d.x import()s the handler, and Node.js decides its format", ErrSkip, major)
	}
}
