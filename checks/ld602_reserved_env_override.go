package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// reservedEnvOverride is LD602: the image's ENV sets a variable Lambda
// reserves (it sets them itself and refuses them in the function
// configuration). Whether Lambda's values replace the image's is
// unconfirmed; values equal to Lambda's own (as AWS base images set for
// LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR and TZ) pass.
type reservedEnvOverride struct{}

func (reservedEnvOverride) Meta() Meta {
	return Meta{
		ID:       "LD602",
		Name:     "reserved-env-override",
		Title:    "image ENV sets a variable Lambda reserves",
		Severity: Warning,
		Category: CategoryOf("LD602"),
	}
}

// reservedVar is one reserved variable and what goes wrong if the image's
// value were kept.
type reservedVar struct {
	name string
	// lambdaValues are values Lambda (or the AWS base image) uses: setting
	// one of them changes nothing.
	lambdaValues []string
	// secret hides the value in reports.
	secret bool
	// effect says what the image value would do if it won.
	effect string
	sev    Severity
}

// reservedVars is the Developer Guide's list of reserved variables, in its
// order (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
var reservedVars = []reservedVar{
	{name: "_HANDLER", effect: "the runtime would load this handler instead of the function's (AWS base images overwrite it from CMD in /lambda-entrypoint.sh)"},
	{name: "_X_AMZN_TRACE_ID", effect: "X-Ray tracing would start from a fixed, stale trace header"},
	{name: "AWS_REGION", effect: "SDKs in the function would call this region instead of the one it runs in"},
	{name: "AWS_EXECUTION_ENV", effect: "runtimes and SDKs would report a wrong execution environment"},
	{name: "AWS_LAMBDA_FUNCTION_NAME", effect: "code and extensions would see a wrong function name"},
	{name: "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", effect: "runtimes that size heaps from it (Java, .NET, Node) would use a wrong memory size"},
	{name: "AWS_LAMBDA_FUNCTION_VERSION", effect: "code would see a wrong function version"},
	{name: "AWS_LAMBDA_INITIALIZATION_TYPE", effect: "code would see a wrong initialization type"},
	{name: "AWS_LAMBDA_LOG_GROUP_NAME", effect: "code and extensions would see a wrong log group"},
	{name: "AWS_LAMBDA_LOG_STREAM_NAME", effect: "code and extensions would see a wrong log stream"},
	{name: "AWS_ACCESS_KEY", secret: true, effect: "SDKs would sign requests with these baked-in credentials instead of the execution role's, and anyone who can pull the image can read them"},
	{name: "AWS_ACCESS_KEY_ID", secret: true, effect: "SDKs would sign requests with these baked-in credentials instead of the execution role's, and anyone who can pull the image can read them"},
	{name: "AWS_SECRET_ACCESS_KEY", secret: true, effect: "SDKs would sign requests with these baked-in credentials instead of the execution role's, and anyone who can pull the image can read them"},
	{name: "AWS_SESSION_TOKEN", secret: true, effect: "SDKs would sign requests with this baked-in, soon expired session token instead of the execution role's, and anyone who can pull the image can read it"},
	{name: "AWS_LAMBDA_RUNTIME_API", effect: "the runtime interface client would connect to this address instead of Lambda's Runtime API and init would fail (Runtime.ExitError); locally, the AWS base image's /lambda-entrypoint.sh skips the Runtime Interface Emulator when it is set, so the image cannot be tested with docker run either"},
	{name: "LAMBDA_TASK_ROOT", lambdaValues: []string{"/var/task"}, effect: "code that locates its files through it would look in the wrong directory"},
	{name: "LAMBDA_RUNTIME_DIR", lambdaValues: []string{"/var/runtime"}, effect: "runtimes that locate their files through it would look in the wrong directory"},
	{name: "TZ", lambdaValues: []string{":UTC", "UTC", ":/etc/localtime"}, sev: Info, effect: "the function would use this time zone rather than the :UTC Lambda documents, so local times may differ from what you expect"},
}

func (c reservedEnvOverride) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	cfg := t.Config()
	var out []Finding
	for _, rv := range reservedVars {
		val, ok := analyze.Getenv(cfg.Env, rv.name)
		if !ok {
			continue
		}
		known := false
		for _, lv := range rv.lambdaValues {
			if val == lv {
				known = true
			}
		}
		if known {
			continue
		}
		shown := rv.name + "=" + val
		if rv.secret {
			shown = fmt.Sprintf("%s=<%d characters, hidden>", rv.name, len(val))
		}
		msg := fmt.Sprintf("The image config sets %s, a variable Lambda reserves and sets itself (it cannot be set in the function configuration). Whether Lambda's value replaces the image's ENV value is unconfirmed; if the image's value were kept, %s.", shown, rv.effect)
		f := NewFinding(c.Meta(), msg)
		if rv.sev != 0 {
			f.Severity = rv.sev
		}
		f.Evidence = []string{"config.Env: " + shown}
		f.Source = "Env:" + rv.name
		line := "ENV " + rv.name + "=..."
		if cb := envHistoryLine(t, rv.name); cb != "" {
			if rv.secret {
				cb = "ENV " + rv.name + "=<hidden>"
			}
			f.Evidence = append(f.Evidence, "set by the Dockerfile line: "+cb)
			line = cb
		}
		switch {
		case rv.secret:
			f.Fix = fmt.Sprintf("remove the %s line and give the function's execution role the permissions it needs; rotate the key, since it is readable in the image", line)
			f.Severity = Warning
		case rv.name == "AWS_LAMBDA_RUNTIME_API":
			f.Fix = fmt.Sprintf("remove the %s line; to test locally, run the image under the Runtime Interface Emulator (docker run -p 9000:8080 <image>) and let it set the variable", line)
		default:
			f.Fix = fmt.Sprintf("remove the %s line from the Dockerfile", line)
		}
		out = append(out, f)
	}
	return out, nil
}

// envHistoryLine returns the Dockerfile line of the config history that set
// key (the last one), shortened, or "".
func envHistoryLine(t *analyze.Target, key string) string {
	if t.Image == nil || t.Image.Config == nil {
		return ""
	}
	found := ""
	for _, h := range t.Image.Config.History {
		cb := analyze.CreatedBy(h.CreatedBy)
		if !strings.HasPrefix(cb, "ENV ") {
			continue
		}
		rest := strings.TrimPrefix(cb, "ENV ")
		if strings.HasPrefix(rest, key+"=") || strings.HasPrefix(rest, key+" ") || strings.Contains(rest, " "+key+"=") {
			found = cb
		}
	}
	return found
}
