package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// javaHandlerClassMissing is LD407: the Java runtime interface client
// starts, but the handler's class is on none of the paths its class loader
// searches (AWSLambda.java getLambdaRequestHandlerObject and
// CustomerClassLoader.java: the JVM class path, then the working
// directory, its lib/*.jar and /opt/java/lib/*.jar). The client catches
// the ClassNotFoundException and answers every invoke with it
// (UserFault.makeClassNotFoundUserFault), so init succeeds.
type javaHandlerClassMissing struct{}

func (javaHandlerClassMissing) Meta() Meta {
	return Meta{
		ID:       "LD407",
		Name:     "java-handler-class-missing",
		Title:    "the Java handler's class is on none of the paths the client loads classes from",
		Severity: Error,
		Category: CategoryRuntime,
	}
}

func (c javaHandlerClassMissing) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	if t.FS == nil || t.RIC().Client.Name != analyze.ClientJava {
		return nil, nil
	}
	jc, err := analyze.FindJavaHandlerClass(t)
	if errors.Is(err, analyze.ErrNotApplicable) {
		return nil, fmt.Errorf("%w: %v", ErrSkip, err)
	}
	if err != nil {
		return nil, err
	}
	if jc.Found != "" {
		return nil, nil
	}
	a := t.RIC()
	f := NewFinding(c.Meta(), "")
	f.Source = t.Argv().ConfigField("Cmd")
	f.Path = strings.ReplaceAll(jc.Class, ".", "/") + ".class"
	ev := t.Argv().Evidence()
	ev = append(ev, fmt.Sprintf("handler %s from %s", analyze.QuoteJSON(a.Handler.Value), a.Handler.From))
	ev = append(ev, "runtime client: "+a.Client.Name)
	ev = append(ev, "searched, in order: "+strings.Join(jc.Entries, ", "))
	if len(jc.Looked) > 0 {
		ev = append(ev, "read: "+strings.Join(jc.Looked, "; "))
	}
	f.Evidence = ev
	f.Message = fmt.Sprintf(`%s names the handler %s, but the class %s is in none of the places the Java runtime interface client loads classes from (the JVM class path, the working directory, its lib/*.jar and /opt/java/lib/*.jar). Init succeeds, then every invoke fails with "Class not found: %s" (errorType java.lang.ClassNotFoundException).`, analyze.CmdSource(t), analyze.QuoteJSON(a.Handler.Value), jc.Class, jc.Class)
	f.Fix = fmt.Sprintf("COPY the jar that holds %s (the function's build output, e.g. target/*.jar) into a class path directory, or name the handler's class as it is packaged (package.Class::method)", jc.Class)
	return []Finding{f}, nil
}
