package analyze

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// This file reads a JavaScript module the way the Node.js runtime client
// loads it: its format (ES module or CommonJS, from its extension and the
// nearest package.json "type", as UserFunction.js decides it) and, for an
// ES module, the names it exports, from esbuild's parser (its metafile
// lists an entry point's format and exports).

// MaxJSModuleRead is the largest handler module parsed (bundled handlers
// are often several megabytes).
const MaxJSModuleRead = 16 << 20

// JSModule is what a handler module exports, as far as a parse can tell.
type JSModule struct {
	Path string
	// ESM is true when Node loads it as an ES module: .mjs, or .js under
	// a package.json with "type": "module" (TypeModule names that file).
	ESM        bool
	TypeModule string
	// Syntax is esbuild's reading of the source: "esm" (import/export),
	// "cjs" (module, exports or top-level this) or "" (neither).
	Syntax string
	// Exports are the ES module's export names (static: export
	// declarations, export lists, export ... from), known only when ESM
	// and Known.
	Exports []string
	// Known is false when the exports cannot be listed statically; Why
	// says why.
	Known bool
	Why   string
}

// HasExport reports whether name is among the module's exports.
func (m *JSModule) HasExport(name string) bool {
	for _, e := range m.Exports {
		if e == name {
			return true
		}
	}
	return false
}

// starExport finds `export * from` in esbuild's printed output, where each
// statement starts a line.
var starExport = regexp.MustCompile(`(?m)^export \* from `)

// dynamicCJS are constructs by which a module without module/exports
// references can still give module.exports properties.
var dynamicCJS = []string{"eval(", "Function(", "require.cache", "require.main", "module", "exports", "globalThis"}

// ReadJSModule parses the handler module at p (a resolved path).
func ReadJSModule(t *Target, p string) (*JSModule, error) {
	m := &JSModule{Path: p}
	ext := path.Ext(p)
	switch ext {
	case ".mjs":
		m.ESM = true
	case ".cjs":
	case ".js":
		m.TypeModule = nodeTypeModule(t, path.Dir(p))
		m.ESM = m.TypeModule != ""
	default:
		return nil, fmt.Errorf("%w: %s is not a .js, .mjs or .cjs file", ErrNotApplicable, p)
	}
	r := t.FS.Resolve(p)
	if r.Err != nil || r.Entry == nil || !r.Entry.IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotApplicable, p)
	}
	if r.Entry.Size > MaxJSModuleRead {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d parsed", ErrNotApplicable, p, r.Entry.Size, MaxJSModuleRead)
	}
	b, err := t.readFile(r.Final)
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrNotApplicable, p, err)
	}
	res := api.Build(api.BuildOptions{
		Stdin:    &api.StdinOptions{Contents: string(b), Sourcefile: path.Base(p), Loader: api.LoaderJS},
		Metafile: true,
		Write:    false,
		Bundle:   false,
		Format:   api.FormatESModule,
		Platform: api.PlatformNode,
		LogLevel: api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		return nil, fmt.Errorf("%w: esbuild cannot parse %s: %s", ErrNotApplicable, p, res.Errors[0].Text)
	}
	var meta struct {
		Inputs map[string]struct {
			Format string `json:"format"`
		} `json:"inputs"`
		Outputs map[string]struct {
			Exports []string `json:"exports"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(res.Metafile), &meta); err != nil {
		return nil, fmt.Errorf("%w: esbuild's metafile for %s: %v", ErrNotApplicable, p, err)
	}
	for _, in := range meta.Inputs {
		m.Syntax = in.Format
	}
	out := ""
	for _, o := range res.OutputFiles {
		out += string(o.Contents)
	}
	switch {
	case !m.ESM && m.Syntax == "esm":
		m.Why = "it has ES module syntax but Node.js loads it as CommonJS; whether that works depends on the Node.js version"
	case !m.ESM && m.Syntax == "cjs":
		m.Why = "a CommonJS module's exports are assigned at run time"
	case !m.ESM:
		// No import/export and no module, exports or top-level this: its
		// module.exports stays the empty object, unless reached by name.
		for _, d := range dynamicCJS {
			if strings.Contains(string(b), d) {
				m.Why = fmt.Sprintf("it mentions %q", d)
				return m, nil
			}
		}
		m.Known = true
	case m.Syntax == "cjs":
		m.Why = "it is loaded as an ES module but uses CommonJS's module or exports"
	case starExport.MatchString(out):
		m.Why = "it re-exports another module's names (export * from)"
	default:
		for _, o := range meta.Outputs {
			m.Exports = append(m.Exports, o.Exports...)
		}
		m.Known = true
	}
	return m, nil
}

// nodeTypeModule returns the package.json that makes .js files in dir ES
// modules ("type": "module"), or "".
func nodeTypeModule(t *Target, dir string) string {
	if pj, typ := NodePackageType(t, dir); typ == "module" {
		return pj
	}
	return ""
}

// NodePackageType returns the nearest package.json above dir, walking up
// and stopping at a directory named node_modules
// (UserFunction.js _hasFolderPackageJsonTypeModule; Node's package scope
// lookup stops there too), and its "type" ("" when it has none, or when it
// cannot be read: the client then ignores it).
func NodePackageType(t *Target, dir string) (pj, typ string) {
	for d := path.Clean(dir); ; d = path.Dir(d) {
		if strings.HasSuffix(d, "/node_modules") {
			return "", ""
		}
		p := path.Join(d, "package.json")
		if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil {
			b, err := ReadBounded(t.FS, p, MaxSourceRead)
			var v struct {
				Type string `json:"type"`
			}
			if err != nil || json.Unmarshal(b, &v) != nil {
				return p, ""
			}
			return p, v.Type
		}
		if d == "/" {
			return "", ""
		}
	}
}

// NodeVersion is the version of the node the image runs, and where it was
// read: the node_version.h its install ships (<prefix>/include/node), or
// the official images' ENV NODE_VERSION. Zero when unknown.
type NodeVersion struct {
	Major, Minor, Patch int
	From                string
}

func (v NodeVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

var nodeVersionDefine = regexp.MustCompile(`(?m)^#define NODE_(MAJOR|MINOR|PATCH)_VERSION (\d+)`)

// ImageNodeVersion reads the version of the node binary at nodePath.
func ImageNodeVersion(t *Target, nodePath string) NodeVersion {
	var v NodeVersion
	if r := t.FS.Resolve(nodePath); r.Err == nil && r.Entry != nil {
		h := path.Join(path.Dir(path.Dir(r.Final)), "include/node/node_version.h")
		if b, err := ReadBounded(t.FS, h, MaxSourceRead); err == nil {
			n := 0
			for _, m := range nodeVersionDefine.FindAllSubmatch(b, -1) {
				x := 0
				fmt.Sscanf(string(m[2]), "%d", &x)
				switch string(m[1]) {
				case "MAJOR":
					v.Major = x
				case "MINOR":
					v.Minor = x
				case "PATCH":
					v.Patch = x
				}
				n++
			}
			if n == 3 && v.Major > 0 {
				v.From = h
				return v
			}
			v = NodeVersion{}
		}
	}
	if s, ok := Getenv(t.Config().Env, "NODE_VERSION"); ok {
		if n, _ := fmt.Sscanf(strings.TrimPrefix(s, "v"), "%d.%d.%d", &v.Major, &v.Minor, &v.Patch); n == 3 && v.Major > 0 {
			v.From = "ENV NODE_VERSION=" + s
			return v
		}
	}
	return NodeVersion{}
}

// RequiresESM reports whether this Node.js can require() an ES module
// written as a .js file without "type": "module": require(esm) and module
// syntax detection are both on by default from Node.js 20.19, 22.12 and
// 23.0 (the Node.js changelogs).
func (v NodeVersion) RequiresESM() bool {
	switch {
	case v.Major >= 23:
		return true
	case v.Major == 22:
		return v.Minor >= 12
	case v.Major == 20:
		return v.Minor >= 19
	}
	return false
}

// NodeRICMajor is the major version of the aws-lambda-ric package the
// chain starts, from its package.json; 0 when unknown (the AWS base
// images' managed runtime included).
func NodeRICMajor(t *Target) int {
	a := t.RIC()
	if a.Client.Name != ClientNode || a.Client.Path == "" {
		return 0
	}
	r := t.FS.Resolve(a.Client.Path)
	if r.Err != nil || r.Entry == nil {
		return 0
	}
	for d := r.Final; d != "/" && d != "."; d = path.Dir(d) {
		b, err := ReadBounded(t.FS, path.Join(d, "package.json"), MaxSourceRead)
		if err != nil {
			continue
		}
		var pj struct {
			Name, Version string
		}
		if json.Unmarshal(b, &pj) != nil || pj.Name != "aws-lambda-ric" {
			continue
		}
		major := 0
		if _, err := fmt.Sscanf(pj.Version, "%d.", &major); err != nil {
			return 0
		}
		return major
	}
	return 0
}
