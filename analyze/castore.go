package analyze

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

// GoCertFiles are the bundle files Go's crypto/x509 tries on Linux, in
// order (root_linux.go); the first one that can be read is used.
var GoCertFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian/Ubuntu/Gentoo etc.
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora/RHEL 6, Amazon Linux
	"/etc/ssl/ca-bundle.pem",                            // OpenSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS/RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine Linux
}

// GoCertDirs are the directories Go's crypto/x509 reads every file of.
var GoCertDirs = []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}

// OpenSSLCertFiles add the OPENSSLDIR/cert.pem files distro OpenSSL builds
// read (Debian's /usr/lib/ssl, RHEL's /etc/pki/tls, source builds'
// /usr/local/ssl); they are usually links to one of goCertFiles.
var OpenSSLCertFiles = append(append([]string(nil), GoCertFiles...),
	"/usr/lib/ssl/cert.pem", "/etc/pki/tls/cert.pem", "/usr/local/ssl/cert.pem")

// OpenSSLCertDirs add the certificate directories of those OpenSSL builds.
var OpenSSLCertDirs = append(append([]string(nil), GoCertDirs...), "/usr/lib/ssl/certs", "/usr/local/ssl/certs")

// AmazonRoots are the roots amazontrust.com recommends for custom trust
// stores; AWS service endpoints chain to them.
var AmazonRoots = []string{
	"Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4",
	"Starfield Services Root Certificate Authority - G2",
}

// TLSStack is how a program finds its trusted roots.
type TLSStack int

const (
	StackNone    TLSStack = iota // no TLS use seen, or an unknown program
	StackGo                      // Go crypto/x509
	StackOpenSSL                 // OpenSSL (or a library reading the same files)
	StackPython                  // CPython: ssl (OpenSSL), requests (certifi), boto3 (botocore/certifi)
	StackNode                    // Node.js: built-in Mozilla roots
	StackJava                    // Java: $JAVA_HOME/lib/security/cacerts
	stackBuiltin                 // a native program with an embedded root store
)

func (s TLSStack) String() string {
	switch s {
	case StackGo:
		return "Go crypto/x509"
	case StackOpenSSL:
		return "OpenSSL"
	case StackPython:
		return "Python"
	case StackNode:
		return "Node.js"
	case StackJava:
		return "Java"
	case stackBuiltin:
		return "an embedded root store"
	}
	return "unknown"
}

// TLSProgram is the program on the entrypoint chain whose TLS stack
// decides, with why it was classified so.
type TLSProgram struct {
	Stack TLSStack
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

// TLSProgramOf classifies the programs on the chain; the last one that is
// not a shell or init wrapper decides.
func TLSProgramOf(t *Target) TLSProgram {
	return t.facts.tls.get(func() TLSProgram {
		var out TLSProgram
		ch := t.Chain()
		if ch == nil {
			return out
		}
		for _, l := range ch.Links {
			if l.Entry == nil || l.Path == "" {
				continue
			}
			if p := tlsClassifyLink(t, l); p.Stack != StackNone {
				out = p
			}
		}
		return out
	})
}

// tlsClassifyLink names the TLS stack of one chain link.
func tlsClassifyLink(t *Target, l Link) TLSProgram {
	p := TLSProgram{Path: l.Path, Entry: l.Entry}
	for _, n := range []string{path.Base(l.Path), path.Base(l.Name)} {
		for _, r := range runtimes {
			if r.tlsName != nil && r.tlsName(n) {
				p.Stack, p.Why = r.tlsStack, r.tlsWhy(n)
				break
			}
		}
		if p.Stack == StackNone && (strings.HasPrefix(n, "php") || n == "curl" || n == "wget" || n == "perl") {
			p.Stack, p.Why = StackOpenSSL, opensslWhy(n)
		}
		if p.Stack != StackNone {
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
//
// has reports whether the binary holds a string; for a Go program it is
// asked only for the strings elfinfo's markers cover.
func tlsClassifyBinary(p TLSProgram, has func(string) bool) TLSProgram {
	embedded := has("golang.org/x/crypto/x509roots/fallback") || (has("ISRG Root X1") && has("Amazon Root CA 1") && has("DigiCert"))
	switch {
	case has("\xff Go buildinf:"):
		switch {
		case !has("crypto/tls."):
			return p // Go without crypto/tls makes no TLS connections
		case embedded:
			p.Stack, p.Why = stackBuiltin, "a Go binary with an embedded root store (x509roots/fallback)"
		default:
			p.Stack, p.Why = StackGo, "a Go binary linking crypto/tls"
		}
	case embedded:
		p.Stack, p.Why = stackBuiltin, "a native binary with an embedded root store (webpki-roots or similar)"
	case has("libssl.so") || has("libcurl.so") || has("libgnutls.so") || has("libcrypto.so"):
		p.Stack, p.Why = StackOpenSSL, "a native binary linked to libssl/libcurl"
	case has("rustls"):
		p.Stack, p.Why = StackOpenSSL, "a Rust binary using rustls with the system roots (rustls-native-certs reads the OpenSSL paths)"
	}
	return p
}

// CAStore is what a stack finds in the image.
type CAStore struct {
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

// CASystemStore looks for the roots the way Go (and, near enough, OpenSSL)
// does: SSL_CERT_FILE replaces the file list and SSL_CERT_DIR the dirs;
// the first readable file is used; every file of the dirs is added.
func CASystemStore(t *Target, files, dirs []string) CAStore {
	var s CAStore
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
func (s *CAStore) hasAmazonRoot() bool {
	now := time.Now()
	for _, c := range s.Certs {
		for _, n := range AmazonRoots {
			if c.Subject.CommonName == n && now.Before(c.NotAfter) {
				return true
			}
		}
	}
	return false
}

func (s *CAStore) addPEM(b []byte) {
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

// Where says where the store was found, for messages.
func (s CAStore) Where() string {
	var parts []string
	if s.File != "" {
		parts = append(parts, FormatChain(s.FileRes))
	}
	parts = append(parts, s.Dirs...)
	return strings.Join(parts, " and ")
}

// CAEnvVar is an environment variable that names a CA file or directory.
type CAEnvVar struct {
	Key string
	Dir bool
	// Replaces lists the stacks for which the variable replaces the
	// default roots (a missing target then leaves them with none).
	Replaces []TLSStack
	// Reader says who reads it, for the message.
	Reader string
	// Symptom is what users see when it points nowhere.
	Symptom string
}

// CAEnvVars are the variables that name CA files or directories, and what
// a missing target does to their readers.
var CAEnvVars = []CAEnvVar{
	{Key: "SSL_CERT_FILE", Reader: "Go's crypto/x509 and OpenSSL (Python's ssl, Ruby, curl …)", Symptom: "they read no bundle file at all (it replaces the default paths) and trust only what the certificate directories hold"},
	{Key: "SSL_CERT_DIR", Dir: true, Reader: "Go's crypto/x509 and OpenSSL", Symptom: "the directory adds no roots"},
	{Key: "REQUESTS_CA_BUNDLE", Replaces: []TLSStack{StackPython}, Reader: "Python requests", Symptom: "requests raises \"OSError: Could not find a suitable TLS CA certificate bundle, invalid path: %s\" on every HTTPS call"},
	{Key: "CURL_CA_BUNDLE", Replaces: []TLSStack{StackPython}, Reader: "curl and Python requests", Symptom: "requests raises \"OSError: Could not find a suitable TLS CA certificate bundle, invalid path: %s\" and curl fails with error 77"},
	{Key: "AWS_CA_BUNDLE", Replaces: []TLSStack{StackPython}, Reader: "the AWS SDKs (botocore, aws-sdk-go-v2 …)", Symptom: "AWS SDK clients fail to load the bundle, so every AWS API call fails"},
	{Key: "NODE_EXTRA_CA_CERTS", Reader: "Node.js", Symptom: "Node prints \"Warning: Ignoring extra certs from `%s`, load failed\" and trusts only its built-in roots"},
}

// Symptom is what a stack's HTTPS calls fail with when it has no roots.
func (p TLSProgram) Symptom() string {
	switch p.Stack {
	case StackGo:
		return "every HTTPS call (AWS SDK calls included) fails with \"x509: certificate signed by unknown authority\""
	case StackPython:
		return "HTTPS calls made through Python's ssl module fail with \"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate\" (CPython's text; a Lambda log of it was not found)"
	case StackJava:
		return "the first TLS connection typically fails with \"java.security.InvalidAlgorithmParameterException: the trustAnchors parameter must be non-empty\""
	}
	return "every HTTPS call fails certificate verification (curl: \"SSL certificate problem: unable to get local issuer certificate\"; OpenSSL: \"certificate verify failed\")"
}

// Evidence is the evidence line naming the stack and why.
func (p TLSProgram) Evidence(t *Target) string {
	return fmt.Sprintf("TLS stack: %s (%s is %s)", p.Stack, p.Path, p.Why)
}

// DockerCertFiles lists the regular files under /etc/docker/certs.d.
func DockerCertFiles(t *Target) []string {
	return t.facts.dockerCerts.get(func() []string {
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
	})
}

// FindCABundles walks the image for regular files whose path ends in one of
// suffixes.
func FindCABundles(ctx context.Context, t *Target, suffixes ...string) ([]string, error) {
	key := "ld601.bundles:" + strings.Join(suffixes, ",")
	r := t.facts.bundles.get(key, func() bundlesResult {
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
		return bundlesResult{found, err}
	})
	if r.err != nil && !errors.Is(r.err, fs.SkipAll) {
		return nil, r.err
	}
	return r.found, nil
}

// opensslWhy says that the program n verifies TLS with OpenSSL.
func opensslWhy(n string) string {
	return n + ", which verifies TLS with OpenSSL and the system CA files"
}
