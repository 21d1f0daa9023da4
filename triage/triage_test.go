package triage

import (
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/checks"
)

// Real lines, as Lambda, the Runtime Interface Emulator and the runtime
// clients print them (see the sources in patterns.go) and as the "What you
// see" sections of docs/checks quote them, with the pattern each must take and its subject.
var lines = []struct {
	line, key, subject string
}{
	// Benign and local-only.
	{"bash: ./aws-lambda-rie: cannot execute binary file: Exec format error", "rie-on-host", ""},
	{"/usr/local/bin/aws-lambda-rie: Permission denied", "rie-not-executable", ""},
	{"(rapid) ReserveFailed: AlreadyReserved", "rie-concurrent-invoke", ""},
	{`The extension's directory "/opt/extensions" does not exist, assuming no extensions to be loaded.`, "rie-no-extensions-dir", ""},
	{`time="2023-01-10T10:00:00.000" level=info msg="extensionsDisabledByLayer(/opt/disable-extensions-jwigqn8j) -> stat /opt/disable-extensions-jwigqn8j: no such file or directory"`, "rie-extensions-disabled-by-layer", ""},
	{`level=warning msg="Cannot list external agents" error="open /opt/extensions: no such file or directory"`, "rie-cannot-list-agents-absent", ""},
	{`level=warning msg="Cannot list external agents" error="open /opt/extensions: permission denied"`, "cannot-list-agents", ""},
	{"Starting runtime without AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN , Expected?: false", "rie-no-credentials", ""},
	{"expected AWS Lambda environment variables [AWS_LAMBDA_RUNTIME_API] are not defined", "runtime-api-missing-locally", ""},
	{"ERROR Missing Runtime API Server configuration.", "runtime-api-missing-locally", ""},
	{"terminate called after throwing an instance of 'std::logic_error' what(): basic_string: construction from null is not valid", "runtime-api-missing-locally", ""},
	// Image form.
	{"InvalidParameterValueException: The image manifest, config or layer media type for the source image 123456789012.dkr.ecr.us-east-1.amazonaws.com/fn:latest is not supported.", "media-type-rejected", ""},
	{"The image manifest or layer media type for the source image 1234.dkr.ecr.eu-west-1.amazonaws.com/x@sha256:abc is not supported.", "media-type-rejected", ""},
	{"ERROR: Lambda cannot initialize the provided container image. Verify the image.", "cannot-initialize-image", ""},
	{"InvalidImage(ImageLayerFailure: UnsupportedImageLayerDetected - Layer Digest sha256:0123abcd)", "unsupported-layer", ""},
	{"InvalidParameterValueException: Lambda layers are not supported for functions created with container images.", "layers-on-image-function", ""},
	// Extensions.
	{"EXTENSION Name: apm-lambda-extension State: LaunchError Events: [] Error: fork/exec /opt/extensions/apm-lambda-extension: exec format error", "extension-exec-format", "/opt/extensions/apm-lambda-extension"},
	{"Error: fork/exec /opt/extensions/x: permission denied", "extension-permission-denied", "/opt/extensions/x"},
	{"Error: fork/exec /opt/extensions/my-ext: no such file or directory", "extension-not-found", "/opt/extensions/my-ext"},
	{`{"errorType":"TooManyExtensions","errorMessage":"..."}`, "too-many-extensions", ""},
	{"EXTENSION Name: x State: LaunchError Events: [] Error Type: PermissionDenied", "extension-launch-error", ""},
	{"INIT_REPORT Init Duration: 41.20 ms Phase: init Status: error Error Type: Extension.Crash", "extension-crashed", ""},
	// The entrypoint could not be executed.
	{"IMAGE\tLaunch error: fork/exec /lambda-entrypoint.sh: exec format error\tEntrypoint: [/lambda-entrypoint.sh]\tCmd: [src/index.handler]\tWorkingDir: [/var/task]", "exec-format-error", "/lambda-entrypoint.sh"},
	{`{"errorType":"Runtime.InvalidEntrypoint","errorMessage":"RequestId: 9f0d Error: fork/exec /lambda-entrypoint.sh: exec format error"}`, "exec-format-error", "/lambda-entrypoint.sh"},
	{"exec /usr/bin/python3: exec format error", "exec-format-error", "/usr/bin/python3"},
	{"/bin/sh^M: bad interpreter: No such file or directory", "shebang-crlf", ""},
	{`/usr/bin/env: 'bash\r': No such file or directory`, "shebang-crlf", ""},
	{"/var/task/entry.sh: /bin/bash: bad interpreter: No such file or directory", "bad-interpreter", "/bin/bash"},
	{"env: 'node': No such file or directory", "env-interpreter-missing", "node"},
	{`{"errorMessage": "RequestId: 42 Error: fork/exec /usr/local/bin/aws_lambda_ric: no such file or directory", "errorType": "Runtime.InvalidEntrypoint"}`, "exec-not-found", "/usr/local/bin/aws_lambda_ric"},
	{"IMAGE Launch error: fork/exec /var/task/bootstrap: no such file or directory Entrypoint: [/var/task/bootstrap] Cmd: [] WorkingDir: [/var/task]", "exec-not-found", "/var/task/bootstrap"},
	{"exec /entrypoint.sh: no such file or directory", "exec-not-found", "/entrypoint.sh"},
	{"IMAGE Launch error: fork/exec /ko-app/aws-lambda-example: permission denied Entrypoint: [/ko-app/aws-lambda-example] Cmd: [] WorkingDir: []", "exec-permission-denied", "/ko-app/aws-lambda-example"},
	{"sh: ./bootstrap: not found", "shell-not-found", "./bootstrap"},
	{`Couldn't find valid bootstrap(s): [uvicorn]`, "bootstrap-not-found", "uvicorn"},
	{"SUPERNOVA Launch error: Couldn't find valid bootstrap(s): [app.lambda_handler] Entrypoint: [] Cmd: [app.lambda_handler] WorkingDir: [/var/task]", "bootstrap-not-found", "app.lambda_handler"},
	{"/var/task/bin/inference: error while loading shared libraries: libtensorflow.so.1: cannot open shared object file: No such file or directory", "shared-library-missing", "libtensorflow.so.1"},
	{"[ERROR] Runtime.ImportModuleError: Unable to import module 'app': libGL.so.1: cannot open shared object file: No such file or directory", "shared-library-missing", "libGL.so.1"},
	{"/var/task/bootstrap: /lib64/libc.so.6: version `GLIBC_2.34' not found (required by /var/task/bootstrap)", "glibc-too-old", "2.34"},
	{"entrypoint requires the handler name to be the first argument", "handler-arg-count", ""},
	{"Error: Runtime exited with error: exit status 142", "handler-arg-count", ""},
	{"Error: No handler specified", "handler-not-set", ""},
	{"ValueError: Handler not set", "handler-not-set", ""},
	// Read-only filesystem.
	{"npm ERR! code EROFS", "read-only-filesystem", ""},
	{"npm ERR! EROFS: read-only file system, mkdir '/home/sbx_user1051'", "read-only-filesystem", "/home/sbx_user1051"},
	{"Error creating default config in home dir: mkdir /home/sbx_user1051: read-only file system", "read-only-filesystem", ""},
	{"RequestId: 3a2c Error: Runtime exited with error: exit status 226", "exit-226", ""},
	{"Runtime exited with error: exit status 127", "exit-127", ""},
	{"Runtime exited with error: exit status 126", "exit-126", ""},
	{`{"errorMessage": "[Errno 13] Permission denied: '/var/task/app.py'", "errorType": "PermissionError"}`, "permission-denied", "/var/task/app.py"},
	{"Error: EACCES: permission denied, open '/var/task/users.js'", "permission-denied", "/var/task/users.js"},
	// TLS.
	{`Post "https://dynamodb.us-east-1.amazonaws.com/": x509: certificate signed by unknown authority`, "ca-bundle-missing", ""},
	{"ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate", "ca-bundle-missing", ""},
	{"java.security.InvalidAlgorithmParameterException: the trustAnchors parameter must be non-empty", "ca-bundle-missing", ""},
	// Runtime interface client and handler.
	{"/usr/local/bin/python: No module named awslambdaric", "python-ric-missing", ""},
	{"Error: Cannot find module './rapid-client.node'", "node-ric-addon-missing", ""},
	{"Failed to load the native runtime interface client library libaws-lambda-jni.linux-x86_64.so. Exception: java.lang.UnsatisfiedLinkError", "java-ric-jni-missing", ""},
	{"Process terminated. Couldn't find a valid ICU package installed on the system. Please install libicu (or icu-libs)", "dotnet-icu-missing", ""},
	{"Runtime.ImportModuleError: Unable to import module 'app': No module named 'app'", "import-module-error", "app"},
	{"Runtime.ImportModuleError: Error: Cannot find module 'index'", "import-module-error", "index"},
	{"Runtime.HandlerNotFound: Handler 'handler' missing on module 'app'", "handler-not-found", ""},
	{"Runtime.HandlerNotFound: index.handler is undefined or not exported", "handler-not-found", ""},
	{"Class not found: example.App", "handler-not-found", ""},
	{"Runtime.MalformedHandlerName: Bad handler 'app': not enough values to unpack (expected 2, got 1)", "handler-malformed", ""},
	{"Runtime.MalformedHandlerName: '../x.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.", "handler-malformed", ""},
	{"Runtime.BuiltInModuleConflict: Cannot use built-in module sys as a handler module", "handler-malformed", ""},
	{"Invalid handler [app], must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD", "handler-malformed", ""},
	{`"errorType": "Init<LoadError>" cannot load such file -- httparty`, "ruby-load-error", "httparty"},
	{"Could not find aws-sdk-s3-1.136.0, aws_lambda_ric-2.0.0 in locally installed gems (Bundler::GemNotFound)", "gem-not-found", ""},
	{"Runtime.UserCodeSyntaxError: Syntax error in module 'app': invalid syntax (app.py, line 3)", "user-code-syntax-error", ""},
	{"Error: the working directory 'task' is invalid, it needs to be an absolute path", "invalid-working-dir", ""},
	{"the working directory doesn't exist: /function", "invalid-working-dir", ""},
	{`{"errorType":"Runtime.InvalidWorkingDir","errorMessage":"..."}`, "invalid-working-dir", ""},
	// Init and runtime outcomes.
	{"INIT_REPORT Init Duration: 10000.17 ms Phase: init Status: timeout", "init-timeout", ""},
	{"2024-01-01T00:00:00.000Z 1b2c Task timed out after 3.00 seconds", "init-timeout", ""},
	{`{"errorType":"Runtime.OutOfMemory","errorMessage":"RequestId: 1 Error: Runtime exited with error: signal: killed"}`, "out-of-memory", ""},
	{"Runtime exited with error: signal: illegal instruction", "illegal-instruction", ""},
	{"Error: Runtime exited with error: exit status 254", "exit-254-node", ""},
	{"Runtime exited without providing a reason", "exited-without-reason", ""},
	// Generic forms.
	{"IMAGE\tLaunch error: something new\tEntrypoint: [/x]\tCmd: []\tWorkingDir: [/]", "launch-error", ""},
	{`level=error msg="INIT DONE failed: Runtime.InvalidEntrypoint"`, "invalid-entrypoint", ""},
	{"INIT_REPORT Init Duration: 120.5 ms Phase: init Status: error Error Type: Runtime.ExitError", "runtime-exit-error", ""},
	{"Runtime exited with error: exit status 1", "runtime-exit-error", ""},
}

func TestClassify(t *testing.T) {
	for _, tt := range lines {
		p, subject := Classify(tt.line)
		if p == nil {
			t.Errorf("%q: not recognised, want %s", tt.line, tt.key)
			continue
		}
		if p.Key != tt.key || subject != tt.subject {
			t.Errorf("%q:\n got %s subject %q\nwant %s subject %q", tt.line, p.Key, subject, tt.key, tt.subject)
		}
	}
}

func TestNotRecognised(t *testing.T) {
	for _, line := range []string{
		"START RequestId: 8f3a Version: $LATEST",
		"END RequestId: 8f3a",
		"REPORT RequestId: 8f3a Duration: 2.31 ms Billed Duration: 3 ms Memory Size: 128 MB Max Memory Used: 40 MB",
		"INIT_START Runtime Version: python:3.12.v18",
		"hello from my function",
	} {
		if p, _ := Classify(line); p != nil {
			t.Errorf("%q recognised as %s", line, p.Key)
		}
	}
}

// Every pattern has a real line in the table above, so none is dead or
// shadowed by an earlier one.
func TestEveryPatternHasALine(t *testing.T) {
	covered := map[string]bool{}
	for _, tt := range lines {
		covered[tt.key] = true
	}
	for _, p := range Patterns() {
		if !covered[p.Key] {
			t.Errorf("pattern %s has no test line", p.Key)
		}
	}
}

func TestPatternTable(t *testing.T) {
	keys := map[string]bool{}
	for _, p := range Patterns() {
		if keys[p.Key] {
			t.Errorf("duplicate key %s", p.Key)
		}
		keys[p.Key] = true
		if p.Failure == "" || p.Explanation == "" {
			t.Errorf("%s: empty failure or explanation", p.Key)
		}
		if p.Benign && len(p.Checks) > 0 {
			t.Errorf("%s: benign, yet names checks %v", p.Key, p.Checks)
		}
		for _, id := range p.Checks {
			c, ok := checks.Lookup(id)
			if !ok || c.Meta().ID != id {
				t.Errorf("%s: check %q is not in the catalogue", p.Key, id)
			}
		}
	}
}

func TestBenign(t *testing.T) {
	tests := []struct {
		line   string
		benign bool
	}{
		// Old RIE with /opt/extensions absent: noise.
		{`level=warning msg="Cannot list external agents" error="open /opt/extensions: no such file or directory"`, true},
		// Current RIE logs it only when the directory exists but cannot be
		// read: a real problem.
		{`level=warning msg="Cannot list external agents" error="open /opt/extensions: permission denied"`, false},
		{`The extension's directory "/opt/extensions" does not exist, assuming no extensions to be loaded.`, true},
		{"Starting runtime without AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN , Expected?: false", true},
		{"(rapid) ReserveFailed: AlreadyReserved", true},
		{"Runtime exited with error: exit status 127", false},
		{"IMAGE Launch error: fork/exec /var/task/bootstrap: permission denied", false},
	}
	for _, tt := range tests {
		p, _ := Classify(tt.line)
		if p == nil || p.Benign != tt.benign {
			t.Errorf("%q: pattern %v, want benign=%v", tt.line, p, tt.benign)
		}
	}
}

func TestScan(t *testing.T) {
	log := strings.Join([]string{
		"START RequestId: 1 Version: $LATEST",
		"",
		"IMAGE\tLaunch error: fork/exec /var/task/bootstrap: no such file or directory\tEntrypoint: [/var/task/bootstrap]\tCmd: []\tWorkingDir: [/var/task]",
		"  IMAGE    Launch error: fork/exec /var/task/bootstrap: no such file or directory Entrypoint: [/var/task/bootstrap] Cmd: [] WorkingDir: [/var/task]  ",
		`level=warning msg="Cannot list external agents" error="open /opt/extensions: no such file or directory"`,
		"Runtime exited with error: exit status 127\r",
		"END RequestId: 1",
	}, "\n")
	res, err := Scan(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 6 || res.Unrecognised != 2 || len(res.Matches) != 3 {
		t.Fatalf("lines %d, unrecognised %d, matches %d; want 6, 2, 3: %+v", res.Lines, res.Unrecognised, len(res.Matches), res.Matches)
	}
	m := res.Matches[0]
	if m.Line != 3 || m.Count != 2 || m.Pattern.Key != "exec-not-found" || m.Subject != "/var/task/bootstrap" {
		t.Errorf("first match %+v", m)
	}
	if strings.Contains(m.Text, "\t") || strings.Contains(m.Text, "  ") {
		t.Errorf("text not collapsed: %q", m.Text)
	}
	if len(res.Failures()) != 2 || !res.Recognised() {
		t.Errorf("failures %d, want 2", len(res.Failures()))
	}
	want := []string{"LD202", "LD207", "LD208", "LD303", "LD304"}
	if got := res.Checks(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("checks %v, want %v", got, want)
	}

	empty, err := Scan(strings.NewReader("\n\nhello\n"))
	if err != nil || empty.Recognised() || empty.Lines != 1 || empty.Unrecognised != 1 || len(empty.Checks()) != 0 {
		t.Errorf("unrecognised log: %+v, %v", empty, err)
	}
}

func TestScanLongLine(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	if _, err := Scan(strings.NewReader(long)); err == nil {
		t.Fatal("want an error for a line over the limit")
	}
	ok := strings.Repeat("y", 200_000) + " x509: certificate signed by unknown authority"
	res, err := Scan(strings.NewReader(ok))
	if err != nil || len(res.Matches) != 1 {
		t.Fatalf("200 kB line: %v %+v", err, res)
	}
}
