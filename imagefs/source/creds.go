package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// credRecord remembers what the keychain answered for a registry during
// one load, so that a refusal can say whether credentials were sent and
// where they came from.
type credRecord struct {
	mu     sync.Mutex
	found  bool
	source string // where the credentials sent came from
	err    error  // the keychain failed (a helper that failed, bad JSON)
	errSrc string
	custom bool // the caller's keychain, not DefaultKeychain
}

// credOutcome is a snapshot of a credRecord.
type credOutcome struct {
	found          bool
	source, errSrc string
	err            error
	custom         bool
}

func (r *credRecord) get() credOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return credOutcome{found: r.found, source: r.source, errSrc: r.errSrc, err: r.err, custom: r.custom}
}

// recordingKeychain resolves with kc and records the outcome in rec,
// naming the credentials' origin with source.
type recordingKeychain struct {
	kc     authn.Keychain
	rec    *credRecord
	source func(authn.Resource) string
}

func (k recordingKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	a, err := k.kc.Resolve(r)
	k.rec.mu.Lock()
	defer k.rec.mu.Unlock()
	switch {
	case err != nil:
		k.rec.err, k.rec.errSrc = err, k.source(r)
	case a != nil && a != authn.Anonymous && !k.rec.found:
		k.rec.found, k.rec.source = true, k.source(r)
	}
	return a, err
}

// recordedKeychain is the keychain of a registry load and its record:
// opts.Keychain when set, else DefaultKeychain's two parts, each recorded
// under its own name.
func recordedKeychain(custom authn.Keychain) (authn.Keychain, *credRecord) {
	rec := &credRecord{custom: custom != nil}
	if custom != nil {
		return recordingKeychain{kc: custom, rec: rec, source: func(authn.Resource) string { return "the keychain given by the caller" }}, rec
	}
	docker := recordingKeychain{kc: authn.DefaultKeychain, rec: rec, source: func(r authn.Resource) string {
		return dockerConfigFor(r.RegistryStr()).origin()
	}}
	ecrKC := recordingKeychain{kc: ecrOnly{ecrKeychain()}, rec: rec, source: func(authn.Resource) string {
		return "the ECR credential helper (AWS SDK default credentials)"
	}}
	return authn.NewMultiKeychain(docker, ecrKC), rec
}

// dockerCreds says where the Docker config would take credentials for a
// registry from, read the way go-containerregistry's DefaultKeychain reads
// it: $DOCKER_CONFIG/config.json or ~/.docker/config.json, else
// $REGISTRY_AUTH_FILE, else podman's containers/auth.json.
type dockerCreds struct {
	file   string // the file consulted; "" when there is none
	looked string // what was looked for when there is no file
	helper string // docker-credential-NAME that answers for the host, or ""
	via    string // "credHelpers" or "credsStore" when helper is set
	entry  bool   // auths has an entry for the host
	err    error  // the file could not be read
}

// origin names where credentials for the host come from.
func (d dockerCreds) origin() string {
	switch {
	case d.helper != "":
		return fmt.Sprintf("credential helper %s (%s in %s)", d.helper, d.via, d.file)
	case d.file != "":
		return d.file + " (auths)"
	}
	return "the Docker config"
}

// none says where no credentials were found for host.
func (d dockerCreds) none(host string) string {
	switch {
	case d.err != nil:
		return fmt.Sprintf("no credentials found for %s: %v", host, d.err)
	case d.file == "":
		return fmt.Sprintf("no credentials found for %s: there is no Docker config file (looked for %s)", host, d.looked)
	case d.helper != "":
		return fmt.Sprintf("no credentials found for %s: credential helper %s (%s in %s) has none for it", host, d.helper, d.via, d.file)
	case d.entry:
		return fmt.Sprintf("no credentials found for %s: its entry in %s (auths) is empty", host, d.file)
	}
	return fmt.Sprintf("no credentials found for %s in %s (auths has no entry for it)", host, d.file)
}

// dockerConfigFor reads which file and entry the Docker config has for
// host.
func dockerConfigFor(host string) dockerCreds {
	var d dockerCreds
	home, _ := os.UserHomeDir()
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" && home != "" {
		dir = filepath.Join(home, ".docker")
	}
	var candidates []string
	if home != "" {
		candidates = append(candidates, filepath.Join(home, ".docker", "config.json"))
	}
	if os.Getenv("DOCKER_CONFIG") != "" {
		candidates = append(candidates, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"))
	}
	for _, c := range candidates {
		if fileExists(c) {
			d.file = filepath.Join(dir, "config.json")
		}
	}
	if d.file == "" {
		if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" && fileExists(p) {
			d.file = p
		}
	}
	if d.file == "" {
		cfgHome := os.Getenv("XDG_CONFIG_HOME")
		if cfgHome == "" && home != "" {
			cfgHome = filepath.Join(home, ".config")
		}
		var podman []string
		if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
			podman = append(podman, filepath.Join(rt, "containers", "auth.json"))
		}
		if cfgHome != "" {
			podman = append(podman, filepath.Join(cfgHome, "containers", "auth.json"))
		}
		for _, p := range podman {
			if fileExists(p) {
				d.file = p
				break
			}
		}
		candidates = append(candidates, "$REGISTRY_AUTH_FILE")
		candidates = append(candidates, podman...)
	}
	if d.file == "" {
		d.looked = joinOr(candidates)
		return d
	}
	data, err := os.ReadFile(d.file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			d.err = fmt.Errorf("%s does not exist", d.file)
		} else {
			d.err = err
		}
		return d
	}
	var cf struct {
		Auths       map[string]json.RawMessage `json:"auths"`
		CredsStore  string                     `json:"credsStore"`
		CredHelpers map[string]string          `json:"credHelpers"`
	}
	if err := json.Unmarshal(data, &cf); err != nil {
		d.err = fmt.Errorf("%s is not valid JSON: %v", d.file, err)
		return d
	}
	key := host
	if host == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	switch {
	case cf.CredHelpers[key] != "":
		d.helper, d.via = "docker-credential-"+cf.CredHelpers[key], "credHelpers"
	case cf.CredHelpers[host] != "":
		d.helper, d.via = "docker-credential-"+cf.CredHelpers[host], "credHelpers"
	case cf.CredsStore != "":
		d.helper, d.via = "docker-credential-"+cf.CredsStore, "credsStore"
	}
	for k := range cf.Auths {
		if k == key || k == host || k == "https://"+host || k == "http://"+host {
			d.entry = true
		}
	}
	return d
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// joinOr joins paths as "a, b or c".
func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for _, x := range s[1 : len(s)-1] {
		out += ", " + x
	}
	return out + " or " + s[len(s)-1]
}
