package checks

import (
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

func ricJar() testimage.File {
	return testimage.Reg("function/aws-lambda-java-runtime-interface-client-2.6.0.jar", 0o644, fixtures.Jar(fixtures.JavaRICClass))
}

var ld407Cases = []checkCase{
	{
		// The class is packaged as com.example.Handler, CMD names example.Handler.
		name: "java: the handler's class is not packaged under that name",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.JavaSpec(ricJar(), testimage.Reg("function/app.jar", 0o644, fixtures.Jar("com/example/Handler.class"))), "amd64")
		},
		verify: expect(Error,
			[]string{`CMD names the handler "example.Handler::handleRequest", but the class example.Handler is in none of the places`, `"Class not found: example.Handler" (errorType java.lang.ClassNotFoundException)`},
			[]string{"searched, in order: /function/*, /function, /function/lib/*, /opt/java/lib/*", "/function/app.jar (1 entries)"},
			nil),
	},
	{
		name: "java: the twin, with the class where the handler names it",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.JavaSpec(ricJar(), testimage.Reg("function/app.jar", 0o644, fixtures.Jar("example/Handler.class"))), "amd64")
		},
	},
	{
		// The client's own loader adds the working directory's class files.
		name: "java: the handler's class file in the working directory",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.JavaSpec(ricJar(), testimage.Dir("function/example", 0), testimage.Reg("function/example/Handler.class", 0o644, "\xca\xfe\xba\xbe")), "amd64")
		},
	},
	{
		name: "java: the handler's jar in /opt/java/lib",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, fixtures.JavaSpec(ricJar(), testimage.Dir("opt/java/lib", 0), testimage.Reg("opt/java/lib/app.jar", 0o644, fixtures.Jar("example/Handler.class"))), "amd64")
		},
	},
	{
		name:   "python image (not a Java client)",
		kind:   clean,
		target: pythonTarget("/usr/local/bin/python", "-m", "awslambdaric"),
	},
}
