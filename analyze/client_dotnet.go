package analyze

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file is the .NET runtime: Amazon.Lambda.RuntimeSupport started by
// dotnet, or next to the assembly dotnet runs.

// dotnetName matches the name of the .NET host.
var dotnetName = regexp.MustCompile(`^dotnet$`)

// dotnetRICDLL is the assembly of the .NET runtime interface client.
const dotnetRICDLL = "Amazon.Lambda.RuntimeSupport.dll"

func init() {
	register(&runtime{
		Client: ClientDotnet, Language: "dotnet", order: 5,
		interpreter: dotnetName,
		links: []linkRecogniser{{
			prio:   80,
			match:  func(l *Link) bool { return isName(l, dotnetName) && l.Kind == LinkELF },
			follow: (*RICAnalysis).dotnet,
		}},
		marker: "Amazon.Lambda.RuntimeSupport",
		installed: func(t *Target, e *imagefs.Entry) bool {
			return path.Base(e.Path) == dotnetRICDLL && !e.IsDir()
		},
		awsBaseGlobs: []string{"/var/lang/bin/dotnet", "/var/runtime/" + dotnetRICDLL},
		tlsName:      func(n string) bool { return n == "dotnet" },
		tlsStack:     StackOpenSSL,
		tlsWhy:       opensslWhy,
	})
}

func (a *RICAnalysis) dotnet(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	a.Lang, a.LangLink = "dotnet", i
	for j, x := range l.Args {
		if !strings.HasSuffix(strings.ToLower(x), ".dll") {
			continue
		}
		p := t.ResolveArg(x)
		if base(x) == dotnetRICDLL {
			a.setClient(c, i, ClientDotnet, "dotnet", p, fmt.Sprintf("%s runs %s", l.Name, p))
			a.Handler = argHandler(t, c, i, l.Args, j+1)
			return true
		}
		beside := path.Join(path.Dir(p), dotnetRICDLL)
		if r := t.FS.Resolve(beside); r.Err == nil && r.Entry != nil {
			a.setClient(c, i, ClientDotnet, "dotnet", beside, fmt.Sprintf("%s is next to %s", beside, p))
			return true
		}
		a.Program = p
		a.Why = []string{fmt.Sprintf("%s runs %s, and there is no %s next to it", l.Name, p, dotnetRICDLL)}
		return true
	}
	a.Undecided = fmt.Sprintf("%s runs no .dll that could be followed", l.Name)
	return true
}
