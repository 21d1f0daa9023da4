package source

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// daemonEndpoint is one Docker API address a daemon may answer at, and
// where lambdoctor found it.
type daemonEndpoint struct {
	// Host is the address: unix:///path, tcp://host:port.
	Host string
	// From says where Host came from, for messages ("DOCKER_HOST",
	// `context "colima" (DOCKER_CONTEXT)`); "" for Options.DockerHost.
	From string
	// fromEnv: the address is $DOCKER_HOST, whose TLS settings are
	// DOCKER_CERT_PATH and DOCKER_TLS_VERIFY (client.FromEnv).
	fromEnv bool
	// tls is the TLS material of a context, nil for none.
	tls *tls.Config
	// Err is set when the endpoint could not be worked out (a context
	// that does not exist, an unreadable meta.json): it is then reported
	// as what was tried, and never dialled.
	Err error
}

// String names the endpoint in messages: the address and its origin.
func (e daemonEndpoint) String() string {
	h := e.Host
	if h == "" {
		h = "(no address)"
	}
	if e.From == "" {
		return h
	}
	return h + " (" + e.From + ")"
}

// dockerConfigDir is the Docker CLI's configuration directory:
// $DOCKER_CONFIG, else ~/.docker.
func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker")
}

// podmanSockets are the addresses podman's API service listens at: the
// user's (rootless) socket, then the system one (podman-system-service(1)).
func podmanSockets() []daemonEndpoint {
	var out []daemonEndpoint
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		out = append(out, daemonEndpoint{Host: "unix://" + filepath.Join(rt, "podman", "podman.sock"), From: "podman's rootless socket, in $XDG_RUNTIME_DIR"})
	}
	return append(out, daemonEndpoint{Host: "unix:///run/podman/podman.sock", From: "podman's system socket"})
}

// resolveDaemons lists the daemon addresses to try, in order, the way the
// docker CLI picks its endpoint
// (https://docs.docker.com/engine/manage-resources/contexts/): explicit
// (Options.DockerHost), then $DOCKER_HOST, then the context named by
// $DOCKER_CONTEXT, then the current context of the Docker config
// ("currentContext" in $DOCKER_CONFIG/config.json, or ~/.docker), then
// the default socket. A choice the user made (any but the default socket)
// is the only one tried, as with the docker CLI; with none, podman's
// sockets follow the default socket, for machines that run podman and no
// Docker.
func resolveDaemons(explicit string) []daemonEndpoint {
	if explicit != "" {
		return []daemonEndpoint{{Host: explicit}}
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return []daemonEndpoint{{Host: h, From: "DOCKER_HOST", fromEnv: true}}
	}
	dir := dockerConfigDir()
	name, from := os.Getenv("DOCKER_CONTEXT"), "DOCKER_CONTEXT"
	if name == "" && dir != "" {
		cfgPath := filepath.Join(dir, "config.json")
		cur, err := currentContext(cfgPath)
		if err != nil {
			return []daemonEndpoint{{From: "the current context of " + cfgPath, Err: err}}
		}
		name, from = cur, "currentContext in "+cfgPath
	}
	if name != "" && name != "default" {
		return []daemonEndpoint{contextEndpoint(dir, name, from)}
	}
	why := "the default socket: DOCKER_HOST, DOCKER_CONTEXT and a current context are unset"
	if name == "default" {
		why = fmt.Sprintf("the default socket: context \"default\" (%s)", from)
	}
	return append([]daemonEndpoint{{Host: client.DefaultDockerHost, From: why}}, podmanSockets()...)
}

// currentContext reads "currentContext" from the Docker CLI's config.json;
// "" when the file does not exist or sets none.
func currentContext(cfgPath string) (string, error) {
	data, err := os.ReadFile(cfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %v", cfgPath, err)
	}
	var cf struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(data, &cf); err != nil {
		return "", fmt.Errorf("%s is not valid JSON: %v", cfgPath, err)
	}
	return cf.CurrentContext, nil
}

// contextMeta is the part of a context's meta.json lambdoctor reads.
type contextMeta struct {
	Name      string `json:"Name"`
	Endpoints map[string]struct {
		Host          string `json:"Host"`
		SkipTLSVerify bool   `json:"SkipTLSVerify"`
	} `json:"Endpoints"`
}

// contextEndpoint reads the docker endpoint of the context name from the
// Docker CLI's context store: contexts/meta/<sha256 of name>/meta.json,
// with TLS material in contexts/tls/<sha256 of name>/docker/ (ca.pem,
// cert.pem, key.pem), as `docker context create` writes them.
func contextEndpoint(dir, name, from string) daemonEndpoint {
	e := daemonEndpoint{From: fmt.Sprintf("context %q from %s", name, from)}
	if dir == "" {
		e.Err = errors.New("no Docker config directory (DOCKER_CONFIG is unset and the home directory is unknown)")
		return e
	}
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	data, err := os.ReadFile(metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		e.Err = fmt.Errorf("context %q does not exist (no %s; `docker context ls` lists the contexts)", name, metaPath)
		return e
	}
	if err != nil {
		e.Err = fmt.Errorf("reading %s: %v", metaPath, err)
		return e
	}
	var m contextMeta
	if err := json.Unmarshal(data, &m); err != nil {
		e.Err = fmt.Errorf("%s is not valid JSON: %v", metaPath, err)
		return e
	}
	ep, ok := m.Endpoints["docker"]
	if !ok || ep.Host == "" {
		e.Err = fmt.Errorf("context %q has no docker endpoint (%s)", name, metaPath)
		return e
	}
	e.Host = ep.Host
	if strings.HasPrefix(ep.Host, "ssh://") {
		e.Err = fmt.Errorf("context %q reaches the daemon over ssh, which lambdoctor does not do: forward its socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST) and set DOCKER_HOST=unix:///tmp/docker.sock", name)
		return e
	}
	tlsDir := filepath.Join(dir, "contexts", "tls", id, "docker")
	cfg, err := contextTLS(tlsDir, ep.SkipTLSVerify)
	if err != nil {
		e.Err = fmt.Errorf("context %q: %v", name, err)
		return e
	}
	e.tls = cfg
	return e
}

// contextTLS builds the TLS configuration of a context from the files the
// docker CLI stores for it; nil when there are none and verification is
// not skipped (a plain unix or tcp endpoint).
func contextTLS(dir string, skipVerify bool) (*tls.Config, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	ca, err := read("ca.pem")
	if err != nil {
		return nil, err
	}
	cert, err := read("cert.pem")
	if err != nil {
		return nil, err
	}
	key, err := read("key.pem")
	if err != nil {
		return nil, err
	}
	if ca == nil && cert == nil && key == nil && !skipVerify {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("%s holds no PEM certificate", filepath.Join(dir, "ca.pem"))
		}
		cfg.RootCAs = pool
	}
	if (cert == nil) != (key == nil) {
		return nil, fmt.Errorf("%s has only one of cert.pem and key.pem", dir)
	}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("the client certificate in %s: %v", dir, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// client connects to the endpoint; connect, when > 0, bounds establishing
// the connection.
func (e daemonEndpoint) client(connect time.Duration) (*client.Client, error) {
	if e.Err != nil {
		return nil, &LoadError{Kind: DaemonUnreachable, Err: fmt.Errorf("cannot use the Docker daemon of %s: %w", e.From, e.Err)}
	}
	var copts []client.Opt
	switch {
	case e.fromEnv:
		copts = append(copts, client.FromEnv)
	default:
		if e.tls != nil {
			copts = append(copts, client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: e.tls}}))
		}
		copts = append(copts, client.WithHost(e.Host), client.WithAPIVersionFromEnv())
	}
	if connect > 0 {
		if dial := daemonDialer(e.Host, connect); dial != nil {
			copts = append(copts, client.WithDialContext(dial))
		}
	}
	cli, err := client.New(copts...)
	if err != nil {
		return nil, errorf(DaemonUnreachable, "configuring the Docker client for %s: %v", e, err)
	}
	return cli, nil
}

// daemonDialer dials the daemon's unix socket or TCP address with connect
// as its timeout; nil for other schemes, which keep the client's dialer.
func daemonDialer(host string, connect time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	u, err := client.ParseHostURL(host)
	if err != nil {
		return nil
	}
	d := &net.Dialer{Timeout: connect}
	switch u.Scheme {
	case "unix", "tcp": // Host is the socket's path for unix
		return func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, u.Scheme, u.Host) }
	}
	return nil
}

// daemonAttempt is an endpoint that did not answer, and why.
type daemonAttempt struct {
	endpoint daemonEndpoint
	why      string
}

// triedList formats the attempts in order, for messages.
func triedList(tried []daemonAttempt) string {
	parts := make([]string, len(tried))
	for i, a := range tried {
		parts[i] = a.endpoint.String() + ": " + a.why
	}
	return strings.Join(parts, "; ")
}

// pingDaemon asks e for a ping within daemonPingTimeout; it returns the
// connected client, or why it did not answer.
func pingDaemon(ctx context.Context, e daemonEndpoint, connect time.Duration) (*client.Client, string) {
	if e.Err != nil {
		return nil, e.Err.Error()
	}
	if connect <= 0 || connect > daemonPingTimeout {
		connect = daemonPingTimeout
	}
	cli, err := e.client(connect)
	if err != nil {
		return nil, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, daemonPingTimeout)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		cli.Close()
		return nil, dialReason(err)
	}
	return cli, ""
}

// dialReason says in a few words why a daemon did not answer.
func dialReason(err error) string {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return "no such socket"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied (may this user use the socket?)"
	case errors.Is(err, context.DeadlineExceeded), isDialTimeout(err):
		return fmt.Sprintf("no answer within %s", daemonPingTimeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// dialDaemon reports why nothing listens at e's address ("" when
// something does), dialling it within connect. Schemes other than unix
// and tcp are left to the client.
func dialDaemon(ctx context.Context, e daemonEndpoint, connect time.Duration) string {
	if e.Err != nil {
		return e.Err.Error()
	}
	u, err := client.ParseHostURL(e.Host)
	if err != nil {
		return err.Error()
	}
	if u.Scheme != "unix" && u.Scheme != "tcp" {
		return ""
	}
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	d := &net.Dialer{Timeout: connect}
	conn, err := d.DialContext(ctx, u.Scheme, u.Host)
	if err != nil {
		return dialReason(err)
	}
	conn.Close()
	return ""
}

// findDaemon picks the daemon to use among the endpoints of
// resolveDaemons, in order. With probe (a bare reference, which falls back
// to the registry), the first that answers a ping within
// daemonPingTimeout; without (docker:), the first where something listens,
// so that a busy daemon is not passed over for a slow ping, and a single
// endpoint (the user's choice) is used as it is, its own errors saying
// what failed. tried lists the endpoints that did not answer, in order;
// the error names them all.
func findDaemon(ctx context.Context, explicit string, connect time.Duration, probe bool) (*client.Client, daemonEndpoint, []daemonAttempt, error) {
	cands := resolveDaemons(explicit)
	if len(cands) == 1 && !probe {
		cli, err := cands[0].client(connect)
		if err != nil {
			return nil, cands[0], []daemonAttempt{{cands[0], err.Error()}}, err
		}
		return cli, cands[0], nil, nil
	}
	var tried []daemonAttempt
	for _, e := range cands {
		if !probe {
			if why := dialDaemon(ctx, e, connect); why != "" {
				tried = append(tried, daemonAttempt{e, why})
				continue
			}
			cli, err := e.client(connect)
			return cli, e, tried, err
		}
		cli, why := pingDaemon(ctx, e, connect)
		if cli != nil {
			// The ping's client has the ping's short connect limit.
			cli.Close()
			cli, err := e.client(connect)
			return cli, e, tried, err
		}
		tried = append(tried, daemonAttempt{e, why})
	}
	return nil, daemonEndpoint{}, tried, noDaemonError(tried)
}

// noDaemonError is the error when no endpoint answered.
func noDaemonError(tried []daemonAttempt) error {
	if len(tried) == 1 {
		return errorf(DaemonUnreachable, "cannot connect to the Docker daemon at %s: %s; is it running, and may this user use its socket?", tried[0].endpoint, tried[0].why)
	}
	return errorf(DaemonUnreachable, "no Docker (or podman) daemon answered; tried, in order: %s. Start one, or point DOCKER_HOST or `docker context use` at it", triedList(tried))
}
