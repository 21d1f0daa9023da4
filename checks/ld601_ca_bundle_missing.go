package checks

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/lambdoctor/lambdoctor/analyze"
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

func (caBundleMissing) Meta() Meta {
	return Meta{
		ID:       "LD601",
		Name:     "ca-bundle-missing",
		Title:    "no usable CA certificates where the function's TLS stack looks",
		Severity: Warning,
		Category: CategoryOf("LD601"),
		Needs: []string{
			"/etc/ssl/certs/*", "/etc/ssl/*.pem", "/etc/pki/tls/certs/*", "/etc/pki/tls/*.pem",
			"/etc/pki/ca-trust/extracted/pem/*", "/usr/lib/ssl/cert.pem", "/usr/local/ssl/cert.pem",
			"/usr/share/ca-certificates/*/*",
		},
	}
}

func (c caBundleMissing) Run(ctx context.Context, t *analyze.Target) ([]Finding, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	prog := analyze.TLSProgramOf(t)
	var out []Finding
	envHandled := map[string]bool{}

	switch prog.Stack {
	case analyze.StackGo, analyze.StackOpenSSL, analyze.StackPython:
		files, dirs := analyze.OpenSSLCertFiles, analyze.OpenSSLCertDirs
		if prog.Stack == analyze.StackGo {
			files, dirs = analyze.GoCertFiles, analyze.GoCertDirs
		}
		s := analyze.CASystemStore(t, files, dirs)
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
		} else if prog.Stack != analyze.StackPython {
			out = append(out, c.weakStore(t, prog, s)...)
		}
	case analyze.StackJava:
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

func (c caBundleMissing) noStore(ctx context.Context, t *analyze.Target, prog analyze.TLSProgram, s analyze.CAStore) (Finding, bool) {
	ev := []string{prog.Evidence(t)}
	if prog.Stack == analyze.StackPython {
		// requests and boto3 carry their own bundles.
		found, err := analyze.FindCABundles(ctx, t, "/certifi/cacert.pem", "/botocore/cacert.pem")
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
		what = fmt.Sprintf("the bundle %s holds no certificate that parses", analyze.FormatChain(s.FileRes))
		if s.Bad > 0 {
			what += fmt.Sprintf(" (%d CERTIFICATE block(s) are corrupt)", s.Bad)
		} else if s.FileRes.Entry != nil && s.FileRes.Entry.Size == 0 {
			what = fmt.Sprintf("the bundle %s is empty", analyze.FormatChain(s.FileRes))
		}
		f.Path = s.File
		if s.FileRes.Entry != nil {
			f.Layer = layerRef(t, s.FileRes.Entry.Layer)
			ev = append(ev, s.File+": "+t.Describe(s.FileRes.Entry))
		}
	}
	if s.EnvDir != "" {
		ev = append(ev, "ENV SSL_CERT_DIR="+s.EnvDir+" (no certificates there)")
	}
	docker := analyze.DockerCertFiles(t)
	extra := ""
	if len(docker) > 0 {
		extra = fmt.Sprintf(" The certificates under /etc/docker/certs.d (%s) do not help: only the Docker daemon reads that directory, to pull images from a registry; no TLS library in the function looks there.", strings.Join(caFirstN(docker, 3), ", "))
		ev = append(ev, "/etc/docker/certs.d holds "+fmt.Sprint(len(docker))+" file(s), read only by the Docker daemon")
	}
	// An error only when the image shows TLS is needed to serve at all: a
	// start-up script that calls an HTTPS endpoint or the AWS CLI. A
	// function that makes no HTTPS call works without roots, and which
	// calls a program makes cannot be seen: a warning.
	consequence := "The function may start, but its first call to an AWS API or any HTTPS endpoint fails; one that makes none works, hence a warning."
	f.Severity = Warning
	if call, where := startupTLSCall(t); call != "" {
		f.Severity = Error
		consequence = fmt.Sprintf("%s runs %q, which needs TLS, so the function fails as soon as that line runs.", where, call)
		ev = append(ev, fmt.Sprintf("%s: %s", where, call))
	}
	f.Message = fmt.Sprintf("The function's TLS stack is %s (%s), and %s, so %s. %s%s", prog.Stack, prog.Path, what, prog.Symptom(), consequence, extra)
	f.Evidence = ev
	f.Fix = caInstallFix(t)
	if s.EnvFile != "" && s.File == "" {
		f.Fix = "remove ENV SSL_CERT_FILE=" + s.EnvFile + ", or " + f.Fix
	}
	return f, true
}

// startupTLSCall finds a command a start-up script certainly runs that
// needs TLS: curl or wget given an https:// URL, or the AWS CLI (which
// calls AWS over HTTPS). It returns the command's text and where it is
// ("line 4 of /var/task/bootstrap"), or "" when there is none.
func startupTLSCall(t *analyze.Target) (call, where string) {
	for _, sc := range t.Scripts() {
		for _, cmd := range sc.Commands {
			if !cmd.Certain || cmd.Guarded {
				continue
			}
			name := path.Base(cmd.Name.Value)
			tls := name == "aws"
			if name == "curl" || name == "wget" {
				for _, a := range cmd.Args {
					if strings.Contains(a.Value, "https://") || strings.Contains(a.Raw, "https://") {
						tls = true
					}
				}
			}
			if tls {
				return cmd.Text, fmt.Sprintf("line %d of %s", cmd.Line, sc.Origin)
			}
		}
	}
	return "", ""
}

// weakStore reports a parsable store that is all expired or lacks the
// Amazon roots.
func (c caBundleMissing) weakStore(t *analyze.Target, prog analyze.TLSProgram, s analyze.CAStore) []Finding {
	now := time.Now()
	valid := 0
	amazon := map[string]bool{}
	for _, cert := range s.Certs {
		if now.After(cert.NotAfter) {
			continue
		}
		valid++
		for _, n := range analyze.AmazonRoots {
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
		f.Evidence = []string{prog.Evidence(t), fmt.Sprintf("store: %s: %d certificate(s), %d not expired", s.Where(), len(s.Certs), valid)}
		if s.FileRes.Entry != nil {
			f.Layer = layerRef(t, s.FileRes.Entry.Layer)
			f.Evidence = append(f.Evidence, s.File+": "+t.Describe(s.FileRes.Entry))
		}
		return f
	}
	switch {
	case valid == 0:
		f := base()
		f.Message = fmt.Sprintf("Every one of the %d certificate(s) in %s has expired, so %s uses no valid root and HTTPS calls from the function fail verification (certificate has expired / unknown authority).", len(s.Certs), s.Where(), prog.Stack)
		f.Fix = caInstallFix(t)
		return []Finding{f}
	case len(amazon) == 0:
		f := base()
		f.Evidence = append(f.Evidence, "none of: "+strings.Join(analyze.AmazonRoots, ", "))
		f.Message = fmt.Sprintf("The CA store %s (%d valid certificate(s)) holds none of Amazon Root CA 1-4 or Starfield Services Root CA G2, the roots AWS service endpoints chain to, so %s rejects AWS endpoints' certificates: AWS SDK calls from the function fail with an unknown-authority error. A custom bundle that trusts only a private CA does this.", s.Where(), valid, prog.Stack)
		f.Fix = "add the Amazon roots from https://www.amazontrust.com/repository/ to the bundle, e.g. " + caInstallFix(t) + " and append your private CA to it instead of replacing it"
		return []Finding{f}
	}
	return nil
}

// javaStore checks $JAVA_HOME/lib/security/cacerts.
func (c caBundleMissing) javaStore(t *analyze.Target, prog analyze.TLSProgram) (Finding, bool) {
	var homes []string
	if v, ok := analyze.Getenv(t.Config().Env, "JAVA_HOME"); ok && strings.HasPrefix(v, "/") {
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
			tried = append(tried, analyze.FormatChain(r))
		}
	}
	if len(homes) == 0 {
		return Finding{}, false
	}
	f := NewFinding(c.Meta(), "")
	ev := []string{prog.Evidence(t), "tried " + strings.Join(tried, ", ")}
	what := "has no cacerts trust store"
	f.Path = path.Join(homes[len(homes)-1], "lib/security/cacerts")
	fix := caInstallFix(t)
	if broken != nil {
		f.Path = broken.Requested
		what = "has its cacerts trust store at " + analyze.FormatChain(*broken)
		if h, _, ok := analyze.DanglingLink(t.FS, *broken); ok {
			what += ", a dangling symlink"
			f.Layer = layerRef(t, h.Layer)
			ev = append(ev, fmt.Sprintf("dangling symlink %s -> %s added in %s", h.Path, analyze.QuoteJSON(h.Target), t.LayerLabel(h.Layer)))
			if strings.HasPrefix(analyze.LinkDest(h), "/etc/ssl/certs/java/") {
				fix = "RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates-java"
			}
		} else if broken.Entry != nil {
			what += ", an empty or non-regular file"
			f.Layer = layerRef(t, broken.Entry.Layer)
			ev = append(ev, broken.Requested+": "+t.Describe(broken.Entry))
		}
	}
	f.Message = fmt.Sprintf("The function runs Java (%s), which %s, so %s.", prog.Path, what, prog.Symptom())
	f.Evidence = ev
	f.Fix = fix
	return f, true
}

// envFindings reports CA environment variables naming missing paths.
func (c caBundleMissing) envFindings(t *analyze.Target, prog analyze.TLSProgram, handled map[string]bool) []Finding {
	var out []Finding
	env := t.Config().Env
	for _, v := range analyze.CAEnvVars {
		val, ok := analyze.Getenv(env, v.Key)
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
				missing = append(missing, analyze.FormatChain(r))
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
		if prog.Stack == analyze.StackNode && v.Key != "NODE_EXTRA_CA_CERTS" {
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
			f.Layer = layerRef(t, layerOf.Layer)
		}
		f.Message = fmt.Sprintf("ENV %s=%s should name %s of CA certificates for %s, but %s is not %s in this image, so %s.", v.Key, val, what, v.Reader, strings.Join(missing, ", "), what, symptom)
		f.Evidence = []string{"config.Env " + v.Key + "=" + val, "resolved: " + strings.Join(missing, ", ")}
		if prog.Stack != analyze.StackNone {
			f.Evidence = append(f.Evidence, prog.Evidence(t))
		}
		f.Fix = fmt.Sprintf("point %s at the bundle you install (e.g. ENV %s=/etc/ssl/certs/ca-certificates.crt), or delete the ENV %s line", v.Key, v.Key, v.Key)
		out = append(out, f)
	}
	return out
}

// dockerCerts is the hasura seed: certificates copied into
// /etc/docker/certs.d, which only the Docker daemon reads. Reported on
// its own (info) when no other finding already says so.
func (c caBundleMissing) dockerCerts(t *analyze.Target, prog analyze.TLSProgram, reported bool) (Finding, bool) {
	files := analyze.DockerCertFiles(t)
	if len(files) == 0 || reported {
		return Finding{}, false
	}
	f := NewFinding(c.Meta(), "")
	f.Severity = Info
	f.Path = "/etc/docker/certs.d"
	if e, ok := t.FS.Lookup(files[0]); ok {
		f.Layer = layerRef(t, e.Layer)
		f.Evidence = append(f.Evidence, files[0]+": "+t.Describe(e))
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("/etc/docker/certs.d holds %d certificate file(s): %s", len(files), strings.Join(caFirstN(files, 5), ", ")))
	if prog.Stack != analyze.StackNone {
		f.Evidence = append(f.Evidence, prog.Evidence(t))
	}
	f.Message = fmt.Sprintf("The image holds CA certificates under /etc/docker/certs.d (%s). Only the Docker daemon reads that directory, to trust a registry when pulling images; no TLS library in the function (Go, OpenSSL, Python, Node, Java) looks there, so a private CA placed there is not trusted by the function.", strings.Join(caFirstN(files, 3), ", "))
	f.Fix = "RUN cp /etc/docker/certs.d/*/*.crt /usr/local/share/ca-certificates/ && update-ca-certificates (Debian/Alpine; on Amazon Linux copy to /etc/pki/ca-trust/source/anchors/ and run update-ca-trust)"
	// Certificates put there show the function needs TLS trust; with no
	// system bundle either, every program reading the system store (a Go
	// CLI the function runs, curl, OpenSSL) trusts nothing: the seed's
	// "x509: certificate signed by unknown authority".
	if s := analyze.CASystemStore(t, analyze.OpenSSLCertFiles, analyze.OpenSSLCertDirs); s.Empty {
		f.Severity = Warning
		f.Message += " The image has no system CA bundle either (" + strings.Join(caFirstN(analyze.OpenSSLCertFiles, 3), ", ") + " … are missing or empty), so programs that read the system store — Go binaries (\"x509: certificate signed by unknown authority\"), curl, OpenSSL — trust no certificate at all."
		f.Evidence = append(f.Evidence, "no certificates in "+strings.Join(analyze.OpenSSLCertFiles, ", ")+" or "+strings.Join(analyze.OpenSSLCertDirs, ", "))
		f.Fix = caInstallFix(t) + ", then " + f.Fix
	}
	return f, true
}

// caInstallFix is the Dockerfile line that installs the distro's CA
// bundle, chosen from the package manager the image has.
func caInstallFix(t *analyze.Target) string {
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
