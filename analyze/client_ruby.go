package analyze

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file is the Ruby runtime: aws_lambda_ric started directly, by ruby
// or by bundle exec, its handler syntax (file.method or
// file.Class.method) and the directories it requires the handler from.

// rubyName matches the names of a Ruby interpreter.
var rubyName = regexp.MustCompile(`^ruby[0-9.]*$`)

func init() {
	register(&runtime{
		Client: ClientRuby, Language: "ruby", order: 3,
		interpreter: rubyName,
		links: []linkRecogniser{{
			// The client's own command (the gem's bin/aws_lambda_ric).
			prio: 10,
			match: func(l *Link) bool {
				nameBase, pathBase := linkBases(l)
				return nameBase == "aws_lambda_ric" || pathBase == "aws_lambda_ric"
			},
			follow: func(a *RICAnalysis, t *Target, c *Chain, i int) bool {
				l := &c.Links[i]
				a.setClient(c, i, ClientRuby, "ruby", l.Path)
				a.Handler = argHandler(t, c, i, l.Args, 0)
				return true
			},
		}, {
			prio:   60,
			match:  func(l *Link) bool { return isName(l, rubyName) && l.Kind == LinkELF },
			follow: (*RICAnalysis).ruby,
		}},
		marker:   "aws_lambda_ric",
		scanExts: []string{".rb"},
		installed: func(t *Target, e *imagefs.Entry) bool {
			return path.Base(e.Path) == "aws_lambda_ric" && !e.IsDir() && path.Base(path.Dir(e.Path)) == "bin" && !strings.Contains(e.Path, "/gems/")
		},
		awsBaseGlobs: []string{"/var/lang/bin/ruby"},
		handler: &handlerSyntax{
			baseLabel: "the AWS Ruby base image's runtime",
			label:     "the Ruby runtime interface client (aws_lambda_ric)",
			sourceExt: ".rb",
			parse:     parseRuby,
			roots:     rootsRuby,
			resolve:   resolveRuby,
			functions: []*regexp.Regexp{regexp.MustCompile(`(?m)^\s*def\s+(?:self\.)?([A-Za-z_]\w*[?!]?)`)},
		},
		tlsName:  func(n string) bool { return strings.HasPrefix(n, "ruby") },
		tlsStack: StackOpenSSL,
		tlsWhy:   opensslWhy,
	})
}

func (a *RICAnalysis) ruby(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	a.Lang, a.LangLink = "ruby", i
	var script string
	j := 0
	for ; j < len(l.Args); j++ {
		x := l.Args[j]
		if x == "-e" {
			a.Undecided = fmt.Sprintf("%s runs -e code, which was not followed", l.Name)
			return true
		}
		if x == "-I" || x == "-r" {
			j++
			continue
		}
		if !strings.HasPrefix(x, "-") {
			script = x
			break
		}
	}
	if script == "" {
		a.Undecided = fmt.Sprintf("%s gets no script to run", l.Name)
		return true
	}
	rest := l.Args[j+1:]
	if (base(script) == "bundle" || base(script) == "bundler") && len(rest) > 1 && rest[0] == "exec" {
		if base(rest[1]) == "aws_lambda_ric" {
			a.setClient(c, i, ClientRuby, "ruby", script, "bundle exec runs aws_lambda_ric")
			a.Handler = argHandler(t, c, i, l.Args, j+3)
			return true
		}
		a.Undecided = fmt.Sprintf("bundle exec runs %q, which was not followed", rest[1])
		return true
	}
	p := t.ResolveArg(script)
	a.Program = p
	a.scanSources(t, c, i, p, "ruby")
	return true
}

// RubySplit is Ruby's String#split('.'): trailing empty fields dropped.
func RubySplit(h string) []string {
	parts := strings.Split(h, ".")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// parseRuby splits a handler the way the ruby client does.
func parseRuby(h string) (p ParsedHandler, bad, errType string) {
	parts := RubySplit(h)
	if len(parts) != 2 && len(parts) != 3 {
		q := make([]string, len(parts))
		for i, s := range parts {
			q[i] = QuoteJSON(s)
		}
		return p, fmt.Sprintf("Invalid handler [%s], must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD where FILENAME corresponds with an existing Ruby source file FILENAME.rb, CLASS is an optional module/class namespace and METHOD is a callable method. If using CLASS, METHOD must be a class-level method.", strings.Join(q, ", ")), "ArgumentError"
	}
	p.Module, p.Func = parts[0], parts[len(parts)-1]
	return p, "", ""
}

// resolveRuby finds the file the ruby client loads for p.
func resolveRuby(t *Target, hs HandlerSpec, p ParsedHandler) (string, []string) {
	var tried []string
	file := p.Module
	cands := []string{}
	switch {
	case strings.HasPrefix(file, "/"):
		cands = append(cands, file+".rb", file+".so", file)
	default:
		for _, root := range hs.Roots {
			f := path.Join(root, file)
			cands = append(cands, f+".rb", f+".so")
			if strings.HasSuffix(file, ".rb") || strings.HasSuffix(file, ".so") {
				cands = append(cands, f)
			}
		}
	}
	for _, f := range cands {
		tried = append(tried, f)
		if r := t.FS.Resolve(f); r.Err == nil && r.Entry != nil && r.Entry.IsRegular() {
			return f, tried
		}
	}
	return "", tried
}

// rootsRuby sets the directories the ruby client searches for the handler.
func rootsRuby(t *Target, hs *HandlerSpec, taskRoot, wd string) error {
	cfg := t.Config()
	hs.Roots = []string{wd}
	hs.RootsWhy = "the working directory, which the RIC puts on $LOAD_PATH, and RUBYLIB"
	if hs.Base {
		hs.Roots = uniq(taskRoot, wd)
		hs.RootsWhy = "LAMBDA_TASK_ROOT, the working directory and RUBYLIB"
	}
	if rl, ok := Getenv(cfg.Env, "RUBYLIB"); ok {
		hs.Roots = uniq(append(hs.Roots, absDirs(rl, ":")...)...)
	}
	return nil
}
