package checks

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
)

// writesOutsideTmp is LD502: a tool known to write under $HOME at run time
// is on the entrypoint chain (npm) or installed on PATH (hasura), and
// neither HOME nor the tool's own setting points under /tmp, the only
// writable path on Lambda. The list is short on purpose: each entry has a
// reported failure or a documented home-directory write. It is a
// heuristic: a tool on PATH may never run.
type writesOutsideTmp struct{}

func (writesOutsideTmp) Meta() Meta {
	return Meta{
		ID:       "LD502",
		Name:     "writes-outside-tmp",
		Title:    "a tool in the image writes under $HOME, which is read-only on Lambda",
		Severity: Warning,
		Category: CategoryOf("LD502"),
	}
}

// ld502HomeDir is the sandbox user's home as seen in Lambda errors
// ("EROFS: read-only file system, mkdir '/home/sbx_user1051'"); whether
// Lambda sets HOME or tools derive it is unconfirmed.
const ld502HomeDir = "/home/sbx_user1051"

// ld502NpmRE finds npm invoked as a command in a shell script (not npx,
// which LD404 covers).
var ld502NpmRE = regexp.MustCompile(`(?m)(?:^|[;&|(\x60]|\$\(|\bexec\s+|\bthen\s+|\bdo\s+)\s*(?:[\w/.-]*/)?npm\s+(?:run|run-script|start|test|exec|install|i|ci|rebuild|x)\b`)

// ld502HomeInfo is the HOME the function runs with and whether it is writable.
type ld502HomeInfo struct {
	Value    string // the HOME path
	FromEnv  bool   // set by the image's ENV
	Writable bool   // under /tmp once symlinks are resolved
	Shown    string // evidence: the resolution
}

// ld502UnderTmp reports whether p, resolved in the image, lies in /tmp.
func ld502UnderTmp(fsys *imagefs.FS, p string) (bool, string) {
	if !strings.HasPrefix(p, "/") {
		return false, p + " (relative)"
	}
	c := path.Clean(p)
	r := fsys.Resolve(c)
	final := r.Final
	if final == "" {
		final = c
	}
	in := func(x string) bool { return x == "/tmp" || strings.HasPrefix(x, "/tmp/") }
	return in(c) || in(final), analyze.FormatChain(r)
}

func ld502Home(t *analyze.Target) ld502HomeInfo {
	h := ld502HomeInfo{Value: ld502HomeDir}
	if v, ok := analyze.Getenv(t.Config().Env, "HOME"); ok && v != "" {
		h.Value, h.FromEnv = v, true
	}
	h.Writable, h.Shown = ld502UnderTmp(t.FS, h.Value)
	return h
}

func (h ld502HomeInfo) evidence() string {
	if h.FromEnv {
		return fmt.Sprintf("config.Env HOME=%s: %s", h.Value, h.Shown)
	}
	return fmt.Sprintf("HOME is not set by the image; Lambda's sandbox user's home is %s (as npm's EROFS errors on Lambda show): %s", ld502HomeDir, h.Shown)
}

func (c writesOutsideTmp) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	home := ld502Home(t)
	if home.Writable {
		return nil, nil
	}
	var out []Finding
	if f, ok := c.npm(t, home); ok {
		out = append(out, f)
	}
	if f, ok := c.hasura(t, home); ok {
		out = append(out, f)
	}
	return out, nil
}

// npm: on the chain (npm, npm-cli.js) or run by a chain script, with
// neither NPM_CONFIG_CACHE nor HOME under /tmp.
func (c writesOutsideTmp) npm(t *analyze.Target, home ld502HomeInfo) (Finding, bool) {
	env := t.Config().Env
	for _, k := range []string{"NPM_CONFIG_CACHE", "npm_config_cache"} {
		if v, ok := analyze.Getenv(env, k); ok {
			if w, _ := ld502UnderTmp(t.FS, v); w {
				return Finding{}, false
			}
		}
	}
	ch := t.Chain()
	if ch == nil {
		return Finding{}, false
	}
	where, at, atLink := "", "", -1
	for i, l := range ch.Links {
		base := path.Base(l.Name)
		if base == "npm" || strings.HasSuffix(l.Path, "/npm/bin/npm-cli.js") {
			where, at, atLink = "the entrypoint chain runs npm", l.Path, i
			break
		}
		if l.Kind != analyze.LinkScript || l.Entry == nil {
			continue
		}
		text := l.Text()
		if text == nil && l.Entry.Size <= analyze.MaxScriptRead {
			text, _ = t.FS.ReadFile(strings.TrimPrefix(l.Path, "/"))
		}
		if m := ld502NpmRE.Find(text); m != nil {
			where, at, atLink = fmt.Sprintf("the script %s runs %s", l.Path, analyze.QuoteJSON(strings.TrimSpace(string(m)))), l.Path, i
			break
		}
	}
	if atLink < 0 {
		return Finding{}, false
	}
	f := NewFinding(c.Meta(), "")
	f.Path = at
	if e := ch.Links[atLink].Entry; e != nil {
		f.Layer = layerRef(t, e.Layer)
	}
	f.Message = fmt.Sprintf("%s, and npm writes its cache and logs under $HOME/.npm, but HOME is %s, which is read-only on Lambda (only /tmp is writable) and NPM_CONFIG_CACHE is not set under /tmp. npm then fails with \"npm ERR! code EROFS … EROFS: read-only file system, mkdir '%s'\" and the runtime exits (Runtime.ExitError). Locally the emulator runs as root on a writable filesystem, so this does not show there.", ld502Capitalize(where), home.Value, home.Value)
	f.Evidence = []string{ch.Describe(atLink), home.evidence()}
	if v, ok := analyze.Getenv(env, "NPM_CONFIG_CACHE"); ok {
		f.Evidence = append(f.Evidence, "config.Env NPM_CONFIG_CACHE="+v+" (not under /tmp)")
	}
	f.Fix = "ENV NPM_CONFIG_CACHE=/tmp/.npm (or run node on the script directly instead of through npm)"
	return f, true
}

// ld502HasuraNames are the hasura CLI's executable names.
var ld502HasuraNames = []string{"hasura", "hasura-cli"}

// hasura: the hasura CLI on PATH or on the chain creates ~/.hasura on
// start; fine when HOME or ~/.hasura resolves into /tmp.
func (c writesOutsideTmp) hasura(t *analyze.Target, home ld502HomeInfo) (Finding, bool) {
	if w, _ := ld502UnderTmp(t.FS, path.Join(home.Value, ".hasura")); w {
		return Finding{}, false
	}
	pathValue, _ := analyze.SearchPath(t.Config())
	var found string
	var entry *imagefs.Entry
	for _, dir := range strings.Split(pathValue, ":") {
		if !strings.HasPrefix(dir, "/") {
			continue
		}
		for _, n := range ld502HasuraNames {
			p := path.Join(dir, n)
			if r := t.FS.Resolve(p); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
				found, entry = p, r.Entry
				break
			}
		}
		if found != "" {
			break
		}
	}
	if found == "" {
		if ch := t.Chain(); ch != nil {
			for _, l := range ch.Links {
				for _, n := range ld502HasuraNames {
					if path.Base(l.Path) == n && l.Entry != nil {
						found, entry = l.Path, l.Entry
					}
				}
			}
		}
	}
	if found == "" {
		return Finding{}, false
	}
	hr := t.FS.Resolve(path.Join(home.Value, ".hasura"))
	f := NewFinding(c.Meta(), "")
	f.Path = found
	f.Layer = layerRef(t, entry.Layer)
	f.Message = fmt.Sprintf("The hasura CLI is installed at %s, and it creates its config directory ~/.hasura when it starts, but %s/.hasura is not under /tmp and Lambda's filesystem is read-only outside /tmp, so hasura commands run by the function fail with a read-only file system error. This is a heuristic: the CLI may never run, and the hasura failure on Lambda is inferred from the general HOME-write class, not seen in a Lambda log.", found, home.Value)
	f.Evidence = []string{found + ": " + t.Describe(entry), home.evidence(), analyze.FormatChain(hr)}
	f.Fix = fmt.Sprintf("ENV HOME=/tmp (or RUN mkdir -p %s && ln -s /tmp %s/.hasura)", home.Value, home.Value)
	return f, true
}

func ld502Capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
