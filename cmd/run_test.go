package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/report"
)

func TestParseEnvFlags(t *testing.T) {
	for _, tt := range []struct {
		in      string
		wantErr string
	}{
		{"LOG_LEVEL=debug", ""},
		{"EMPTY=", ""},
		{"A=b=c", ""},
		{"noequals", "want K=V"},
		{"=v", "want K=V"},
		{"1ABC=v", "letters, digits"},
		{"A-B=v", "letters, digits"},
		{"AWS_REGION=eu-west-1", "reserved"},
		{"_HANDLER=x", "reserved"},
		{"TZ=UTC", "reserved"},
	} {
		_, err := parseEnvFlags([]string{tt.in})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "run takes one IMAGE, or --deploy PATH --function-id ID"},
		{[]string{"run", "--format", "sarif", "x.tar"}, "unknown --format"},
		{[]string{"run", "--arch", "mips", "x.tar"}, "unknown --arch"},
		{[]string{"run", "--memory", "64", "x.tar"}, "--memory 64"},
		{[]string{"run", "--timeout", "20m", "x.tar"}, "--timeout"},
		{[]string{"run", "--tmp-size", "100", "x.tar"}, "--tmp-size"},
		{[]string{"run", "--init-timeout", "0s", "x.tar"}, "--init-timeout"},
		{[]string{"run", "--rootfs", "ram", "x.tar"}, `unknown --rootfs "ram" (want auto, memory, disk)`},
		{[]string{"run", "--env", "AWS_LAMBDA_RUNTIME_API=x", "x.tar"}, "reserved"},
		{[]string{"run", "--entrypoint", "[", "x.tar"}, "--entrypoint"},
		{[]string{"run", "--workdir", "task", "x.tar"}, "absolute"},
		{[]string{"run", "--event", "-", "x.tar"}, "not valid JSON"},
		{[]string{"run", "--event", "/nonexistent/event.json", "x.tar"}, "reading --event"},
	} {
		s, _, errb := streams(nil)
		s.In = strings.NewReader("{not json")
		s.Getwd = func() (string, error) { return t.TempDir(), nil }
		if code := Run(context.Background(), tt.args, s); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %s)", tt.args, code, ExitUsage, errb.String())
		}
		if !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%q: stderr %q lacks %q", tt.args, errb.String(), tt.want)
		}
	}
}

func TestReadEvent(t *testing.T) {
	s, _, _ := streams(nil)
	b, err := readEvent(s, "")
	if err != nil || string(b) != "{}" {
		t.Errorf("default event %q, %v; want {}", b, err)
	}
	s.In = strings.NewReader(`{"name":"x"}`)
	if b, err = readEvent(s, "-"); err != nil || string(b) != `{"name":"x"}` {
		t.Errorf("stdin event %q, %v", b, err)
	}
}

// diagFS builds the filesystem of a small image for the diagnosis tests.
func TestRunExitCode(t *testing.T) {
	clean := &report.Report{}
	bad := &report.Report{Findings: []report.Finding{{ID: "LD601", Severity: checks.Error}}}
	for _, tt := range []struct {
		result string
		static *report.Report
		failOn checks.Severity
		want   int
	}{
		{emulate.ResultSuccess, clean, checks.Error, ExitOK},
		{emulate.ResultSuccess, bad, checks.Error, ExitFindings},
		{emulate.ResultSuccess, bad, 0, ExitOK},
		{emulate.ResultInitTimeout, clean, 0, ExitFindings},
		{emulate.ResultStartFailed, clean, checks.Error, ExitFindings},
		{emulate.ResultFunctionError, clean, checks.Error, ExitFindings},
	} {
		if got, _ := exitCode(runVerdict(&emulate.Outcome{Result: tt.result}, tt.static, tt.failOn)); got != tt.want {
			t.Errorf("%s, max %v, fail-on %v: exit %d, want %d", tt.result, tt.static.Max(), tt.failOn, got, tt.want)
		}
	}
}

// TestRunListenUsage: --listen takes a loopback HOST:PORT and no --event
// or document format.
func TestRunListenUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:9000"}, "loopback only"},
		{[]string{"--listen", "9000"}, "want HOST:PORT"},
		{[]string{"--listen", "127.0.0.1:9000", "--event", "-"}, "--event and --listen"},
		{[]string{"--listen", "127.0.0.1:9000", "--format", "json"}, "--format json and --listen"},
	} {
		s, _, errb := streams(nil)
		code := Run(context.Background(), append(append([]string{"run"}, tc.args...), "image.tar"), s)
		if code != ExitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), ExitUsage, tc.want)
		}
	}
}

// TestVerdictLine: a failing run says on stderr which part decided it.
func TestVerdictLine(t *testing.T) {
	static := &report.Report{Findings: []report.Finding{
		{ID: "LD601", Severity: checks.Error},
		{ID: "LD602", Severity: checks.Warning},
		{ID: "LD101", Severity: checks.Error, Suppressed: true},
	}}
	ok := &emulate.Outcome{Result: emulate.ResultSuccess}
	for _, tc := range []struct {
		run    *emulate.Outcome
		failOn checks.Severity
		want   string
	}{
		{ok, checks.Error, "the function answered, but static checks found LD601 at or above --fail-on error"},
		{ok, checks.Warning, "static checks found LD601, LD602 at or above --fail-on warning"},
		{ok, 0, ""},
		{&emulate.Outcome{Result: emulate.ResultInvokeTimeout}, checks.Error, "the function did not answer (invoke-timeout)"},
	} {
		got := verdictLine(tc.run, static, tc.failOn)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("verdictLine(%s, %s) = %q, want %q", tc.run.Result, tc.failOn, got, tc.want)
		}
	}
}
