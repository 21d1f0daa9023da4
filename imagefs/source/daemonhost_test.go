package source

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/internal/fakedocker"
	"github.com/moby/moby/client"
)

// writeContext stores a docker context named name with the docker
// endpoint host in the Docker config dir, as `docker context create`
// does: contexts/meta/<sha256 of name>/meta.json.
func writeContext(t *testing.T, dir, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{
		"Name":      name,
		"Metadata":  map[string]any{"Description": "lambdoctor test"},
		"Endpoints": map[string]any{"docker": map[string]any{"Host": host, "SkipTLSVerify": false}},
	})
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// useCurrentContext writes config.json with currentContext set to name.
func useCurrentContext(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{},"currentContext":"`+name+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
}

// cleanDaemonEnv unsets what selects a daemon and points DOCKER_CONFIG and
// XDG_RUNTIME_DIR at fresh directories; it returns the config dir.
func cleanDaemonEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	return dir
}

func hosts(es []daemonEndpoint) []string {
	var out []string
	for _, e := range es {
		if e.Err != nil {
			out = append(out, "error: "+e.Err.Error())
			continue
		}
		out = append(out, e.Host)
	}
	return out
}

func TestResolveDaemonsOrder(t *testing.T) {
	podman := func() []string {
		return []string{"unix://" + filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "podman", "podman.sock"), "unix:///run/podman/podman.sock"}
	}
	t.Run("nothing set: the default socket, then podman's", func(t *testing.T) {
		cleanDaemonEnv(t)
		got := resolveDaemons("")
		want := append([]string{client.DefaultDockerHost}, podman()...)
		if strings.Join(hosts(got), " ") != strings.Join(want, " ") {
			t.Errorf("got %v, want %v", hosts(got), want)
		}
		if !strings.Contains(got[0].String(), "DOCKER_HOST, DOCKER_CONTEXT and a current context are unset") {
			t.Errorf("default endpoint named %q", got[0])
		}
	})
	t.Run("no XDG_RUNTIME_DIR: only the system podman socket", func(t *testing.T) {
		cleanDaemonEnv(t)
		t.Setenv("XDG_RUNTIME_DIR", "")
		got := hosts(resolveDaemons(""))
		if strings.Join(got, " ") != client.DefaultDockerHost+" unix:///run/podman/podman.sock" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("current context of config.json", func(t *testing.T) {
		dir := cleanDaemonEnv(t)
		writeContext(t, dir, "colima", "unix:///colima/docker.sock")
		useCurrentContext(t, dir, "colima")
		got := resolveDaemons("")
		if len(got) != 1 || got[0].Host != "unix:///colima/docker.sock" {
			t.Fatalf("got %v", hosts(got))
		}
		if want := `context "colima" from currentContext in ` + filepath.Join(dir, "config.json"); !strings.Contains(got[0].String(), want) {
			t.Errorf("named %q, want it to say %q", got[0], want)
		}
	})
	t.Run("DOCKER_CONTEXT beats the current context", func(t *testing.T) {
		dir := cleanDaemonEnv(t)
		writeContext(t, dir, "colima", "unix:///colima/docker.sock")
		writeContext(t, dir, "orbstack", "unix:///orb/docker.sock")
		useCurrentContext(t, dir, "colima")
		t.Setenv("DOCKER_CONTEXT", "orbstack")
		got := resolveDaemons("")
		if len(got) != 1 || got[0].Host != "unix:///orb/docker.sock" || !strings.Contains(got[0].From, "DOCKER_CONTEXT") {
			t.Fatalf("got %v %v", hosts(got), got)
		}
	})
	t.Run("DOCKER_HOST beats DOCKER_CONTEXT", func(t *testing.T) {
		dir := cleanDaemonEnv(t)
		writeContext(t, dir, "orbstack", "unix:///orb/docker.sock")
		t.Setenv("DOCKER_CONTEXT", "orbstack")
		t.Setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
		got := resolveDaemons("")
		if len(got) != 1 || got[0].Host != "tcp://10.0.0.1:2375" || got[0].From != "DOCKER_HOST" {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("the caller's host beats DOCKER_HOST", func(t *testing.T) {
		cleanDaemonEnv(t)
		t.Setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
		got := resolveDaemons("unix:///explicit.sock")
		if len(got) != 1 || got[0].Host != "unix:///explicit.sock" || got[0].String() != "unix:///explicit.sock" {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("context default is the default socket", func(t *testing.T) {
		dir := cleanDaemonEnv(t)
		useCurrentContext(t, dir, "default")
		got := resolveDaemons("")
		if got[0].Host != client.DefaultDockerHost || !strings.Contains(got[0].From, `context "default"`) || len(got) != 3 {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("a missing context is an error, not the default socket", func(t *testing.T) {
		cleanDaemonEnv(t)
		t.Setenv("DOCKER_CONTEXT", "gone")
		got := resolveDaemons("")
		if len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), `context "gone" does not exist`) {
			t.Fatalf("got %v", hosts(got))
		}
		loadErr(t, "docker:fn", Options{}, DaemonUnreachable, `context "gone" from DOCKER_CONTEXT`, `context "gone" does not exist`, "docker context ls")
	})
	t.Run("a malformed config.json is named", func(t *testing.T) {
		dir := cleanDaemonEnv(t)
		os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o600)
		loadErr(t, "docker:fn", Options{}, DaemonUnreachable, filepath.Join(dir, "config.json")+" is not valid JSON")
	})
	t.Run("an ssh context says what to do", func(t *testing.T) {
		dir := cleanDaemonEnv(t)
		writeContext(t, dir, "remote", "ssh://me@build-box")
		t.Setenv("DOCKER_CONTEXT", "remote")
		loadErr(t, "docker:fn", Options{}, DaemonUnreachable, "over ssh", "DOCKER_HOST=unix:///tmp/docker.sock")
	})
}

func TestContextTLS(t *testing.T) {
	dir := cleanDaemonEnv(t)
	writeContext(t, dir, "secure", "tcp://127.0.0.1:2376")
	sum := sha256.Sum256([]byte("secure"))
	tlsDir := filepath.Join(dir, "contexts", "tls", hex.EncodeToString(sum[:]), "docker")
	os.MkdirAll(tlsDir, 0o700)
	os.WriteFile(filepath.Join(tlsDir, "ca.pem"), []byte("not a certificate"), 0o600)
	t.Setenv("DOCKER_CONTEXT", "secure")
	got := resolveDaemons("")
	if len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "ca.pem holds no PEM certificate") {
		t.Fatalf("got %v", got)
	}
	os.Remove(filepath.Join(tlsDir, "ca.pem"))
	got = resolveDaemons("")
	if got[0].Err != nil || got[0].tls != nil {
		t.Fatalf("no TLS files: got err %v tls %v", got[0].Err, got[0].tls)
	}
}

// TestNoDaemonAnswers: with nothing chosen, the default socket and
// podman's are tried in order and all named.
func TestNoDaemonAnswers(t *testing.T) {
	cleanDaemonEnv(t)
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		t.Skip("a daemon's socket exists at /var/run/docker.sock")
	}
	if _, err := os.Stat("/run/podman/podman.sock"); err == nil {
		t.Skip("podman's socket exists at /run/podman/podman.sock")
	}
	le := loadErr(t, "docker:fn", Options{}, DaemonUnreachable, "no Docker (or podman) daemon answered; tried, in order: "+client.DefaultDockerHost+" (the default socket",
		filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "podman", "podman.sock")+" (podman's rootless socket, in $XDG_RUNTIME_DIR): no such socket",
		"unix:///run/podman/podman.sock (podman's system socket): no such socket")
	if i, j := strings.Index(le.Error(), "docker.sock"), strings.Index(le.Error(), "podman.sock"); i > j {
		t.Errorf("not in order: %s", le)
	}
}

// TestPodmanSocketAnswers: with no Docker socket, a daemon at podman's
// rootless socket is used.
func TestPodmanSocketAnswers(t *testing.T) {
	cleanDaemonEnv(t)
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		t.Skip("a daemon's socket exists at /var/run/docker.sock")
	}
	sock := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "podman", "podman.sock")
	os.MkdirAll(filepath.Dir(sock), 0o700)
	fakedocker.Serve(t, sock, nil, nil)
	start := time.Now()
	loadErr(t, "docker:fn", Options{}, NotFound, `image "fn" not found in the local Docker daemon at unix://`+sock+" (podman's rootless socket")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestContextTLSDaemon: a context whose endpoint is TLS (tcp:// with the
// CA docker context create stored) is reached over TLS.
func TestContextTLSDaemon(t *testing.T) {
	var sawTLS bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTLS = r.TLS != nil
		w.Header().Set("Api-Version", "1.41")
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Write([]byte("OK"))
			return
		}
		http.Error(w, `{"message":"no such image: fn"}`, http.StatusNotFound)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	host := "tcp://" + strings.TrimPrefix(srv.URL, "https://")

	dir := cleanDaemonEnv(t)
	writeContext(t, dir, "tls", host)
	sum := sha256.Sum256([]byte("tls"))
	tlsDir := filepath.Join(dir, "contexts", "tls", hex.EncodeToString(sum[:]), "docker")
	os.MkdirAll(tlsDir, 0o700)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	os.WriteFile(filepath.Join(tlsDir, "ca.pem"), ca, 0o600)
	useCurrentContext(t, dir, "tls")
	loadErr(t, "docker:fn", Options{}, NotFound, `not found in the local Docker daemon at `+host+` (context "tls" from currentContext`)
	if !sawTLS {
		t.Error("the daemon was not reached over TLS")
	}

	// Without the CA, the server's certificate is refused.
	os.Remove(filepath.Join(tlsDir, "ca.pem"))
	os.WriteFile(filepath.Join(tlsDir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCert(t)}), 0o600)
	loadErr(t, "docker:fn", Options{}, DaemonUnreachable, host, "its TLS certificate was refused", "certificate signed by unknown authority")
}

// otherCert is a self-signed CA certificate that did not sign the test
// server's (httptest's servers all share one certificate).
func otherCert(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lambdoctor test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
