package analyze

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// This file is the Java runtime: the client's main class started by java.

// javaName matches the name of the Java launcher.
var javaName = regexp.MustCompile(`^java$`)

// javaRICClass is the main class of the Java runtime interface client.
const javaRICClass = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"

func init() {
	register(&runtime{
		Client: ClientJava, Language: "java", order: 4,
		interpreter: javaName,
		links: []linkRecogniser{{
			prio:   70,
			match:  func(l *Link) bool { return isName(l, javaName) && l.Kind == LinkELF },
			follow: (*RICAnalysis).java,
		}},
		marker: javaRICClass,
		installed: func(t *Target, e *imagefs.Entry) bool {
			b := path.Base(e.Path)
			return strings.HasPrefix(b, "aws-lambda-java-runtime-interface-client") && strings.HasSuffix(b, ".jar")
		},
		awsBaseGlobs: []string{"/var/lang/bin/java"},
		tlsName:      func(n string) bool { return n == "java" },
		tlsStack:     StackJava,
		tlsWhy:       func(string) string { return "a Java runtime" },
	})
}

// java handles a java link: the client is its main class.
func (a *RICAnalysis) java(t *Target, c *Chain, i int) bool {
	l := &c.Links[i]
	for j, arg := range l.Args {
		if arg == javaRICClass {
			a.Handler = argHandler(t, c, i, l.Args, j+1)
			ev := []string{fmt.Sprintf("%s starts the main class %s", l.Path, javaRICClass)}
			if entries, why := javaClassPath(t, l); why == "" && javaExtJars(t, l.Path) == "" {
				s := findJavaClass(t, entries, javaRICClass)
				switch {
				case s.Found != "":
					ev = append(ev, fmt.Sprintf("the class is in %s", s.Found))
				case s.Incomplete == "":
					a.Lang, a.LangLink, a.Link = "java", i, i
					a.Missing = fmt.Sprintf("the entrypoint runs %s with the main class %s, but no entry of its class path (%s) holds that class", l.Name, javaRICClass, strings.Join(entries, ":"))
					a.Why = append([]string{"class path searched: " + strings.Join(s.Looked, "; ")}, a.Why...)
					return true
				}
			}
			a.setClient(c, i, ClientJava, "java", l.Path, ev...)
			return true
		}
	}
	a.Lang, a.LangLink = "java", i
	a.Undecided = fmt.Sprintf("%s does not start %s; the classes or jar it runs were not inspected", l.Path, javaRICClass)
	return true
}
