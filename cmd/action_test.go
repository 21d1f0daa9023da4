package cmd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// actionStepScript returns the run: script of the action.yml step with id.
func actionStepScript(t *testing.T, id string) string {
	t.Helper()
	var a actionFile
	if err := yaml.Unmarshal([]byte(repoFile(t, "action.yml")), &a); err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Runs.Steps {
		if s.ID == id {
			return s.Run
		}
	}
	t.Fatalf("action.yml has no step %q", id)
	return ""
}

// fakeCurl is a curl for the action's scripts that serves files from a
// directory laid out like github.com's paths, and follows
// /releases/latest to the tag named in its "latest" file, as GitHub
// redirects it.
const fakeCurl = `#!/bin/sh
out=/dev/stdout; fmt=""
while [ $# -gt 1 ]; do
	case "$1" in
	-o) out="$2"; shift 2 ;;
	-w) fmt="$2"; shift 2 ;;
	*) shift ;;
	esac
done
url="$1"
path="${url#https://github.com/}"
case "$path" in
*/releases/latest)
	[ -n "$fmt" ] && printf 'https://github.com/%s/tag/%s' "${path%/latest}" "$(cat "$SERVER/latest")"
	exit 0 ;;
esac
[ -f "$SERVER/$path" ] || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }
cat "$SERVER/$path" > "$out"
`

// actionEnv sets up a runner-like environment for the action's download
// step: the action's directory under _actions/lambdoctor/lambdoctor/REF,
// a fake github.com with release v1.2.3, and curl serving it.
type actionEnv struct {
	root, server, output string
	env                  []string
}

func newActionEnv(t *testing.T, ref string) *actionEnv {
	t.Helper()
	root := t.TempDir()
	e := &actionEnv{root: root, server: filepath.Join(root, "server"), output: filepath.Join(root, "output")}
	actionPath := filepath.Join(root, "_actions", "lambdoctor", "lambdoctor", ref)
	writeFile(t, filepath.Join(actionPath, "go.mod"), repoFile(t, "go.mod"))
	writeFile(t, filepath.Join(actionPath, "go.sum"), repoFile(t, "go.sum"))
	bin := filepath.Join(root, "bin")
	writeFile(t, filepath.Join(bin, "curl"), fakeCurl)
	os.Chmod(filepath.Join(bin, "curl"), 0o755)
	writeFile(t, e.output, "")
	e.env = []string{
		"PATH=" + bin + ":/usr/bin:/bin",
		"HOME=" + root,
		"SERVER=" + e.server,
		"RUNNER_OS=Linux", "RUNNER_ARCH=X64",
		"RUNNER_TEMP=" + filepath.Join(root, "temp"),
		"GITHUB_OUTPUT=" + e.output,
		"GITHUB_ACTION_PATH=" + actionPath,
	}
	os.MkdirAll(filepath.Join(root, "temp"), 0o755)
	// Release v1.2.3: the linux/amd64 archive and checksums.txt.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	script := "#!/bin/sh\necho lambdoctor v1.2.3 from the release\n"
	tw.WriteHeader(&tar.Header{Name: "lambdoctor", Mode: 0o755, Size: int64(len(script))})
	tw.Write([]byte(script))
	tw.Close()
	gz.Close()
	dl := filepath.Join(e.server, "lambdoctor", "lambdoctor", "releases", "download", "v1.2.3")
	writeFile(t, filepath.Join(dl, "lambdoctor_1.2.3_linux_amd64.tar.gz"), buf.String())
	writeFile(t, filepath.Join(dl, "checksums.txt"), fmt.Sprintf("%x  lambdoctor_1.2.3_linux_amd64.tar.gz\n%x  lambdoctor_1.2.3_darwin_arm64.tar.gz\n", sha256.Sum256(buf.Bytes()), sha256.Sum256([]byte("other"))))
	writeFile(t, filepath.Join(e.server, "latest"), "v1.2.3")
	return e
}

// run runs a step's script as GitHub runs a bash step (bash --noprofile
// --norc -eo pipefail FILE) and returns its exit code, output and the
// outputs it set.
func (e *actionEnv) run(t *testing.T, script string, env ...string) (int, string, map[string]string) {
	t.Helper()
	f := filepath.Join(e.root, "step.sh")
	writeFile(t, f, script)
	os.WriteFile(e.output, nil, 0o644)
	c := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", f)
	c.Env = append(append([]string{}, e.env...), env...)
	out, err := c.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{}
	b, _ := os.ReadFile(e.output)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			outputs[k] = v
		}
	}
	return code, string(out), outputs
}

// TestActionDownloadStep runs the action's download step against a fake
// github.com: the release of the action's own ref is downloaded and
// verified, a checksum mismatch is refused, and anything that is not a
// downloadable release falls back to the source build.
func TestActionDownloadStep(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	script := actionStepScript(t, "download")

	e := newActionEnv(t, "v1.2.3")
	code, out, o := e.run(t, script, "INPUT_VERSION=", "ACTION_REF=")
	if code != 0 || o["binary"] == "" || o["source"] != "" || !strings.Contains(out, "verified against checksums.txt") {
		t.Fatalf("release of the action's ref: exit %d, outputs %v\n%s", code, o, out)
	}
	if got, err := exec.Command(o["binary"]).Output(); err != nil || !strings.Contains(string(got), "from the release") {
		t.Errorf("the downloaded binary: %v %q", err, got)
	}
	if o["go-version"] == "" || len(o["go-sum"]) != 64 {
		t.Errorf("the cache key parts: %v", o)
	}

	// version: latest follows GitHub's redirect to the tag.
	e = newActionEnv(t, "main")
	if code, out, o := e.run(t, script, "INPUT_VERSION=latest", "ACTION_REF="); code != 0 || o["version"] != "v1.2.3" || o["binary"] == "" {
		t.Errorf("version latest: exit %d, outputs %v\n%s", code, o, out)
	}
	// A branch ref is built from source.
	if code, out, o := e.run(t, script, "INPUT_VERSION=", "ACTION_REF="); code != 0 || o["source"] != "true" || o["version"] != "main" || !strings.Contains(out, "not a release tag") {
		t.Errorf("ref main: exit %d, outputs %v\n%s", code, o, out)
	}
	// github.action_ref, when the runner sets it, wins over the path.
	if code, _, o := e.run(t, script, "INPUT_VERSION=", "ACTION_REF=v1.2.3"); code != 0 || o["binary"] == "" {
		t.Errorf("ACTION_REF v1.2.3: exit %d, outputs %v", code, o)
	}
	// A release without assets (or no network) falls back to source.
	if code, out, o := e.run(t, script, "INPUT_VERSION=v9.9.9", "ACTION_REF="); code != 0 || o["source"] != "true" || !strings.Contains(out, "could not download") {
		t.Errorf("missing release: exit %d, outputs %v\n%s", code, o, out)
	}
	// An unsupported runner is a clear error.
	if code, out, _ := e.run(t, script, "INPUT_VERSION=", "ACTION_REF=", "RUNNER_OS=Windows"); code != 2 || !strings.Contains(out, "Linux and macOS") {
		t.Errorf("Windows: exit %d\n%s", code, out)
	}

	// A checksum mismatch is refused, never built around.
	e = newActionEnv(t, "v1.2.3")
	sums := filepath.Join(e.server, "lambdoctor", "lambdoctor", "releases", "download", "v1.2.3", "checksums.txt")
	writeFile(t, sums, strings.Repeat("0", 64)+"  lambdoctor_1.2.3_linux_amd64.tar.gz\n")
	code, out, o = e.run(t, script, "INPUT_VERSION=", "ACTION_REF=")
	if code != 1 || o["binary"] != "" || o["source"] != "" || !strings.Contains(out, "refusing to run it") {
		t.Fatalf("checksum mismatch: exit %d, outputs %v\n%s", code, o, out)
	}
}

// TestActionSarifDecision runs the step that decides the SARIF upload.
func TestActionSarifDecision(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	script := actionStepScript(t, "sarif")
	e := newActionEnv(t, "v1.2.3")
	same := []string{"EVENT_NAME=pull_request", "HEAD_REPO=me/fn", "REPOSITORY=me/fn", "ACTOR=me"}
	fork := []string{"EVENT_NAME=pull_request", "HEAD_REPO=other/fn", "REPOSITORY=me/fn", "ACTOR=other"}
	for _, c := range []struct {
		input string
		env   []string
		code  int
		want  string
		note  string
	}{
		{"auto", same, 0, "true", ""},
		{"auto", fork, 0, "false", "pull request from the fork other/fn"},
		{"auto", []string{"EVENT_NAME=push", "ACTOR=dependabot[bot]"}, 0, "false", "Dependabot"},
		{"true", fork, 0, "true", ""},
		{"false", same, 0, "false", ""},
		{"yes", same, 2, "", "want true, false or auto"},
	} {
		code, out, o := e.run(t, script, append([]string{"UPLOAD_SARIF=" + c.input}, c.env...)...)
		if code != c.code || o["upload"] != c.want || !strings.Contains(out, c.note) {
			t.Errorf("upload-sarif %s %v: exit %d upload=%q, want %d %q and %q\n%s", c.input, c.env, code, o["upload"], c.code, c.want, c.note, out)
		}
	}
}

// TestActionBuildStep runs the source-build step on this repository, as
// for a branch ref: with the private Go directory already restored (the
// cache hit path: this machine's Go and its caches linked in, so nothing
// is downloaded), it builds lambdoctor there and the binary runs. The
// caller's PATH is not changed: nothing is written to GITHUB_PATH.
func TestActionBuildStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds lambdoctor")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Skipf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	if want := "go" + strings.TrimSpace(strings.TrimPrefix(lineWith(repoFile(t, "go.mod"), "go "), "go ")); goEnv("GOVERSION") != want {
		t.Skipf("this Go is %s, the action builds with %s", goEnv("GOVERSION"), want)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	e := newActionEnv(t, "main")
	private := filepath.Join(e.root, "temp", "lambdoctor-go")
	os.MkdirAll(private, 0o755)
	for link, target := range map[string]string{"go": goEnv("GOROOT"), "cache": goEnv("GOCACHE"), "mod": goEnv("GOMODCACHE")} {
		if err := os.Symlink(target, filepath.Join(private, link)); err != nil {
			t.Fatal(err)
		}
	}
	githubPath := filepath.Join(e.root, "github_path")
	code, out, o := e.run(t, actionStepScript(t, "build"),
		"GITHUB_ACTION_PATH="+repo, "GITHUB_PATH="+githubPath,
		"GO_VERSION="+strings.TrimPrefix(goEnv("GOVERSION"), "go"), "INPUT_VERSION=", "VERSION=main",
		"GOPROXY=off", "GOFLAGS=-mod=mod")
	if code != 0 || o["binary"] != filepath.Join(private, "bin", "lambdoctor") || !strings.Contains(out, "lambdoctor main ") {
		t.Fatalf("build step: exit %d, outputs %v\n%s", code, o, out)
	}
	if b, _ := os.ReadFile(githubPath); len(b) != 0 {
		t.Errorf("the build step added to GITHUB_PATH: %q", b)
	}
}
