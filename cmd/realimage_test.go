package cmd

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/checks"
	"github.com/lambdoctor/lambdoctor/imagefs"
	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/inspect"
	"github.com/lambdoctor/lambdoctor/internal/realimage"
)

// These tests inspect the real-shaped images of package realimage (built
// by `make realimages`, which `make test` runs): a Debian base with
// thousands of files and real programs, where a check that misreads real
// layouts (merged /usr, alternatives symlinks, dpkg databases) shows up as
// a false alarm. They skip when the images are not built, unless
// LAMBDOCTOR_REQUIRE_REALIMAGES=1 (set by .ci/run).

// realInspect is the JSON report of one `lambdoctor inspect --format json`.
type realInspect struct {
	Image struct {
		Layers        []json.RawMessage `json:"layers"`
		RuntimeClient *struct {
			Name string `json:"name"`
			Path string `json:"path"`
		} `json:"runtimeClient"`
	} `json:"image"`
	Findings []struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
		Title    string `json:"title"`
		Path     string `json:"path"`
		Message  string `json:"message"`
	} `json:"findings"`
}

func inspectReal(t *testing.T, name string) (int, realInspect) {
	t.Helper()
	path := realimage.Path(t, name)
	s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
	code := Run(context.Background(), []string{"inspect", "--format", "json", path}, s)
	var doc realInspect
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%s: exit %d, stdout is not the JSON report: %v\n%s\nstderr: %s", name, code, err, out.String(), errb.String())
	}
	for _, f := range doc.Findings {
		t.Logf("%s: %s %s %s: %s", name, f.Severity, f.ID, f.Path, f.Title)
	}
	return code, doc
}

// errorsIn lists the error-severity findings as "ID path: message".
func errorsIn(doc realInspect) []string {
	var errs []string
	for _, f := range doc.Findings {
		if f.Severity == "error" {
			errs = append(errs, f.ID+" "+f.Path+": "+f.Message)
		}
	}
	return errs
}

// debian-go is a working aws-lambda-go function on Debian bookworm: no
// error may be reported, and the runtime client must be found.
func TestRealImageDebianGoHasNoError(t *testing.T) {
	code, doc := inspectReal(t, "debian-go")
	if errs := errorsIn(doc); len(errs) > 0 {
		t.Errorf("error findings on a working function image:\n%v", errs)
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if rc := doc.Image.RuntimeClient; rc == nil || rc.Name != "go-aws-lambda-go" || rc.Path != "/var/task/bootstrap" {
		t.Errorf("runtime client = %+v, want go-aws-lambda-go at /var/task/bootstrap", rc)
	}
	if len(doc.Image.Layers) != 3 {
		t.Errorf("%d layers in the report, want 3", len(doc.Image.Layers))
	}
}

// go-small is the same function FROM scratch with certificates.
func TestRealImageGoSmallHasNoError(t *testing.T) {
	code, doc := inspectReal(t, "go-small")
	if errs := errorsIn(doc); len(errs) > 0 {
		t.Errorf("error findings on a working function image:\n%v", errs)
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// debian-python runs python3 -m awslambdaric without awslambdaric (PyPI is
// out of reach when the image is built): the one error is the missing
// runtime client; the Debian Python stack itself (merged /usr, OpenBLAS
// through alternatives symlinks, numpy's extension modules) must not raise
// any.
func TestRealImageDebianPythonOnlyLacksTheRuntimeClient(t *testing.T) {
	code, doc := inspectReal(t, "debian-python")
	var ids []string
	for _, f := range doc.Findings {
		if f.Severity == "error" {
			ids = append(ids, f.ID)
		}
	}
	if !slices.Equal(ids, []string{"LD401"}) {
		t.Errorf("error findings %v, want only LD401 (no runtime interface client):\n%v", ids, errorsIn(doc))
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

// An inspection of a real-shaped image reads its layers once: what the
// checks read afterwards (ELF headers of its libraries, scripts, a
// handler) decompresses at most a small amount beyond each file, far less
// than the layers themselves. Re-decompressing a layer from its start for
// every read, as lambdoctor once did, costs several times the layers.
func TestRealImageInspectDecompressesLayersOnce(t *testing.T) {
	for _, name := range []string{"debian-python", "debian-go"} {
		t.Run(name, func(t *testing.T) {
			img, err := source.Load(context.Background(), realimage.Path(t, name), source.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			list := checks.All()
			fsys, err := imagefs.Build(context.Background(), img.Layers, inspect.BuildOptions(list, t.TempDir(), nil))
			if err != nil {
				t.Fatal(err)
			}
			defer fsys.Close()
			checks.Run(context.Background(), list, &analyze.Target{Image: img, FS: fsys, Arch: "amd64"})
			st := fsys.Stats()
			t.Logf("%s: the pass decompressed %d bytes; %d reads after it decompressed %d bytes (%d restarts)", name, st.PassBytes, st.Reads, st.ReadBytes, st.Restarts)
			// The layer pass summarises ELF files (dynamic section, and for
			// Go programs their build information and TLS markers), so
			// the checks read nothing more of these two images.
			if st.Reads != 0 {
				t.Errorf("%d reads after the pass (%d bytes decompressed); the pass's ELF summaries should have served them all", st.Reads, st.ReadBytes)
			}
			perRead := 2*imagefs.DefaultCheckpointEvery + 256<<10
			if st.ReadBytes > st.PassBytes/4 && st.ReadBytes > st.Reads*int64(perRead) {
				t.Errorf("reads after the pass decompressed %d bytes: more than a quarter of the layers (%d) and more than %d bytes per read", st.ReadBytes, st.PassBytes, perRead)
			}
		})
	}
}
