package analyze

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file computes the entrypoint chain: what Lambda starts (argv[0]),
// then what that runs in turn — a script's #! interpreter, the program env
// looks up, the program a shell script finally execs — down to an ELF
// binary or a link that cannot be followed. Checks read it through
// (*Target).Chain, computed once per target.

// LinkKind classifies the file a link resolves to.
type LinkKind int

// Link kinds.
const (
	// LinkELF: a regular file starting with the ELF magic.
	LinkELF LinkKind = iota + 1
	// LinkScript: a regular file starting with "#!".
	LinkScript
	// LinkOther: a regular file that is neither (text without #!, empty,
	// another binary format).
	LinkOther
	// LinkMissing: the name resolves to nothing (missing, dangling symlink,
	// loop).
	LinkMissing
	// LinkNotRegular: it resolves to a directory, device or fifo.
	LinkNotRegular
)

func (k LinkKind) String() string {
	switch k {
	case LinkELF:
		return "ELF"
	case LinkScript:
		return "script"
	case LinkOther:
		return "other"
	case LinkMissing:
		return "missing"
	case LinkNotRegular:
		return "not a regular file"
	}
	return fmt.Sprintf("LinkKind(%d)", int(k))
}

// Link roles.
const (
	RoleEntrypoint   = "ENTRYPOINT"
	RoleCmd          = "CMD"
	RoleInterpreter  = "interpreter"
	RoleEnvProgram   = "env program"
	RoleExecTarget   = "exec target"
	RoleBootstrap    = "bootstrap"
	RoleShellCommand = "shell command"
)

// Shebang is a script's #! line, parsed the way the Linux kernel does:
// the interpreter is the first word after "#!" (spaces and tabs
// separate words), and everything after it, trimmed, is passed as at most
// ONE argument.
type Shebang struct {
	// Interpreter is the path as the kernel reads it, without a trailing
	// carriage return (see CRLF).
	Interpreter string
	// Args holds the kernel's single optional argument (0 or 1 element),
	// without a trailing carriage return.
	Args []string
	// CRLF is set when the line ends in "\r\n": the kernel then looks for
	// an interpreter (or passes an argument) ending in "\r".
	CRLF bool
	// Line is the first line as written, without its "\n".
	Line string
}

// Link is one step of the entrypoint chain.
type Link struct {
	// Role: "ENTRYPOINT", "CMD", "interpreter", "env program", "exec
	// target", "bootstrap", "shell command".
	Role string
	// From is the path of the file whose content named this link; "" for
	// the image config.
	From string
	// Name is as written (argv[0], the shebang path, the exec word).
	Name string
	// Args are the arguments that follow Name at this link.
	Args []string
	// Lookup says how Name was looked up (Resolution chain inside).
	Lookup ExecLookup
	// Path is the resolved final path in the image, "" when not found.
	Path string
	// Entry is the file reached; nil when not found.
	Entry *imagefs.Entry
	// Kind classifies the file.
	Kind LinkKind
	// Shebang is set for scripts.
	Shebang *Shebang
	// ArgsUnknown is set when Args holds words only known at run time
	// (variables, "$@" after set --), kept as written.
	ArgsUnknown bool
	// ReadErr is set when the file's content could not be read; Kind is
	// then LinkOther and says nothing about the content.
	ReadErr error

	head []byte // the first bytes of the file
	text []byte // a script's content, up to maxScriptRead (lazily)
}

// Chain is the entrypoint chain. Links[0] is argv[0]; each next link is
// what the previous one runs.
type Chain struct {
	Links []Link
	// End says why the chain stops after its last link when that is not
	// simply a binary, a missing file or a script whose runtime is not a
	// shell (e.g. "exec word $CMD: variable not resolved"); "" otherwise.
	End string
}

// Limits of the chain walk.
const (
	maxChainLinks = 8
	MaxScriptRead = 64 << 10
)

// Chain returns the entrypoint chain of t, computed once.
func (t *Target) Chain() *Chain {
	return t.facts.chain.get(func() *Chain { return buildChain(t) })
}

// DirectExec reports whether the link is started by execve without a
// shell fallback: argv[0] (Lambda's Go launcher) and #! interpreters (the
// kernel). A text file without #! then fails with "exec format error";
// shells and env's execvp instead run such a file with /bin/sh.
func (l *Link) DirectExec() bool {
	switch l.Role {
	case RoleEntrypoint, RoleCmd, RoleInterpreter:
		return true
	}
	return false
}

// Found reports whether the link resolves to an entry.
func (l *Link) Found() bool { return l.Entry != nil }

// Head returns the first bytes of the link's file (nil if not read).
func (l *Link) Head() []byte { return l.head }

// Text returns the content of a script link read for parsing, up to 64
// KiB (nil for other links or before the chain needed it).
func (l *Link) Text() []byte { return l.text }

// Describe renders the chain up to and including link i for evidence,
// e.g. `ENTRYPOINT /usr/local/bin/app -> #! /usr/bin/env -> env program node
// (not found on PATH=/usr/local/bin:/usr/bin:/bin)`.
func (c *Chain) Describe(i int) string {
	var parts []string
	for j := 0; j <= i && j < len(c.Links); j++ {
		parts = append(parts, c.Links[j].label())
	}
	return strings.Join(parts, " -> ")
}

// label renders one link for Describe.
func (l *Link) label() string {
	var b strings.Builder
	switch l.Role {
	case RoleEntrypoint, RoleCmd:
		b.WriteString(l.Role + " " + l.Name)
	case RoleInterpreter:
		b.WriteString("#! " + l.Name)
	default:
		b.WriteString(l.Role + " " + l.Name)
	}
	switch {
	case l.Entry == nil:
		if l.Lookup.Method == LookupPATH {
			fmt.Fprintf(&b, " (not found on PATH=%s)", l.Lookup.PATH)
		} else {
			b.WriteString(" (missing)")
		}
	case l.Path != "" && l.Path != l.Name:
		fmt.Fprintf(&b, " (%s)", l.Path)
	}
	return b.String()
}

// chainBuilder carries the state of one chain walk.
type chainBuilder struct {
	t    *Target
	cfg  v1.Config
	wd   string
	c    *Chain
	seen map[string]bool
	// shell is the index of the last script whose interpreter has not yet
	// been followed to the script's exec line (-1 if none), and shellArg
	// the path the kernel passes that interpreter.
	shell    int
	shellArg string
}

func buildChain(t *Target) *Chain {
	c := &Chain{}
	argv := t.Argv()
	if argv.Empty() || t.FS == nil {
		return c
	}
	b := &chainBuilder{t: t, cfg: t.Config(), wd: argv.WorkingDir, c: c, seen: map[string]bool{}, shell: -1}
	args := argv.Args()
	b.add(b.link(argv.Source(), "", args[0], args[1:], LookupExec(t.FS, b.cfg, args[0], b.wd)))
	for len(c.Links) < maxChainLinks {
		next, ok := b.next()
		if !ok {
			break
		}
		key := next.Role + "\x00" + next.Path + "\x00" + next.Name
		if b.seen[key] {
			c.End = "the chain loops back to " + next.Name
			break
		}
		b.add(next)
	}
	if len(c.Links) == maxChainLinks && c.End == "" {
		if _, ok := b.next(); ok {
			c.End = fmt.Sprintf("the chain is longer than %d links; it was not followed further", maxChainLinks)
		}
	}
	return c
}

func (b *chainBuilder) add(l Link) {
	b.seen[l.Role+"\x00"+l.Path+"\x00"+l.Name] = true
	b.c.Links = append(b.c.Links, l)
}

// link resolves one link and classifies its file.
func (b *chainBuilder) link(role, from, name string, args []string, lk ExecLookup) Link {
	l := Link{Role: role, From: from, Name: name, Args: args, Lookup: lk, Kind: LinkMissing}
	if !lk.Found() {
		return l
	}
	r := lk.Resolution()
	l.Entry = r.Entry
	l.Path = r.Final
	if l.Path == "" {
		l.Path = lk.Path()
	}
	if !r.Entry.IsRegular() {
		l.Kind = LinkNotRegular
		return l
	}
	head := b.t.FS.Head(l.Path)
	if len(head) < 4 && int64(len(head)) < r.Entry.Size {
		var err error
		head, err = ReadPrefix(b.t.FS, l.Path, 512)
		if err != nil {
			l.Kind, l.ReadErr = LinkOther, err
			return l
		}
	}
	l.head = head
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		l.Kind = LinkELF
	case bytes.HasPrefix(head, []byte("#!")):
		l.Kind = LinkScript
		l.Shebang = ParseShebang(head)
	default:
		l.Kind = LinkOther
	}
	return l
}

// ReadPrefix reads up to n bytes of the file at abs.
func ReadPrefix(fsys *imagefs.FS, abs string, n int64) ([]byte, error) {
	f, err := fsys.Open(strings.TrimPrefix(path.Clean(abs), "/"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// ParseShebang parses the #! line at the start of head.
func ParseShebang(head []byte) *Shebang {
	line := head
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := &Shebang{Line: string(line)}
	rest := string(line[2:])
	if strings.HasSuffix(rest, "\r") {
		s.CRLF = true
		rest = strings.TrimSuffix(rest, "\r")
	}
	rest = strings.Trim(rest, " \t")
	interp, arg, _ := strings.Cut(rest, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], interp[i+1:]+" "+arg
	}
	s.Interpreter = interp
	if arg = strings.Trim(arg, " \t"); arg != "" {
		s.Args = []string{arg}
	}
	return s
}

// LiteralLookup looks a #! interpreter up the way the kernel does: the
// path as written, relative ones against the working directory, never on
// PATH.
func LiteralLookup(fsys *imagefs.FS, name, wd string) ExecLookup {
	l := ExecLookup{Name: name, Chosen: -1, Method: LookupAbsolute}
	if name == "" {
		return l
	}
	p := path.Clean(name)
	if !strings.HasPrefix(name, "/") {
		l.Method = LookupWorkdir
		p = path.Join("/", wd, name)
	}
	r := fsys.Resolve(p)
	l.Tried = []Candidate{{Path: p, Resolution: r}}
	if r.Err == nil && r.Entry != nil {
		l.Chosen = 0
	}
	return l
}

// Shells are the interpreters whose scripts are parsed for their exec line.
var Shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true, "zsh": true}

// next computes the link the last one runs, if it can be known.
func (b *chainBuilder) next() (Link, bool) {
	i := len(b.c.Links) - 1
	cur := &b.c.Links[i]
	if cur.Entry == nil || cur.Kind == LinkNotRegular || cur.ReadErr != nil {
		return Link{}, false
	}
	switch {
	case cur.Kind == LinkScript:
		sb := cur.Shebang
		if sb == nil || sb.Interpreter == "" {
			return Link{}, false
		}
		b.shell, b.shellArg = i, cur.Lookup.Path()
		args := append(append([]string{}, sb.Args...), b.shellArg)
		args = append(args, cur.Args...)
		l := b.link(RoleInterpreter, cur.Path, sb.Interpreter, args, LiteralLookup(b.t.FS, sb.Interpreter, b.wd))
		l.ArgsUnknown = cur.ArgsUnknown
		return l, true
	case cur.Kind == LinkOther:
		return Link{}, false
	case path.Base(cur.Name) == "env":
		return b.envProgram(cur)
	case Shells[path.Base(cur.Name)]:
		if b.shell >= 0 && slices.Contains(cur.Args, b.shellArg) {
			s := b.shell
			b.shell = -1
			return b.execTarget(s)
		}
		return b.shellCommand(cur)
	}
	return Link{}, false
}

// envProgram follows env: skip its options and NAME=VALUE assignments,
// then look the program up on PATH (a PATH= assignment applies).
func (b *chainBuilder) envProgram(cur *Link) (Link, bool) {
	// #!/usr/bin/env -S bash -e: the kernel passes "-S bash -e" as one
	// argument, which -S splits. Without -S, "bash -e" stays one word and
	// env looks for a program of that name.
	args := cur.Args
	cfg := b.cfg
	env := append([]string{}, cfg.Env...)
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			args = args[1:]
			goto program
		case a == "-i" || a == "-" || a == "--ignore-environment" || a == "-0" || a == "--null" || a == "-v" || a == "--debug":
			if a == "-i" || a == "-" || a == "--ignore-environment" {
				env = nil
			}
			args = args[1:]
		case a == "-u" || a == "--unset" || a == "-C" || a == "--chdir" || a == "-P":
			if len(args) < 2 {
				return Link{}, false
			}
			args = args[2:]
		case a == "-S" || a == "--split-string":
			if len(args) < 2 {
				return Link{}, false
			}
			args = append(strings.Fields(args[1]), args[2:]...)
		case strings.HasPrefix(a, "-S"):
			args = append(strings.Fields(a[2:]), args[1:]...)
		case strings.HasPrefix(a, "--split-string="):
			args = append(strings.Fields(strings.TrimPrefix(a, "--split-string=")), args[1:]...)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// An option we do not model (--unset=NAME, -uNAME, ...).
			args = args[1:]
		case strings.Contains(a, "=") && !strings.HasPrefix(a, "="):
			env = append(env, a)
			args = args[1:]
		default:
			goto program
		}
	}
program:
	if len(args) == 0 {
		return Link{}, false
	}
	cfg.Env = env
	l := b.link(RoleEnvProgram, cur.Path, args[0], args[1:], LookupExec(b.t.FS, cfg, args[0], b.wd))
	l.ArgsUnknown = cur.ArgsUnknown
	return l, true
}

// shellCommand follows `sh -c "cmd ..."`: the command the string ends in,
// which decides what runs next: its last exec, or else its last command
// that is certain to run (`cd /var/task && ./bootstrap` runs ./bootstrap
// from /var/task). Variables come from the image's ENV and the values
// Lambda sets (LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR).
func (b *chainBuilder) shellCommand(cur *Link) (Link, bool) {
	text, hasC, _, _ := ShellOptions(cur.Args)
	if !hasC {
		return Link{}, false
	}
	fl := FlavourOther
	if path.Base(cur.Path) == "bash" {
		fl = FlavourBash
	}
	f, err := ParseScript(text, fl)
	if err != nil {
		b.c.End = fmt.Sprintf("the shell command %s does not parse: %v", QuoteJSON(text), err)
		return Link{}, false
	}
	s := &Script{Text: text, Flavour: fl}
	AnalyzeScript(s, f, scriptEnv(b.cfg.Env), path.Join("/", b.wd), false, nil, nil)
	cmd := ShellTarget(s)
	if cmd == nil {
		return Link{}, false
	}
	if !cmd.Name.Known {
		b.c.End = fmt.Sprintf("the shell command runs %s, which is only known at run time", cmd.Name.Raw)
		return Link{}, false
	}
	name := cmd.Name.Value
	if strings.Contains(name, "/") && !strings.HasPrefix(name, "/") && cmd.Dir == "" {
		b.c.End = fmt.Sprintf("the shell command runs %s from a directory only known at run time", name)
		return Link{}, false
	}
	cfg := b.cfg
	if cmd.PATHKnown {
		if p, _ := SearchPath(cfg); p != cmd.PATH {
			cfg.Env = append(append([]string{}, cfg.Env...), "PATH="+cmd.PATH)
		}
	}
	var args []string
	exact := true
	for _, a := range cmd.Args {
		if a.Known {
			args = append(args, a.Value)
		} else {
			args, exact = append(args, a.Raw), false
		}
	}
	l := b.link(RoleShellCommand, "", name, args, LookupExec(b.t.FS, cfg, name, cmd.Dir))
	l.ArgsUnknown = !exact
	return l, true
}

// ShellTarget returns the command a script (or -c string) ends in: its
// last exec that is certain to run, or else its last top-level command
// that is certain to run and is neither a builtin nor a function; nil when
// there is none.
func ShellTarget(s *Script) *ScriptCommand {
	var last *ScriptCommand
	for i := range s.Commands {
		c := &s.Commands[i]
		if !c.Certain || !c.Top || c.Func != "" || c.Name.Raw == "" {
			continue
		}
		if c.Exec {
			return c
		}
		if c.Name.Known && (ShellBuiltins[c.Name.Value] || s.Functions[c.Name.Value]) {
			continue
		}
		last = c
	}
	return last
}

// IsAWSBaseEntrypoint reports whether the link is the AWS base images'
// /lambda-entrypoint.sh: by path, and by content when it was read.
func (l *Link) IsAWSBaseEntrypoint() bool {
	if l.Path != "/lambda-entrypoint.sh" || l.Kind != LinkScript {
		return false
	}
	if l.text == nil {
		return true
	}
	return IsAWSEntrypointText(l.text)
}

// IsAWSEntrypointText reports whether b reads as the AWS base images'
// /lambda-entrypoint.sh: it tests AWS_LAMBDA_RUNTIME_API and names
// /var/runtime/bootstrap or prints the script's usage message.
func IsAWSEntrypointText(b []byte) bool {
	return bytes.Contains(b, []byte("AWS_LAMBDA_RUNTIME_API")) &&
		(bytes.Contains(b, []byte("entrypoint requires the handler name")) || bytes.Contains(b, []byte("/var/runtime/bootstrap")))
}

// execTarget reads the script of link s and follows its last exec line.
func (b *chainBuilder) execTarget(s int) (Link, bool) {
	sl := &b.c.Links[s]
	if sl.text == nil {
		text, err := ReadPrefix(b.t.FS, sl.Path, MaxScriptRead)
		if err != nil {
			b.c.End = fmt.Sprintf("could not read %s: %v", sl.Path, err)
			return Link{}, false
		}
		sl.text = text
	}
	aws := sl.Path == "/lambda-entrypoint.sh" && IsAWSEntrypointText(sl.text)
	role := RoleExecTarget
	if aws {
		role = RoleBootstrap
	}
	name, args, exact, vars, why := lastExec(string(sl.text), LambdaScriptEnv(b.cfg.Env), sl.Args)
	if name == "" {
		if aws {
			// It execs /var/runtime/bootstrap when AWS_LAMBDA_RUNTIME_API
			// is set, which it always is on Lambda.
			return b.link(RoleBootstrap, sl.Path, "/var/runtime/bootstrap", nil, LookupExec(b.t.FS, b.cfg, "/var/runtime/bootstrap", b.wd)), true
		}
		if why != "" {
			b.c.End = sl.Path + ": " + why
		}
		return Link{}, false
	}
	cfg := b.cfg
	if p, ok := vars["PATH"]; ok {
		cfg.Env = append(append([]string{}, cfg.Env...), "PATH="+p)
	}
	l := b.link(role, sl.Path, name, args, LookupExec(b.t.FS, cfg, name, b.wd))
	l.ArgsUnknown = !exact || sl.ArgsUnknown
	return l, true
}

// ShellWord is a shell word: Raw as written, Lit with quotes removed and
// variables expanded when possible; Dynamic when it holds an expansion that
// could not be resolved (or a command substitution).
type ShellWord struct {
	Raw, Lit string
	Dynamic  bool
	// Param is set for "$@", "$*", "$1"... alone.
	Param string
}

// ShellCommand is one simple command of a script: its words.
type ShellCommand struct{ Words []ShellWord }

// ParseShell splits shell text into simple commands (on newlines, ";",
// "&&", "||", "|", "&"), skipping comments. Quotes are honoured; nothing
// is expanded here.
func ParseShell(src string) []ShellCommand {
	src = strings.ReplaceAll(src, "\\\r\n", "")
	src = strings.ReplaceAll(src, "\\\n", "")
	var cmds []ShellCommand
	var cur ShellCommand
	var word strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			cur.Words = append(cur.Words, ShellWord{Raw: word.String()})
			word.Reset()
			inWord = false
		}
	}
	flushCmd := func() {
		flushWord()
		if len(cur.Words) > 0 {
			cmds = append(cmds, cur)
		}
		cur = ShellCommand{}
	}
	for i := 0; i < len(src); i++ {
		ch := src[i]
		switch {
		case ch == '\'':
			end := len(src)
			if j := strings.IndexByte(src[i+1:], '\''); j >= 0 {
				end = i + 1 + j + 1
			}
			word.WriteString(src[i:end])
			i = end - 1
			inWord = true
		case ch == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			end := min(j+1, len(src))
			word.WriteString(src[i:end])
			i = end - 1
			inWord = true
		case ch == '\\' && i+1 < len(src):
			word.WriteString(src[i : i+2])
			i++
			inWord = true
		case ch == '#' && !inWord:
			for i < len(src) && src[i] != '\n' {
				i++
			}
			flushCmd()
		case ch == '\n' || ch == ';' || ch == '&' || ch == '|':
			flushCmd()
		case ch == ' ' || ch == '\t' || ch == '\r':
			flushWord()
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	flushCmd()
	return cmds
}

// shellKeywords may precede a command on the same line.
var shellKeywords = map[string]bool{"then": true, "else": true, "do": true, "{": true, "!": true, "time": true}

// IsAssignment reports whether w is NAME=value.
func IsAssignment(w ShellWord) bool {
	name, _, ok := strings.Cut(w.Raw, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ExecOperands drops exec's options and redirections.
func ExecOperands(ws []ShellWord) []ShellWord {
	var out []ShellWord
	for i := 0; i < len(ws); i++ {
		w := ws[i].Raw
		switch {
		case len(out) == 0 && (w == "-c" || w == "-l" || w == "-cl" || w == "--"):
			continue
		case len(out) == 0 && w == "-a":
			i++
			continue
		case IsRedirection(w):
			if strings.HasSuffix(w, ">") || strings.HasSuffix(w, "<") {
				i++ // the target is the next word
			}
			continue
		}
		out = append(out, ws[i])
	}
	return out
}

// IsRedirection reports whether the word w is a redirection (>file, <in,
// &>log, 2>&1).
func IsRedirection(w string) bool {
	w = strings.TrimLeft(w, "0123456789")
	return strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<") || strings.HasPrefix(w, "&>")
}

// Expand removes quotes from w.raw and expands $NAME and ${NAME} from
// vars; it marks the word dynamic when an expansion is unknown.
func Expand(w ShellWord, vars map[string]string) ShellWord {
	raw := w.Raw
	switch strings.Trim(raw, `"`) {
	case "$@", "$*", "${@}", "${*}":
		w.Param = "@"
		return w
	}
	if t := strings.Trim(raw, `"`); len(t) == 2 && t[0] == '$' && t[1] >= '0' && t[1] <= '9' {
		w.Param = t[1:]
		return w
	}
	var b strings.Builder
	quote := byte(0)
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		switch {
		case quote == '\'' && ch != '\'':
			b.WriteByte(ch)
		case ch == '\'' && quote == 0:
			quote = '\''
		case ch == '\'' && quote == '\'':
			quote = 0
		case ch == '"' && quote == 0:
			quote = '"'
		case ch == '"' && quote == '"':
			quote = 0
		case ch == '\\' && i+1 < len(raw):
			i++
			b.WriteByte(raw[i])
		case ch == '`':
			w.Dynamic = true
			b.WriteByte(ch)
		case ch == '$':
			name, n := varName(raw[i+1:])
			if name == "" {
				w.Dynamic = true
				b.WriteByte(ch)
				continue
			}
			v, ok := vars[name]
			if !ok {
				w.Dynamic = true
				b.WriteString(raw[i : i+1+n])
			} else {
				b.WriteString(v)
			}
			i += n
		default:
			b.WriteByte(ch)
		}
	}
	w.Lit = b.String()
	return w
}

// varName reads a $NAME or ${NAME} reference after the "$"; n is the
// number of bytes consumed. ${NAME...} with operators returns "".
func varName(s string) (name string, n int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", 0
		}
		inner := s[1:end]
		for i, r := range inner {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
				return "", 0
			}
		}
		return inner, end + 1
	}
	i := 0
	for i < len(s) {
		r := s[i]
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			i++
			continue
		}
		break
	}
	return s[:i], i
}

// litArgs returns the words as arguments: "$@" and "$N" expand to the
// given positional parameters when known (pos non-nil); exact is false when
// a word is only known at run time.
func litArgs(ws []ShellWord, pos []string, posKnown bool) (args []string, exact bool) {
	exact = true
	for _, w := range ws {
		switch {
		case w.Param == "@" && posKnown:
			args = append(args, pos...)
		case w.Param != "" && posKnown:
			if n := int(w.Param[0] - '0'); n >= 1 && n <= len(pos) {
				args = append(args, pos[n-1])
			} else if n == 0 {
				args, exact = append(args, w.Raw), false
			}
		case w.Param != "" || w.Dynamic:
			args, exact = append(args, w.Raw), false
		default:
			args = append(args, w.Lit)
		}
	}
	return args, exact
}

// lastExec finds the program a shell script's last `exec` line starts.
// Variables come from simple assignments in the script (a name assigned
// twice with different values is unknown) and from the image's ENV;
// "$@" and "$1" stand for the script's own arguments unless the script
// changes them (set --, shift). It returns the program name and its
// arguments, the script's variables, or "" and why the line could not be
// followed ("" when there is no exec line).
func lastExec(text string, env []string, scriptArgs []string) (name string, args []string, exact bool, vars map[string]string, why string) {
	vars = map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	assigned := map[string]bool{} // set by the script
	unknown := map[string]bool{}
	positional := true
	var last []ShellWord
	for _, c := range ParseShell(text) {
		ws := c.Words
		for len(ws) > 0 && shellKeywords[ws[0].Raw] {
			ws = ws[1:]
		}
		if len(ws) == 0 {
			continue
		}
		switch ws[0].Raw {
		case "export", "readonly", "local", "declare", "typeset":
			ws = ws[1:]
			if len(ws) == 0 || !IsAssignment(ws[0]) {
				continue
			}
		case "set":
			if len(ws) > 1 && (ws[1].Raw == "--" || !strings.HasPrefix(ws[1].Raw, "-") && !strings.HasPrefix(ws[1].Raw, "+")) {
				positional = false
			}
			continue
		case "shift":
			positional = false
			continue
		case "exec":
			if ops := ExecOperands(ws[1:]); len(ops) > 0 {
				last = ops
			}
			continue
		}
		// Assignments alone on a command set script variables; a variable
		// assigned twice with different values is unknown.
		for _, w := range ws {
			if !IsAssignment(w) {
				ws = nil
				break
			}
		}
		for _, w := range ws {
			name, val, _ := strings.Cut(w.Raw, "=")
			e := Expand(ShellWord{Raw: val}, vars)
			switch {
			case e.Dynamic || e.Param != "":
				unknown[name] = true
			case assigned[name] && vars[name] != e.Lit:
				unknown[name] = true
			default:
				vars[name] = e.Lit
				assigned[name] = true
			}
		}
	}
	for k := range unknown {
		delete(vars, k)
	}
	if last == nil {
		return "", nil, false, vars, ""
	}
	var words []ShellWord
	for _, w := range last {
		words = append(words, Expand(w, vars))
	}
	first := words[0]
	switch {
	case first.Param != "":
		if !positional {
			return "", nil, false, vars, fmt.Sprintf("its last exec runs %s after the script changes its arguments (set --/shift); not followed", first.Raw)
		}
		var pargs []string
		if first.Param == "@" {
			pargs = scriptArgs
		} else if n := int(first.Param[0] - '0'); n >= 1 && n <= len(scriptArgs) {
			pargs = scriptArgs[n-1:]
			pargs = pargs[:1]
		}
		if len(pargs) == 0 {
			return "", nil, false, vars, fmt.Sprintf("its last exec runs %s, but the script gets no arguments", first.Raw)
		}
		rest, exact := litArgs(words[1:], scriptArgs, positional)
		return pargs[0], append(append([]string{}, pargs[1:]...), rest...), exact, vars, ""
	case first.Dynamic:
		return "", nil, false, vars, fmt.Sprintf("its last exec runs %s, which is only known at run time; not followed", first.Raw)
	case first.Lit == "":
		return "", nil, false, vars, "its last exec runs an empty word"
	}
	rest, exact := litArgs(words[1:], scriptArgs, positional)
	return first.Lit, rest, exact, vars, ""
}

// Helpers the chain checks (LD203–LD208) share.

// ChainEvidence is the evidence common to a finding on link i: the config
// fields, the chain up to the link, and the file it names.
func ChainEvidence(t *Target, c *Chain, i int) []string {
	ev := t.Argv().Evidence()
	if i > 0 || len(c.Links[i].Lookup.Resolution().Chain) > 0 {
		ev = append(ev, "chain: "+c.Describe(i))
	}
	l := &c.Links[i]
	if r := l.Lookup.Resolution(); len(r.Chain) > 0 {
		ev = append(ev, "symlinks: "+FormatChain(r))
	}
	if l.Entry != nil {
		ev = append(ev, l.Path+": "+t.Describe(l.Entry))
	}
	return ev
}

// Origin says where link i's name was written, for messages:
// `ENTRYPOINT` or `the #! line of /var/task/app`.
func (c *Chain) Origin(i int) string {
	l := &c.Links[i]
	switch l.Role {
	case RoleEntrypoint, RoleCmd:
		return l.Role
	case RoleInterpreter:
		return "the #! line of " + l.From
	case RoleEnvProgram:
		if i > 0 && c.Links[i-1].Role == RoleInterpreter {
			return "the #! line of " + c.Links[i-1].From + " (through env)"
		}
		return "env (" + c.Origin(max(i-1, 0)) + ")"
	case RoleShellCommand:
		return "the shell command of " + c.Origin(0)
	}
	return "the exec line of " + l.From
}

// UTF8BOM is the UTF-8 byte-order mark, EF BB BF.
const UTF8BOM = "\xef\xbb\xbf"

// LooksText reports whether b could be a text file: no NUL byte.
func LooksText(b []byte) bool { return !bytes.ContainsRune(b, 0) }

// PackageHint is the Dockerfile line that installs a program of the given
// name with the image's package manager, or "" when none is known.
func PackageHint(fsys *imagefs.FS, prog string) string {
	has := func(p string) bool { r := fsys.Resolve(p); return r.Err == nil && r.Entry != nil }
	switch {
	case has("/sbin/apk") || has("/etc/alpine-release"):
		return "RUN apk add --no-cache " + prog
	case has("/usr/bin/apt-get"):
		return "RUN apt-get update && apt-get install -y --no-install-recommends " + prog
	case has("/usr/bin/microdnf"):
		return "RUN microdnf install -y " + prog
	case has("/usr/bin/dnf"):
		return "RUN dnf install -y " + prog
	case has("/usr/bin/yum"):
		return "RUN yum install -y " + prog
	}
	return ""
}

// CommandChain returns the chain for checks that follow it: nil and no
// error when the image has no command (LD201's case), nil and ErrNotApplicable when
// no filesystem was loaded.
func (t *Target) CommandChain() (*Chain, error) {
	if t.Argv().Empty() {
		return nil, nil
	}
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrNotApplicable)
	}
	return t.Chain(), nil
}
