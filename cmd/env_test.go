package cmd

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"fail-on": "LAMBDOCTOR_FAIL_ON", "arch": "LAMBDOCTOR_ARCH", "build-arg": "LAMBDOCTOR_BUILD_ARG", "no-cache": "LAMBDOCTOR_NO_CACHE"} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestSplitEnvList(t *testing.T) {
	for v, want := range map[string][]string{
		"LD202":                        {"LD202"},
		"LD202,LD203:/opt/**":          {"LD202", "LD203:/opt/**"},
		"LD202, LD203":                 {"LD202", "LD203"},
		`"A=x,y",B=2`:                  {"A=x,y", "B=2"},
		`"say ""hi""",x`:               {`say "hi"`, "x"},
		"sarif=a.sarif,junit=b.xml":    {"sarif=a.sarif", "junit=b.xml"},
		"LD202:/var/task/{a,b}":        {"LD202:/var/task/{a", "b}"}, // commas split; quote the item
		`"LD202:/var/task/{a,b}",LD1`:  {"LD202:/var/task/{a,b}", "LD1"},
		"LD202:/opt/[ab]*,LD203:/x/**": {"LD202:/opt/[ab]*", "LD203:/x/**"},
	} {
		got, err := splitEnvList(v)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("splitEnvList(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
	for _, v := range []string{"a,,b", `"open`, "a,"} {
		if _, err := splitEnvList(v); err == nil {
			t.Errorf("splitEnvList(%q): no error", v)
		}
	}
}

// TestEnvPrecedence: flags beat variables, variables beat the config
// file, the config file beats the defaults.
func TestEnvPrecedence(t *testing.T) {
	img := writeArchive(t, modeImage(t)) // one error (LD203), one info (LD603)
	tests := []struct {
		name   string
		config string
		env    map[string]string
		args   []string
		want   int
	}{
		{"default fails on error", "", nil, nil, ExitFindings},
		{"config", "fail-on: none\n", nil, nil, ExitOK},
		{"variable beats the config", "fail-on: none\n", map[string]string{"LAMBDOCTOR_FAIL_ON": "error"}, nil, ExitFindings},
		{"variable beats the default", "", map[string]string{"LAMBDOCTOR_FAIL_ON": "none"}, nil, ExitOK},
		{"flag beats the variable", "", map[string]string{"LAMBDOCTOR_FAIL_ON": "none"}, []string{"--fail-on", "error"}, ExitFindings},
		{"empty variable is unset", "fail-on: none\n", map[string]string{"LAMBDOCTOR_FAIL_ON": ""}, nil, ExitOK},
		{"list variable", "", map[string]string{"LAMBDOCTOR_IGNORE": "LD603, entrypoint-not-executable"}, nil, ExitOK},
		{"disable variable", "", map[string]string{"LAMBDOCTOR_DISABLE": "LD203"}, nil, ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, _, errb := inRepo(t, tt.config, "", tt.env)
			if code := Run(context.Background(), append(append([]string{"inspect"}, tt.args...), img), s); code != tt.want {
				t.Errorf("exit %d, want %d; stderr %s", code, tt.want, errb)
			}
		})
	}
}

func TestEnvSetsFlags(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	env := map[string]string{
		"LAMBDOCTOR_FORMAT":  "json",
		"LAMBDOCTOR_ARCH":    "arm64",
		"LAMBDOCTOR_IGNORE":  "LD203",
		"LAMBDOCTOR_DISABLE": "LD601,LD602",
		"LAMBDOCTOR_VERBOSE": "true",
		"LAMBDOCTOR_NAME":    "my-fn",
	}
	s, out, errb := streams(env)
	// LD102, the platform mismatch LAMBDOCTOR_ARCH makes, is an error.
	if code := Run(context.Background(), []string{"inspect", img}, s); code != ExitFindings {
		t.Fatalf("exit %d; stderr %s", code, errb)
	}
	var doc struct {
		Image struct {
			Name     string `json:"name"`
			Platform string `json:"platform"`
		} `json:"image"`
		Findings []suppressedFinding `json:"findings"`
		Checks   []struct{ ID, Status, Error string }
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("LAMBDOCTOR_FORMAT=json: %v\n%s", err, out)
	}
	if doc.Image.Name != "my-fn" {
		t.Errorf("image name %q, want LAMBDOCTOR_NAME's", doc.Image.Name)
	}
	for _, f := range doc.Findings {
		if f.ID == "LD203" && (!f.Suppressed || f.SuppressionReason != "ignored by LAMBDOCTOR_IGNORE (LD203)" || f.SuppressedBy != "command-line") {
			t.Errorf("LD203 %+v, want ignored by LAMBDOCTOR_IGNORE", f)
		}
	}
	disabled := 0
	for _, c := range doc.Checks {
		if strings.Contains(c.Error, "disabled by LAMBDOCTOR_DISABLE") {
			disabled++
		}
	}
	if disabled != 2 {
		t.Errorf("%d checks disabled by LAMBDOCTOR_DISABLE, want 2: %+v", disabled, doc.Checks)
	}
	// LAMBDOCTOR_ARCH=arm64 on an amd64 image: the platform mismatch.
	found := false
	for _, f := range doc.Findings {
		found = found || f.ID == "LD102"
	}
	if !found {
		t.Errorf("LAMBDOCTOR_ARCH=arm64 did not apply: no LD102 in %+v", doc.Findings)
	}
}

// TestEnvBool: a bool variable is the flag given.
func TestEnvBool(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	s, flagOut, _ := streams(nil)
	Run(context.Background(), []string{"inspect", "--compact", img}, s)
	s, envOut, _ := streams(map[string]string{"LAMBDOCTOR_COMPACT": "1"})
	Run(context.Background(), []string{"inspect", img}, s)
	s, plainOut, _ := streams(map[string]string{"LAMBDOCTOR_COMPACT": "false"})
	Run(context.Background(), []string{"inspect", img}, s)
	if envOut.String() != flagOut.String() || plainOut.String() == flagOut.String() {
		t.Errorf("LAMBDOCTOR_COMPACT=1:\n%s\n--compact:\n%s\nLAMBDOCTOR_COMPACT=false:\n%s", envOut, flagOut, plainOut)
	}
}

func TestEnvErrors(t *testing.T) {
	img := writeArchive(t, modeImage(t))
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad bool", map[string]string{"LAMBDOCTOR_NO_COLOR": "maybe"}, []string{"inspect", img}, `LAMBDOCTOR_NO_COLOR="maybe": not a valid --no-color: want true or false`},
		{"bad duration", map[string]string{"LAMBDOCTOR_TIMEOUT": "5"}, []string{"run", img}, `LAMBDOCTOR_TIMEOUT="5": not a valid --timeout: want a duration`},
		{"bad int", map[string]string{"LAMBDOCTOR_MEMORY": "lots"}, []string{"run", img}, `LAMBDOCTOR_MEMORY="lots": not a valid --memory: want a whole number`},
		{"bad list", map[string]string{"LAMBDOCTOR_IGNORE": "LD203,,LD603"}, []string{"inspect", img}, `LAMBDOCTOR_IGNORE="LD203,,LD603": item 2 of the list is empty`},
		{"value checked later names the variable", map[string]string{"LAMBDOCTOR_ARCH": "sparc"}, []string{"inspect", img}, `unknown --arch "sparc" (Lambda runs amd64 (x86_64) or arm64) (--arch comes from LAMBDOCTOR_ARCH)`},
		{"unknown check from the variable", map[string]string{"LAMBDOCTOR_IGNORE": "LD2O3"}, []string{"inspect", img}, `LAMBDOCTOR_IGNORE LD2O3: unknown check "LD2O3"`},
		{"format and output", map[string]string{"LAMBDOCTOR_FORMAT": "json"}, []string{"inspect", "--output", "sarif=-", img}, `--format json both write to stdout (--format comes from LAMBDOCTOR_FORMAT)`},
		{"LAMBDOCTOR_CONFIG keeps its meaning", map[string]string{"LAMBDOCTOR_CONFIG": "/nonexistent/lambdoctor.yaml"}, []string{"inspect", img}, "$LAMBDOCTOR_CONFIG /nonexistent/lambdoctor.yaml: config file not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := streams(tt.env)
			code := Run(context.Background(), tt.args, s)
			if code != ExitUsage || errb.String() != "lambdoctor: "+tt.want+"\n" && !strings.Contains(errb.String(), tt.want) || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q, stdout %q; want 2 and one line with %q", code, errb, out, tt.want)
			}
		})
	}
}

// TestEnvHelp: every command with flags documents its variables in its
// help, the flags added by any file included.
func TestEnvHelp(t *testing.T) {
	s, _, _ := streams(nil)
	root := newRootCmd(s)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		n := 0
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "config" || f.Name == "help" {
				return
			}
			n++
			if !strings.Contains(c.Long, envName(f.Name)) {
				t.Errorf("%s --help does not name %s", c.CommandPath(), envName(f.Name))
			}
		})
		if n > 0 && !strings.Contains(c.Long, "\nEnvironment:\n") {
			t.Errorf("%s --help has no Environment section", c.CommandPath())
		}
	}
	walk(root)

	s, out, _ := streams(nil)
	if code := Run(context.Background(), []string{"inspect", "--help"}, s); code != ExitOK || !strings.Contains(out.String(), "LAMBDOCTOR_FAIL_ON") {
		t.Errorf("inspect --help: exit %d\n%s", code, out)
	}
}
