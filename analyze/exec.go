package analyze

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/lambdoctor/lambdoctor/internal/history"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// This file holds the path helpers the entrypoint-chain checks share: the
// effective argv, the lookup of argv[0] the way Lambda's runtime does it,
// the sandbox user's permissions, and evidence formatting.

// DefaultPATH is the PATH assumed when the image config sets none:
// lambda.DefaultPATH, the one run gives the function (see that package for
// what is unconfirmed about it).
const DefaultPATH = lambda.DefaultPATH

// The Lambda sandbox user (lambda.UID, lambda.GID).
const (
	SandboxUID = lambda.UID
	SandboxGID = lambda.GID
)

// Argv is the command Lambda starts: ENTRYPOINT followed by CMD, run in
// WorkingDir.
type Argv struct {
	Entrypoint []string
	Cmd        []string
	// WorkingDir is config.WorkingDir, or "/" when the image sets none.
	WorkingDir string
	// WorkingDirSet is false when WorkingDir is the "/" default.
	WorkingDirSet bool
	// Overrides is the function's ImageConfig, when given: its fields
	// replace the image config's.
	Overrides ImageConfig
}

// ImageConfig is a function's ImageConfig: values that replace the image's
// ENTRYPOINT, CMD and WORKDIR. A nil list or empty string leaves the image's
// value in force.
type ImageConfig struct {
	EntryPoint       []string
	Command          []string
	WorkingDirectory string
}

// Argv is the command Lambda starts for this target: the image config with
// the function's ImageConfig overrides applied.
func (t *Target) Argv() Argv {
	a := EffectiveArgv(t.Config())
	o := t.Overrides
	a.Overrides = o
	if o.EntryPoint != nil {
		a.Entrypoint = o.EntryPoint
	}
	if o.Command != nil {
		a.Cmd = o.Command
	}
	if o.WorkingDirectory != "" {
		a.WorkingDir, a.WorkingDirSet = o.WorkingDirectory, true
	}
	return a
}

// EffectiveArgv computes the command from an image config alone; checks
// use (*Target).Argv, which also applies the function's ImageConfig.
func EffectiveArgv(cfg v1.Config) Argv {
	a := Argv{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, WorkingDir: "/"}
	if cfg.WorkingDir != "" {
		a.WorkingDir, a.WorkingDirSet = cfg.WorkingDir, true
	}
	return a
}

// Args returns ENTRYPOINT + CMD.
func (a Argv) Args() []string {
	out := make([]string, 0, len(a.Entrypoint)+len(a.Cmd))
	out = append(out, a.Entrypoint...)
	return append(out, a.Cmd...)
}

// Empty reports whether the image has neither ENTRYPOINT nor CMD.
func (a Argv) Empty() bool { return len(a.Entrypoint) == 0 && len(a.Cmd) == 0 }

// Name returns argv[0], or "" when the command is empty.
func (a Argv) Name() string {
	if args := a.Args(); len(args) > 0 {
		return args[0]
	}
	return ""
}

// Source names the Dockerfile instruction argv[0] comes from: "ENTRYPOINT"
// or "CMD".
func (a Argv) Source() string {
	if len(a.Entrypoint) > 0 {
		return "ENTRYPOINT"
	}
	return "CMD"
}

// FixArg0 returns the Dockerfile line that replaces argv[0] with p and
// keeps every other argument, in exec form.
func (a Argv) FixArg0(p string) string {
	if len(a.Entrypoint) > 0 {
		return DockerfileExec("ENTRYPOINT", append([]string{p}, a.Entrypoint[1:]...))
	}
	if len(a.Cmd) > 0 {
		return DockerfileExec("CMD", append([]string{p}, a.Cmd[1:]...))
	}
	return DockerfileExec("ENTRYPOINT", []string{p})
}

// Evidence returns the config fields the command comes from, as
// `config.Entrypoint=["..."]` lines.
func (a Argv) Evidence() []string {
	wd := QuoteJSON(a.WorkingDir)
	if !a.WorkingDirSet {
		wd = `(unset, so "/")`
	}
	return []string{
		field(a.Overrides.EntryPoint != nil, "ImageConfig.EntryPoint", "config.Entrypoint", JSONList(a.Entrypoint)),
		field(a.Overrides.Command != nil, "ImageConfig.Command", "config.Cmd", JSONList(a.Cmd)),
		field(a.Overrides.WorkingDirectory != "", "ImageConfig.WorkingDirectory", "config.WorkingDir", wd),
	}
}

// field formats one evidence line, naming the function override when it
// replaced the image's value.
func field(overridden bool, override, image, value string) string {
	if overridden {
		return override + "=" + value + " (overrides " + image + ")"
	}
	return image + "=" + value
}

// ConfigField returns field ("Entrypoint", "Cmd" or "WorkingDir") as a
// Finding's Source, or "" when the function's ImageConfig overrides it:
// the Dockerfile is then not where the value comes from.
func (a Argv) ConfigField(field string) string {
	switch {
	case field == "Entrypoint" && a.Overrides.EntryPoint != nil,
		field == "Cmd" && a.Overrides.Command != nil,
		field == "WorkingDir" && a.Overrides.WorkingDirectory != "":
		return ""
	}
	return field
}

// Arg0Field is the ConfigField holding the program Lambda starts: the
// entrypoint, or CMD when there is none.
func (a Argv) Arg0Field() string {
	if len(a.Entrypoint) > 0 {
		return a.ConfigField("Entrypoint")
	}
	return a.ConfigField("Cmd")
}

// DockerfileExec formats an exec-form instruction: ENTRYPOINT ["a", "b"].
func DockerfileExec(instr string, args []string) string {
	return instr + " " + jsonList(args)
}

// JSONList formats a config list the way the config holds it, or "(unset)"
// for an empty one.
func JSONList(ss []string) string {
	if len(ss) == 0 {
		return "(unset)"
	}
	return jsonList(ss)
}

func jsonList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = QuoteJSON(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// QuoteJSON quotes s as a JSON string without HTML escaping.
func QuoteJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Getenv returns the value of key in a config Env list ("KEY=value"). The
// last assignment wins.
func Getenv(env []string, key string) (string, bool) { return lambda.Getenv(env, key) }

// SearchPath returns the PATH a bare argv[0] is looked up on: the image's
// ENV PATH, or DefaultPATH (fromImage false) when the image sets none.
func SearchPath(cfg v1.Config) (value string, fromImage bool) {
	return lambda.SearchPATH(cfg.Env)
}

// LookupMethod says how argv[0] is turned into a file.
type LookupMethod int

// Lookup methods, as Go's os/exec and fork/exec (the emulator's and, as far
// as is known, Lambda's launcher) apply them.
const (
	// LookupAbsolute: argv[0] starts with "/" and is used as is.
	LookupAbsolute LookupMethod = iota + 1
	// LookupPATH: argv[0] has no slash and is searched on PATH.
	LookupPATH
	// LookupWorkdir: argv[0] is relative with a slash ("./bootstrap",
	// "bin/app") and is resolved against the working directory.
	LookupWorkdir
)

// Candidate is one file tried for argv[0].
type Candidate struct {
	// Path is the absolute path tried, before symlinks.
	Path       string
	Resolution imagefs.Resolution
}

// ExecLookup is the result of looking argv[0] up in an image.
type ExecLookup struct {
	// Name is argv[0] as written.
	Name   string
	Method LookupMethod
	// PATH is the search path used (LookupPATH only) and PATHFromImage
	// whether it came from the image's ENV.
	PATH          string
	PATHFromImage bool
	// SkippedDirs are relative PATH entries ("" or "."-based): Go's os/exec
	// refuses a match in them (exec.ErrDot), so they are not searched.
	SkippedDirs []string
	// Tried lists every candidate, in lookup order.
	Tried []Candidate
	// Chosen is the index in Tried of the file that would be started, or -1
	// when none exists.
	Chosen int
}

// Found reports whether argv[0] names an existing entry.
func (l ExecLookup) Found() bool { return l.Chosen >= 0 && l.Chosen < len(l.Tried) }

// Path returns the absolute path that would be started ("" if none).
func (l ExecLookup) Path() string {
	if !l.Found() {
		return ""
	}
	return l.Tried[l.Chosen].Path
}

// Resolution returns the chosen candidate's resolution, or the first
// candidate's when none was found (zero when nothing was tried).
func (l ExecLookup) Resolution() imagefs.Resolution {
	switch {
	case l.Found():
		return l.Tried[l.Chosen].Resolution
	case len(l.Tried) > 0:
		return l.Tried[0].Resolution
	}
	return imagefs.Resolution{}
}

// LookupExec finds the file argv[0] names, the way Lambda's launcher does:
// an absolute path as is; a name without a slash on PATH (the first
// directory holding a non-directory with an execute bit wins, as in Go's
// exec.LookPath; failing that, the first non-directory, so permission
// checks can report it); a relative path with a slash against workDir.
// Symlinks are resolved inside the image only.
func LookupExec(fsys *imagefs.FS, cfg v1.Config, name, workDir string) ExecLookup {
	l := ExecLookup{Name: name, Chosen: -1}
	if workDir == "" {
		workDir = "/"
	}
	try := func(p string) Candidate {
		c := Candidate{Path: p, Resolution: fsys.Resolve(p)}
		l.Tried = append(l.Tried, c)
		return c
	}
	switch {
	case name == "":
		l.Method = LookupAbsolute
		return l
	case strings.HasPrefix(name, "/"):
		l.Method = LookupAbsolute
		if c := try(path.Clean(name)); c.Resolution.Err == nil && c.Resolution.Entry != nil {
			l.Chosen = 0
		}
		return l
	case strings.Contains(name, "/"):
		l.Method = LookupWorkdir
		if c := try(path.Join("/", workDir, name)); c.Resolution.Err == nil && c.Resolution.Entry != nil {
			l.Chosen = 0
		}
		return l
	}
	l.Method = LookupPATH
	l.PATH, l.PATHFromImage = SearchPath(cfg)
	firstFile := -1
	for _, dir := range strings.Split(l.PATH, ":") {
		if !strings.HasPrefix(dir, "/") {
			l.SkippedDirs = append(l.SkippedDirs, dir)
			continue
		}
		c := try(path.Join(dir, name))
		e := c.Resolution.Entry
		if c.Resolution.Err != nil || e == nil || e.IsDir() {
			continue
		}
		if e.Mode.Perm()&0o111 != 0 {
			l.Chosen = len(l.Tried) - 1
			return l
		}
		if firstFile < 0 {
			firstFile = len(l.Tried) - 1
		}
	}
	l.Chosen = firstFile
	return l
}

// Perm is a permission the sandbox user needs on an entry.
type Perm uint8

// Permission bits, as in a mode's rwx triplets.
const (
	PermExec  Perm = 1 // execute a file, search a directory
	PermWrite Perm = 2
	PermRead  Perm = 4
)

func (p Perm) String() string {
	var b strings.Builder
	for _, x := range []struct {
		bit Perm
		s   string
	}{{PermRead, "read"}, {PermWrite, "write"}, {PermExec, "execute"}} {
		if p&x.bit != 0 {
			if b.Len() > 0 {
				b.WriteString("+")
			}
			b.WriteString(x.s)
		}
	}
	return b.String()
}

// SandboxCan reports whether the sandbox user has every permission in p on
// e, the way the kernel decides: the owner bits when it owns e, else the
// group bits when e's group is its gid, else the other bits. Root's
// bypasses do not apply: the sandbox user is not root.
func SandboxCan(e *imagefs.Entry, p Perm) bool {
	if e == nil {
		return false
	}
	mode := uint32(e.Mode.Perm())
	var bits uint32
	switch {
	case e.UID == SandboxUID:
		bits = mode >> 6
	case e.GID == SandboxGID:
		bits = mode >> 3
	default:
		bits = mode
	}
	return Perm(bits&7)&p == p
}

// AccessError says why the sandbox user cannot use a path.
type AccessError struct {
	// Path is the entry that blocks: a directory on the way, or the target.
	Path  string
	Entry *imagefs.Entry
	Need  Perm
}

func (e *AccessError) Error() string {
	what := "file"
	if e.Entry != nil && e.Entry.IsDir() {
		what = "directory"
	}
	need := e.Need.String()
	if what == "directory" && e.Need == PermExec {
		need = "search (execute)"
	}
	owner := ""
	if e.Entry != nil {
		owner = fmt.Sprintf(" (mode %s, owner %d:%d)", ModeString(e.Entry), e.Entry.UID, e.Entry.GID)
	}
	return fmt.Sprintf("the sandbox user (uid %d, gid %d) has no %s permission on %s %s%s", SandboxUID, SandboxGID, need, what, e.Path, owner)
}

// SandboxTraversal returns the first directory the sandbox user cannot
// search on the way to r: the parents of the requested path, of every
// symlink hop and of the final path. Nil means every one can be crossed.
// Directories the image does not record (implicit parents) count as 0755.
func SandboxTraversal(fsys *imagefs.FS, r imagefs.Resolution) *AccessError {
	paths := []string{r.Requested}
	for _, h := range r.Chain {
		paths = append(paths, h.Path)
	}
	if r.Final != "" {
		paths = append(paths, r.Final)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		for _, dir := range parents(p) {
			if seen[dir] {
				continue
			}
			seen[dir] = true
			dr := fsys.Resolve(dir)
			if dr.Err != nil || dr.Entry == nil || !dr.Entry.IsDir() {
				continue
			}
			if !SandboxCan(dr.Entry, PermExec) {
				at := dr.Final
				if at == "" {
					at = dir
				}
				return &AccessError{Path: at, Entry: dr.Entry, Need: PermExec}
			}
		}
	}
	return nil
}

// SandboxAccess checks that the sandbox user can reach r's final entry
// (search permission on every directory on the way) and has p on it. To
// execute, the entry must be a regular file. A missing target returns r.Err
// (or fs.ErrNotExist).
func SandboxAccess(fsys *imagefs.FS, r imagefs.Resolution, p Perm) error {
	if r.Err != nil {
		return r.Err
	}
	if r.Entry == nil {
		return fs.ErrNotExist
	}
	if err := SandboxTraversal(fsys, r); err != nil {
		return err
	}
	e := r.Entry
	final := r.Final
	if final == "" {
		final = r.Requested
	}
	if p&PermExec != 0 && !e.IsDir() && !e.IsRegular() {
		return &AccessError{Path: final, Entry: e, Need: p}
	}
	if !SandboxCan(e, p) {
		return &AccessError{Path: final, Entry: e, Need: p}
	}
	return nil
}

// parents returns the directories above abs, root first: "/a/b/c" gives
// "/", "/a", "/a/b".
func parents(abs string) []string {
	abs = path.Clean("/" + abs)
	if abs == "/" {
		return nil
	}
	out := []string{"/"}
	parts := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	for i := 1; i < len(parts); i++ {
		out = append(out, "/"+strings.Join(parts[:i], "/"))
	}
	return out
}

// LinkDest is where a symlink hop points, as an absolute path inside the
// image (chroot semantics: ".." stops at "/").
func LinkDest(h imagefs.Hop) string {
	if strings.HasPrefix(h.Target, "/") {
		return path.Clean(h.Target)
	}
	return path.Join(path.Dir(h.Path), h.Target)
}

// DanglingLink finds the symlink that breaks a failed resolution: the last
// link followed, when its own target does not exist. It returns the link,
// the resolution of its target, and false when the resolution did not fail
// on a missing link target (a plain missing file, even below a symlinked
// directory such as /bin -> usr/bin, is not a dangling link).
func DanglingLink(fsys *imagefs.FS, r imagefs.Resolution) (imagefs.Hop, imagefs.Resolution, bool) {
	if r.Err == nil || errors.Is(r.Err, imagefs.ErrLoop) || len(r.Chain) == 0 {
		return imagefs.Hop{}, imagefs.Resolution{}, false
	}
	h := r.Chain[len(r.Chain)-1]
	tr := fsys.Resolve(LinkDest(h))
	if tr.Err == nil {
		return imagefs.Hop{}, imagefs.Resolution{}, false
	}
	return h, tr, true
}

// FormatChain renders a resolution for evidence, e.g.
// "/usr/local/bin/python -> /usr/local/bin/python3.12 (missing)". A symlinked
// directory on the way shows as the full path it leads to.
func FormatChain(r imagefs.Resolution) string {
	var b strings.Builder
	cur := r.Requested
	b.WriteString(cur)
	seen := map[string]bool{cur: true}
	for _, h := range r.Chain {
		dest := LinkDest(h)
		switch {
		case h.Path == cur:
			cur = dest
		case strings.HasPrefix(cur, h.Path+"/"):
			cur = dest + strings.TrimPrefix(cur, h.Path)
		default:
			fmt.Fprintf(&b, " (via %s -> %s)", h.Path, h.Target)
			continue
		}
		b.WriteString(" -> " + cur)
		if seen[cur] {
			break // a loop: once round is enough
		}
		seen[cur] = true
	}
	switch {
	case errors.Is(r.Err, imagefs.ErrLoop):
		b.WriteString(" (symlink loop)")
	case errors.Is(r.Err, imagefs.ErrNotDir):
		if r.Final != "" && r.Final != cur {
			fmt.Fprintf(&b, " (%s is not a directory)", r.Final)
		} else {
			b.WriteString(" (a path component is not a directory)")
		}
	case errors.Is(r.Err, fs.ErrNotExist), r.Err == nil && r.Entry == nil:
		if r.Final != "" && r.Final != cur {
			b.WriteString(" -> " + r.Final)
		}
		b.WriteString(" (missing)")
	case r.Err != nil:
		fmt.Fprintf(&b, " (%v)", r.Err)
	}
	return b.String()
}

// ModeString is an entry's permission bits in octal, e.g. "0755".
func ModeString(e *imagefs.Entry) string {
	if e == nil {
		return "?"
	}
	return fmt.Sprintf("%04o", uint32(e.Mode.Perm()))
}

// KindString names an entry's type: "regular file", "directory", ...
func KindString(e *imagefs.Entry) string {
	if e == nil {
		return "missing"
	}
	switch e.Type {
	case imagefs.TypeReg:
		if e.HardlinkTo != "" {
			return "regular file (hard link to " + e.HardlinkTo + ")"
		}
		return "regular file"
	case imagefs.TypeDir:
		return "directory"
	case imagefs.TypeSymlink:
		return "symlink"
	case imagefs.TypeChar, imagefs.TypeBlock:
		return "device"
	case imagefs.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("entry of type %q", e.Type)
}

// LayerLabel names layer i the way users recognise it: its index and the
// Dockerfile line from the config history, e.g.
// `layer 4 (RUN gem install aws_lambda_ric)`.
func (t *Target) LayerLabel(i int) string {
	if t.FS == nil {
		return fmt.Sprintf("layer %d", i)
	}
	layers := t.FS.Layers()
	if i < 0 || i >= len(layers) {
		return fmt.Sprintf("layer %d", i)
	}
	if cb := CreatedBy(layers[i].CreatedBy); cb != "" {
		return fmt.Sprintf("layer %d (%s)", i, cb)
	}
	return fmt.Sprintf("layer %d", i)
}

// CreatedBy shortens a history created_by line to the Dockerfile
// instruction it came from.
func CreatedBy(s string) string {
	s = history.Parse(s).String()
	const max = 100
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// Describe is one evidence line for an entry: kind, mode, owner, layer.
func (t *Target) Describe(e *imagefs.Entry) string {
	if e == nil {
		return "missing"
	}
	return fmt.Sprintf("%s, mode %s, owner %d:%d, from %s", KindString(e), ModeString(e), e.UID, e.GID, t.LayerLabel(e.Layer))
}

// NamedFile is a file found by name anywhere in the image.
type NamedFile struct {
	// Path is where the entry is (a regular file, or a link to one).
	Path string
	// Resolution of Path; its Entry is the regular file reached.
	Resolution imagefs.Resolution
	// OnPath is true when Path's directory is one of the PATH dirs given.
	OnPath bool
}

// FindFiles walks the image for entries named base that are regular files
// or links to regular files, best first for use as a command: those in a
// PATH directory, then those in a bin or sbin directory, then those with an
// execute bit, then shorter paths. Paths in exclude are left out.
func FindFiles(ctx context.Context, fsys *imagefs.FS, base string, pathDirs []string, exclude ...string) ([]NamedFile, error) {
	onPath := map[string]bool{}
	for _, d := range pathDirs {
		if !strings.HasPrefix(d, "/") {
			continue
		}
		onPath[path.Clean(d)] = true
		if r := fsys.Resolve(d); r.Err == nil && r.Final != "" {
			onPath[r.Final] = true
		}
	}
	skip := map[string]bool{}
	for _, p := range exclude {
		skip[path.Clean(p)] = true
	}
	var found []NamedFile
	n := 0
	err := fsys.Walk(func(e *imagefs.Entry) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		p := e.Path
		if path.Base(p) != base || skip[p] || e.IsDir() {
			return nil
		}
		r := fsys.Resolve(p)
		if r.Err != nil || r.Entry == nil || !r.Entry.IsRegular() {
			return nil
		}
		found = append(found, NamedFile{Path: p, Resolution: r, OnPath: onPath[path.Dir(p)]})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("searching the image for %q: %w", base, err)
	}
	rank := func(f NamedFile) int {
		r := 0
		if !f.OnPath {
			r += 4
		}
		if d := path.Base(path.Dir(f.Path)); d != "bin" && d != "sbin" {
			r += 2
		}
		if e := f.Resolution.Entry; e == nil || e.Mode.Perm()&0o111 == 0 {
			r++
		}
		return r
	}
	sort.SliceStable(found, func(i, j int) bool {
		ri, rj := rank(found[i]), rank(found[j])
		if ri != rj {
			return ri < rj
		}
		if len(found[i].Path) != len(found[j].Path) {
			return len(found[i].Path) < len(found[j].Path)
		}
		return found[i].Path < found[j].Path
	})
	return found, nil
}

// EmulatorBootstraps is where the Runtime Interface Emulator looks, in
// order, when it is given no command (internal/lambda/rie/run.go).
func EmulatorBootstraps() []string {
	return []string{"/var/task/bootstrap", "/opt/bootstrap", "/var/runtime/bootstrap"}
}
