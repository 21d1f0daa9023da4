package analyze

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// This file finds the native part of the runtime interface client the
// image starts: the compiled module the client's own code loads before it
// can poll the Runtime API.
//
//   - Python awslambdaric (awslambdaric/lambda_runtime_client.py) runs
//     `import runtime_client` at import time, inside `try: ... except
//     ImportError: runtime_client = None`, and calls runtime_client.next()
//     for every event. The extension is a top-level module (setup.py:
//     Extension("runtime_client", ...)), installed next to the awslambdaric
//     package as runtime_client.cpython-3XY-<arch>-linux-gnu.so. So a
//     missing one, or one built for another Python, does not stop the
//     import: the handler loads, then the first poll fails with
//     "AttributeError: 'NoneType' object has no attribute 'next'".
//   - Node.js aws-lambda-ric loads its addon with require() from its own
//     code when it creates its Runtime API client, before it loads the
//     handler: build/Release/runtime-client.node (2.x,
//     lib/RuntimeClient/RuntimeClient.js), dist/rapid-client.node (3.x,
//     src/NativeModuleLoader.js bundled into dist/index.mjs) or
//     rapid-client.node at the package root (4.x, index.mjs). The npm
//     package ships none of them: its postinstall script builds the addon
//     with node-gyp, and skips that on macOS ("aws-lambda-cpp does not
//     build on OS X. Skipping the postinstall step."). The path is read
//     from the installed package's own code, not assumed from a version.

// ClientNative is the native part of the image's runtime client.
type ClientNative struct {
	// Client is the Client* name, Package the client's package directory.
	Client, Package string
	// Module names what the client loads ("runtime_client",
	// "./rapid-client.node").
	Module string
	// Wanted are the files the client would load, in its search order.
	Wanted []string
	// Found is the file that loads; "" when none does.
	Found string
	// Problem says why nothing loads, when Found is "".
	Problem string
	// Evidence lists what was looked at.
	Evidence []string
	// From is the client file that loads it (Node.js).
	From string
}

// ClientNativePart returns the native part of the runtime client the image
// starts, or an ErrNotApplicable error saying why it cannot be judged.
func (t *Target) ClientNativePart() (*ClientNative, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrNotApplicable)
	}
	a := t.RIC()
	if a.Link < 0 || a.Client.Name == "" {
		return nil, fmt.Errorf("%w: no runtime interface client was recognised on the entrypoint chain", ErrNotApplicable)
	}
	switch a.Client.Name {
	case ClientPython:
		return pythonNative(t, a)
	case ClientNode:
		return nodeNative(t, a)
	}
	return nil, fmt.Errorf("%w: the native part of %s is not checked", ErrNotApplicable, a.Client.Name)
}

// pyImportsRuntimeClient finds awslambdaric's import of its extension.
var pyImportsRuntimeClient = regexp.MustCompile(`(?m)^\s*import runtime_client\s*$`)

// pyExtTag matches the ABI tag of a CPython extension module file name:
// runtime_client.cpython-312-x86_64-linux-gnu.so gives "312" and the
// platform triple.
var pyExtTag = regexp.MustCompile(`^runtime_client\.cpython-(\d+)-([^.]*)\.so$`)

// pythonNative finds the runtime_client extension the awslambdaric of the
// chain imports: the first sys.path directory with a runtime_client file
// CPython's import system accepts (importlib.machinery.EXTENSION_SUFFIXES
// on Linux: .cpython-3XY-<multiarch>.so, .abi3.so, .so; then .py, .pyc, or
// a package directory).
func pythonNative(t *Target, a *RICAnalysis) (*ClientNative, error) {
	ch := t.Chain()
	l := &ch.Links[a.Link]
	if !isName(l, pythonName) {
		return nil, fmt.Errorf("%w: the python that starts awslambdaric is not on the chain", ErrNotApplicable)
	}
	// The client's own code says whether it imports the extension.
	src := path.Join(a.Client.Path, "lambda_runtime_client.py")
	b, err := ReadBounded(t.FS, src, MaxSourceRead)
	if err != nil || !pyImportsRuntimeClient.Match(b) {
		return nil, fmt.Errorf("%w: %s does not import runtime_client", ErrNotApplicable, src)
	}
	ver := pythonVersion(l)
	tag := strings.ReplaceAll(ver, ".", "")
	n := &ClientNative{Client: ClientPython, Package: a.Client.Path, Module: "runtime_client", From: src}
	dirs, _, hidden := pythonPath(t, l)
	var other []string // extension modules built for another python
	for _, d := range dirs {
		ents, err := t.FS.ReadDir(strings.TrimPrefix(d, "/"))
		if err != nil {
			continue
		}
		var names []string
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "runtime_client") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, name := range names {
			p := path.Join(d, name)
			switch m := pyExtTag.FindStringSubmatch(name); {
			case name == "runtime_client" || name == "runtime_client.py" || name == "runtime_client.pyc" || name == "runtime_client.so" || name == "runtime_client.abi3.so":
				return n.found(t, p)
			case m != nil && tag == "":
				return nil, fmt.Errorf("%w: %s is built for CPython %s, and the version of %s is unknown", ErrNotApplicable, p, m[1], l.Path)
			case m != nil && m[1] == tag && pyPlatformOK(m[2], t.Arch):
				return n.found(t, p)
			case m != nil:
				other = append(other, p)
			}
		}
	}
	for _, w := range pyWanted(tag, t.Arch) {
		n.Wanted = append(n.Wanted, path.Join(path.Dir(a.Client.Path), w))
	}
	n.Evidence = append(n.Evidence, fmt.Sprintf("looked for runtime_client (%s) in %s", strings.Join(pyWanted(tag, t.Arch), ", "), strings.Join(dirs, ", ")))
	switch {
	case len(other) > 0:
		m := pyExtTag.FindStringSubmatch(path.Base(other[0]))
		built := "CPython " + m[1][:1] + "." + m[1][1:]
		if m[1] == tag {
			built = "the platform " + m[2]
		}
		n.Problem = fmt.Sprintf("the runtime_client extension at %s is built for %s, and %s (Python %s) only imports %s", other[0], built, l.Path, ver, strings.Join(pyWanted(tag, t.Arch), ", "))
		for _, o := range other {
			n.Evidence = append(n.Evidence, fmt.Sprintf("%s: %s", o, t.Describe(t.FS.Resolve(o).Entry)))
		}
	default:
		n.Problem = fmt.Sprintf("there is no runtime_client extension module in any directory %s searches (awslambdaric's compiled part, installed next to the awslambdaric package by pip on Linux)", l.Path)
		for _, h := range hidden {
			if ents, err := t.FS.ReadDir(strings.TrimPrefix(h.Path, "/")); err == nil {
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), "runtime_client") {
						n.Evidence = append(n.Evidence, fmt.Sprintf("%s is in %s, where python does not look under Lambda: %s", e.Name(), h.Path, h.Why))
					}
				}
			}
		}
	}
	return n, nil
}

// found records p as the file that loads, unless it is a compiled module
// that is not an ELF file at all.
func (n *ClientNative) found(t *Target, p string) (*ClientNative, error) {
	r := t.FS.Resolve(p)
	if r.Err != nil || r.Entry == nil {
		return nil, fmt.Errorf("%w: %s does not resolve", ErrNotApplicable, p)
	}
	n.Evidence = append(n.Evidence, fmt.Sprintf("%s: %s", p, t.Describe(r.Entry)))
	if strings.HasSuffix(p, ".so") || strings.HasSuffix(p, ".node") {
		if f := t.elfAt(r.Final); f.Format != FormatELF && f.Format != FormatUnknown {
			n.Wanted = []string{p}
			n.Problem = fmt.Sprintf("%s is a %s file, not a Linux ELF shared object: it was built on another operating system", p, f.Format)
			return n, nil
		}
	}
	n.Found = p
	return n, nil
}

// pyArch is the multiarch word of CPython's extension suffix on Lambda's
// architectures.
func pyArch(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return ""
}

// pyPlatformOK reports whether an extension's platform triple
// (x86_64-linux-gnu) is one the function's architecture loads; an unknown
// architecture accepts any.
func pyPlatformOK(triple, arch string) bool {
	w := pyArch(arch)
	return w == "" || strings.HasPrefix(triple, w+"-")
}

func pyWanted(tag, arch string) []string {
	w := pyArch(arch)
	if w == "" {
		w = "<arch>"
	}
	return []string{"runtime_client.cpython-" + tag + "-" + w + "-linux-gnu.so", "runtime_client.abi3.so", "runtime_client.so"}
}

// nodeAddonRequire finds require("./x.node") calls (require, __require,
// cjsRequire, ...) of the runtime client's addon.
var nodeAddonRequire = regexp.MustCompile(`[A-Za-z_$]*[Rr]equire\(\s*["'](\.{1,2}/[^"']*(?:rapid|runtime)-client\.node)["']\s*\)`)

// nodeNative finds the addon the aws-lambda-ric of the chain requires.
func nodeNative(t *Target, a *RICAnalysis) (*ClientNative, error) {
	r := t.FS.Resolve(a.Client.Path)
	if r.Err != nil || r.Entry == nil {
		return nil, fmt.Errorf("%w: %s does not resolve", ErrNotApplicable, a.Client.Path)
	}
	pkg := ""
	for d := r.Final; d != "/" && d != "."; d = path.Dir(d) {
		b, err := ReadBounded(t.FS, path.Join(d, "package.json"), MaxSourceRead)
		if err != nil {
			continue
		}
		var pj struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(b, &pj) == nil && pj.Name == "aws-lambda-ric" {
			pkg = d
			break
		}
	}
	if pkg == "" {
		return nil, fmt.Errorf("%w: no aws-lambda-ric package.json above %s", ErrNotApplicable, r.Final)
	}
	n := &ClientNative{Client: ClientNode, Package: pkg}
	// The package's own code, outside its dependencies and build trees.
	var files []string
	var walk func(d string, depth int)
	walk = func(d string, depth int) {
		ents, err := t.FS.ReadDir(strings.TrimPrefix(d, "/"))
		if err != nil {
			return
		}
		for _, e := range ents {
			p := path.Join(d, e.Name())
			switch {
			case e.IsDir():
				if depth < 3 && e.Name() != "node_modules" && e.Name() != "deps" && e.Name() != "build" && e.Name() != "test" && !strings.HasPrefix(e.Name(), ".") {
					walk(p, depth+1)
				}
			case strings.HasSuffix(e.Name(), ".js") || strings.HasSuffix(e.Name(), ".mjs") || strings.HasSuffix(e.Name(), ".cjs"):
				if len(files) < 200 {
					files = append(files, p)
				}
			}
		}
	}
	walk(pkg, 0)
	for _, f := range files {
		b, err := ReadBounded(t.FS, f, 4*MaxSourceRead)
		if err != nil {
			continue
		}
		for _, m := range nodeAddonRequire.FindAllSubmatch(b, -1) {
			spec := string(m[1])
			p := path.Join(path.Dir(f), spec)
			if n.Module == "" {
				n.Module, n.From = spec, f
			}
			n.Wanted = append(n.Wanted, p)
			if rr := t.FS.Resolve(p); rr.Err == nil && rr.Entry != nil {
				return n.found(t, p)
			}
		}
	}
	if len(n.Wanted) == 0 {
		return nil, fmt.Errorf("%w: no require of the client's addon was found in %s", ErrNotApplicable, pkg)
	}
	n.Wanted = uniq(n.Wanted...)
	n.Evidence = append(n.Evidence, fmt.Sprintf("%s requires %s, looked for at %s: not there", n.From, n.Module, strings.Join(n.Wanted, ", ")))
	n.Problem = fmt.Sprintf("the aws-lambda-ric package at %s has no compiled addon (%s): its postinstall script builds it with node-gyp, so it is missing when npm ran with --ignore-scripts, when the install failed to build, or when node_modules was installed on macOS (where postinstall skips the build) and copied into the image", pkg, strings.Join(n.Wanted, ", "))
	return n, nil
}
