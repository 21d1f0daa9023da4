package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// noRuntimeInterfaceClient is LD401: nothing the image starts implements
// the Lambda Runtime API. The entrypoint chain ends in a program that
// never asks Lambda for an event (a plain script, a web server without
// the Lambda Web Adapter, a Go binary without aws-lambda-go), or it names
// a client that is not installed (python -m awslambdaric without the
// package, npx aws-lambda-ric with nothing to run, /lambda-entrypoint.sh
// without /var/runtime/bootstrap). When the chain cannot be followed to a
// program whose code can be judged, the check is skipped rather than
// claiming an absence.
type noRuntimeInterfaceClient struct{}

func (noRuntimeInterfaceClient) Meta() Meta {
	return Meta{
		ID:       "LD401",
		Name:     "no-runtime-interface-client",
		Title:    "nothing in the image implements the Lambda Runtime API",
		Severity: Error,
		Category: CategoryRuntime,
	}
}

// runtimeExitSymptom is what Lambda reports when the runtime never polls.
const runtimeExitSymptom = `Lambda starts the process, but nothing asks for events (GET ` + analyze.RuntimeAPIPath + `): init fails with "Runtime exited without providing a reason" or "Runtime exited with error: exit status N" (errorType Runtime.ExitError) when the program exits, and times out when it keeps running, as a web server does`

func (c noRuntimeInterfaceClient) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	argv := t.Argv()
	if argv.Empty() {
		return nil, nil // LD201's case
	}
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	a := t.RIC()
	if a.Client.Name != "" {
		return nil, nil
	}
	ch := t.Chain()
	f := NewFinding(c.Meta(), "")
	ev := argv.Evidence()
	switch {
	case a.Missing != "":
		return []Finding{missingClientFinding(t, f, a, ch, ev)}, nil
	case a.Undecided != "":
		return nil, fmt.Errorf("%w: could not follow the entrypoint chain far enough to tell: %s", ErrSkip, a.Undecided)
	case a.LangLink < 0:
		return nil, fmt.Errorf("%w: the entrypoint chain ends in nothing whose code could be judged", ErrSkip)
	}
	l := &ch.Links[a.LangLink]
	ev = append(ev, "entrypoint chain: "+ch.Describe(len(ch.Links)-1))
	ev = append(ev, a.Why...)
	ev = append(ev, fmt.Sprintf("no %s in the image", analyze.WebAdapterPath))
	prog := a.Program
	if prog == "" {
		prog = l.Path
	}
	f.Path = prog
	if r := t.FS.Resolve(prog); r.Err == nil && r.Entry != nil {
		f.Layer = layerRef(t, r.Entry.Layer)
		if prog != l.Path {
			ev = append(ev, fmt.Sprintf("%s: %s", prog, t.Describe(r.Entry)))
		}
	}
	what := ""
	switch a.Lang {
	case "python":
		what = fmt.Sprintf("the chain ends in %s running %s, which neither starts the Python runtime interface client (python -m awslambdaric) nor calls the Runtime API", l.Path, prog)
	case "nodejs":
		what = fmt.Sprintf("the chain ends in %s running %s, which neither starts the Node.js runtime interface client (aws-lambda-ric) nor calls the Runtime API", l.Path, prog)
	case "ruby":
		what = fmt.Sprintf("the chain ends in %s running %s, which neither starts the Ruby runtime interface client (aws_lambda_ric) nor calls the Runtime API", l.Path, prog)
	case "dotnet":
		what = fmt.Sprintf("the chain ends in %s running %s, which is not built on Amazon.Lambda.RuntimeSupport", l.Path, prog)
	case "go":
		what = fmt.Sprintf("the chain ends in the Go binary %s, which does not link github.com/aws/aws-lambda-go and does not mention the Runtime API", prog)
	default:
		what = fmt.Sprintf("the chain ends in the binary %s, which does not mention the Runtime API or any runtime interface client", prog)
	}
	msg := "Nothing the image starts implements the Lambda Runtime API: " + what + ". " + runtimeExitSymptom + "."
	if inst := a.InstalledOnly(); inst != "" {
		msg += " " + inst
		for _, ic := range a.Installed {
			ev = append(ev, fmt.Sprintf("%s installed at %s (%s), but not started by the entrypoint", ic.Name, ic.Path, t.LayerLabel(ic.Layer)))
		}
	}
	f.Message = msg
	f.Evidence = ev
	f.Fix = clientFix(t, a, l)
	f.Source = argv.Arg0Field()
	return []Finding{f}, nil
}

// missingClientFinding reports a client named on the chain but absent.
func missingClientFinding(t *analyze.Target, f Finding, a *analyze.RICAnalysis, ch *analyze.Chain, ev []string) Finding {
	l := &ch.Links[a.Link]
	ev = append(ev, "entrypoint chain: "+ch.Describe(a.Link))
	ev = append(ev, a.Why...)
	f.Path = l.Path
	if l.Entry != nil {
		f.Layer = layerRef(t, l.Entry.Layer)
	}
	wd := path.Join("/", t.Argv().WorkingDir)
	switch {
	case l.IsAWSBaseEntrypoint():
		f.Path = "/var/runtime/bootstrap"
		f.Message = upperFirst(a.Missing) + `: a provided.* base image expects your runtime (a binary or a script that polls the Runtime API) there. /lambda-entrypoint.sh execs a file that is not there, so init fails with "Runtime exited with error: exit status 127" (Runtime.ExitError; the text is inferred from the shell's exit status for a missing command).`
		f.Fix = "COPY bootstrap /var/runtime/bootstrap (with RUN chmod 755 /var/runtime/bootstrap), or build from a managed-runtime base image such as public.ecr.aws/lambda/python:3.12"
	case a.Lang == "python":
		ev = append(ev, installedEvidence(t, a, analyze.ClientPython)...)
		f.Message = upperFirst(a.Missing) + `. Python stops with "No module named awslambdaric" before polling the Runtime API, so init fails with "Runtime exited with error: exit status 1" (Runtime.ExitError; the exact Lambda log text for this case is unconfirmed).`
		py := l.Name
		if l.Lookup.Found() {
			py = l.Lookup.Path()
		}
		f.Fix = fmt.Sprintf("RUN %s -m pip install --target %s awslambdaric", py, wd)
		if h := a.MissingHidden; h != nil {
			f.Message += fmt.Sprintf(" The copy at %s does not count: %s.", h.Path, h.Why)
			f.Fix += " (not pip install --user: that installs under the HOME of the user who builds the image, which Lambda's user neither has nor can read)"
		} else if ins := a.InstalledOf(analyze.ClientPython); len(ins) > 0 {
			f.Message += fmt.Sprintf(" A copy is installed at %s, where this python does not look (it was installed for another interpreter or directory; its compiled runtime_client module only loads in the Python it was built for).", ins[0].Path)
		}
	case a.Lang == "nodejs" && a.MissingHidden != nil:
		f.Path = a.MissingHidden.Path
		f.Message = upperFirst(a.Missing) + fmt.Sprintf(`: %s. Node.js cannot load its main module, so it stops before polling the Runtime API ("Error: Cannot find module '%s'" when a directory on the way cannot be searched, "EACCES: permission denied" when the file cannot be read), and init fails with "Runtime exited with error: exit status 1" (Runtime.ExitError).`, a.MissingHidden.Why, a.MissingHidden.Path)
		f.Fix = fmt.Sprintf("install aws-lambda-ric where every user can read it: RUN npm install --prefix %s aws-lambda-ric (or npm install -g with the image's default prefix, /usr/local), then %s", wd, analyze.DockerfileExec("ENTRYPOINT", []string{analyze.NodePath(t, ch), path.Join(wd, "node_modules/aws-lambda-ric/bin/index.mjs")}))
	case a.Lang == "java":
		ev = append(ev, installedEvidence(t, a, analyze.ClientJava)...)
		f.Message = upperFirst(a.Missing) + `. The JVM stops before any code runs with "Error: Could not find or load main class com.amazonaws.services.lambda.runtime.api.client.AWSLambda" (Caused by: java.lang.ClassNotFoundException), so init fails with "Runtime exited with error: exit status 1" (Runtime.ExitError).`
		f.Fix = fmt.Sprintf("put the runtime interface client and its dependencies on the class path: add com.amazonaws:aws-lambda-java-runtime-interface-client to the build, copy the dependencies (mvn dependency:copy-dependencies -DincludeScope=runtime, or Gradle's runtimeClasspath) and COPY them into %s/lib, with -cp \"%s:%s/lib/*\"", wd, wd, wd)
		if ins := a.InstalledOf(analyze.ClientJava); len(ins) > 0 {
			f.Message += fmt.Sprintf(" A runtime client jar is at %s, which is not on that class path.", ins[0].Path)
		}
	default: // npx aws-lambda-ric
		ev = append(ev, installedEvidence(t, a, analyze.ClientNode)...)
		f.Message = upperFirst(a.Missing) + `. On Lambda that download cannot happen: npx writes under HOME on a read-only file system ("npm ERR! code EROFS … mkdir '/home/sbx_user1051'", then "Runtime exited with error: exit status 226", Runtime.ExitError).`
		f.Fix = fmt.Sprintf("RUN npm install --prefix %s aws-lambda-ric, then %s", wd, analyze.DockerfileExec("ENTRYPOINT", []string{analyze.NodePath(t, ch), path.Join(wd, "node_modules/aws-lambda-ric/bin/index.mjs")}))
	}
	f.Evidence = ev
	return f
}

func installedEvidence(t *analyze.Target, a *analyze.RICAnalysis, name string) []string {
	var out []string
	for _, ic := range a.InstalledOf(name) {
		out = append(out, fmt.Sprintf("%s found at %s (%s)", name, ic.Path, t.LayerLabel(ic.Layer)))
	}
	return out
}

// moduleName is the handler module a program file suggests: app.py gives
// "app".
func moduleName(prog string) string {
	b := path.Base(prog)
	if i := strings.IndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	if b == "" || b == "." || b == "/" {
		return "app"
	}
	return b
}

// clientFix is the Dockerfile change that starts a runtime client for the
// language the chain ends in.
func clientFix(t *analyze.Target, a *analyze.RICAnalysis, l *analyze.Link) string {
	wd := path.Join("/", t.Argv().WorkingDir)
	adapter := "or, to keep serving HTTP, add the Lambda Web Adapter: " + analyze.WebAdapterCopy
	mod := moduleName(a.Program)
	switch a.Lang {
	case "python":
		py := l.Name
		if l.Lookup.Found() {
			py = l.Lookup.Path()
		}
		fix := ""
		if len(a.InstalledOf(analyze.ClientPython)) == 0 {
			fix = fmt.Sprintf("RUN %s -m pip install --target %s awslambdaric; ", py, wd)
		}
		if prog := path.Base(a.Program); analyze.WebServers[prog] || analyze.WebServers[strings.SplitN(prog, ".", 2)[0]] {
			return "add the Lambda Web Adapter: " + analyze.WebAdapterCopy + "; or " + fix + analyze.DockerfileExec("ENTRYPOINT", []string{py, "-m", "awslambdaric"}) + " with CMD [\"app.handler\"]"
		}
		return fix + analyze.DockerfileExec("ENTRYPOINT", []string{py, "-m", "awslambdaric"}) + "; " + analyze.DockerfileExec("CMD", []string{mod + ".handler"}) + " (a module with def handler(event, context)); " + adapter
	case "nodejs":
		node := analyze.NodePath(t, t.Chain())
		bin := ""
		if ins := a.InstalledOf(analyze.ClientNode); len(ins) > 0 {
			bin = analyze.NodeRICBin(t, ins[0].Path)
		}
		fix := ""
		if bin == "" {
			fix = fmt.Sprintf("RUN npm install --prefix %s aws-lambda-ric; ", wd)
			bin = path.Join(wd, "node_modules/aws-lambda-ric/bin/index.mjs")
		}
		return fix + analyze.DockerfileExec("ENTRYPOINT", []string{node, bin}) + "; " + analyze.DockerfileExec("CMD", []string{mod + ".handler"}) + " (exports.handler in " + mod + ".js); " + adapter
	case "ruby":
		stub := "/usr/local/bin/aws_lambda_ric"
		fix := "RUN gem install aws_lambda_ric; "
		if gh, ok := analyze.Getenv(t.Config().Env, "GEM_HOME"); ok && strings.HasPrefix(gh, "/") {
			stub = path.Join(gh, "bin/aws_lambda_ric")
		}
		if ins := a.InstalledOf(analyze.ClientRuby); len(ins) > 0 {
			stub, fix = ins[0].Path, ""
		}
		return fix + analyze.DockerfileExec("ENTRYPOINT", []string{stub}) + "; " + analyze.DockerfileExec("CMD", []string{mod + ".handler"}) + " (def handler(event:, context:) in " + mod + ".rb); " + adapter
	case "go":
		return "call lambda.Start(handler) from main (go get github.com/aws/aws-lambda-go/lambda) and rebuild; " + adapter
	case "dotnet":
		return "start Amazon.Lambda.RuntimeSupport's LambdaBootstrap from Main (dotnet add package Amazon.Lambda.RuntimeSupport), or build FROM public.ecr.aws/lambda/dotnet:8; " + adapter
	}
	return "if the program serves HTTP, add the Lambda Web Adapter: " + analyze.WebAdapterCopy + "; otherwise start a runtime interface client (or a bootstrap that polls " + analyze.RuntimeAPIPath + ")"
}
