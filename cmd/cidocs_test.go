package cmd

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	yaml "go.yaml.in/yaml/v3"

	"github.com/lambdoctor/lambdoctor/report"
)

// repoFile reads a file at the repository root.
func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeBlock is one fenced block of a Markdown file.
type codeBlock struct {
	lang, body string
	line       int
}

func codeBlocks(md string) []codeBlock {
	var blocks []codeBlock
	var cur *codeBlock
	sc := bufio.NewScanner(strings.NewReader(md))
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			if cur == nil {
				cur = &codeBlock{lang: strings.TrimPrefix(strings.TrimSpace(l), "```"), line: n + 1}
			} else {
				blocks = append(blocks, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.body += l + "\n"
		}
	}
	return blocks
}

// lambdoctorCall finds "lambdoctor ARGS" where lambdoctor is a command word
// (after the start of the line, a space, a quote, "- ", "run: ", "&&", ...),
// not part of a module path or action reference.
var lambdoctorCall = regexp.MustCompile(`(?:^|[\s'"(;&|])lambdoctor\s+(.*)$`)

// commandLines returns the argument lists of every lambdoctor command in
// text, joining backslash-continued lines.
func commandLines(text string) [][]string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out [][]string
	for _, l := range strings.Split(text, "\n") {
		m := lambdoctorCall.FindStringSubmatch(stripComment(l))
		if m == nil {
			continue
		}
		out = append(out, shellWords(m[1]))
	}
	return out
}

// stripComment drops a shell or YAML comment: from a # at the start of the
// line or after a blank, outside quotes.
func stripComment(l string) string {
	var quote byte
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t'):
			return l[:i]
		}
	}
	return l
}

// shellWords splits a shell command line into words, stopping at an
// operator (&& || ; | > < #) or at a quote that does not close on the line
// (the end of a string the command sits in, as in Jenkins' sh '...').
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, w.String())
		}
		w.Reset()
		inWord = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				flush()
				return words
			}
			w.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case c == '\\' && i+1 < len(s):
			w.WriteByte(s[i+1])
			inWord = true
			i++
		case strings.IndexByte("&|;<>", c) >= 0 || (c == '#' && !inWord):
			flush()
			// "2>" and friends: drop a trailing fd number.
			if n := len(words); n > 0 && c == '>' && words[n-1] == "2" {
				words = words[:n-1]
			}
			return words
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}

// checkCommandLine parses args against a fresh command tree as cobra
// would, without running anything: the subcommand must exist, its flags
// must parse, its arguments must be accepted, and values of the flags with
// a fixed set of values must be among them (unless they are variables).
func checkCommandLine(args []string) error {
	root := docsRoot()
	c, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if c == root && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		return fmt.Errorf("unknown command %q", rest[0])
	}
	if err := c.ParseFlags(rest); err != nil {
		return err
	}
	if c.Args != nil {
		if err := c.Args(c, c.Flags().Args()); err != nil {
			return err
		}
	}
	if !c.Runnable() && !slices.ContainsFunc(rest, func(a string) bool { return a == "--version" || a == "--help" || a == "-h" }) {
		return fmt.Errorf("%q needs a subcommand", c.CommandPath())
	}
	values := flagValues()
	var bad error
	c.Flags().Visit(func(f *pflag.Flag) {
		var given []string
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			given = sv.GetSlice()
		} else {
			given = []string{f.Value.String()}
		}
		for _, v := range given {
			if strings.Contains(v, "$") {
				continue
			}
			if f.Name == "output" {
				format, path, ok := strings.Cut(v, "=")
				if !ok || path == "" || !slices.Contains(report.Formats(), format) {
					bad = fmt.Errorf("--output %q: want FORMAT=PATH with FORMAT one of %v", v, report.Formats())
				}
				continue
			}
			allowed, ok := values[f.Name]
			if f.Name == "format" {
				allowed, ok = formatsOf(c.Name()), true
			}
			if ok && !slices.Contains(allowed, v) {
				bad = fmt.Errorf("--%s %q: want one of %v", f.Name, v, allowed)
			}
		}
	})
	return bad
}

func TestCheckCommandLineRejects(t *testing.T) {
	// The checker itself must catch drift, or the docs tests prove nothing.
	for _, line := range []string{
		"inspect --frobnicate fn.tar",
		"inspect --format xml fn.tar",
		"inspect --output xml=out.xml fn.tar",
		"inspect --output sarif fn.tar",
		"inspect --arch sparc fn.tar",
		"frobnicate",
		"hook instal",
		"hook install extra-arg",
	} {
		if err := checkCommandLine(strings.Fields(line)); err == nil {
			t.Errorf("lambdoctor %s: accepted, want an error", line)
		}
	}
	for _, line := range []string{
		"inspect --format json fn.tar",
		"inspect --arch $ARCH fn.tar",
		"hook install --force",
		"completion bash",
		"--version",
	} {
		if err := checkCommandLine(strings.Fields(line)); err != nil {
			t.Errorf("lambdoctor %s: %v", line, err)
		}
	}
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`inspect --arch "$ARCH" --output "sarif=$F" "$IMAGE"`, []string{"inspect", "--arch", "$ARCH", "--output", "sarif=$F", "$IMAGE"}},
		{`inspect --output junit=x.xml fn.tar'`, []string{"inspect", "--output", "junit=x.xml", "fn.tar"}},
		{`completion bash > /etc/x`, []string{"completion", "bash"}},
		{`hook install --force    # keeps it`, []string{"hook", "install", "--force"}},
		{`inspect a.tar && echo ok`, []string{"inspect", "a.tar"}},
		{`inspect 'x y' 2>/dev/null`, []string{"inspect", "x y"}},
	}
	for _, tt := range tests {
		if got := shellWords(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("shellWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestCIDocsCommands checks every lambdoctor command line in docs/ci.md
// against the command tree, and that every YAML block parses.
func TestCIDocsCommands(t *testing.T) {
	md := repoFile(t, "docs/ci.md")
	blocks := codeBlocks(md)
	if len(blocks) < 8 {
		t.Fatalf("docs/ci.md has %d code blocks; the extraction is broken", len(blocks))
	}
	seen := map[string]bool{}
	n := 0
	for _, b := range blocks {
		if b.lang == "yaml" {
			var v any
			if err := yaml.Unmarshal([]byte(b.body), &v); err != nil {
				t.Errorf("docs/ci.md:%d: YAML block does not parse: %v", b.line, err)
			}
		}
		for _, args := range commandLines(b.body) {
			n++
			if len(args) > 0 {
				seen[args[0]] = true
			}
			if err := checkCommandLine(args); err != nil {
				t.Errorf("docs/ci.md:%d: lambdoctor %s: %v", b.line, strings.Join(args, " "), err)
			}
		}
	}
	// Inline commands in the prose are examples too.
	for _, m := range regexp.MustCompile("`lambdoctor ([^`]+)`").FindAllStringSubmatch(md, -1) {
		n++
		if err := checkCommandLine(shellWords(m[1])); err != nil {
			t.Errorf("docs/ci.md: `lambdoctor %s`: %v", m[1], err)
		}
	}
	for _, want := range []string{"inspect", "hook", "completion"} {
		if !seen[want] {
			t.Errorf("docs/ci.md has no `lambdoctor %s` example in a code block", want)
		}
	}
	if n < 10 {
		t.Errorf("found only %d lambdoctor command lines in docs/ci.md", n)
	}
}

// actionFile is the part of action.yml the tests read.
type actionFile struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Author      string            `yaml:"author"`
	Branding    map[string]string `yaml:"branding"`
	Inputs      map[string]struct {
		Description        string `yaml:"description"`
		Required           bool   `yaml:"required"`
		Default            string `yaml:"default"`
		DeprecationMessage string `yaml:"deprecationMessage"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID    string            `yaml:"id"`
			Name  string            `yaml:"name"`
			If    string            `yaml:"if"`
			Shell string            `yaml:"shell"`
			Uses  string            `yaml:"uses"`
			Run   string            `yaml:"run"`
			Env   map[string]string `yaml:"env"`
			With  map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

// TestActionYAML checks the GitHub Action: its lambdoctor command lines
// parse against the command tree, the inputs it references exist, it
// uploads SARIF, and the workflow in docs/ci.md passes only inputs the
// action declares.
func TestActionYAML(t *testing.T) {
	src := repoFile(t, "action.yml")
	var a actionFile
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Runs.Using != "composite" || a.Name == "" || a.Description == "" {
		t.Errorf("runs.using = %q, name %q, description %q: want composite, and a name and description", a.Runs.Using, a.Name, a.Description)
	}
	for _, in := range []string{"image", "arch", "fail-on", "dockerfile", "sarif-file", "upload-sarif", "version"} {
		if _, ok := a.Inputs[in]; !ok {
			t.Errorf("action.yml lacks input %q", in)
		}
	}
	// The metadata GitHub requires of a composite action
	// (https://docs.github.com/en/actions/sharing-automations/creating-actions/metadata-syntax-for-github-actions):
	// every input and output described, every output a value, every run
	// step a shell, and step ids unique.
	for k, in := range a.Inputs {
		if in.Description == "" {
			t.Errorf("input %q has no description", k)
		}
	}
	for k, out := range a.Outputs {
		if out.Description == "" || out.Value == "" {
			t.Errorf("output %q needs a description and a value", k)
		}
	}
	ids := map[string]bool{}
	for i, s := range a.Runs.Steps {
		if (s.Run == "") == (s.Uses == "") {
			t.Errorf("step %d (%s) needs exactly one of run and uses", i, s.Name)
		}
		if s.Run != "" && s.Shell == "" {
			t.Errorf("step %d (%s) runs a script without shell:", i, s.Name)
		}
		if s.ID != "" && ids[s.ID] {
			t.Errorf("step id %q twice", s.ID)
		}
		ids[s.ID] = true
	}
	for _, m := range regexp.MustCompile(`steps\.([A-Za-z0-9_-]+)\.outputs`).FindAllStringSubmatch(src, -1) {
		if !ids[m[1]] {
			t.Errorf("action.yml reads the outputs of an unknown step %q", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`inputs\.([A-Za-z0-9_-]+)`).FindAllStringSubmatch(src, -1) {
		if _, ok := a.Inputs[m[1]]; !ok {
			t.Errorf("action.yml references undeclared input %q", m[1])
		}
	}
	var cmds int
	var uploads, verifies, builds bool
	for _, s := range a.Runs.Steps {
		if strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@") {
			uploads = strings.Contains(s.If, "steps.sarif.outputs.upload == 'true'")
		}
		if strings.Contains(s.Run, "checksums.txt") && strings.Contains(s.Run, "refusing to run it") {
			verifies = true
		}
		if strings.Contains(s.Run, "go build -trimpath") && strings.Contains(s.If, "source == 'true'") {
			builds = true
		}
		if strings.HasPrefix(s.Uses, "actions/setup-go@") {
			t.Errorf("action.yml uses actions/setup-go, which changes the caller's Go for the rest of the job")
		}
		for _, args := range commandLines(s.Run) {
			cmds++
			if err := checkCommandLine(args); err != nil {
				t.Errorf("action.yml: lambdoctor %s: %v", strings.Join(args, " "), err)
			}
			if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "sarif=") }) {
				t.Errorf("action.yml: lambdoctor %s writes no SARIF (--output sarif=...)", strings.Join(args, " "))
			}
		}
	}
	if cmds == 0 || !uploads || !verifies || !builds {
		t.Errorf("action.yml: %d lambdoctor commands, conditional upload-sarif %v, checksum verification %v, source build fallback %v; want all", cmds, uploads, verifies, builds)
	}

	// The workflows in docs/ci.md that use the action pass declared inputs.
	used := 0
	for _, b := range codeBlocks(repoFile(t, "docs/ci.md")) {
		if b.lang != "yaml" {
			continue
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Uses string         `yaml:"uses"`
					With map[string]any `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if yaml.Unmarshal([]byte(b.body), &wf) != nil {
			continue
		}
		for _, j := range wf.Jobs {
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "lambdoctor/lambdoctor@") {
					continue
				}
				used++
				for k := range s.With {
					if _, ok := a.Inputs[k]; !ok {
						t.Errorf("docs/ci.md:%d: the action has no input %q", b.line, k)
					}
				}
				for k, in := range a.Inputs {
					if _, ok := s.With[k]; in.Required && !ok {
						t.Errorf("docs/ci.md:%d: required input %q missing", b.line, k)
					}
				}
			}
		}
	}
	if used == 0 {
		t.Errorf("docs/ci.md shows no workflow using the action")
	}
}

// TestPreCommitHooksYAML checks the pre-commit framework manifest.
func TestPreCommitHooksYAML(t *testing.T) {
	var hooks []struct {
		ID            string   `yaml:"id"`
		Name          string   `yaml:"name"`
		Entry         string   `yaml:"entry"`
		Language      string   `yaml:"language"`
		Stages        []string `yaml:"stages"`
		PassFilenames *bool    `yaml:"pass_filenames"`
		AlwaysRun     bool     `yaml:"always_run"`
		MinVersion    string   `yaml:"minimum_pre_commit_version"`
	}
	if err := yaml.Unmarshal([]byte(repoFile(t, ".pre-commit-hooks.yaml")), &hooks); err != nil {
		t.Fatalf(".pre-commit-hooks.yaml: %v", err)
	}
	if len(hooks) != 1 {
		t.Fatalf("want one hook, got %d", len(hooks))
	}
	h := hooks[0]
	if h.ID != "lambdoctor" || h.Language != "golang" || !slices.Equal(h.Stages, []string{"push"}) ||
		h.PassFilenames == nil || *h.PassFilenames || !h.AlwaysRun || h.MinVersion != "2.17.0" {
		t.Errorf("hook = %+v; want id lambdoctor, language golang, stages [push] (pre-commit before 3.2 rejects pre-push), pass_filenames false, always_run true, minimum_pre_commit_version 2.17.0", h)
	}
	args := strings.Fields(h.Entry)
	if len(args) == 0 || args[0] != "lambdoctor" {
		t.Fatalf("entry %q does not run lambdoctor", h.Entry)
	}
	if err := checkCommandLine(args[1:]); err != nil {
		t.Errorf("entry %q: %v", h.Entry, err)
	}
}

// TestREADMECommands checks the lambdoctor command lines in the README's
// code blocks against the command tree.
func TestREADMECommands(t *testing.T) {
	n := 0
	for _, b := range codeBlocks(repoFile(t, "README.md")) {
		if b.lang != "sh" {
			continue
		}
		for _, args := range commandLines(b.body) {
			n++
			if err := checkCommandLine(args); err != nil {
				t.Errorf("README.md:%d: lambdoctor %s: %v", b.line, strings.Join(args, " "), err)
			}
		}
	}
	if n < 5 {
		t.Errorf("found only %d lambdoctor command lines in README.md", n)
	}
}
