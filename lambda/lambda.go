// Package lambda is lambdoctor's model of the platform contract a Lambda
// container image runs under: the user it runs as, the PATH a bare argv[0]
// is looked up on, the environment Lambda sets and the names it reserves,
// its limits and architectures. inspect judges an image against this model
// and run boots it under the same one, so the two commands cannot disagree
// about what Lambda does.
//
// Sources: the AWS Lambda Developer Guide ("Defined runtime environment
// variables", https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html;
// "Lambda quotas", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html;
// "Lambda instruction set architectures",
// https://docs.aws.amazon.com/lambda/latest/dg/foundation-arch.html).
// Where a value is observed rather than documented, its comment says so.
package lambda

import (
	"strconv"
	"strings"
	"time"
)

// The sandbox user. Lambda ignores the image's USER and runs the function
// as a least-privileged user that owns no image file. Observed (not
// documented) as uid=993(sbx_user1051) gid=990 with no supplementary
// groups, so in practice the "other" permission bits decide.
const (
	UID = 993
	GID = 990
)

// Directories Lambda's environment names (LAMBDA_TASK_ROOT and
// LAMBDA_RUNTIME_DIR; documented values).
const (
	TaskRoot   = "/var/task"
	RuntimeDir = "/var/runtime"
)

// DefaultPATH is the PATH the function's environment gets when neither the
// image's ENV nor the function's configuration sets one: the value the
// Developer Guide documents for PATH ("/usr/local/bin:/usr/bin/:/bin:/opt/bin").
//
// Unconfirmed: AWS does not say which PATH Lambda's launcher searches for
// a bare argv[0] (an ENTRYPOINT of "node" rather than "/usr/local/bin/node").
// lambdoctor uses the environment's PATH for that lookup in both inspect
// and run, so the two agree; findings that depend on it say so.
const DefaultPATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"

// DockerDefaultPATH is the PATH Docker gives a container whose image sets
// none. A local `docker run` finds a bare argv[0] on it, so an image that
// works locally may not find the same program on DefaultPATH.
const DockerDefaultPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Getenv returns the value of key in an environment list ("KEY=value").
// The last assignment wins, as it does when Docker and Lambda apply ENV.
func Getenv(env []string, key string) (string, bool) {
	val, ok := "", false
	for _, kv := range env {
		k, v, found := strings.Cut(kv, "=")
		if found && k == key {
			val, ok = v, true
		}
	}
	return val, ok
}

// SearchPATH returns the PATH a bare argv[0] is looked up on and the
// function's environment carries: the image's ENV PATH, or DefaultPATH
// (fromImage false) when the image sets none.
func SearchPATH(imageEnv []string) (value string, fromImage bool) {
	if v, ok := Getenv(imageEnv, "PATH"); ok {
		return v, true
	}
	return DefaultPATH, false
}

// Reserved lists the environment variables Lambda sets itself and refuses
// in a function's configuration, in the Developer Guide's order.
var Reserved = []string{
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
	"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
	"LAMBDA_RUNTIME_DIR", "TZ",
}

// IsReserved reports whether name is in Reserved.
func IsReserved(name string) bool {
	for _, r := range Reserved {
		if r == name {
			return true
		}
	}
	return false
}

// ValidEnvName reports whether Lambda accepts name in a function's
// configuration: letters, digits and underscores, starting with a letter.
func ValidEnvName(name string) bool {
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r == '_' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return name != ""
}

// Function is the configuration of a function that sets its environment.
type Function struct {
	Name     string
	Region   string
	MemoryMB int
	// Handler is _HANDLER: the image's CMD (or the ImageConfig command)
	// joined, as Lambda passes it; empty leaves _HANDLER unset.
	Handler string
	// RuntimeAPI is AWS_LAMBDA_RUNTIME_API, host:port.
	RuntimeAPI string
	// Env is the function's configured variables (KEY=value); none may be
	// reserved.
	Env []string
}

// Environment is the environment a function's process starts with: the
// image's ENV, then LANG, then the function's configured variables, then
// what Lambda sets, which wins. PATH gets DefaultPATH when neither the
// image nor the function sets one. Order is first assignment, so the
// result is stable.
func Environment(imageEnv []string, fn Function) []string {
	var keys []string
	vals := map[string]string{}
	set := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return
		}
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	for _, kv := range imageEnv {
		set(kv)
	}
	// LANG is not reserved: Lambda sets it, the configuration may change it.
	set("LANG=en_US.UTF-8")
	for _, kv := range fn.Env {
		set(kv)
	}
	if _, ok := vals["PATH"]; !ok {
		set("PATH=" + DefaultPATH)
	}
	set("AWS_LAMBDA_RUNTIME_API=" + fn.RuntimeAPI)
	set("LAMBDA_TASK_ROOT=" + TaskRoot)
	set("LAMBDA_RUNTIME_DIR=" + RuntimeDir)
	set("AWS_REGION=" + fn.Region)
	set("AWS_DEFAULT_REGION=" + fn.Region)
	set("AWS_LAMBDA_FUNCTION_NAME=" + fn.Name)
	set("AWS_LAMBDA_FUNCTION_VERSION=$LATEST")
	set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(fn.MemoryMB))
	set("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand")
	set("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + fn.Name)
	set("AWS_LAMBDA_LOG_STREAM_NAME=lambdoctor/[$LATEST]local")
	set("TZ=:UTC")
	if fn.Handler != "" {
		set("_HANDLER=" + fn.Handler)
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+vals[k])
	}
	return out
}

// Limits Lambda documents ("Lambda quotas").
const (
	MinMemoryMB = 128
	MaxMemoryMB = 10240
	// MaxTimeout is the longest a function may be configured to run.
	MaxTimeout = 900 * time.Second
	// InitTimeout is the init phase's limit: the runtime must ask for its
	// first event (GET /runtime/invocation/next) within it.
	InitTimeout = 10 * time.Second
	// MinTmpMB and MaxTmpMB bound the ephemeral storage at /tmp.
	MinTmpMB = 512
	MaxTmpMB = 10240
	// MaxPayloadBytes is the synchronous invocation payload limit (6 MB),
	// for requests and responses.
	MaxPayloadBytes = 6 * 1024 * 1024
	// MaxImageBytes is the largest uncompressed container image Lambda
	// runs, all layers included (10 GB).
	MaxImageBytes = 10 << 30
)

// Architectures are the GOARCH names of the instruction sets Lambda runs
// (x86_64 and arm64, the latter ARMv8 Graviton hosts).
var Architectures = []string{"amd64", "arm64"}

// ArchName is the name Lambda's API gives a GOARCH: "x86_64" for amd64,
// "arm64" for arm64; other values come back unchanged.
func ArchName(goarch string) string {
	if goarch == "amd64" {
		return "x86_64"
	}
	return goarch
}
