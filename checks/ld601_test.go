package checks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// ld601ELF is the start of an x86-64 ELF executable.
const ld601ELF = "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"

// Fake binaries: what tlsClassifyBinary looks for in real ones.
const (
	goTLSBinary      = ld601ELF + "\x00\x00\xff Go buildinf:\x08\x02\x00runtime.main\x00crypto/tls.(*Conn).Handshake\x00net/http.(*Client).Do\x00"
	goNoTLSBinary    = ld601ELF + "\x00\x00\xff Go buildinf:\x08\x02\x00runtime.main\x00os.(*File).Write\x00"
	goFallbackBinary = goTLSBinary + "dep\tgolang.org/x/crypto/x509roots/fallback\tv0.0.0-20240101\x00"
	sslBinary        = ld601ELF + "\x00\x00libssl.so.3\x00libcrypto.so.3\x00libc.so.6\x00"
)

var (
	ld601CertMu sync.Mutex
	ld601Certs  = map[string]string{}
)

// testCertPEM returns a self-signed CA certificate for cn, valid from
// notBefore to notAfter, in PEM; generated once per name.
func testCertPEM(t *testing.T, cn string, notBefore, notAfter time.Time) string {
	t.Helper()
	key := cn + notAfter.String()
	ld601CertMu.Lock()
	defer ld601CertMu.Unlock()
	if p, ok := ld601Certs[key]; ok {
		return p
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(int64(len(ld601Certs) + 1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Test"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	ld601Certs[key] = p
	return p
}

// goodBundle is a bundle with a valid Amazon root and another root.
func goodBundle(t *testing.T) string {
	now := time.Now()
	return testCertPEM(t, "Amazon Root CA 1", now.AddDate(-1, 0, 0), now.AddDate(10, 0, 0)) +
		testCertPEM(t, "ISRG Root X1", now.AddDate(-1, 0, 0), now.AddDate(10, 0, 0))
}

// appSpec is an image running one program as ENTRYPOINT, from layers.
func appSpec(entry []string, env []string, layers ...[]testimage.File) testimage.Spec {
	created := []string{"ADD rootfs.tar / # buildkit"}
	for i := 1; i < len(layers); i++ {
		created = append(created, "COPY app / # buildkit")
	}
	return testimage.Spec{
		Config:    v1.Config{Env: env, Entrypoint: entry, WorkingDir: "/var/task"},
		Layers:    layers,
		CreatedBy: created,
	}
}

// goApp is a Go binary at /app/bootstrap.
func goApp(content string) []testimage.File {
	return []testimage.File{testimage.Dir("app", 0), testimage.Reg("app/bootstrap", 0o755, content), testimage.Dir("var", 0), testimage.Dir("var/task", 0)}
}

// etcBundle puts a bundle at p (with its parent dirs).
func etcBundle(p, content string) []testimage.File {
	var out []testimage.File
	parts := strings.Split(p, "/")
	for i := 1; i < len(parts); i++ {
		out = append(out, testimage.Dir(strings.Join(parts[:i], "/"), 0))
	}
	return append(out, testimage.Reg(p, 0o644, content))
}

func ld601Target(spec testimage.Spec) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target { return newTarget(t, spec, "amd64") }
}

// startScriptSpec is a Go function behind a start-up script that first
// fetches its configuration with the AWS CLI, with or without a CA bundle.
func startScriptSpec(t *testing.T, bundle bool) testimage.Spec {
	files := []testimage.File{
		testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, ld601ELF),
		testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Reg("usr/bin/aws", 0o755, ld601ELF),
		testimage.Reg("app/start.sh", 0o755, "#!/bin/sh\nset -e\naws s3 cp s3://config-bucket/app.json /tmp/app.json\nexec /app/bootstrap\n"),
	}
	if bundle {
		files = append(files, etcBundle("etc/ssl/certs/ca-certificates.crt", goodBundle(t))...)
	}
	return appSpec([]string{"/app/start.sh"}, []string{"PATH=/usr/bin:/bin"}, files, goApp(goTLSBinary))
}

var ld601Cases = []checkCase{
	{
		// The image shows TLS is needed to start: an error.
		name: "start-up script calls the AWS CLI, no bundle",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, startScriptSpec(t, false), "amd64")
		},
		verify: expect(Error,
			[]string{"line 3 of /app/start.sh runs \"aws s3 cp s3://config-bucket/app.json /tmp/app.json\", which needs TLS"},
			[]string{"line 3 of /app/start.sh: aws s3 cp"},
			nil),
	},
	{
		name: "the same script with a CA bundle",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, startScriptSpec(t, true), "amd64")
		},
	},
	{
		name:   "Go binary linking crypto/tls on scratch, no bundle",
		kind:   catches,
		target: ld601Target(appSpec([]string{"/app/bootstrap"}, nil, goApp(goTLSBinary))),
		verify: expect(Warning,
			[]string{"Go crypto/x509 (/app/bootstrap)", "x509: certificate signed by unknown authority", "no CA bundle exists"},
			[]string{"a Go binary linking crypto/tls", "/etc/ssl/certs/ca-certificates.crt (missing)"},
			[]string{"COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt"}),
	},
	{
		name: "Go binary on Alpine without ca-certificates: fix is apk add",
		kind: catches,
		target: ld601Target(appSpec([]string{"/app/bootstrap"}, nil,
			[]testimage.File{testimage.Dir("sbin", 0), testimage.Reg("sbin/apk", 0o755, ld601ELF), testimage.Dir("etc", 0), testimage.Reg("etc/alpine-release", 0o644, "3.19.0\n")},
			goApp(goTLSBinary))),
		verify: expect(Warning, []string{"x509: certificate signed by unknown authority"}, nil, []string{"RUN apk add --no-cache ca-certificates"}),
	},
	{
		name:   "empty bundle file",
		kind:   catches,
		target: ld601Target(appSpec([]string{"/app/bootstrap"}, nil, etcBundle("etc/ssl/certs/ca-certificates.crt", ""), goApp(goTLSBinary))),
		verify: func(t *testing.T, fs []Finding) {
			expect(Warning, []string{"the bundle /etc/ssl/certs/ca-certificates.crt is empty"}, []string{"regular file, mode 0644"}, nil)(t, fs)
			if fs[0].Layer == nil || fs[0].Layer.Index != 0 {
				t.Errorf("layer %+v, want the bundle's layer 0", fs[0].Layer)
			}
		},
	},
	{
		name: "corrupt bundle",
		kind: catches,
		target: ld601Target(appSpec([]string{"/app/bootstrap"}, nil,
			etcBundle("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"), goApp(goTLSBinary))),
		verify: expect(Warning, []string{"holds no certificate that parses", "1 CERTIFICATE block(s) are corrupt"}, nil, nil),
	},
	{
		name: "bundle with only expired certificates",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			old := testCertPEM(t, "Old Root", time.Now().AddDate(-20, 0, 0), time.Now().AddDate(-1, 0, 0))
			return newTarget(t, appSpec([]string{"/app/bootstrap"}, nil, etcBundle("etc/ssl/certs/ca-certificates.crt", old), goApp(goTLSBinary)), "amd64")
		},
		verify: expect(Warning, []string{"Every one of the 1 certificate(s)", "has expired"}, []string{"1 certificate(s), 0 not expired"}, nil),
	},
	{
		name: "private CA only: no Amazon roots",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			priv := testCertPEM(t, "Corp Internal Root", time.Now().AddDate(-1, 0, 0), time.Now().AddDate(5, 0, 0))
			return newTarget(t, appSpec([]string{"/app/bootstrap"}, nil, etcBundle("etc/ssl/certs/ca-certificates.crt", priv), goApp(goTLSBinary)), "amd64")
		},
		verify: expect(Warning, []string{"holds none of Amazon Root CA 1-4", "AWS SDK calls"}, []string{"none of: Amazon Root CA 1"}, []string{"amazontrust.com"}),
	},
	{
		name:   "SSL_CERT_FILE names a missing file and there is no other store",
		kind:   catches,
		target: ld601Target(appSpec([]string{"/app/bootstrap"}, []string{"SSL_CERT_FILE=/certs/ca.pem"}, goApp(goTLSBinary))),
		verify: expect(Warning, []string{"ENV SSL_CERT_FILE=/certs/ca.pem names a file that does not exist"}, []string{"ENV SSL_CERT_FILE=/certs/ca.pem"}, []string{"remove ENV SSL_CERT_FILE=/certs/ca.pem"}),
	},
	{
		name: "REQUESTS_CA_BUNDLE names a missing file (Python)",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PythonSpec(v1.Config{
				Env:        []string{fixtures.DockerPATH, "REQUESTS_CA_BUNDLE=/etc/ssl/corp.pem"},
				Entrypoint: []string{"/usr/local/bin/python", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}, WorkingDir: "/function",
			})
			spec.Layers = append(spec.Layers, etcBundle("etc/ssl/certs/ca-certificates.crt", goodBundle(t)))
			spec.CreatedBy = append(spec.CreatedBy, "RUN apt-get install -y ca-certificates # buildkit")
			return newTarget(t, spec, "amd64")
		},
		verify: expect(Error, []string{"ENV REQUESTS_CA_BUNDLE=/etc/ssl/corp.pem", "Could not find a suitable TLS CA certificate bundle, invalid path: /etc/ssl/corp.pem"}, []string{"TLS stack: Python"}, []string{"ENV REQUESTS_CA_BUNDLE="}),
	},
	{
		name: "Python without a system bundle, certifi or botocore",
		kind: catches,
		target: ld601Target(fixtures.PythonSpec(v1.Config{
			Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"/usr/local/bin/python", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}, WorkingDir: "/function",
		})),
		verify: expect(Warning, []string{"TLS stack is Python", "CERTIFICATE_VERIFY_FAILED"}, []string{"no certifi/cacert.pem or botocore/cacert.pem"}, nil),
	},
	{
		name:   "native binary linked to libssl, no bundle",
		kind:   catches,
		target: ld601Target(appSpec([]string{"/app/bootstrap"}, nil, goApp(sslBinary))),
		verify: expect(Warning, []string{"TLS stack is OpenSSL", "unable to get local issuer certificate"}, []string{"linked to libssl/libcurl"}, nil),
	},
	{
		name: "Java with cacerts a dangling link (Debian without ca-certificates-java)",
		kind: catches,
		target: ld601Target(appSpec([]string{"/usr/lib/jvm/java-17/bin/java", "-jar", "/var/task/app.jar"}, nil,
			[]testimage.File{
				testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Reg("usr/bin/apt-get", 0o755, ld601ELF),
				testimage.Dir("usr/lib", 0), testimage.Dir("usr/lib/jvm", 0), testimage.Dir("usr/lib/jvm/java-17", 0),
				testimage.Dir("usr/lib/jvm/java-17/bin", 0), testimage.Reg("usr/lib/jvm/java-17/bin/java", 0o755, ld601ELF),
				testimage.Dir("usr/lib/jvm/java-17/lib", 0), testimage.Dir("usr/lib/jvm/java-17/lib/security", 0),
				testimage.Symlink("usr/lib/jvm/java-17/lib/security/cacerts", "/etc/ssl/certs/java/cacerts"),
				testimage.Dir("var", 0), testimage.Dir("var/task", 0), testimage.Reg("var/task/app.jar", 0o644, "PK"),
			})),
		verify: expect(Warning,
			[]string{"runs Java", "a dangling symlink", "trustAnchors parameter must be non-empty"},
			[]string{"dangling symlink /usr/lib/jvm/java-17/lib/security/cacerts -> \"/etc/ssl/certs/java/cacerts\""},
			[]string{"apt-get install -y --no-install-recommends ca-certificates-java"}),
	},
	{
		name: "hasura seed: certificates only under /etc/docker/certs.d (Node chain)",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, appSpec([]string{"/usr/local/bin/node", "/function/node_modules/aws-lambda-ric/bin/index.mjs"}, []string{fixtures.DockerPATH},
				[]testimage.File{testimage.Dir("usr", 0), testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0), testimage.Reg("usr/local/bin/node", 0o755, ld601ELF)},
				append(etcBundle("etc/docker/certs.d/db.example.com/AmazonRootCA1.pem", goodBundle(t)), etcBundle("etc/ssl/certs/ca-certificates.crt", goodBundle(t))[3:]...),
				[]testimage.File{testimage.Dir("function", 0), testimage.Dir("function/node_modules", 0), testimage.Dir("function/node_modules/aws-lambda-ric", 0), testimage.Dir("function/node_modules/aws-lambda-ric/bin", 0), testimage.Reg("function/node_modules/aws-lambda-ric/bin/index.mjs", 0o755, "#!/usr/bin/env node\n")},
			), "amd64")
		},
		verify: expect(Info, []string{"Only the Docker daemon reads that directory", "/etc/docker/certs.d/db.example.com/AmazonRootCA1.pem"}, []string{"TLS stack: Node.js"}, []string{"update-ca-certificates"}),
	},
	{
		// The hasura seed before `apt-get install ca-certificates`: the
		// roots only where Docker looks, no system bundle for the Go CLI.
		name: "hasura seed: certificates only under /etc/docker/certs.d, no system bundle",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, appSpec([]string{"/usr/local/bin/node", "/function/node_modules/aws-lambda-ric/bin/index.mjs"}, []string{fixtures.DockerPATH},
				[]testimage.File{testimage.Dir("usr", 0), testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0), testimage.Reg("usr/local/bin/node", 0o755, ld601ELF), testimage.Dir("usr/bin", 0), testimage.Reg("usr/bin/apt-get", 0o755, ld601ELF)},
				etcBundle("etc/docker/certs.d/db.example.com/AmazonRootCA1.pem", goodBundle(t)),
			), "amd64")
		},
		verify: expect(Warning, []string{"Only the Docker daemon reads that directory", "no system CA bundle either", "x509: certificate signed by unknown authority"}, []string{"no certificates in /etc/ssl/certs/ca-certificates.crt"}, []string{"apt-get install -y --no-install-recommends ca-certificates, then RUN cp /etc/docker/certs.d"}),
	},
	{
		name: "AWS base image (python3.12) with its CA bundle",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.AWSBaseSpec()
			spec.Layers[0] = append(spec.Layers[0], etcBundle("etc/pki/tls/certs/ca-bundle.crt", goodBundle(t))...)
			return newTarget(t, spec, "amd64")
		},
	},
	{
		name: "Go on provided.al2023 with its CA bundle",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, appSpec([]string{"/app/bootstrap"}, nil,
				append(etcBundle("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", goodBundle(t)),
					testimage.Dir("etc/pki/tls", 0), testimage.Dir("etc/pki/tls/certs", 0),
					testimage.Symlink("etc/pki/tls/certs/ca-bundle.crt", "../../ca-trust/extracted/pem/tls-ca-bundle.pem")),
				goApp(goTLSBinary)), "amd64")
		},
	},
	{
		name: "Alpine: /etc/ssl/cert.pem -> certs/ca-certificates.crt",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, appSpec([]string{"/app/bootstrap"}, nil,
				append(etcBundle("etc/ssl/certs/ca-certificates.crt", goodBundle(t)), testimage.Symlink("etc/ssl/cert.pem", "certs/ca-certificates.crt")),
				goApp(goTLSBinary)), "amd64")
		},
	},
	{
		name: "Debian-style certificate directory without a bundle file",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			return newTarget(t, appSpec([]string{"/app/bootstrap"}, nil,
				[]testimage.File{
					testimage.Dir("usr", 0), testimage.Dir("usr/share", 0), testimage.Dir("usr/share/ca-certificates", 0), testimage.Dir("usr/share/ca-certificates/mozilla", 0),
					testimage.Reg("usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt", 0o644, goodBundle(t)),
					testimage.Dir("etc", 0), testimage.Dir("etc/ssl", 0), testimage.Dir("etc/ssl/certs", 0),
					testimage.Symlink("etc/ssl/certs/Amazon_Root_CA_1.pem", "/usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt"),
					testimage.Symlink("etc/ssl/certs/ce5e74ef.0", "Amazon_Root_CA_1.pem"),
				},
				goApp(goTLSBinary)), "amd64")
		},
	},
	{
		name:   "Node.js has built-in roots",
		kind:   clean,
		target: ld601Target(appSpec([]string{"/usr/local/bin/node", "index.js"}, nil, []testimage.File{testimage.Dir("usr", 0), testimage.Dir("usr/local", 0), testimage.Dir("usr/local/bin", 0), testimage.Reg("usr/local/bin/node", 0o755, ld601ELF)})),
	},
	{
		name:   "Go binary without crypto/tls makes no TLS connections",
		kind:   clean,
		target: ld601Target(appSpec([]string{"/app/bootstrap"}, nil, goApp(goNoTLSBinary))),
	},
	{
		name:   "Go binary with x509roots/fallback embedded",
		kind:   clean,
		target: ld601Target(appSpec([]string{"/app/bootstrap"}, nil, goApp(goFallbackBinary))),
	},
	{
		name: "Python with certifi and no system bundle",
		kind: clean,
		target: func(t *testing.T) *analyze.Target {
			spec := fixtures.PythonSpec(v1.Config{Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"/usr/local/bin/python", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}, WorkingDir: "/function"})
			spec.Layers[1] = append(spec.Layers[1], testimage.Dir("function/certifi", 0), testimage.Reg("function/certifi/cacert.pem", 0o644, goodBundle(t)))
			return newTarget(t, spec, "amd64")
		},
	},
	{
		name: "shell custom runtime talking HTTP to the Runtime API with curl",
		kind: clean,
		target: ld601Target(testimage.Spec{
			Config: v1.Config{Env: []string{"LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime"}, Entrypoint: []string{"/var/runtime/bootstrap"}, Cmd: []string{"function.handler"}},
			Layers: [][]testimage.File{{
				testimage.Dir("bin", 0), testimage.Reg("bin/sh", 0o755, ld601ELF), testimage.Dir("usr", 0), testimage.Dir("usr/bin", 0), testimage.Reg("usr/bin/curl", 0o755, sslBinary),
				testimage.Dir("var", 0), testimage.Dir("var/runtime", 0),
				testimage.Reg("var/runtime/bootstrap", 0o755, "#!/bin/sh\nset -euo pipefail\nwhile true; do\n  EVENT_DATA=$(curl -sS -LD \"$HEADERS\" -X GET \"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next\")\ndone\n"),
			}},
		}),
	},
	{
		name: "Java with its cacerts",
		kind: clean,
		target: ld601Target(appSpec([]string{"/usr/lib/jvm/java-17/bin/java", "-jar", "/var/task/app.jar"}, nil,
			[]testimage.File{
				testimage.Dir("usr", 0), testimage.Dir("usr/lib", 0), testimage.Dir("usr/lib/jvm", 0), testimage.Dir("usr/lib/jvm/java-17", 0),
				testimage.Dir("usr/lib/jvm/java-17/bin", 0), testimage.Reg("usr/lib/jvm/java-17/bin/java", 0o755, ld601ELF),
				testimage.Dir("usr/lib/jvm/java-17/lib", 0), testimage.Dir("usr/lib/jvm/java-17/lib/security", 0),
				testimage.Reg("usr/lib/jvm/java-17/lib/security/cacerts", 0o644, "\xfe\xed\xfe\xed\x00\x00\x00\x02"),
			})),
	},
}
