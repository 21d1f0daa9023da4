package source

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// requireRegistry is set by CI, where the real-registry test must run.
const requireRegistry = "LAMBDOCTOR_REQUIRE_REGISTRY"

// startDistribution runs Debian's docker-registry (distribution) on
// loopback with htpasswd authentication for user:password and returns its
// host:port. It is stopped in t.Cleanup.
func startDistribution(t *testing.T, user, password string) string {
	t.Helper()
	skip := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		if os.Getenv(requireRegistry) == "1" {
			t.Fatalf("%s (and %s=1)", msg, requireRegistry)
		}
		t.Skip(msg)
	}
	registry, err := exec.LookPath("docker-registry")
	if err != nil {
		skip("docker-registry is not on PATH (Debian: apt-get install docker-registry)")
	}
	htpasswd, err := exec.LookPath("htpasswd")
	if err != nil {
		skip("htpasswd is not on PATH (Debian: apt-get install apache2-utils)")
	}
	dir := t.TempDir()
	pw, err := exec.Command(htpasswd, "-Bbn", user, password).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), pw, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  secret: lambdoctor-test
auth:
  htpasswd:
    realm: lambdoctor-test
    path: %s
`, filepath.Join(dir, "data"), addr, filepath.Join(dir, "htpasswd"))
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logb bytes.Buffer
	cmd := exec.Command(registry, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logb, &logb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		select {
		case <-exited:
			t.Fatalf("docker-registry exited:\n%s", logb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer within 20 s:\n%s", logb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeDockerConfig writes config.json into a fresh DOCKER_CONFIG.
func writeDockerConfig(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// credentialHelper puts docker-credential-NAME on PATH, answering every
// get with user and secret.
func credentialHelper(t *testing.T, helperName, user, secret string) {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread url\nprintf '{\"ServerURL\":\"%%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}' \"$url\"\n", user, secret)
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+helperName), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// TestRealRegistryAuthMessages runs against a real registry (distribution
// 2.8, as Debian ships it) with htpasswd: a refusal says whether
// credentials were found for the host and in which file or helper.
func TestRealRegistryAuthMessages(t *testing.T) {
	const user, password = "lambdoctor", "s3cret-pass"
	host := startDistribution(t, user, password)
	cleanDaemonEnv(t)
	img := testimage.Image(t, lambdaSpec("amd64"))
	ref, _ := name.ParseReference(host + "/team/fn:v1")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
		t.Fatalf("pushing the test image: %v", err)
	}
	image := "registry:" + host + "/team/fn:v1"

	t.Run("no Docker config", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		t.Setenv("HOME", t.TempDir())
		loadErr(t, image, Options{}, Unauthorized, "refused anonymous access to "+host+"/team/fn (UNAUTHORIZED)",
			"no credentials found for "+host+": there is no Docker config file", "The repository may not exist", "docker login "+host)
	})
	t.Run("config without an entry for the host", func(t *testing.T) {
		p := writeDockerConfig(t, `{"auths":{"ghcr.io":{"auth":"`+basicAuth("x", "y")+`"}}}`)
		loadErr(t, image, Options{}, Unauthorized, "no credentials found for "+host+" in "+p+" (auths has no entry for it)", "The repository may not exist")
	})
	t.Run("wrong password in auths", func(t *testing.T) {
		p := writeDockerConfig(t, `{"auths":{"`+host+`":{"auth":"`+basicAuth(user, "wrong")+`"}}}`)
		le := loadErr(t, image, Options{}, Unauthorized, "refused the credentials for "+host+" from "+p+" (auths) (UNAUTHORIZED", "they are wrong or expired", "docker login "+host)
		if strings.Contains(le.Error(), "may not exist") {
			t.Errorf("a refusal of credentials blames the repository: %s", le)
		}
	})
	t.Run("wrong password from credsStore", func(t *testing.T) {
		credentialHelper(t, "ldtest", user, "wrong")
		p := writeDockerConfig(t, `{"auths":{},"credsStore":"ldtest"}`)
		loadErr(t, image, Options{}, Unauthorized, "refused the credentials for "+host+" from credential helper docker-credential-ldtest (credsStore in "+p+")")
	})
	t.Run("wrong password from credHelpers", func(t *testing.T) {
		credentialHelper(t, "ldtest2", user, "wrong")
		p := writeDockerConfig(t, `{"credHelpers":{"`+host+`":"ldtest2"}}`)
		loadErr(t, image, Options{}, Unauthorized, "refused the credentials for "+host+" from credential helper docker-credential-ldtest2 (credHelpers in "+p+")")
	})
	t.Run("a helper that fails", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		p := writeDockerConfig(t, `{"credsStore":"missing"}`)
		loadErr(t, image, Options{}, Unauthorized, "cannot get the credentials for "+host+" from credential helper docker-credential-missing (credsStore in "+p+")")
	})
	t.Run("right password", func(t *testing.T) {
		writeDockerConfig(t, `{"auths":{"`+host+`":{"auth":"`+basicAuth(user, password)+`"}}}`)
		got := mustLoad(t, image, Options{})
		checkLambdaConfig(t, got, "amd64")
		checkLayers(t, got)
		loadErr(t, "registry:"+host+"/team/nope:v1", Options{}, NotFound, "image not found in registry "+host+"/team/nope")
	})
	t.Run("bare name: both halves", func(t *testing.T) {
		writeDockerConfig(t, `{}`)
		loadErr(t, host+"/team/nope:v1", Options{}, Unauthorized, "refused anonymous access", "The repository may not exist", "no local Docker daemon answered to look for it there")
	})
}
