package checks

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/lambdoctor/lambdoctor/imagefs"
)

// caBundleMissing is LD601: the TLS stack the function runs with finds no
// usable CA certificates. It decides which stack from the entrypoint chain
// (Go binary, Python, Node, Java, or an OpenSSL-based program), looks where
// that stack looks (the distro bundle paths Go's crypto/x509 and OpenSSL
// read, SSL_CERT_FILE/SSL_CERT_DIR, certifi and botocore's bundles, Java's
// cacerts), parses the bundle, and checks it still holds the Amazon roots
// AWS endpoints chain to.
type caBundleMissing struct{}

// goCertFiles are the bundle files Go's crypto/x509 tries on Linux, in
// order (root_linux.go); the first one that can be read is used.
var goCertFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian/Ubuntu/Gentoo etc.
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora/RHEL 6, Amazon Linux
	"/etc/ssl/ca-bundle.pem",                            // OpenSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS/RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine Linux
}

// goCertDirs are the directories Go's crypto/x509 reads every file of.
var goCertDirs = []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}

// opensslCertFiles add the OPENSSLDIR/cert.pem files distro OpenSSL builds
// read (Debian's /usr/lib/ssl, RHEL's /etc/pki/tls, source builds'
// /usr/local/ssl); they are usually links to one of goCertFiles.
var opensslCertFiles = append(append([]string(nil), goCertFiles...),
	"/usr/lib/ssl/cert.pem", "/etc/pki/tls/cert.pem", "/usr/local/ssl/cert.pem")

var opensslCertDirs = append(append([]string(nil), goCertDirs...), "/usr/lib/ssl/certs", "/usr/local/ssl/certs")

// amazonRoots are the roots amazontrust.com recommends for custom trust
// stores; AWS service endpoints chain to them.
var amazonRoots = []string{
	"Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4",
	"Starfield Services Root Certificate Authority - G2",
}

func (caBundleMissing) Meta() Meta {
	return Meta{
		ID:       "LD601",
		Name:     "ca-bundle-missing",
		Title:    "no usable CA certificates where the function's TLS stack looks",
		Severity: Error,
		Category: CategoryOf("LD601"),
		Needs: []string{
			"/etc/ssl/certs/*", "/etc/ssl/*.pem", "/etc/pki/tls/certs/*", "/etc/pki/tls/*.pem",
			"/etc/pki/ca-trust/extracted/pem/*", "/usr/lib/ssl/cert.pem", "/usr/local/ssl/cert.pem",
			"/usr/share/ca-certificates/*/*",
		},
	}
}

// tlsStack is how a program finds its trusted roots.
type tlsStack int

const (
	stackNone    tlsStack = iota // no TLS use seen, or an unknown program
	stackGo                      // Go crypto/x509
	stackOpenSSL                 // OpenSSL (or a library reading the same files)
	stackPython                  // CPython: ssl (OpenSSL), requests (certifi), boto3 (botocore/certifi)
	stackNode                    // Node.js: built-in Mozilla roots
	stackJava                    // Java: $JAVA_HOME/lib/security/cacerts
	stackBuiltin                 // a native program with an embedded root store
)

func (s tlsStack) String() string {
	switch s {
	case stackGo:
		return "Go crypto/x509"
	case stackOpenSSL:
		return "OpenSSL"
	case stackPython:
		return "Python"
	case stackNode:
		return "Node.js"
	case stackJava:
		return "Java"
	case stackBuiltin:
		return "an embedded root store"
	}
	return "unknown"
}

// tlsProgram is the program on the entrypoint chain whose TLS stack
// decides, with why it was classified so.
type tlsProgram struct {
	Stack tlsStack
	Path  string
	Entry *imagefs.Entry
	Why   string
}

// tlsTransparent only start the next program; the one they start
// decides.
var tlsTransparent = map[string]bool{
	"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "busybox": true,
	"env": true, "tini": true, "tini-static": true, "dumb-init": true, "exec": true,
	"aws-lambda-rie": true, "aws-lambda-rie-arm64": true, "aws-lambda-rie-x86_64": true,
}

// tlsMaxScan bounds how much of a native binary is read to classify it.
const tlsMaxScan = 256 << 20

// tlsProgramOf classifies the programs on the chain; the last one that is
// not a shell or init wrapper decides.
func tlsProgramOf(t *Target) tlsProgram {
	return t.memo("ld601.program", func() any {
		var out tlsProgram
		ch := t.Chain()
		if ch == nil {
			return out
		}
		for _, l := range ch.Links {
			if l.Entry == nil || l.Path == "" {
				continue
			}
			if p := tlsClassifyLink(t, l); p.Stack != stackNone {
				out = p
			}
		}
		return out
	}).(tlsProgram)
}

// tlsClassifyLink names the TLS stack of one chain link.
func tlsClassifyLink(t *Target, l Link) tlsProgram {
	p := tlsProgram{Path: l.Path, Entry: l.Entry}
	for _, n := range []string{path.Base(l.Path), path.Base(l.Name)} {
		switch {
		case strings.HasPrefix(n, "python"):
			p.Stack, p.Why = stackPython, "a Python interpreter"
		case n == "node" || n == "nodejs":
			p.Stack, p.Why = stackNode, "Node.js"
		case n == "java":
			p.Stack, p.Why = stackJava, "a Java runtime"
		case strings.HasPrefix(n, "ruby"), n == "dotnet", strings.HasPrefix(n, "php"), n == "curl", n == "wget", n == "perl":
			p.Stack, p.Why = stackOpenSSL, n+", which verifies TLS with OpenSSL and the system CA files"
		}
		if p.Stack != stackNone {
			return p
		}
	}
	if l.Kind != LinkELF || tlsTransparent[path.Base(l.Path)] {
		return p
	}
	e := l.Entry
	if e.Size <= 0 || e.Size > tlsMaxScan {
		return p
	}
	if info, ok := t.FS.ELF(l.Path); ok && info.Scanned {
		// A Go program the layer pass searched for the markers: no read.
		if has, _ := info.Holds("\xff Go buildinf:"); has {
			return tlsClassifyBinary(p, func(s string) bool {
				has, _ := info.Holds(s)
				return has
			})
		}
	}
	b, err := t.readFile(l.Path)
	if err != nil {
		return p
	}
	return tlsClassifyBinary(p, func(s string) bool { return bytes.Contains(b, []byte(s)) })
}

// tlsClassifyBinary reads a native binary's bytes: Go binaries carry the
// "\xff Go buildinf:" marker and function names in pclntab (crypto/tls.
// only when TLS is linked in); dynamic ones name libssl/libcurl in their
// dynamic string table; embedded root stores carry the roots' names.
// has reports whether the binary holds a string; for a Go program it is
// asked only for the strings elfinfo's markers cover.
func tlsClassifyBinary(p tlsProgram, has func(string) bool) tlsProgram {
	embedded := has("golang.org/x/crypto/x509roots/fallback") || (has("ISRG Root X1") && has("Amazon Root CA 1") && has("DigiCert"))
	switch {
	case has("\xff Go buildinf:"):
		switch {
		case !has("crypto/tls."):
			return p // Go without crypto/tls makes no TLS connections
		case embedded:
			p.Stack, p.Why = stackBuiltin, "a Go binary with an embedded root store (x509roots/fallback)"
		default:
			p.Stack, p.Why = stackGo, "a Go binary linking crypto/tls"
		}
	case embedded:
		p.Stack, p.Why = stackBuiltin, "a native binary with an embedded root store (webpki-roots or similar)"
	case has("libssl.so") || has("libcurl.so") || has("libgnutls.so") || has("libcrypto.so"):
		p.Stack, p.Why = stackOpenSSL, "a native binary linked to libssl/libcurl"
	case has("rustls"):
		p.Stack, p.Why = stackOpenSSL, "a Rust binary using rustls with the system roots (rustls-native-certs reads the OpenSSL paths)"
	}
	return p
}

// caStore is what a stack finds in the image.
type caStore struct {
	File     string // the bundle file used ("" for none)
	FileRes  imagefs.Resolution
	Dirs     []string // directories holding certificates
	Tried    []string // files and dirs tried, for evidence
	Certs    []*x509.Certificate
	Bad      int // PEM CERTIFICATE blocks that did not parse
	Empty    bool
	EnvFile  string // SSL_CERT_FILE, when it replaced the file list
	EnvDir   string // SSL_CERT_DIR, when it replaced the dirs
	Problems []string
}

// caMaxDirFiles bounds the files read from a certificate directory.
const caMaxDirFiles = 400

// caSystemStore looks for the roots the way Go (and, near enough, OpenSSL)
// does: SSL_CERT_FILE replaces the file list and SSL_CERT_DIR the dirs;
// the first readable file is used; every file of the dirs is added.
func caSystemStore(t *Target, files, dirs []string) caStore {
	var s caStore
	env := t.Config().Env
	if v, ok := Getenv(env, "SSL_CERT_FILE"); ok && v != "" {
		files, s.EnvFile = []string{v}, v
	}
	if v, ok := Getenv(env, "SSL_CERT_DIR"); ok && v != "" {
		dirs, s.EnvDir = strings.Split(v, ":"), v
	}
	for _, f := range files {
		r := t.FS.Resolve(f)
		s.Tried = append(s.Tried, FormatChain(r))
		if r.Err != nil || r.Entry == nil || !r.Entry.IsRegular() {
			continue
		}
		s.File, s.FileRes = f, r
		b, err := t.FS.ReadFile(strings.TrimPrefix(r.Final, "/"))
		if err != nil {
			s.Problems = append(s.Problems, fmt.Sprintf("reading %s: %v", f, err))
			break
		}
		s.addPEM(b)
		break
	}
	if s.hasAmazonRoot() {
		// The distro bundle is complete; its directory (Debian's
		// /etc/ssl/certs) only repeats it, file by file.
		dirs = nil
	}
	for _, d := range dirs {
		if !strings.HasPrefix(d, "/") {
			continue
		}
		r := t.FS.Resolve(d)
		if r.Err != nil || r.Entry == nil || !r.Entry.IsDir() {
			continue
		}
		ents, err := t.FS.ReadDir(strings.TrimPrefix(r.Final, "/"))
		if err != nil {
			continue
		}
		before := len(s.Certs)
		n := 0
		for _, de := range ents {
			if n >= caMaxDirFiles {
				break
			}
			p := path.Join(r.Final, de.Name())
			if p == s.FileRes.Final || p == s.File {
				continue // the bundle again (Debian keeps it in /etc/ssl/certs)
			}
			fr := t.FS.Resolve(p)
			if fr.Err != nil || fr.Entry == nil || !fr.Entry.IsRegular() || fr.Entry.Size > 1<<20 {
				continue
			}
			if fr.Final == s.FileRes.Final {
				continue
			}
			n++
			b, err := t.FS.ReadFile(strings.TrimPrefix(fr.Final, "/"))
			if err != nil {
				continue
			}
			s.addPEM(b)
		}
		if len(s.Certs) > before {
			s.Dirs = append(s.Dirs, d)
		}
	}
	s.Empty = len(s.Certs) == 0
	return s
}

// hasAmazonRoot reports whether the store holds an unexpired Amazon root.
func (s *caStore) hasAmazonRoot() bool {
	now := time.Now()
	for _, c := range s.Certs {
		for _, n := range amazonRoots {
			if c.Subject.CommonName == n && now.Before(c.NotAfter) {
				return true
			}
		}
	}
	return false
}

func (s *caStore) addPEM(b []byte) {
	for len(b) > 0 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return
		}
		if blk.Type != "CERTIFICATE" || len(blk.Headers) != 0 {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			s.Bad++
			continue
		}
		s.Certs = append(s.Certs, c)
	}
}

// where says where the store was found, for messages.
func (s caStore) where() string {
	var parts []string
	if s.File != "" {
		parts = append(parts, FormatChain(s.FileRes))
	}
	parts = append(parts, s.Dirs...)
	return strings.Join(parts, " and ")
}

// caEnvVar is an environment variable that names a CA file or directory.
type caEnvVar struct {
	Key string
	Dir bool
	// Replaces lists the stacks for which the variable replaces the
	// default roots (a missing target then leaves them with none).
	Replaces []tlsStack
	// Reader says who reads it, for the message.
	Reader string
	// Symptom is what users see when it points nowhere.
	Symptom string
}

var caEnvVars = []caEnvVar{
	{Key: "SSL_CERT_FILE", Reader: "Go's crypto/x509 and OpenSSL (Python's ssl, Ruby, curl …)", Symptom: "they read no bundle file at all (it replaces the default paths) and trust only what the certificate directories hold"},
	{Key: "SSL_CERT_DIR", Dir: true, Reader: "Go's crypto/x509 and OpenSSL", Symptom: "the directory adds no roots"},
	{Key: "REQUESTS_CA_BUNDLE", Replaces: []tlsStack{stackPython}, Reader: "Python requests", Symptom: "requests raises \"OSError: Could not find a suitable TLS CA certificate bundle, invalid path: %s\" on every HTTPS call"},
	{Key: "CURL_CA_BUNDLE", Replaces: []tlsStack{stackPython}, Reader: "curl and Python requests", Symptom: "requests raises \"OSError: Could not find a suitable TLS CA certificate bundle, invalid path: %s\" and curl fails with error 77"},
	{Key: "AWS_CA_BUNDLE", Replaces: []tlsStack{stackPython}, Reader: "the AWS SDKs (botocore, aws-sdk-go-v2 …)", Symptom: "AWS SDK clients fail to load the bundle, so every AWS API call fails"},
	{Key: "NODE_EXTRA_CA_CERTS", Reader: "Node.js", Symptom: "Node prints \"Warning: Ignoring extra certs from `%s`, load failed\" and trusts only its built-in roots"},
}

func (c caBundleMissing) Run(ctx context.Context, t *Target) ([]Finding, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	prog := tlsProgramOf(t)
	var out []Finding
	envHandled := map[string]bool{}

	switch prog.Stack {
	case stackGo, stackOpenSSL, stackPython:
		files, dirs := opensslCertFiles, opensslCertDirs
		if prog.Stack == stackGo {
			files, dirs = goCertFiles, goCertDirs
		}
		s := caSystemStore(t, files, dirs)
		if s.Empty {
			if f, ok := c.noStore(ctx, t, prog, s); ok {
				out = append(out, f)
				if s.EnvFile != "" {
					envHandled["SSL_CERT_FILE"] = true
				}
				if s.EnvDir != "" {
					envHandled["SSL_CERT_DIR"] = true
				}
			}
		} else if prog.Stack != stackPython {
			out = append(out, c.weakStore(t, prog, s)...)
		}
	case stackJava:
		if f, ok := c.javaStore(t, prog); ok {
			out = append(out, f)
		}
	}

	out = append(out, c.envFindings(t, prog, envHandled)...)
	if f, ok := c.dockerCerts(t, prog, len(out) > 0); ok {
		out = append(out, f)
	}
	return out, nil
}

// symptom is what a stack's HTTPS calls fail with when it has no roots.
func (p tlsProgram) symptom() string {
	switch p.Stack {
	case stackGo:
		return "every HTTPS call (AWS SDK calls included) fails with \"x509: certificate signed by unknown authority\""
	case stackPython:
		return "HTTPS calls made through Python's ssl module fail with \"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate\" (CPython's text; a Lambda log of it was not found)"
	case stackJava:
		return "the first TLS connection typically fails with \"java.security.InvalidAlgorithmParameterException: the trustAnchors parameter must be non-empty\""
	}
	return "every HTTPS call fails certificate verification (curl: \"SSL certificate problem: unable to get local issuer certificate\"; OpenSSL: \"certificate verify failed\")"
}

func (p tlsProgram) evidence(t *Target) string {
	return fmt.Sprintf("TLS stack: %s (%s is %s)", p.Stack, p.Path, p.Why)
}

func (c caBundleMissing) noStore(ctx context.Context, t *Target, prog tlsProgram, s caStore) (Finding, bool) {
	ev := []string{prog.evidence(t)}
	if prog.Stack == stackPython {
		// requests and boto3 carry their own bundles.
		found, err := caFindBundles(ctx, t, "/certifi/cacert.pem", "/botocore/cacert.pem")
		if err == nil && len(found) > 0 {
			return Finding{}, false
		}
		ev = append(ev, "no certifi/cacert.pem or botocore/cacert.pem anywhere in the image")
	}
	f := NewFinding(c.Meta(), "")
	ev = append(ev, "tried "+strings.Join(s.Tried, ", "))
	what := "no CA bundle exists at any of the paths it reads"
	if len(s.Tried) > 0 {
		f.Path = strings.Fields(s.Tried[0])[0]
	}
	switch {
	case s.EnvFile != "" && s.File == "":
		what = fmt.Sprintf("ENV SSL_CERT_FILE=%s names a file that does not exist, and it replaces the default bundle paths", s.EnvFile)
		f.Path = s.EnvFile
		ev = append(ev, "ENV SSL_CERT_FILE="+s.EnvFile)
	case s.File != "" && (s.Bad > 0 || len(s.Certs) == 0):
		what = fmt.Sprintf("the bundle %s holds no certificate that parses", FormatChain(s.FileRes))
		if s.Bad > 0 {
			what += fmt.Sprintf(" (%d CERTIFICATE block(s) are corrupt)", s.Bad)
		} else if s.FileRes.Entry != nil && s.FileRes.Entry.Size == 0 {
			what = fmt.Sprintf("the bundle %s is empty", FormatChain(s.FileRes))
		}
		f.Path = s.File
		if s.FileRes.Entry != nil {
			f.Layer = t.LayerRef(s.FileRes.Entry.Layer)
			ev = append(ev, s.File+": "+t.Describe(s.FileRes.Entry))
		}
	}
	if s.EnvDir != "" {
		ev = append(ev, "ENV SSL_CERT_DIR="+s.EnvDir+" (no certificates there)")
	}
	docker := caDockerCertFiles(t)
	extra := ""
	if len(docker) > 0 {
		extra = fmt.Sprintf(" The certificates under /etc/docker/certs.d (%s) do not help: only the Docker daemon reads that directory, to pull images from a registry; no TLS library in the function looks there.", strings.Join(caFirstN(docker, 3), ", "))
		ev = append(ev, "/etc/docker/certs.d holds "+fmt.Sprint(len(docker))+" file(s), read only by the Docker daemon")
	}
	f.Message = fmt.Sprintf("The function's TLS stack is %s (%s), and %s, so %s. The function may start, but its first call to an AWS API or any HTTPS endpoint fails.%s", prog.Stack, prog.Path, what, prog.symptom(), extra)
	f.Evidence = ev
	f.Fix = caInstallFix(t)
	if s.EnvFile != "" && s.File == "" {
		f.Fix = "remove ENV SSL_CERT_FILE=" + s.EnvFile + ", or " + f.Fix
	}
	return f, true
}

// weakStore reports a parsable store that is all expired or lacks the
// Amazon roots.
func (c caBundleMissing) weakStore(t *Target, prog tlsProgram, s caStore) []Finding {
	now := time.Now()
	valid := 0
	amazon := map[string]bool{}
	for _, cert := range s.Certs {
		if now.After(cert.NotAfter) {
			continue
		}
		valid++
		for _, n := range amazonRoots {
			if cert.Subject.CommonName == n {
				amazon[n] = true
			}
		}
	}
	base := func() Finding {
		f := NewFinding(c.Meta(), "")
		f.Severity = Warning
		f.Path = s.File
		if s.File == "" && len(s.Dirs) > 0 {
			f.Path = s.Dirs[0]
		}
		f.Evidence = []string{prog.evidence(t), fmt.Sprintf("store: %s: %d certificate(s), %d not expired", s.where(), len(s.Certs), valid)}
		if s.FileRes.Entry != nil {
			f.Layer = t.LayerRef(s.FileRes.Entry.Layer)
			f.Evidence = append(f.Evidence, s.File+": "+t.Describe(s.FileRes.Entry))
		}
		return f
	}
	switch {
	case valid == 0:
		f := base()
		f.Message = fmt.Sprintf("Every one of the %d certificate(s) in %s has expired, so %s uses no valid root and HTTPS calls from the function fail verification (certificate has expired / unknown authority).", len(s.Certs), s.where(), prog.Stack)
		f.Fix = caInstallFix(t)
		return []Finding{f}
	case len(amazon) == 0:
		f := base()
		f.Evidence = append(f.Evidence, "none of: "+strings.Join(amazonRoots, ", "))
		f.Message = fmt.Sprintf("The CA store %s (%d valid certificate(s)) holds none of Amazon Root CA 1-4 or Starfield Services Root CA G2, the roots AWS service endpoints chain to, so %s rejects AWS endpoints' certificates: AWS SDK calls from the function fail with an unknown-authority error. A custom bundle that trusts only a private CA does this.", s.where(), valid, prog.Stack)
		f.Fix = "add the Amazon roots from https://www.amazontrust.com/repository/ to the bundle, e.g. " + caInstallFix(t) + " and append your private CA to it instead of replacing it"
		return []Finding{f}
	}
	return nil
}

// javaStore checks $JAVA_HOME/lib/security/cacerts.
func (c caBundleMissing) javaStore(t *Target, prog tlsProgram) (Finding, bool) {
	var homes []string
	if v, ok := Getenv(t.Config().Env, "JAVA_HOME"); ok && strings.HasPrefix(v, "/") {
		homes = append(homes, path.Clean(v))
	}
	if r := t.FS.Resolve(prog.Path); r.Err == nil && r.Final != "" {
		homes = append(homes, path.Dir(path.Dir(r.Final)))
	}
	var tried []string
	var broken *imagefs.Resolution
	for _, h := range homes {
		for _, rel := range []string{"lib/security/cacerts", "jre/lib/security/cacerts"} {
			p := path.Join(h, rel)
			r := t.FS.Resolve(p)
			if r.Err == nil && r.Entry != nil && r.Entry.IsRegular() && r.Entry.Size > 0 {
				return Finding{}, false
			}
			if _, ok := t.FS.Lookup(p); ok || len(r.Chain) > 0 {
				rr := r
				if broken == nil {
					broken = &rr
				}
			}
			tried = append(tried, FormatChain(r))
		}
	}
	if len(homes) == 0 {
		return Finding{}, false
	}
	f := NewFinding(c.Meta(), "")
	ev := []string{prog.evidence(t), "tried " + strings.Join(tried, ", ")}
	what := "has no cacerts trust store"
	f.Path = path.Join(homes[len(homes)-1], "lib/security/cacerts")
	fix := caInstallFix(t)
	if broken != nil {
		f.Path = broken.Requested
		what = "has its cacerts trust store at " + FormatChain(*broken)
		if h, _, ok := DanglingLink(t.FS, *broken); ok {
			what += ", a dangling symlink"
			f.Layer = t.LayerRef(h.Layer)
			ev = append(ev, fmt.Sprintf("dangling symlink %s -> %s added in %s", h.Path, QuoteJSON(h.Target), t.LayerLabel(h.Layer)))
			if strings.HasPrefix(linkDest(h), "/etc/ssl/certs/java/") {
				fix = "RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates-java"
			}
		} else if broken.Entry != nil {
			what += ", an empty or non-regular file"
			f.Layer = t.LayerRef(broken.Entry.Layer)
			ev = append(ev, broken.Requested+": "+t.Describe(broken.Entry))
		}
	}
	f.Message = fmt.Sprintf("The function runs Java (%s), which %s, so %s.", prog.Path, what, prog.symptom())
	f.Evidence = ev
	f.Fix = fix
	return f, true
}

// envFindings reports CA environment variables naming missing paths.
func (c caBundleMissing) envFindings(t *Target, prog tlsProgram, handled map[string]bool) []Finding {
	var out []Finding
	env := t.Config().Env
	for _, v := range caEnvVars {
		val, ok := Getenv(env, v.Key)
		if !ok || val == "" || handled[v.Key] {
			continue
		}
		var missing []string
		var layerOf *imagefs.Entry
		for _, p := range strings.Split(val, ":") {
			if !v.Dir && p != val {
				break
			}
			r := t.FS.Resolve(p)
			okKind := r.Err == nil && r.Entry != nil && (v.Dir && r.Entry.IsDir() || !v.Dir && r.Entry.IsRegular())
			if !strings.HasPrefix(p, "/") || !okKind {
				missing = append(missing, FormatChain(r))
				if r.Entry != nil {
					layerOf = r.Entry
				}
			}
		}
		if len(missing) == 0 {
			continue
		}
		f := NewFinding(c.Meta(), "")
		f.Severity = Warning
		for _, s := range v.Replaces {
			if s == prog.Stack {
				f.Severity = Error
			}
		}
		if prog.Stack == stackNode && v.Key != "NODE_EXTRA_CA_CERTS" {
			f.Severity = Info // Node reads none of these by default
		}
		what := "a file"
		if v.Dir {
			what = "a directory"
		}
		symptom := v.Symptom
		if strings.Contains(symptom, "%s") {
			symptom = fmt.Sprintf(symptom, val)
		}
		f.Path = val
		if layerOf != nil {
			f.Layer = t.LayerRef(layerOf.Layer)
		}
		f.Message = fmt.Sprintf("ENV %s=%s should name %s of CA certificates for %s, but %s is not %s in this image, so %s.", v.Key, val, what, v.Reader, strings.Join(missing, ", "), what, symptom)
		f.Evidence = []string{"config.Env " + v.Key + "=" + val, "resolved: " + strings.Join(missing, ", ")}
		if prog.Stack != stackNone {
			f.Evidence = append(f.Evidence, prog.evidence(t))
		}
		f.Fix = fmt.Sprintf("point %s at the bundle you install (e.g. ENV %s=/etc/ssl/certs/ca-certificates.crt), or delete the ENV %s line", v.Key, v.Key, v.Key)
		out = append(out, f)
	}
	return out
}

// dockerCerts is the hasura seed: certificates copied into
// /etc/docker/certs.d, which only the Docker daemon reads. Reported on
// its own (info) when no other finding already says so.
func (c caBundleMissing) dockerCerts(t *Target, prog tlsProgram, reported bool) (Finding, bool) {
	files := caDockerCertFiles(t)
	if len(files) == 0 || reported {
		return Finding{}, false
	}
	f := NewFinding(c.Meta(), "")
	f.Severity = Info
	f.Path = "/etc/docker/certs.d"
	if e, ok := t.FS.Lookup(files[0]); ok {
		f.Layer = t.LayerRef(e.Layer)
		f.Evidence = append(f.Evidence, files[0]+": "+t.Describe(e))
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("/etc/docker/certs.d holds %d certificate file(s): %s", len(files), strings.Join(caFirstN(files, 5), ", ")))
	if prog.Stack != stackNone {
		f.Evidence = append(f.Evidence, prog.evidence(t))
	}
	f.Message = fmt.Sprintf("The image holds CA certificates under /etc/docker/certs.d (%s). Only the Docker daemon reads that directory, to trust a registry when pulling images; no TLS library in the function (Go, OpenSSL, Python, Node, Java) looks there, so a private CA placed there is not trusted by the function.", strings.Join(caFirstN(files, 3), ", "))
	f.Fix = "RUN cp /etc/docker/certs.d/*/*.crt /usr/local/share/ca-certificates/ && update-ca-certificates (Debian/Alpine; on Amazon Linux copy to /etc/pki/ca-trust/source/anchors/ and run update-ca-trust)"
	// Certificates put there show the function needs TLS trust; with no
	// system bundle either, every program reading the system store (a Go
	// CLI the function runs, curl, OpenSSL) trusts nothing: the seed's
	// "x509: certificate signed by unknown authority".
	if s := caSystemStore(t, opensslCertFiles, opensslCertDirs); s.Empty {
		f.Severity = Warning
		f.Message += " The image has no system CA bundle either (" + strings.Join(caFirstN(opensslCertFiles, 3), ", ") + " … are missing or empty), so programs that read the system store — Go binaries (\"x509: certificate signed by unknown authority\"), curl, OpenSSL — trust no certificate at all."
		f.Evidence = append(f.Evidence, "no certificates in "+strings.Join(opensslCertFiles, ", ")+" or "+strings.Join(opensslCertDirs, ", "))
		f.Fix = caInstallFix(t) + ", then " + f.Fix
	}
	return f, true
}

// caDockerCertFiles lists the regular files under /etc/docker/certs.d.
func caDockerCertFiles(t *Target) []string {
	return t.memo("ld601.dockercerts", func() any {
		var out []string
		r := t.FS.Resolve("/etc/docker/certs.d")
		if r.Err != nil || r.Entry == nil || !r.Entry.IsDir() {
			return out
		}
		_ = fs.WalkDir(t.FS, strings.TrimPrefix(r.Final, "/"), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
				out = append(out, "/"+p)
			}
			if len(out) >= 100 {
				return fs.SkipAll
			}
			return nil
		})
		return out
	}).([]string)
}

// caFindBundles walks the image for regular files whose path ends in one of
// suffixes.
func caFindBundles(ctx context.Context, t *Target, suffixes ...string) ([]string, error) {
	key := "ld601.bundles:" + strings.Join(suffixes, ",")
	type res struct {
		found []string
		err   error
	}
	r := t.memo(key, func() any {
		var found []string
		n := 0
		err := t.FS.Walk(func(e *imagefs.Entry) error {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if !e.IsRegular() || e.Size == 0 {
				return nil
			}
			for _, s := range suffixes {
				if strings.HasSuffix(e.Path, s) {
					found = append(found, e.Path)
				}
			}
			return nil
		})
		return res{found, err}
	}).(res)
	if r.err != nil && !errors.Is(r.err, fs.SkipAll) {
		return nil, r.err
	}
	return r.found, nil
}

// caInstallFix is the Dockerfile line that installs the distro's CA
// bundle, chosen from the package manager the image has.
func caInstallFix(t *Target) string {
	has := func(p string) bool {
		r := t.FS.Resolve(p)
		return r.Err == nil && r.Entry != nil
	}
	switch {
	case has("/sbin/apk") || has("/etc/alpine-release"):
		return "RUN apk add --no-cache ca-certificates"
	case has("/usr/bin/apt-get"):
		return "RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates"
	case has("/usr/bin/microdnf") && !has("/usr/bin/dnf"):
		return "RUN microdnf install -y ca-certificates"
	case has("/usr/bin/dnf"):
		return "RUN dnf install -y ca-certificates"
	case has("/usr/bin/yum"):
		return "RUN yum install -y ca-certificates"
	}
	return "COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt (from a build stage that ran apt-get install ca-certificates or apk add ca-certificates)"
}

// limit returns the first n of ss, with a count of the rest.
func caFirstN(ss []string, n int) []string {
	if len(ss) <= n {
		return ss
	}
	return append(append([]string(nil), ss[:n]...), fmt.Sprintf("and %d more", len(ss)-n))
}
