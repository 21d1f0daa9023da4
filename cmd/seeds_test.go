package cmd

// Two real user stories rebuilt as images (an alpine:3.7 shell custom
// runtime and Ruby function, and hasura migrations on node:14-buster-slim;
// their Dockerfiles are described at each image below)
// and run end to end: docker save archive -> `lambdoctor inspect --format
// json` -> the diagnosis Lambda's behaviour calls for. The good images are
// laid out as their real bases are (interpreters as ELF files with their
// loaders, /tmp 1777, /etc/passwd, CA bundles holding the real Amazon
// roots), so a correct image must come out without errors or warnings.

import (
	"context"
	"debug/elf"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// Loaders.
const (
	muslLoader  = "/lib/ld-musl-x86_64.so.1"
	glibcLoader = "/lib64/ld-linux-x86-64.so.2"
)

// exe is a dynamically linked x86-64 ELF using loader ("" for static).
func exe(loader string) string { return string(testimage.ELF(elf.EM_X86_64, loader)) }

// goExe is a static Go binary that links crypto/tls (what LD601 looks for).
func goExe() string {
	return exe("") + "\x00\xff Go buildinf:\x08\x02\x00runtime.main\x00crypto/tls.(*Conn).Handshake\x00"
}

func dirs(mode int64, paths ...string) []testimage.File {
	out := make([]testimage.File, 0, len(paths))
	for _, p := range paths {
		out = append(out, testimage.Dir(p, mode))
	}
	return out
}

func own(f testimage.File, uid, gid int) testimage.File {
	f.UID, f.GID = uid, gid
	return f
}

func cat(parts ...[]testimage.File) []testimage.File {
	var out []testimage.File
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// The real Amazon Root CA 1 and 3 (https://www.amazontrust.com/repository/).
const amazonRootCA1 = `-----BEGIN CERTIFICATE-----
MIIDQTCCAimgAwIBAgITBmyfz5m/jAo54vB4ikPmljZbyjANBgkqhkiG9w0BAQsF
ADA5MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6
b24gUm9vdCBDQSAxMB4XDTE1MDUyNjAwMDAwMFoXDTM4MDExNzAwMDAwMFowOTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJv
b3QgQ0EgMTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALJ4gHHKeNXj
ca9HgFB0fW7Y14h29Jlo91ghYPl0hAEvrAIthtOgQ3pOsqTQNroBvo3bSMgHFzZM
9O6II8c+6zf1tRn4SWiw3te5djgdYZ6k/oI2peVKVuRF4fn9tBb6dNqcmzU5L/qw
IFAGbHrQgLKm+a/sRxmPUDgH3KKHOVj4utWp+UhnMJbulHheb4mjUcAwhmahRWa6
VOujw5H5SNz/0egwLX0tdHA114gk957EWW67c4cX8jJGKLhD+rcdqsq08p8kDi1L
93FcXmn/6pUCyziKrlA4b9v7LWIbxcceVOF34GfID5yHI9Y/QCB/IIDEgEw+OyQm
jgSubJrIqg0CAwEAAaNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC
AYYwHQYDVR0OBBYEFIQYzIU07LwMlJQuCFmcx7IQTgoIMA0GCSqGSIb3DQEBCwUA
A4IBAQCY8jdaQZChGsV2USggNiMOruYou6r4lK5IpDB/G/wkjUu0yKGX9rbxenDI
U5PMCCjjmCXPI6T53iHTfIUJrU6adTrCC2qJeHZERxhlbI1Bjjt/msv0tadQ1wUs
N+gDS63pYaACbvXy8MWy7Vu33PqUXHeeE6V/Uq2V8viTO96LXFvKWlJbYK8U90vv
o/ufQJVtMVT8QtPHRh8jrdkPSHCa2XV4cdFyQzR1bldZwgJcJmApzyMZFo6IQ6XU
5MsI+yMRQ+hDKXJioaldXgjUkK642M4UwtBV8ob2xJNDd2ZhwLnoQdeXeGADbkpy
rqXRfboQnoZsG4q5WTP468SQvvG5
-----END CERTIFICATE-----
`

const amazonRootCA3 = `-----BEGIN CERTIFICATE-----
MIIBtjCCAVugAwIBAgITBmyf1XSXNmY/Owua2eiedgPySjAKBggqhkjOPQQDAjA5
MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6b24g
Um9vdCBDQSAzMB4XDTE1MDUyNjAwMDAwMFoXDTQwMDUyNjAwMDAwMFowOTELMAkG
A1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJvb3Qg
Q0EgMzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCmXp8ZBf8ANm+gBG1bG8lKl
ui2yEujSLtf6ycXYqm0fc4E7O5hrOXwzpcVOho6AF2hiRVd9RFgdszflZwjrZt6j
QjBAMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgGGMB0GA1UdDgQWBBSr
ttvXBp43rDCGB5Fwx5zEGbF4wDAKBggqhkjOPQQDAgNJADBGAiEA4IWSoxe3jfkr
BqWTrBqYaGFy+uGh0PsceGCmQ5nFuMQCIQCcAu/xlJyzlvnrxir4tiz+OpAUFteM
YyRIHN8wfdVoOw==
-----END CERTIFICATE-----
`

const caBundle = "# Amazon Root CA 1\n" + amazonRootCA1 + "\n# Amazon Root CA 3\n" + amazonRootCA3

// --- running lambdoctor ------------------------------------------------

type seedFinding struct {
	ID, Name, Severity, Message, Path, Fix string
	Evidence                               []string
}

type seedReport struct {
	Findings []seedFinding `json:"findings"`
	Checks   []struct{ ID, Name, Status, Error string }
	Summary  struct{ Error, Warning, Info int }
	Image    struct {
		RuntimeClient *struct{ Name, Language, Path string } `json:"runtimeClient"`
	}
}

// inspectSeed saves img as a docker save archive and runs `lambdoctor
// inspect --format json` on it, returning the parsed report and the exit
// code. A check that ends in status "error" fails the test.
func inspectSeed(t *testing.T, img v1.Image, flags ...string) (seedReport, int) {
	t.Helper()
	archive := writeArchive(t, img)
	s, out, errb := streams(nil)
	args := append(append([]string{"inspect", "--format", "json"}, flags...), archive)
	code := Run(context.Background(), args, s)
	var rep seedReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d; JSON does not parse: %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errb)
	}
	for _, f := range rep.Findings {
		if f.ID != "LD101" { // a docker-archive always gets LD101's push-form note
			t.Logf("%s %s %s [%s]: %s\n    fix: %s", f.ID, f.Name, f.Severity, f.Path, f.Message, f.Fix)
		}
	}
	for _, c := range rep.Checks {
		if c.Status == "error" {
			t.Errorf("check %s %s ended in error: %s", c.ID, c.Name, c.Error)
		}
	}
	return rep, code
}

// wantClean asserts a correct image: exit 0 and no error or warning.
func wantClean(t *testing.T, rep seedReport, code int) {
	t.Helper()
	if code != ExitOK {
		t.Errorf("exit %d, want %d", code, ExitOK)
	}
	for _, f := range rep.Findings {
		if f.Severity == "error" || f.Severity == "warning" {
			t.Errorf("a correct image got %s %s %s: %s", f.Severity, f.ID, f.Name, f.Message)
		}
	}
}

// want finds the finding of check name with severity sev and asserts that
// its path is path (when not "") and that its message and fix hold the
// given substrings.
func want(t *testing.T, rep seedReport, name, sev, path string, inMessage, inFix []string) seedFinding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Name != name || f.Severity != sev || (path != "" && f.Path != path) {
			continue
		}
		for _, s := range inMessage {
			if !strings.Contains(f.Message, s) {
				t.Errorf("%s message lacks %q:\n%s", name, s, f.Message)
			}
		}
		for _, s := range inFix {
			if !strings.Contains(f.Fix, s) {
				t.Errorf("%s fix lacks %q:\n%s", name, s, f.Fix)
			}
		}
		return f
	}
	t.Errorf("no %s finding %s at %q; findings: %+v", sev, name, path, rep.Findings)
	return seedFinding{}
}

// lacks asserts that check name reported nothing.
func lacks(t *testing.T, rep seedReport, name string) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Name == name {
			t.Errorf("unexpected %s %s: %s", f.Severity, f.Name, f.Message)
		}
	}
}

func wantExit(t *testing.T, code, want int) {
	t.Helper()
	if code != want {
		t.Errorf("exit %d, want %d", code, want)
	}
}

// --- seed 000: alpine:3.7 shell custom runtime and the Ruby RIC -----------

const dockerDefaultPATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// alpineBase is alpine:3.7's root filesystem: busybox behind /bin/sh, the
// musl loader, apk, /tmp 1777, /root 0700, the account files.
func alpineBase() []testimage.File {
	return cat(
		dirs(0, "bin", "dev", "etc", "etc/apk", "etc/ssl", "home", "lib", "lib/apk", "media", "mnt", "proc", "run", "sbin", "srv", "sys",
			"usr", "usr/bin", "usr/sbin", "usr/lib", "usr/local", "usr/local/bin", "usr/local/lib", "usr/local/share", "usr/share",
			"var", "var/cache", "var/lib", "var/local", "var/log", "var/opt", "var/spool"),
		[]testimage.File{
			testimage.Dir("root", 0o700),
			testimage.Dir("tmp", 0o1777),
			testimage.Reg("lib/ld-musl-x86_64.so.1", 0o755, exe("")),
			testimage.Symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
			testimage.Reg("bin/busybox", 0o755, exe(muslLoader)),
			testimage.Symlink("bin/sh", "/bin/busybox"),
			testimage.Symlink("bin/ash", "/bin/busybox"),
			testimage.Symlink("bin/mktemp", "/bin/busybox"),
			testimage.Symlink("bin/grep", "/bin/busybox"),
			testimage.Symlink("usr/bin/env", "/bin/busybox"),
			testimage.Symlink("usr/bin/cut", "/bin/busybox"),
			testimage.Symlink("usr/bin/tr", "/bin/busybox"),
			testimage.Reg("sbin/apk", 0o755, exe(muslLoader)),
			testimage.Reg("etc/alpine-release", 0o644, "3.7.3\n"),
			testimage.Reg("etc/os-release", 0o644, "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.7.3\n"),
			testimage.Reg("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/ash\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"),
			testimage.Reg("etc/group", 0o644, "root:x:0:root\nbin:x:1:root,bin,daemon\nnobody:x:65534:\n"),
			own(testimage.Reg("etc/shadow", 0o640, "root:!::0:::::\n"), 0, 42),
		},
	)
}

// alpineCurl is `RUN apk add curl`: curl, libcurl and ca-certificates.
func alpineCurl() []testimage.File {
	return cat(
		dirs(0, "etc/ssl/certs", "usr/share/ca-certificates", "usr/share/ca-certificates/mozilla"),
		[]testimage.File{
			testimage.Reg("usr/bin/curl", 0o755, exe(muslLoader)+"\x00libcurl.so.4\x00"),
			testimage.Reg("usr/lib/libcurl.so.4.5.0", 0o755, exe("")),
			testimage.Symlink("usr/lib/libcurl.so.4", "libcurl.so.4.5.0"),
			testimage.Reg("usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt", 0o644, amazonRootCA1),
			testimage.Reg("usr/share/ca-certificates/mozilla/Amazon_Root_CA_3.crt", 0o644, amazonRootCA3),
			testimage.Symlink("etc/ssl/certs/ca-cert-Amazon_Root_CA_1.pem", "/usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt"),
			testimage.Reg("etc/ssl/certs/ca-certificates.crt", 0o644, caBundle),
		},
	)
}

// The AWS docs' shell runtime, as the seed quotes it.
const shellBootstrap = `#!/bin/sh

set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" -X GET "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
`

const functionSh = `function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="Echoing request: '$EVENT_DATA'"

  echo $RESPONSE
}
`

// shellRuntime is seed 000's first Dockerfile (FROM alpine:3.7, RUN apk add
// curl, COPY bootstrap + chmod 755, COPY function.sh + chmod 755) with the
// given ENTRYPOINT and CMD.
func shellRuntime(entrypoint, cmd []string, bootstrap string) v1.Image {
	spec := testimage.Spec{
		Config: v1.Config{
			Env:        []string{dockerDefaultPATH, "LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime"},
			Entrypoint: entrypoint,
			Cmd:        cmd,
		},
		Layers: [][]testimage.File{
			alpineBase(),
			alpineCurl(),
			{testimage.Dir("var/runtime", 0), testimage.Reg("var/runtime/bootstrap", 0o644, bootstrap)},
			{testimage.Reg("var/runtime/bootstrap", 0o755, bootstrap)},
			{testimage.Dir("var/task", 0), testimage.Reg("var/task/function.sh", 0o644, functionSh)},
			{testimage.Reg("var/task/function.sh", 0o755, functionSh)},
		},
		CreatedBy: []string{
			"/bin/sh -c #(nop) ADD file:a3f8d1e2 in / ",
			"RUN /bin/sh -c apk add curl # buildkit",
			"COPY bootstrap /var/runtime/bootstrap # buildkit",
			"RUN /bin/sh -c chmod 755 /var/runtime/bootstrap # buildkit",
			"COPY function.sh /var/task/function.sh # buildkit",
			"RUN /bin/sh -c chmod 755 /var/task/function.sh # buildkit",
		},
	}
	img, err := testimage.Build(spec)
	if err != nil {
		panic(err)
	}
	return img
}

func TestSeedShellRuntime(t *testing.T) {
	t.Run("good: ENTRYPOINT /var/runtime/bootstrap, CMD function.handler", func(t *testing.T) {
		rep, code := inspectSeed(t, shellRuntime([]string{"/var/runtime/bootstrap"}, []string{"function.handler"}, shellBootstrap))
		wantClean(t, rep, code)
		if rc := rep.Image.RuntimeClient; rc == nil || rc.Name != "custom-bootstrap" {
			t.Errorf("runtime client %+v, want custom-bootstrap", rc)
		}
	})
	t.Run("bare name not on PATH: ENTRYPOINT bootstrap", func(t *testing.T) {
		rep, code := inspectSeed(t, shellRuntime([]string{"bootstrap"}, []string{"function.handler"}, shellBootstrap))
		wantExit(t, code, ExitFindings)
		want(t, rep, "entrypoint-not-found", "error", "",
			[]string{`ENTRYPOINT runs "bootstrap", which is in no directory of PATH`, "Couldn't find valid bootstrap(s): [bootstrap]", "/var/runtime/bootstrap"},
			[]string{`ENTRYPOINT ["/var/runtime/bootstrap"]`})
	})
	t.Run("the seed's literal Dockerfile: CMD only, the handler becomes argv[0]", func(t *testing.T) {
		// Lambda runs CMD when there is no ENTRYPOINT, so it tries to
		// execute "function.handler" (Couldn't find valid bootstrap(s):
		// [function.handler]); the emulator hid it because the user passed
		// /var/runtime/bootstrap on its command line.
		rep, code := inspectSeed(t, shellRuntime(nil, []string{"function.handler"}, shellBootstrap))
		wantExit(t, code, ExitFindings)
		want(t, rep, "entrypoint-not-found", "error", "",
			[]string{`CMD runs "function.handler"`, "Couldn't find valid bootstrap(s): [function.handler]", "handler"},
			[]string{`ENTRYPOINT ["/var/runtime/bootstrap"]`})
	})
	t.Run("bootstrap execs a program that is not in the image", func(t *testing.T) {
		rep, code := inspectSeed(t, shellRuntime([]string{"/var/runtime/bootstrap"}, []string{"function.handler"}, "#!/bin/sh\nset -eu\nexec /var/task/bootstrap-real \"$@\"\n"))
		wantExit(t, code, ExitFindings)
		want(t, rep, "entrypoint-not-found", "error", "/var/task/bootstrap-real",
			[]string{"/var/runtime/bootstrap", "exec", "/var/task/bootstrap-real"}, nil)
	})
}

// rubyImage is seed 000's Ruby Dockerfile: alpine:3.7, Ruby 2.5 built into
// /usr/local, GEM_HOME=/usr/local/bundle with BUNDLE_BIN first on PATH,
// `gem install aws_lambda_ric`, app.rb in /var/task.
func rubyImage(entrypoint string) v1.Image {
	const binstub = `#!/usr/local/bin/ruby
#
# This file was generated by RubyGems.
#
# The application 'aws_lambda_ric' is installed as part of a gem, and
# this file is here to facilitate running it.
#

require 'rubygems'

version = ">= 0.a"

if Gem.respond_to?(:activate_bin_path)
load Gem.activate_bin_path('aws_lambda_ric', 'aws_lambda_ric', version)
else
gem "aws_lambda_ric", version
load Gem.bin_path("aws_lambda_ric", "aws_lambda_ric", version)
end
`
	const gemBin = `#!/usr/bin/env ruby
# frozen_string_literal: true

require 'aws_lambda_ric'

AwsLambdaRIC::Bootstrap.new.start
`
	const gemDir = "usr/local/bundle/gems/aws_lambda_ric-1.0.2"
	spec := testimage.Spec{
		Config: v1.Config{
			Env: []string{
				"PATH=/usr/local/bundle/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"RUBY_MAJOR=2.5", "RUBY_VERSION=2.5.9", "RUBYGEMS_VERSION=3.1.4",
				"LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime",
				"BUNDLER_VERSION=2.2.11", "GEM_HOME=/usr/local/bundle", "BUNDLE_PATH=/usr/local/bundle",
				"BUNDLE_BIN=/usr/local/bundle/bin", "BUNDLE_SILENCE_ROOT_WARNING=1", "BUNDLE_APP_CONFIG=/usr/local/bundle",
			},
			Entrypoint: []string{entrypoint},
			Cmd:        []string{"app.App::Handler.process"},
			WorkingDir: "/var/task",
		},
		Layers: [][]testimage.File{
			alpineBase(),
			{testimage.Dir("usr/local/etc", 0), testimage.Reg("usr/local/etc/gemrc", 0o644, "install: --no-document\nupdate: --no-document\n")},
			cat(alpineCurl(), dirs(0, "usr/local/lib/ruby", "usr/local/lib/ruby/2.5.0", "usr/local/lib/ruby/gems", "usr/local/lib/ruby/gems/2.5.0"), []testimage.File{
				testimage.Reg("usr/local/bin/ruby", 0o755, exe(muslLoader)+"\x00libruby.so.2.5\x00"),
				testimage.Reg("usr/local/lib/libruby.so.2.5.9", 0o755, exe("")+"\x00libssl.so.44\x00"),
				testimage.Symlink("usr/local/lib/libruby.so.2.5", "libruby.so.2.5.9"),
				testimage.Reg("usr/local/bin/gem", 0o755, "#!/usr/local/bin/ruby\nrequire 'rubygems'\nrequire 'rubygems/gem_runner'\nGem::GemRunner.new.run ARGV.clone\n"),
				testimage.Reg("usr/local/bin/irb", 0o755, "#!/usr/local/bin/ruby\nrequire \"irb\"\nIRB.start(__FILE__)\n"),
				testimage.Reg("usr/local/lib/ruby/2.5.0/rubygems.rb", 0o644, "module Gem\nend\n"),
			}),
			{
				testimage.Reg("usr/local/bin/bundle", 0o755, "#!/usr/local/bin/ruby\nrequire 'rubygems'\nload Gem.activate_bin_path('bundler', 'bundle', '>= 0.a')\n"),
				testimage.Reg("usr/local/bin/bundler", 0o755, "#!/usr/local/bin/ruby\nrequire 'rubygems'\nload Gem.activate_bin_path('bundler', 'bundler', '>= 0.a')\n"),
			},
			{testimage.Dir("usr/local/bundle", 0o777), testimage.Dir("usr/local/bundle/bin", 0o777)},
			cat(
				dirs(0, "usr/local/bundle/gems", gemDir, gemDir+"/bin", gemDir+"/lib", gemDir+"/lib/aws_lambda_ric", "usr/local/bundle/specifications", "usr/local/bundle/cache"),
				[]testimage.File{
					testimage.Reg("usr/local/bundle/bin/aws_lambda_ric", 0o755, binstub),
					testimage.Reg(gemDir+"/bin/aws_lambda_ric", 0o755, gemBin),
					testimage.Reg(gemDir+"/lib/aws_lambda_ric.rb", 0o644, "require_relative 'aws_lambda_ric/lambda_server'\nmodule AwsLambdaRIC\nend\n"),
					testimage.Reg(gemDir+"/lib/aws_lambda_ric/lambda_server.rb", 0o644, "class LambdaServer\n  LAMBDA_SERVER_ENDPOINT = '/2018-06-01/runtime/invocation/next'\nend\n"),
					testimage.Reg("usr/local/bundle/specifications/aws_lambda_ric-1.0.2.gemspec", 0o644, "Gem::Specification.new do |s|\n  s.name = \"aws_lambda_ric\"\n  s.version = \"1.0.2\"\nend\n"),
				},
			),
			{testimage.Dir("var", 0), testimage.Dir("var/task", 0)},
			{testimage.Reg("var/task/app.rb", 0o644, "module App\n  class Handler\n    def self.process(event:, context:)\n      \"Hello World!\"\n    end\n  end\nend\n")},
		},
		CreatedBy: []string{
			"/bin/sh -c #(nop) ADD file:a3f8d1e2 in / ",
			"RUN /bin/sh -c mkdir -p /usr/local/etc && { echo 'install: --no-document'; echo 'update: --no-document'; } >> /usr/local/etc/gemrc # buildkit",
			"RUN /bin/sh -c set -ex && apk add --no-cache --virtual .ruby-builddeps ... && make install ... && gem update --system \"$RUBYGEMS_VERSION\" # buildkit",
			"RUN /bin/sh -c gem install bundler --version \"$BUNDLER_VERSION\" # buildkit",
			"RUN /bin/sh -c mkdir -p \"$GEM_HOME\" \"$BUNDLE_BIN\" && chmod 777 \"$GEM_HOME\" \"$BUNDLE_BIN\" # buildkit",
			"RUN /bin/sh -c gem install aws_lambda_ric # buildkit",
			"WORKDIR /var/task",
			"COPY app.rb /var/task # buildkit",
		},
	}
	img, err := testimage.Build(spec)
	if err != nil {
		panic(err)
	}
	return img
}

func TestSeedRubyRIC(t *testing.T) {
	t.Run("the seed: ENTRYPOINT /usr/local/bin/aws_lambda_ric", func(t *testing.T) {
		rep, code := inspectSeed(t, rubyImage("/usr/local/bin/aws_lambda_ric"))
		wantExit(t, code, ExitFindings)
		f := want(t, rep, "entrypoint-not-found", "error", "/usr/local/bin/aws_lambda_ric",
			[]string{"fork/exec /usr/local/bin/aws_lambda_ric: no such file or directory", "Couldn't find valid bootstrap(s): [/usr/local/bin/aws_lambda_ric]", "/usr/local/bundle/bin/aws_lambda_ric"},
			nil)
		if f.Fix != `ENTRYPOINT ["/usr/local/bundle/bin/aws_lambda_ric"]` {
			t.Errorf("fix %q", f.Fix)
		}
		if rep.Summary.Error != 1 {
			t.Errorf("%d errors, want only LD202's", rep.Summary.Error)
		}
	})
	t.Run("fixed: ENTRYPOINT /usr/local/bundle/bin/aws_lambda_ric", func(t *testing.T) {
		rep, code := inspectSeed(t, rubyImage("/usr/local/bundle/bin/aws_lambda_ric"))
		wantClean(t, rep, code)
		if rc := rep.Image.RuntimeClient; rc == nil || rc.Name != "ruby-aws_lambda_ric" {
			t.Errorf("runtime client %+v, want ruby-aws_lambda_ric", rc)
		}
	})
}

// --- seed 004: hasura migrations on node:14-buster-slim -------------------

// debianBase is debian:buster-slim's root filesystem (glibc, dash as
// /bin/sh, bash, apt-get), without ca-certificates.
func debianBase() []testimage.File {
	return cat(
		dirs(0, "bin", "boot", "dev", "etc", "home", "lib", "lib/x86_64-linux-gnu", "lib64", "media", "mnt", "opt", "proc", "run", "sbin", "srv", "sys",
			"usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib/x86_64-linux-gnu", "usr/local", "usr/local/bin", "usr/local/lib", "usr/local/share", "usr/share",
			"var", "var/cache", "var/lib", "var/log"),
		[]testimage.File{
			testimage.Dir("root", 0o700),
			testimage.Dir("tmp", 0o1777),
			testimage.Reg("lib/x86_64-linux-gnu/ld-2.28.so", 0o755, exe("")),
			testimage.Symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-2.28.so"),
			testimage.Reg("lib/x86_64-linux-gnu/libc-2.28.so", 0o755, exe("")),
			testimage.Symlink("lib/x86_64-linux-gnu/libc.so.6", "libc-2.28.so"),
			testimage.Reg("bin/dash", 0o755, exe(glibcLoader)),
			testimage.Symlink("bin/sh", "dash"),
			testimage.Reg("bin/bash", 0o755, exe(glibcLoader)),
			testimage.Reg("usr/bin/env", 0o755, exe(glibcLoader)),
			testimage.Reg("usr/bin/apt-get", 0o755, exe(glibcLoader)),
			testimage.Reg("usr/sbin/useradd", 0o755, exe(glibcLoader)),
			testimage.Reg("etc/debian_version", 0o644, "10.13\n"),
			testimage.Reg("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
			testimage.Reg("etc/group", 0o644, "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"),
			own(testimage.Reg("etc/shadow", 0o640, "root:*:19000:0:99999:7:::\n"), 0, 42),
		},
	)
}

// nodeLayer is the node image's /usr/local: node, npm and npx as links
// into npm's package (whose package.json carries its version), and the
// node user.
func nodeLayer(npmVersion string) []testimage.File {
	const npm = "usr/local/lib/node_modules/npm"
	return cat(
		dirs(0, "usr/local/include", "usr/local/include/node", "usr/local/lib/node_modules", npm, npm+"/bin", npm+"/lib"),
		[]testimage.File{
			testimage.Reg("usr/local/bin/node", 0o755, exe(glibcLoader)),
			testimage.Reg(npm+"/package.json", 0o644, `{"name":"npm","version":"`+npmVersion+`","bin":{"npm":"bin/npm-cli.js","npx":"bin/npx-cli.js"}}`+"\n"),
			testimage.Reg(npm+"/bin/npm-cli.js", 0o755, "#!/usr/bin/env node\n;(function () {\n  require('../lib/cli.js')(process)\n})()\n"),
			testimage.Reg(npm+"/bin/npx-cli.js", 0o755, "#!/usr/bin/env node\nconst cli = require('../lib/cli.js')\nprocess.argv[1] = require.resolve('./npm-cli.js')\nprocess.argv.splice(2, 0, 'exec')\ncli(process)\n"),
			testimage.Reg(npm+"/lib/cli.js", 0o644, "module.exports = (process) => {}\n"),
			testimage.Symlink("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"),
			testimage.Symlink("usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js"),
			testimage.Reg("usr/local/bin/docker-entrypoint.sh", 0o755, "#!/bin/sh\nset -e\n\nif [ \"${1#-}\" != \"${1}\" ] || [ -z \"$(command -v \"${1}\")\" ]; then\n  set -- node \"$@\"\nfi\n\nexec \"$@\"\n"),
			testimage.Reg("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nnode:x:1000:1000::/home/node:/bin/bash\n"),
			testimage.Reg("etc/group", 0o644, "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\nnode:x:1000:\n"),
			own(testimage.Dir("home/node", 0o755), 1000, 1000),
		},
	)
}

// debianCACerts is `apt-get install -y ca-certificates`.
func debianCACerts() []testimage.File {
	return cat(
		dirs(0, "etc/ssl", "etc/ssl/certs", "usr/share/ca-certificates", "usr/share/ca-certificates/mozilla", "usr/local/share/ca-certificates"),
		[]testimage.File{
			testimage.Reg("usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt", 0o644, amazonRootCA1),
			testimage.Reg("usr/share/ca-certificates/mozilla/Amazon_Root_CA_3.crt", 0o644, amazonRootCA3),
			testimage.Symlink("etc/ssl/certs/Amazon_Root_CA_1.pem", "/usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt"),
			testimage.Symlink("etc/ssl/certs/Amazon_Root_CA_3.pem", "/usr/share/ca-certificates/mozilla/Amazon_Root_CA_3.crt"),
			testimage.Symlink("etc/ssl/certs/ce5e74ef.0", "Amazon_Root_CA_1.pem"),
			testimage.Reg("etc/ssl/certs/ca-certificates.crt", 0o644, caBundle),
			testimage.Reg("etc/ca-certificates.conf", 0o644, "mozilla/Amazon_Root_CA_1.crt\nmozilla/Amazon_Root_CA_3.crt\n"),
			testimage.Reg("usr/sbin/update-ca-certificates", 0o755, "#!/bin/sh\n"),
		},
	)
}

// hasuraOpts vary the seed 004 image.
type hasuraOpts struct {
	npmVersion     string // npm in the node image: 6.14.18 in node:14
	caCertificates bool   // apt-get install -y ca-certificates
	homeMode       int64  // the mode useradd -m gives /home/sbx_user1051
	hasuraLink     bool   // RUN ln -s /tmp/ /home/sbx_user1051/.hasura
	indexMode      int64  // dist/index.js as the build stage left it (0644)
}

const sbxHome = "home/sbx_user1051"

// hasuraImage is seed 004's Dockerfile, final stage: node:14-buster-slim,
// ca-certificates, useradd -ms /bin/bash sbx_user1051, the migrations in
// dist/, the Amazon roots in /etc/docker/certs.d/$domain, hasura-cli on
// PATH, ~/.hasura -> /tmp/, the build stage's /home/sbx_user1051 (hasura
// CLI, node_modules with aws-lambda-ric, the compiled index.js), USER
// sbx_user1051, ENTRYPOINT ["/usr/local/bin/npx", "aws-lambda-ric"].
func hasuraImage(o hasuraOpts) v1.Image {
	ric := sbxHome + "/node_modules/aws-lambda-ric"
	if o.indexMode == 0 {
		o.indexMode = 0o644
	}
	var caLayer []testimage.File
	if o.caCertificates {
		caLayer = debianCACerts()
	}
	var link []testimage.File
	if o.hasuraLink {
		link = []testimage.File{testimage.Symlink(sbxHome+"/.hasura", "/tmp/")}
	}
	spec := testimage.Spec{
		Config: v1.Config{
			User: "sbx_user1051",
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/home/sbx_user1051/hasura-cli",
				"NODE_VERSION=14.21.3", "YARN_VERSION=1.22.19",
			},
			Entrypoint: []string{"/usr/local/bin/npx", "aws-lambda-ric"},
			Cmd:        []string{"index.runMigrations"},
			WorkingDir: "/home/sbx_user1051/dist",
		},
		Layers: [][]testimage.File{
			debianBase(),
			nodeLayer(o.npmVersion),
			caLayer,
			{
				testimage.Reg("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nnode:x:1000:1000::/home/node:/bin/bash\nsbx_user1051:x:1001:1001::/home/sbx_user1051:/bin/bash\n"),
				testimage.Reg("etc/group", 0o644, "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\nnode:x:1000:\nsbx_user1051:x:1001:\n"),
				own(testimage.Reg("etc/shadow", 0o640, "root:*:19000:0:99999:7:::\nsbx_user1051:!:19000:0:99999:7:::\n"), 0, 42),
				own(testimage.Dir(sbxHome, o.homeMode), 1001, 1001),
				own(testimage.Reg(sbxHome+"/.bashrc", 0o644, "# ~/.bashrc\n"), 1001, 1001),
				own(testimage.Reg(sbxHome+"/.profile", 0o644, "# ~/.profile\n"), 1001, 1001),
				own(testimage.Reg(sbxHome+"/.bash_logout", 0o644, "# ~/.bash_logout\n"), 1001, 1001),
			},
			cat(dirs(0, sbxHome+"/dist", sbxHome+"/dist/migrations", sbxHome+"/dist/migrations/default", sbxHome+"/dist/migrations/default/1640000000000_init"), []testimage.File{
				testimage.Reg(sbxHome+"/dist/config.yaml", 0o644, "version: 3\nendpoint: http://localhost:8080\nmetadata_directory: metadata\n"),
				testimage.Reg(sbxHome+"/dist/migrations/default/1640000000000_init/up.sql", 0o644, "CREATE TABLE t (id serial primary key);\n"),
			}),
			dirs(0, "etc/docker", "etc/docker/certs.d", "etc/docker/certs.d/hasura.example.com"),
			{
				testimage.Reg("etc/docker/certs.d/hasura.example.com/AmazonRootCA1.pem", 0o644, amazonRootCA1),
				testimage.Reg("etc/docker/certs.d/hasura.example.com/AmazonRootCA3.pem", 0o644, amazonRootCA3),
			},
			link,
			cat(dirs(0, sbxHome+"/hasura-cli", sbxHome+"/src", sbxHome+"/node_modules", sbxHome+"/node_modules/.bin", ric, ric+"/bin", ric+"/lib", ric+"/build", ric+"/build/Release"), []testimage.File{
				testimage.Reg(sbxHome+"/hasura-cli/hasura", 0o755, goExe()),
				testimage.Reg(sbxHome+"/package.json", 0o644, `{"name":"hasura-migrations","version":"1.0.0","main":"dist/index.js","dependencies":{"aws-lambda-ric":"^2.1.0"},"devDependencies":{"typescript":"^4.5.4"}}`+"\n"),
				testimage.Reg(sbxHome+"/tsconfig.json", 0o644, `{"compilerOptions":{"target":"es2019","module":"commonjs","outDir":"dist"}}`+"\n"),
				testimage.Reg(sbxHome+"/src/index.ts", 0o644, "import { execSync } from 'child_process';\n\nexport const runMigrations = async () => {\n  execSync('hasura migrate apply --all-databases', { cwd: __dirname, stdio: 'inherit' });\n  return 'ok';\n};\n"),
				testimage.Reg(sbxHome+"/dist/index.js", o.indexMode, "\"use strict\";\nObject.defineProperty(exports, \"__esModule\", { value: true });\nexports.runMigrations = void 0;\nconst child_process_1 = require(\"child_process\");\nconst runMigrations = async () => {\n    (0, child_process_1.execSync)('hasura migrate apply --all-databases', { cwd: __dirname, stdio: 'inherit' });\n    return 'ok';\n};\nexports.runMigrations = runMigrations;\n"),
				testimage.Reg(ric+"/package.json", 0o644, `{"name":"aws-lambda-ric","version":"2.1.0","main":"lib/index.js","bin":{"aws-lambda-ric":"bin/index.js"},"gypfile":true}`+"\n"),
				testimage.Reg(ric+"/bin/index.js", 0o755, "#!/usr/bin/env node\n\"use strict\";\nconst RIC = require(\"../lib/index.js\");\nRIC.run(process.argv[2]);\n"),
				testimage.Reg(ric+"/lib/index.js", 0o644, "\"use strict\";\n// polls http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next\nexports.run = function (handler) {};\n"),
				testimage.Reg(ric+"/build/Release/rapid-client.node", 0o755, exe("")),
				testimage.Symlink(sbxHome+"/node_modules/.bin/aws-lambda-ric", "../aws-lambda-ric/bin/index.js"),
			}),
		},
		CreatedBy: []string{
			"/bin/sh -c #(nop) ADD file:buster-slim in / ",
			"/bin/sh -c groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node && ARCH= ... node-v$NODE_VERSION-linux-$ARCH.tar.xz ...",
			"RUN /bin/sh -c apt-get update && apt-get install -y ca-certificates # buildkit",
			"RUN /bin/sh -c useradd -ms /bin/bash sbx_user1051 # buildkit",
			"COPY devops/migrations /home/sbx_user1051/dist # buildkit",
			"RUN /bin/sh -c mkdir -p /etc/docker/certs.d/$domain # buildkit",
			"COPY devops/root-certs /etc/docker/certs.d/hasura.example.com # buildkit",
			"RUN /bin/sh -c ln -s /tmp/ /home/sbx_user1051/.hasura # buildkit",
			"COPY /home/sbx_user1051 /home/sbx_user1051 # buildkit",
		},
	}
	img, err := testimage.Build(spec)
	if err != nil {
		panic(err)
	}
	return img
}

func TestSeedHasuraNode(t *testing.T) {
	seed := hasuraOpts{npmVersion: "6.14.18", caCertificates: true, homeMode: 0o755, hasuraLink: true}
	t.Run("the seed's final Dockerfile (npm 6) starts", func(t *testing.T) {
		rep, code := inspectSeed(t, hasuraImage(seed))
		wantClean(t, rep, code)
		lacks(t, rep, "npx-at-runtime")     // npm 6's npx runs the installed RIC without its cache
		lacks(t, rep, "writes-outside-tmp") // ~/.hasura -> /tmp/
		want(t, rep, "ignored-instruction", "info", "", []string{"USER"}, nil)
		want(t, rep, "ca-bundle-missing", "info", "/etc/docker/certs.d", []string{"Only the Docker daemon reads that directory"}, nil)
		if rc := rep.Image.RuntimeClient; rc == nil || rc.Name != "node-aws-lambda-ric" {
			t.Errorf("runtime client %+v, want node-aws-lambda-ric", rc)
		}
	})
	t.Run("npm 8 (node:16 and later): npx creates ~/.npm at start", func(t *testing.T) {
		o := seed
		o.npmVersion = "8.19.4"
		rep, code := inspectSeed(t, hasuraImage(o))
		wantExit(t, code, ExitFindings)
		want(t, rep, "npx-at-runtime", "error", "/usr/local/lib/node_modules/npm/bin/npx-cli.js",
			[]string{"npm 8.19.4", "EROFS"},
			[]string{`ENTRYPOINT ["/usr/local/bin/node", "/home/sbx_user1051/node_modules/aws-lambda-ric/bin/index.js"]`, "NPM_CONFIG_CACHE=/tmp/.npm"})
	})
	t.Run("without ca-certificates: the roots only in /etc/docker/certs.d", func(t *testing.T) {
		o := seed
		o.caCertificates = false
		rep, code := inspectSeed(t, hasuraImage(o))
		wantExit(t, code, ExitOK) // a warning: the function starts, hasura's TLS calls fail
		want(t, rep, "ca-bundle-missing", "warning", "/etc/docker/certs.d",
			[]string{"Only the Docker daemon reads that directory", "no system CA bundle"},
			[]string{"update-ca-certificates"})
	})
	t.Run("home 0700: the sandbox user cannot enter the WORKDIR", func(t *testing.T) {
		// useradd -m where HOME_MODE is 0700 (newer login.defs). Lambda
		// runs as uid 993, not the image's sbx_user1051 (uid 1001), so it
		// cannot chdir into /home/sbx_user1051/dist: the working
		// directory check reports it, and LD501 does not repeat it.
		o := seed
		o.homeMode = 0o700
		rep, code := inspectSeed(t, hasuraImage(o))
		wantExit(t, code, ExitFindings)
		want(t, rep, "workdir-invalid", "error", "/home/sbx_user1051",
			[]string{"cannot search /home/sbx_user1051 (mode 0700, owner 1001:1001)", "Lambda ignores USER"},
			[]string{"chmod o+rx /home/sbx_user1051"})
		lacks(t, rep, "unreadable-by-lambda-user")
	})
	t.Run("index.js copied with mode 0600: unreadable by the sandbox user", func(t *testing.T) {
		o := seed
		o.indexMode = 0o600
		rep, code := inspectSeed(t, hasuraImage(o))
		wantExit(t, code, ExitFindings)
		want(t, rep, "unreadable-by-lambda-user", "error", "", []string{"/home/sbx_user1051/dist/index.js"}, []string{"chmod"})
	})
	t.Run("no ~/.hasura link: hasura writes under a read-only HOME", func(t *testing.T) {
		o := seed
		o.hasuraLink = false
		rep, _ := inspectSeed(t, hasuraImage(o))
		want(t, rep, "writes-outside-tmp", "warning", "/home/sbx_user1051/hasura-cli/hasura",
			[]string{"~/.hasura", "/home/sbx_user1051/.hasura is not under /tmp"},
			[]string{"ENV HOME=/tmp", "ln -s /tmp /home/sbx_user1051/.hasura"})
	})
}

// nodeImage is a correct Node.js function on node:20-slim: the RIC
// installed in /function and run by node directly, as its README's
// Dockerfile does without npx.
func nodeImage() v1.Image {
	const fn = "function"
	const ric = fn + "/node_modules/aws-lambda-ric"
	spec := testimage.Spec{
		Config: v1.Config{
			Env:        []string{dockerDefaultPATH, "NODE_VERSION=20.11.1", "YARN_VERSION=1.22.19"},
			Entrypoint: []string{"/usr/local/bin/node", "/function/node_modules/aws-lambda-ric/bin/index.mjs"},
			Cmd:        []string{"index.handler"},
			WorkingDir: "/function",
		},
		Layers: [][]testimage.File{
			debianBase(),
			nodeLayer("10.2.4"),
			cat(dirs(0, fn, fn+"/node_modules", fn+"/node_modules/.bin", ric, ric+"/bin", ric+"/dist"), []testimage.File{
				testimage.Reg(fn+"/package.json", 0o644, `{"name":"fn","version":"1.0.0","dependencies":{"aws-lambda-ric":"^3.0.0"}}`+"\n"),
				testimage.Reg(fn+"/index.js", 0o644, "exports.handler = async (event) => {\n  return { statusCode: 200, body: JSON.stringify(event) };\n};\n"),
				testimage.Reg(ric+"/package.json", 0o644, `{"name":"aws-lambda-ric","version":"3.2.1","type":"module","main":"dist/index.mjs","bin":{"aws-lambda-ric":"bin/index.mjs"}}`+"\n"),
				testimage.Reg(ric+"/bin/index.mjs", 0o755, "#!/usr/bin/env node\nimport { run } from '../dist/index.mjs';\n\nif (process.argv.length < 3) {\n  throw new Error('No handler specified');\n}\nawait run(process.cwd(), process.argv[2]);\n"),
				testimage.Reg(ric+"/dist/index.mjs", 0o644, "// http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next\nexport async function run(appRoot, handler) {}\n"),
				testimage.Reg(ric+"/dist/rapid-client.node", 0o755, exe("")),
				testimage.Symlink(fn+"/node_modules/.bin/aws-lambda-ric", "../aws-lambda-ric/bin/index.mjs"),
			}),
		},
		CreatedBy: []string{
			"/bin/sh -c #(nop) ADD file:bookworm-slim in / ",
			"/bin/sh -c groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node && ...",
			"COPY --from=build-image /function /function # buildkit",
		},
	}
	img, err := testimage.Build(spec)
	if err != nil {
		panic(err)
	}
	return img
}

func TestSeedNodeCorrect(t *testing.T) {
	rep, code := inspectSeed(t, nodeImage())
	wantClean(t, rep, code)
	if rc := rep.Image.RuntimeClient; rc == nil || rc.Name != "node-aws-lambda-ric" {
		t.Errorf("runtime client %+v, want node-aws-lambda-ric", rc)
	}
}

// --- an AWS base image (public.ecr.aws/lambda/python:3.12) ----------------

// awsPythonImage is the python3.12 base image (AL2023-minimal: merged
// /usr, bash, /lambda-entrypoint.sh, /var/runtime/bootstrap, Python and
// awslambdaric under /var/lang, the CA bundle in /etc/pki) with app.py.
func awsPythonImage(cmd ...string) v1.Image {
	const site = "var/lang/lib/python3.12/site-packages"
	const entry = `#!/bin/sh
# Copyright Amazon.com, Inc. or its affiliates. All Rights Reserved.

if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
`
	const bootstrap = `#!/bin/bash
# Copyright Amazon.com, Inc. or its affiliates. All Rights Reserved.

export AWS_EXECUTION_ENV=AWS_Lambda_python3.12

if [ -z "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
  exec /var/lang/bin/python3.12 -m awslambdaric "$_HANDLER"
else
  wrapper="$AWS_LAMBDA_EXEC_WRAPPER"
  if [ ! -f "$wrapper" ]; then
    echo "$wrapper: does not exist"
    exit 127
  fi
  if [ ! -x "$wrapper" ]; then
    echo "$wrapper: is not an executable"
    exit 126
  fi
    exec -- "$wrapper" /var/lang/bin/python3.12 -m awslambdaric "$_HANDLER"
fi
`
	spec := testimage.Spec{
		Config: v1.Config{
			Env: []string{
				"LANG=en_US.UTF-8", "TZ=:/etc/localtime",
				"PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
				"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
				"LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime",
			},
			Entrypoint: []string{"/lambda-entrypoint.sh"},
			Cmd:        cmd,
			WorkingDir: "/var/task",
		},
		Layers: [][]testimage.File{
			cat(
				dirs(0, "dev", "etc", "etc/pki", "etc/pki/tls", "etc/pki/tls/certs", "etc/pki/ca-trust", "etc/pki/ca-trust/extracted", "etc/pki/ca-trust/extracted/pem",
					"home", "opt", "proc", "run", "sys", "usr", "usr/bin", "usr/lib", "usr/lib64", "usr/local", "usr/local/bin", "usr/sbin", "usr/share", "var", "var/lib"),
				[]testimage.File{
					testimage.Dir("root", 0o550),
					testimage.Dir("tmp", 0o1777),
					testimage.Symlink("bin", "usr/bin"),
					testimage.Symlink("lib", "usr/lib"),
					testimage.Symlink("lib64", "usr/lib64"),
					testimage.Symlink("sbin", "usr/sbin"),
					testimage.Reg("usr/lib64/ld-linux-x86-64.so.2", 0o755, exe("")),
					testimage.Reg("usr/lib64/libc.so.6", 0o755, exe("")),
					testimage.Reg("usr/bin/bash", 0o755, exe(glibcLoader)),
					testimage.Symlink("usr/bin/sh", "bash"),
					testimage.Reg("usr/bin/coreutils", 0o755, exe(glibcLoader)),
					testimage.Reg("usr/bin/microdnf", 0o755, exe(glibcLoader)),
					testimage.Symlink("usr/bin/dnf", "microdnf"),
					testimage.Reg("etc/system-release", 0o644, "Amazon Linux release 2023.6.20241010 (Amazon Linux)\n"),
					testimage.Reg("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\nnobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\n"),
					testimage.Reg("etc/group", 0o644, "root:x:0:\nbin:x:1:\nnobody:x:65534:\n"),
					testimage.Reg("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", 0o444, caBundle),
					testimage.Symlink("etc/pki/tls/certs/ca-bundle.crt", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
					testimage.Symlink("etc/pki/tls/cert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
				},
			),
			cat(
				dirs(0, "var/lang", "var/lang/bin", "var/lang/lib", "var/lang/lib/python3.12", "var/lang/lib/python3.12/site-packages",
					site+"/awslambdaric", site+"/awslambdaric-2.2.1.dist-info", "var/runtime", "var/task"),
				[]testimage.File{
					testimage.Reg("lambda-entrypoint.sh", 0o755, entry),
					testimage.Reg("usr/local/bin/aws-lambda-rie", 0o755, exe("")),
					testimage.Reg("var/runtime/bootstrap", 0o755, bootstrap),
					testimage.Reg("var/lang/bin/python3.12", 0o755, exe(glibcLoader)+"\x00libpython3.12.so.1.0\x00"),
					testimage.Symlink("var/lang/bin/python3", "python3.12"),
					testimage.Symlink("var/lang/bin/python", "python3"),
					testimage.Reg("var/lang/lib/libpython3.12.so.1.0", 0o755, exe("")),
					testimage.Reg("var/lang/lib/python3.12/os.py", 0o644, "import sys\n"),
					testimage.Reg(site+"/awslambdaric/__init__.py", 0o644, "__version__ = \"2.2.1\"\n"),
					testimage.Reg(site+"/awslambdaric/__main__.py", 0o644, "import os\nimport sys\n\nfrom . import bootstrap\n\n\ndef main(args):\n    app_root = os.getcwd()\n    handler = args[1]\n    lambda_runtime_api_addr = os.environ[\"AWS_LAMBDA_RUNTIME_API\"]\n    bootstrap.run(app_root, handler, lambda_runtime_api_addr)\n\n\nif __name__ == \"__main__\":\n    main(sys.argv)\n"),
					testimage.Reg(site+"/awslambdaric/bootstrap.py", 0o644, "def run(app_root, handler, lambda_runtime_api_addr):\n    # GET /2018-06-01/runtime/invocation/next\n    pass\n"),
					testimage.Reg(site+"/awslambdaric-2.2.1.dist-info/WHEEL", 0o644, "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.42.0)\nRoot-Is-Purelib: false\nTag: cp312-cp312-manylinux_2_17_x86_64\n"),
				},
			),
			{testimage.Reg("var/task/app.py", 0o644, "import json\n\n\ndef handler(event, context):\n    return {\"statusCode\": 200, \"body\": json.dumps(event)}\n")},
		},
		CreatedBy: []string{"", "", "COPY app.py /var/task/ # buildkit"},
	}
	img, err := testimage.Build(spec)
	if err != nil {
		panic(err)
	}
	return img
}

func TestSeedAWSBasePython(t *testing.T) {
	t.Run("CMD app.handler", func(t *testing.T) {
		rep, code := inspectSeed(t, awsPythonImage("app.handler"))
		wantClean(t, rep, code)
		if rc := rep.Image.RuntimeClient; rc == nil || rc.Name == "" {
			t.Errorf("runtime client %+v, want one recognised", rc)
		}
	})
	t.Run("CMD app.missing_module.handler", func(t *testing.T) {
		rep, code := inspectSeed(t, awsPythonImage("app.missing_module.handler"))
		wantExit(t, code, ExitFindings)
		want(t, rep, "handler-not-found", "error", "/var/task/app/missing_module.py",
			[]string{"Unable to import module 'app.missing_module': No module named 'app.missing_module'; 'app' is not a package"}, nil)
	})
	t.Run("CMD nohandler", func(t *testing.T) {
		rep, code := inspectSeed(t, awsPythonImage("nohandler"))
		wantExit(t, code, ExitFindings)
		want(t, rep, "handler-malformed", "error", "", []string{`"nohandler"`, "no dot", "Runtime.MalformedHandlerName"}, []string{`CMD ["app.handler"]`})
	})
}
