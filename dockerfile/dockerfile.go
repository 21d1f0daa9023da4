// Package dockerfile maps findings about an image back to the Dockerfile
// that built it: a config field (ENTRYPOINT, CMD, WORKDIR, ENV, ...) to the
// instruction that set it, and a layer (by its history created_by) to the
// COPY, ADD or RUN instruction that made it.
//
// The Dockerfile is read with buildkit's parser, the one `docker build`
// uses. Only the last stage (the one that produced the image) and the
// stages it is built FROM are considered.
package dockerfile

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/lambdoctor/lambdoctor/internal/history"
)

// Instruction is one instruction of the Dockerfile.
type Instruction struct {
	// Cmd is the instruction's keyword, upper case: "COPY", "ENTRYPOINT".
	Cmd string
	// Line and EndLine are 1-based; EndLine > Line for continuation lines
	// and heredocs.
	Line, EndLine int
	// Text is the instruction as written, on one line (continuations
	// joined, runs of white space collapsed; heredoc bodies left out).
	Text string

	node    *parser.Node
	workdir string            // the working directory in effect
	vars    map[string]string // ARG defaults and ENV values in effect
	shell   []string          // the SHELL in effect
}

// stage is one FROM and what follows it.
type stage struct {
	name   string // lower-cased AS name, "" when none
	from   Instruction
	base   string // the FROM image, as written
	parent *stage // the earlier stage named by FROM, nil for an image
	instrs []Instruction
}

// File is a parsed Dockerfile.
type File struct {
	// Path is the file's name as given to Parse.
	Path   string
	stages []*stage
	// all are the instructions of every stage, FROM included, in file
	// order.
	all []Instruction
	// declared are the names of every ARG, before the first FROM or in a
	// stage; unusedArgs the build args none declares.
	declared   map[string]bool
	unusedArgs []string
	// suppressions are the `# lambdoctor ignore=` comments.
	suppressions []Suppression
}

// Options are what a build is given besides the Dockerfile.
type Options struct {
	// BuildArgs are the values of --build-arg NAME=VALUE. As with
	// buildkit, a value applies only where an ARG declares the name: it
	// replaces that ARG's default, before the first FROM (the global ARGs
	// FROM lines read) as in a stage; a stage's ARG without a default
	// takes the build arg, else the global ARG's value.
	BuildArgs map[string]string
	// Arch is the target architecture ("amd64", "arm64"): buildkit
	// predefines TARGETPLATFORM, TARGETOS, TARGETARCH and TARGETVARIANT
	// from it for the global scope (a stage reads them after ARG
	// TARGETARCH). "" leaves them undefined; build args override them.
	Arch string
}

// predefinedArgs are the build args buildkit accepts without an ARG: the
// platform ones and the proxy ones
// (https://docs.docker.com/reference/dockerfile/#predefined-args).
var predefinedArgs = []string{
	"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
	"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
	"SOURCE_DATE_EPOCH",
}

// ParseFile reads and parses the Dockerfile at p.
func ParseFile(p string, opts Options) (*File, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return Parse(p, bytes.NewReader(data), opts)
}

// Parse parses a Dockerfile read from r; name is its path, for messages.
func Parse(name string, r io.Reader, opts Options) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", name, err)
	}
	f := &File{Path: name, declared: map[string]bool{}}
	global := targetArgs(opts)
	var cur *stage
	for _, n := range res.AST.Children {
		in := Instruction{
			Cmd:     strings.ToUpper(n.Value),
			Line:    n.StartLine,
			EndLine: n.EndLine,
			Text:    strings.Join(strings.Fields(n.Original), " "),
			node:    n,
		}
		args := nextValues(n)
		if in.Cmd == "FROM" {
			if len(args) == 0 {
				return nil, fmt.Errorf("parsing %s: line %d: FROM without an image", name, in.Line)
			}
			s := &stage{from: in, base: args[0]}
			if len(args) >= 3 && strings.EqualFold(args[1], "AS") {
				s.name = strings.ToLower(args[2])
			}
			// FROM reads the global ARGs: FROM ${BUILDER} names a stage
			// when the ARG's value does.
			base := strings.ToLower(expandGlobal(s.base, global))
			for i := len(f.stages) - 1; i >= 0; i-- {
				if f.stages[i].name != "" && f.stages[i].name == base {
					s.parent = f.stages[i]
					break
				}
			}
			// A stage starts with the environment of its base: unknown
			// for an image, the state of the stage it is built on.
			// Global ARGs are not part of it: a stage sees one only
			// after an ARG of that name.
			in.vars, in.workdir, in.shell = map[string]string{}, "/", []string{"/bin/sh", "-c"}
			if p := s.parent; p != nil && len(p.instrs) > 0 {
				last := p.instrs[len(p.instrs)-1]
				in.vars, in.workdir, in.shell = copyVars(last.vars), last.workdir, last.shell
			}
			s.from = in
			f.stages = append(f.stages, s)
			f.all = append(f.all, in)
			cur = s
			continue
		}
		if cur == nil {
			// Global ARGs before the first FROM: a build arg, else the
			// default expanded with the global ARGs before it; one with
			// neither stays undefined.
			if in.Cmd == "ARG" {
				for _, a := range args {
					k, v, hasDefault := strings.Cut(a, "=")
					f.declared[k] = true
					if bv, ok := opts.BuildArgs[k]; ok {
						global[k] = bv
					} else if hasDefault {
						global[k] = expandGlobal(v, global)
					}
				}
			}
			f.all = append(f.all, in)
			continue
		}
		prev := cur.from
		if len(cur.instrs) > 0 {
			prev = cur.instrs[len(cur.instrs)-1]
		}
		in.vars, in.workdir, in.shell = prev.vars, prev.workdir, prev.shell
		switch in.Cmd {
		case "WORKDIR":
			if len(args) > 0 {
				in.workdir = resolve(prev.workdir, expand(args[0], prev.vars))
			}
		case "ENV":
			in.vars = copyVars(prev.vars)
			for _, kv := range envPairs(n) {
				in.vars[kv[0]] = expandValue(kv[1], prev.vars)
			}
		case "ARG":
			// As buildkit's dispatchArg: the build arg, else the default
			// (expanded), else the global ARG of that name; the value
			// replaces an ENV of the same name from here on, and an ARG
			// with none leaves the name as it was.
			in.vars = copyVars(prev.vars)
			for _, a := range args {
				k, v, hasDefault := strings.Cut(a, "=")
				f.declared[k] = true
				if bv, ok := opts.BuildArgs[k]; ok {
					in.vars[k] = bv
				} else if hasDefault {
					in.vars[k] = expandValue(v, in.vars)
				} else if gv, ok := global[k]; ok {
					in.vars[k] = gv
				}
			}
		case "SHELL":
			if len(args) > 0 {
				in.shell = args
			}
		}
		cur.instrs = append(cur.instrs, in)
		f.all = append(f.all, in)
	}
	if len(f.stages) == 0 {
		return nil, fmt.Errorf("parsing %s: no FROM instruction", name)
	}
	for k := range opts.BuildArgs {
		if !f.declared[k] && !slices.Contains(predefinedArgs, k) && !strings.HasPrefix(k, "BUILDKIT_") {
			f.unusedArgs = append(f.unusedArgs, k)
		}
	}
	slices.Sort(f.unusedArgs)
	if f.suppressions, err = findSuppressions(name, data, f.all); err != nil {
		return nil, err
	}
	return f, nil
}

// targetArgs are the global ARGs buildkit predefines for the target
// platform, with the build args that override them.
func targetArgs(opts Options) map[string]string {
	global := map[string]string{}
	if opts.Arch != "" {
		global["TARGETPLATFORM"] = "linux/" + opts.Arch
		global["TARGETOS"] = "linux"
		global["TARGETARCH"] = opts.Arch
		global["TARGETVARIANT"] = ""
	}
	for _, k := range predefinedArgs {
		if v, ok := opts.BuildArgs[k]; ok {
			global[k] = v
		}
	}
	return global
}

// UnusedBuildArgs are the build args that no ARG of the Dockerfile
// declares (and that buildkit does not predefine): the build ignores
// them, and "docker build" warns that they were not consumed.
func (f *File) UnusedBuildArgs() []string { return slices.Clone(f.unusedArgs) }

// Stages returns the number of build stages.
func (f *File) Stages() int { return len(f.stages) }

// lineage returns the instructions of the last stage, preceded by those of
// the stages it is built FROM, in build order.
func (f *File) lineage() []Instruction {
	var chain []*stage
	for s := f.stages[len(f.stages)-1]; s != nil; s = s.parent {
		chain = append(chain, s)
	}
	var out []Instruction
	for i := len(chain) - 1; i >= 0; i-- {
		out = append(out, chain[i].instrs...)
	}
	return out
}

// root returns the FROM instruction that names the external base image of
// the last stage.
func (f *File) root() Instruction {
	s := f.stages[len(f.stages)-1]
	for s.parent != nil {
		s = s.parent
	}
	return s.from
}

// fieldCmd maps an image config field to the instruction that sets it.
var fieldCmd = map[string]string{
	"Entrypoint":   "ENTRYPOINT",
	"Cmd":          "CMD",
	"WorkingDir":   "WORKDIR",
	"User":         "USER",
	"ExposedPorts": "EXPOSE",
	"Healthcheck":  "HEALTHCHECK",
	"Volumes":      "VOLUME",
	"StopSignal":   "STOPSIGNAL",
	"Shell":        "SHELL",
	"Labels":       "LABEL",
}

// ForField returns the instruction that set an image config field, as
// the checks name it: "Entrypoint", "Cmd", "WorkingDir", "User",
// "ExposedPorts", "Healthcheck", "Volumes", "StopSignal", or "Env:NAME" for
// one environment variable. The last such instruction of the last stage
// (or of a stage it is built FROM) wins. When none sets it, the value came
// from the base image: the result is that FROM instruction and inherited
// is true. ok is false for a field it does not know.
func (f *File) ForField(field string) (in Instruction, inherited, ok bool) {
	cmd, env := fieldCmd[field], ""
	if name, isEnv := strings.CutPrefix(field, "Env:"); isEnv && name != "" {
		cmd, env = "ENV", name
	}
	if cmd == "" {
		return Instruction{}, false, false
	}
	list := f.lineage()
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Cmd != cmd {
			continue
		}
		if env != "" {
			if _, sets := assignments("ENV", list[i].node)[env]; !sets {
				continue
			}
		}
		return list[i], false, true
	}
	return f.root(), true, true
}

// ForLayer returns the COPY, ADD or RUN (or WORKDIR) instruction that made
// layer i, given the created_by of every layer of the image, base first
// (the config history without its empty layers). It reports false when no
// instruction of the last stage matches: the layer then came from the
// base image.
//
// A created_by is compared with what the builders write: buildkit's
// "RUN /bin/sh -c cmd # buildkit" and "COPY src dest # buildkit" (without
// --from), the classic builder's "/bin/sh -c cmd", "|1 ARG=v /bin/sh -c
// cmd" and "/bin/sh -c #(nop) COPY file:<hash> in dest". Hashed sources
// match on the destination only. When several instructions match, the
// n-th last matching layer is the n-th last matching instruction.
func (f *File) ForLayer(createdBy []string, i int) (Instruction, bool) {
	if i < 0 || i >= len(createdBy) {
		return Instruction{}, false
	}
	list := f.lineage()
	cands := candidates(list, createdBy[i])
	if len(cands) == 0 {
		return Instruction{}, false
	}
	later := 0
	for k := i + 1; k < len(createdBy); k++ {
		if slices.Equal(candidates(list, createdBy[k]), cands) {
			later++
		}
	}
	j := len(cands) - 1 - later
	if j < 0 {
		return Instruction{}, false
	}
	return list[cands[j]], true
}

// candidates returns the positions in list of the instructions that could
// have made a layer with created_by cb: the exact matches when there are
// any, else those matching on the destination alone.
func candidates(list []Instruction, cb string) []int {
	h := history.Parse(cb)
	if h.Cmd == "" {
		// A created_by of no known form: compared as a RUN, whose text a
		// shell-form RUN of another builder may still equal.
		h.Cmd = "RUN"
	}
	var exact, weak []int
	for i, in := range list {
		switch m := matches(in, h); m {
		case matchExact:
			exact = append(exact, i)
		case matchWeak:
			weak = append(weak, i)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return weak
}

type match int

const (
	matchNone match = iota
	matchWeak
	matchExact
)

func matches(in Instruction, h history.History) match {
	switch in.Cmd {
	case "RUN":
		if h.Cmd != "RUN" {
			return matchNone
		}
		for _, want := range runForms(in) {
			if collapse(want) == h.Text {
				return matchExact
			}
		}
	case "COPY", "ADD":
		if h.Cmd != in.Cmd {
			return matchNone
		}
		return matchCopy(in, h.Text)
	case "WORKDIR":
		if h.Cmd == "WORKDIR" && cleanDir(h.Text) == in.workdir {
			return matchExact
		}
	}
	return matchNone
}

// runForms returns the command lines a RUN instruction can leave in the
// history, as buildkit and the classic builder write them.
func runForms(in Instruction) []string {
	n := in.node
	args := nextValues(n)
	if n.Attributes["json"] {
		return []string{strings.Join(args, " ")}
	}
	if len(args) == 0 {
		return nil
	}
	shell := strings.Join(in.shell, " ")
	cmd := args[0]
	forms := []string{shell + " " + cmd}
	if len(n.Heredocs) > 0 {
		h := n.Heredocs[0]
		data := h.Content
		if h.Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if c := strings.TrimSpace(cmd); len(n.Heredocs) == 1 && (c == "<<"+h.Name || c == "<<-"+h.Name) {
			if strings.HasPrefix(data, "#!") {
				forms = append(forms, path.Join("/dev/pipes", h.Name))
			} else {
				forms = append(forms, shell+" "+data)
			}
		}
		var b strings.Builder
		b.WriteString(cmd)
		for _, hd := range n.Heredocs {
			b.WriteString("\n" + hd.Content + hd.Name)
		}
		forms = append(forms, shell+" "+b.String())
	}
	return forms
}

// matchCopy compares a COPY or ADD with the rest of its created_by.
func matchCopy(in Instruction, text string) match {
	var hist []string
	for _, t := range strings.Fields(text) {
		if !strings.HasPrefix(t, "--") {
			hist = append(hist, t)
		}
	}
	args := nextValues(in.node)
	if len(hist) == 0 || len(args) < 2 {
		return matchNone
	}
	dest := args[len(args)-1]
	hdest := hist[len(hist)-1]
	if !sameDest(in, dest, hdest) {
		return matchNone
	}
	hashed := len(hist) == 3 && hist[1] == "in" && hashedRE.MatchString(hist[0])
	if hashed || len(hist) != len(args) {
		return matchWeak
	}
	for i := range args[:len(args)-1] {
		if !pattern(args[i], in.vars).MatchString(hist[i]) {
			return matchWeak
		}
	}
	return matchExact
}

// sameDest reports whether a COPY destination as written (variables
// unexpanded, maybe relative to WORKDIR) is the one in a created_by.
func sameDest(in Instruction, dest, hdest string) bool {
	re := pattern(dest, in.vars)
	if re.MatchString(hdest) || re.MatchString(strings.TrimSuffix(hdest, "/")) {
		return true
	}
	want := expand(dest, in.vars)
	if strings.Contains(want, "$") {
		return false
	}
	return resolve(in.workdir, want) == resolve(in.workdir, hdest)
}

// hashedRE is how the classic builder names COPY and ADD sources.
var hashedRE = regexp.MustCompile(`^(file|dir|multi):[0-9a-f]+$`)

var varRE = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-+][^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// pattern turns a word as written into a regexp over its expanded form:
// known variables are substituted, unknown ones (set by the base image,
// such as LAMBDA_TASK_ROOT) match any text; a trailing slash is optional.
func pattern(word string, vars map[string]string) *regexp.Regexp {
	word = strings.TrimSuffix(word, "/")
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, loc := range varRE.FindAllStringIndex(word, -1) {
		b.WriteString(regexp.QuoteMeta(word[last:loc[0]]))
		name := strings.Trim(word[loc[0]:loc[1]], "${}")
		name, _, _ = strings.Cut(name, ":")
		name, _, _ = strings.Cut(name, "-")
		if v, ok := vars[name]; ok {
			b.WriteString(regexp.QuoteMeta(v))
		} else {
			b.WriteString(".*")
		}
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(word[last:]))
	b.WriteString("/?$")
	return regexp.MustCompile(b.String())
}

// expand substitutes the known variables of a word the way the builder
// does, with buildkit's own lexer (shell.Lex: ${NAME:-default},
// ${NAME:+alt}, ${NAME%suffix} ...), leaving quotes and escapes as written
// (the word is compared with what the builder recorded). A variable the
// Dockerfile does not set may come from the base image (LAMBDA_TASK_ROOT),
// so it is left as written (pattern matches it as any text), unless every
// such variable of the word has a default, which the builder then uses as
// this does.
func expand(word string, vars map[string]string) string {
	return lexWord(word, vars, true)
}

// expandValue is the value of an ENV or ARG assignment as the builder
// computes it: variables expanded as expand does, quotes and escapes
// processed (ENV A="x y" is x y).
func expandValue(word string, vars map[string]string) string {
	return lexWord(word, vars, false)
}

func lexWord(word string, vars map[string]string, raw bool) string {
	lex := shell.NewLex('\\')
	lex.SkipProcessQuotes, lex.RawEscapes = raw, raw
	env := varEnv(vars)
	if unknownHaveDefaults(word, vars) {
		if r, _, err := lex.ProcessWord(word, env); err == nil {
			return r
		}
	}
	lex.SkipUnsetEnv = true
	if r, _, err := lex.ProcessWord(word, env); err == nil {
		return r
	}
	return word
}

// expandGlobal expands a word in the global scope (a global ARG's
// default, a FROM line): every variable there is known, so an undefined
// one is empty, as for the builder. A word the lexer rejects stays as
// written.
func expandGlobal(word string, global map[string]string) string {
	r, _, err := shell.NewLex('\\').ProcessWord(word, varEnv(global))
	if err != nil {
		return word
	}
	return r
}

// unknownHaveDefaults reports whether every variable of word that vars
// does not hold is written with a default or alternative (${X:-d},
// ${X-d}, ${X:+a}, ${X+a}).
func unknownHaveDefaults(word string, vars map[string]string) bool {
	for _, m := range varRE.FindAllString(word, -1) {
		name := strings.TrimLeft(m, "${")
		name = strings.TrimSuffix(name, "}")
		n, rest := name, ""
		if i := strings.IndexAny(name, ":-+"); i >= 0 {
			n, rest = name[:i], name[i:]
		}
		if _, ok := vars[n]; ok {
			continue
		}
		if !strings.HasPrefix(rest, ":-") && !strings.HasPrefix(rest, "-") && !strings.HasPrefix(rest, ":+") && !strings.HasPrefix(rest, "+") {
			return false
		}
	}
	return true
}

// varEnv is vars as buildkit's lexer reads them.
type varEnv map[string]string

func (v varEnv) Get(k string) (string, bool) {
	s, ok := v[k]
	return s, ok
}

func (v varEnv) Keys() []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	return keys
}

// assignments returns the names an ENV or ARG instruction sets, with
// their values as written.
func assignments(cmd string, n *parser.Node) map[string]string {
	out := map[string]string{}
	if cmd == "ENV" {
		for _, kv := range envPairs(n) {
			out[kv[0]] = kv[1]
		}
		return out
	}
	for _, a := range nextValues(n) {
		k, v, _ := strings.Cut(a, "=")
		out[k] = v
	}
	return out
}

// envPairs returns the name, value pairs of an ENV instruction, in order,
// values as written: the parser gives name, value, separator triples.
func envPairs(n *parser.Node) [][2]string {
	var out [][2]string
	args := nextValues(n)
	for i := 0; i+1 < len(args); i += 3 {
		out = append(out, [2]string{args[i], args[i+1]})
	}
	return out
}

func nextValues(n *parser.Node) []string {
	var out []string
	for x := n.Next; x != nil; x = x.Next {
		out = append(out, x.Value)
	}
	return out
}

func copyVars(m map[string]string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// resolve makes p absolute against dir, as WORKDIR and COPY do.
func resolve(dir, p string) string {
	if !strings.HasPrefix(p, "/") {
		p = path.Join(dir, p)
	}
	return cleanDir(p)
}

func cleanDir(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean(p)
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
