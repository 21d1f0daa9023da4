package lambda

import (
	"slices"
	"strings"
	"testing"
)

func TestSearchPATH(t *testing.T) {
	if p, from := SearchPATH(nil); p != DefaultPATH || from {
		t.Fatalf("no ENV PATH: got %q, fromImage=%v; want %q, false", p, from, DefaultPATH)
	}
	env := []string{"PATH=/a", "X=1", "PATH=/b:/c"}
	if p, from := SearchPATH(env); p != "/b:/c" || !from {
		t.Fatalf("last PATH wins: got %q, %v", p, from)
	}
}

func TestEnvironment(t *testing.T) {
	image := []string{"PATH=/img/bin", "AWS_REGION=eu-west-1", "APP=image", "LANG=C"}
	env := Environment(image, Function{
		Name: "fn", Region: "us-east-1", MemoryMB: 256, Handler: "app.handler",
		RuntimeAPI: "127.0.0.1:9001", Env: []string{"APP=function", "LANG=fr_FR.UTF-8"},
	})
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Fatalf("%s set twice in %q", k, env)
		}
		got[k] = v
	}
	want := map[string]string{
		"PATH":                            "/img/bin",    // the image's PATH is kept
		"AWS_REGION":                      "us-east-1",   // Lambda's value wins over the image's
		"APP":                             "function",    // configuration wins over the image
		"LANG":                            "fr_FR.UTF-8", // not reserved: configuration may change it
		"_HANDLER":                        "app.handler", //
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",         //
		"AWS_LAMBDA_RUNTIME_API":          "127.0.0.1:9001",
		"LAMBDA_TASK_ROOT":                TaskRoot,
		"LAMBDA_RUNTIME_DIR":              RuntimeDir,
		"TZ":                              ":UTC",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	// The image's first key keeps its place: the order is first assignment.
	if !strings.HasPrefix(env[0], "PATH=") {
		t.Errorf("env[0]=%q, want PATH first", env[0])
	}

	bare := Environment(nil, Function{Name: "fn", Region: "r", MemoryMB: 128})
	if v, _ := Getenv(bare, "PATH"); v != DefaultPATH {
		t.Errorf("no PATH anywhere: PATH=%q, want %q", v, DefaultPATH)
	}
	if _, ok := Getenv(bare, "_HANDLER"); ok {
		t.Errorf("empty handler must leave _HANDLER unset: %q", bare)
	}
}

func TestReservedAndNames(t *testing.T) {
	// Every variable Lambda sets itself in Environment, apart from PATH,
	// LANG and AWS_DEFAULT_REGION (which the Developer Guide lists as not
	// reserved), is reserved.
	env := Environment(nil, Function{Name: "fn", Region: "r", MemoryMB: 128, Handler: "h"})
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "LANG", "AWS_DEFAULT_REGION":
			if IsReserved(k) {
				t.Errorf("%s must not be reserved", k)
			}
		default:
			if !IsReserved(k) {
				t.Errorf("Environment sets %s, which is not in Reserved", k)
			}
		}
	}
	if slices.Contains(Reserved, "PATH") {
		t.Error("PATH is not reserved")
	}
	for name, ok := range map[string]bool{"A": true, "a_1": true, "_A": false, "1A": false, "A-B": false, "": false, "A=B": false} {
		if ValidEnvName(name) != ok {
			t.Errorf("ValidEnvName(%q) = %v, want %v", name, !ok, ok)
		}
	}
	if ArchName("amd64") != "x86_64" || ArchName("arm64") != "arm64" {
		t.Error("ArchName")
	}
}
