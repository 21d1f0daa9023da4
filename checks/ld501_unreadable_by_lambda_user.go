package checks

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/imagefs"
)

// unreadableByLambdaUser is LD501: files and directories the function needs
// that Lambda's sandbox user (uid 993, gid 990; never their owner in
// practice) cannot read, list or search. "Needed" is the task root
// (LAMBDA_TASK_ROOT or /var/task), the working directory, /opt (extensions
// and layer content baked in), the runtime directories (/var/runtime,
// /var/lang) and the directories PYTHONPATH, NODE_PATH, GEM_HOME, GEM_PATH
// and BUNDLE_PATH name. Findings are aggregated per directory and layer.
type unreadableByLambdaUser struct{}

func (unreadableByLambdaUser) Meta() Meta {
	return Meta{
		ID:       "LD501",
		Name:     "unreadable-by-lambda-user",
		Title:    "files the function needs are unreadable by Lambda's sandbox user",
		Severity: Error,
		Category: CategoryOf("LD501"),
	}
}

// Bounds of the walk.
const (
	// maxNeededEntries is how many entries LD501 visits in all.
	maxNeededEntries = 500_000
	// maxUnreadableExamples is how many entries a finding lists.
	maxUnreadableExamples = 10
)

// neededRoot is a directory tree the function needs, and why.
type neededRoot struct {
	path string
	why  string
}

// neededRoots returns the trees LD501 walks, outermost first, without
// duplicates or trees nested in another.
func neededRoots(t *analyze.Target) []neededRoot {
	cfg := t.Config()
	var cands []neededRoot
	task := "/var/task"
	taskWhy := "the task root /var/task"
	if v, ok := analyze.Getenv(cfg.Env, "LAMBDA_TASK_ROOT"); ok && strings.HasPrefix(v, "/") {
		task, taskWhy = v, "the task root (ENV LAMBDA_TASK_ROOT="+v+")"
	}
	cands = append(cands, neededRoot{task, taskWhy})
	if a := t.Argv(); a.WorkingDirSet && strings.HasPrefix(a.WorkingDir, "/") {
		cands = append(cands, neededRoot{a.WorkingDir, "the working directory (WORKDIR " + a.WorkingDir + ")"})
	}
	cands = append(cands,
		neededRoot{"/opt", "/opt (extensions and layer content)"},
		neededRoot{"/var/runtime", "the runtime directory /var/runtime"},
		neededRoot{"/var/lang", "the language runtime /var/lang"},
	)
	for _, key := range []string{"PYTHONPATH", "NODE_PATH", "GEM_HOME", "GEM_PATH", "BUNDLE_PATH"} {
		v, ok := analyze.Getenv(cfg.Env, key)
		if !ok {
			continue
		}
		for _, d := range strings.Split(v, ":") {
			if strings.HasPrefix(d, "/") {
				cands = append(cands, neededRoot{d, "ENV " + key + "=" + v})
			}
		}
	}
	// Resolve each to a directory in the image; drop "/" and repeats.
	var out []neededRoot
	seen := map[string]bool{}
	for _, c := range cands {
		p := path.Clean(c.path)
		if p == "/" {
			continue // the whole image is not "needed"
		}
		r := t.FS.Resolve(p)
		if r.Err != nil || r.Entry == nil || !r.Entry.IsDir() {
			continue // missing roots are other checks' business
		}
		if seen[r.Final] {
			continue
		}
		seen[r.Final] = true
		out = append(out, neededRoot{path: r.Final, why: c.why})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].path < out[j].path })
	// Drop trees nested in an earlier one.
	var kept []neededRoot
	for _, r := range out {
		nested := false
		for _, k := range kept {
			if strings.HasPrefix(r.path, k.path+"/") {
				nested = true
				break
			}
		}
		if !nested {
			kept = append(kept, r)
		}
	}
	return kept
}

// codeExts are file extensions of code and libraries: unreadable, they
// break the function for sure.
var codeExts = map[string]bool{
	".py": true, ".pyc": true, ".pth": true, ".js": true, ".mjs": true, ".cjs": true, ".json": true,
	".rb": true, ".jar": true, ".class": true, ".dll": true, ".so": true, ".node": true,
	".php": true, ".pl": true, ".pm": true, ".sh": true, ".ts": true, ".wasm": true,
}

// isCode reports whether e is a directory or looks like code the function
// loads: an extension in codeExts (".so.1" included), an execute bit, or a
// place under site-packages, node_modules or gems.
func isCode(e *imagefs.Entry) bool {
	if e.IsDir() || e.Mode.Perm()&0o111 != 0 {
		return true
	}
	base := path.Base(e.Path)
	if codeExts[path.Ext(base)] || strings.Contains(base, ".so.") {
		return true
	}
	for _, d := range []string{"/site-packages/", "/dist-packages/", "/node_modules/", "/gems/"} {
		if strings.Contains(e.Path, d) {
			return true
		}
	}
	return false
}

// unreadableGroup gathers the entries of one tree added by one layer.
type unreadableGroup struct {
	root     neededRoot
	layer    int
	entries  []*imagefs.Entry
	count    int
	code     bool
	dirCount int
}

func (c unreadableByLambdaUser) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	var out []Finding
	groups := map[string]*unreadableGroup{}
	var order []string
	visited := 0
	truncated := false
	// A directory without search permission on the way to the working
	// directory (or the working directory itself) is LD206's finding.
	wd := ""
	if a := t.Argv(); a.WorkingDirSet && strings.HasPrefix(a.WorkingDir, "/") {
		wd = path.Clean(a.WorkingDir)
		if r := t.FS.Resolve(wd); r.Err == nil && r.Final != "" {
			wd = r.Final
		}
	}
	byLD206 := func(dir string) bool {
		return wd != "" && (dir == wd || dir == "/" || strings.HasPrefix(wd, dir+"/"))
	}
	for _, root := range neededRoots(t) {
		// The directories on the way to the tree.
		if ae := analyze.SandboxTraversal(t.FS, t.FS.Resolve(root.path)); ae != nil {
			if byLD206(ae.Path) {
				continue
			}
			f := NewFinding(c.Meta(), fmt.Sprintf("The sandbox user Lambda runs the function as (uid %d, gid %d) cannot search %s (mode %s, owner %d:%d), on the way to %s, so nothing below it can be opened: the function fails at init with \"Permission denied\" (Python \"[Errno 13] Permission denied\", PermissionError; Node \"EACCES: permission denied\").", analyze.SandboxUID, analyze.SandboxGID, ae.Path, analyze.ModeString(ae.Entry), ae.Entry.UID, ae.Entry.GID, root.why))
			f.Path = ae.Path
			f.Layer = layerRef(t, ae.Entry.Layer)
			f.Evidence = []string{ae.Path + ": " + t.Describe(ae.Entry), ae.Error()}
			f.Fix = fmt.Sprintf("RUN chmod o+x %s (or chmod 755), after the line that created it", ae.Path)
			out = append(out, f)
			continue
		}
		rel := strings.TrimPrefix(root.path, "/")
		err := fs.WalkDir(t.FS, rel, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if visited++; visited > maxNeededEntries {
				truncated = true
				return fs.SkipAll
			}
			if visited%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			e, ok := info.Sys().(*imagefs.Entry)
			if !ok || (!e.IsDir() && !e.IsRegular()) {
				return nil
			}
			need := analyze.PermRead
			if e.IsDir() {
				need = analyze.PermRead | analyze.PermExec
			}
			if analyze.SandboxCan(e, need) {
				return nil
			}
			if e.IsDir() && !analyze.SandboxCan(e, analyze.PermExec) && byLD206(e.Path) {
				return fs.SkipDir // LD206 reports it
			}
			key := fmt.Sprintf("%s\x00%d", root.path, e.Layer)
			g := groups[key]
			if g == nil {
				g = &unreadableGroup{root: root, layer: e.Layer}
				groups[key] = g
				order = append(order, key)
			}
			g.count++
			if isCode(e) {
				g.code = true
			}
			if len(g.entries) < maxUnreadableExamples {
				g.entries = append(g.entries, e)
			}
			if e.IsDir() {
				g.dirCount++
				if !analyze.SandboxCan(e, analyze.PermExec) {
					return fs.SkipDir // everything below is unreachable anyway
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walking %s: %w", root.path, err)
		}
		if truncated {
			break
		}
	}
	for _, key := range order {
		g := groups[key]
		out = append(out, c.groupFinding(t, g, truncated))
	}
	return out, nil
}

// groupFinding reports the unreadable entries of one tree from one layer.
func (c unreadableByLambdaUser) groupFinding(t *analyze.Target, g *unreadableGroup, truncated bool) Finding {
	first := g.entries[0]
	var names []string
	for _, e := range g.entries {
		names = append(names, fmt.Sprintf("%s (%s %s, owner %d:%d)", e.Path, kindWord(e), analyze.ModeString(e), e.UID, e.GID))
	}
	what := fmt.Sprintf("%d entries", g.count)
	if g.count == 1 {
		what = "1 entry"
	}
	if g.dirCount > 0 {
		what += fmt.Sprintf(" (%d of them directories: without read permission they cannot be listed, without execute permission nothing below them can be opened)", g.dirCount)
	}
	listed := strings.Join(names, ", ")
	if g.count > len(g.entries) {
		listed += fmt.Sprintf(" and %d more", g.count-len(g.entries))
	}
	symptom := fmt.Sprintf("when the function opens them it fails with \"Permission denied\" (Python \"[Errno 13] Permission denied: '%s'\", PermissionError; Node \"EACCES: permission denied, open '%s'\"), at init if it loads them then", first.Path, first.Path)
	if first.IsDir() {
		symptom = fmt.Sprintf("the function fails with \"Permission denied\" as soon as it loads anything from %s (Python \"PermissionError: [Errno 13] Permission denied\", Node \"EACCES: permission denied\"), at init if it loads it then", first.Path)
	}
	msg := fmt.Sprintf("%s under %s, added by %s, cannot be read (directories: listed and searched) by the sandbox user Lambda runs the function as (uid %d, gid %d; Lambda ignores USER, and only the \"other\" permission bits apply): %s. Lambda requires that \"the default Lambda user must be able to read all the files required to run your function code\"; %s.", what, g.root.why, t.LayerLabel(g.layer), analyze.SandboxUID, analyze.SandboxGID, listed, symptom)
	f := NewFinding(c.Meta(), msg)
	if !g.code {
		f.Severity = Warning
		f.Message += " None of them looks like code or a library, so the function may never read them."
	}
	f.Path = first.Path
	f.Layer = layerRef(t, g.layer)
	for _, e := range g.entries {
		f.Evidence = append(f.Evidence, e.Path+": "+t.Describe(e))
	}
	if g.count > len(g.entries) {
		f.Evidence = append(f.Evidence, fmt.Sprintf("… and %d more in %s", g.count-len(g.entries), t.LayerLabel(g.layer)))
	}
	if truncated {
		f.Evidence = append(f.Evidence, fmt.Sprintf("the walk stopped after %d entries; there may be more", maxNeededEntries))
	}
	cb := ""
	if ref := layerRef(t, g.layer); ref != nil {
		cb = analyze.CreatedBy(ref.CreatedBy)
	}
	fix := fmt.Sprintf("RUN chmod -R o+rX %s", g.root.path)
	if strings.HasPrefix(cb, "COPY ") || strings.HasPrefix(cb, "ADD ") {
		fix = fmt.Sprintf("add --chmod=755 to the line that copies them (%s → %s --chmod=755%s), or after it: %s", cb, cb[:strings.Index(cb, " ")], cb[strings.Index(cb, " "):], fix)
	} else if cb != "" {
		fix = fmt.Sprintf("%s, after %s", fix, cb)
	}
	f.Fix = fix
	return f
}

// kindWord is "dir" or "file" for an example list.
func kindWord(e *imagefs.Entry) string {
	if e.IsDir() {
		return "dir"
	}
	return "file"
}
