package checks

import (
	"context"
	delf "debug/elf"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// TestLD401Undecided: when the chain cannot be followed, LD401 is skipped,
// never failed.
func TestLD401Undecided(t *testing.T) {
	for name, spec := range map[string]testimage.Spec{
		"exec of a variable": fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
			testimage.Reg("entry.sh", 0o755, "#!/bin/sh\nexec $APP_CMD\n")),
		"script without exec": fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/entry.sh"}},
			testimage.Reg("entry.sh", 0o755, "#!/bin/sh\ncd /var/task\npython app.py\n")),
		"tini starting a binary given as an argument": fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/usr/bin/tini", "--"}, Cmd: []string{"/var/task/run.sh"}},
			testimage.Reg("usr/bin/tini", 0o755, fixtures.ELFStub), testimage.Reg("var/task/run.sh", 0o755, "#!/bin/sh\nexec \"$@\"\n")),
		"missing entrypoint": fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/nope"}}),
	} {
		t.Run(name, func(t *testing.T) {
			res := runOne(context.Background(), MustLookup("LD401"), newTarget(t, spec, "amd64"))
			if res.Status != StatusSkipped {
				t.Fatalf("status %s (%s), want skipped; findings %+v", res.Status, res.Err, res.Findings)
			}
		})
	}
}

func TestBinaryClientGo(t *testing.T) {
	bin := fixtures.GoBinary(t, "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n")
	spec := fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/server"}}, testimage.Reg("server", 0o755, bin))
	tg := newTarget(t, spec, "amd64")
	a := tg.RIC()
	if a.Client.Name != "" || a.Lang != "go" {
		t.Fatalf("client %+v lang %q undecided %q", a.Client, a.Lang, a.Undecided)
	}
	res := runOne(context.Background(), MustLookup("LD401"), tg)
	if res.Status != StatusFailed || !strings.Contains(res.Findings[0].Message, "Go binary /server") || !strings.Contains(res.Findings[0].Fix, "lambda.Start") {
		t.Fatalf("%s %s %+v", res.Status, res.Err, res.Findings)
	}
	// The same binary reading AWS_LAMBDA_RUNTIME_API is a custom client.
	bin = fixtures.GoBinary(t, "package main\n\nimport (\n\t\"net/http\"\n\t\"os\"\n)\n\nfunc main() { http.Get(\"http://\" + os.Getenv(\"AWS_LAMBDA_RUNTIME_API\") + \"/2018-06-01/runtime/invocation/next\") }\n")
	tg = newTarget(t, fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/server"}}, testimage.Reg("server", 0o755, bin)), "amd64")
	if got := tg.RuntimeClient(); got.Name != analyze.ClientCustom || got.Language != "go" {
		t.Fatalf("client %+v", got)
	}
}

// TestLD403ShellFormSkipped: a shell-form ENTRYPOINT drops CMD; that is
// LD204's finding, not a missing handler.
func TestLD403ShellFormSkipped(t *testing.T) {
	spec := fixtures.PyRICSpec("/var/task", "app.handler", testimage.Reg("var/task/app.py", 0o644, fixtures.PyHandler))
	spec.Config.Entrypoint = []string{"/bin/sh", "-c", "/usr/local/bin/python -m awslambdaric"}
	tg := newTarget(t, spec, "amd64")
	if got := tg.RuntimeClient(); got.Name != analyze.ClientPython {
		t.Fatalf("client %+v (chain %+v)", got, tg.Chain().Links)
	}
	res := runOne(context.Background(), MustLookup("LD403"), tg)
	if res.Status != StatusSkipped || !strings.Contains(res.Err, "CMD is set but does not reach the client") {
		t.Fatalf("status %s (%s), findings %+v", res.Status, res.Err, res.Findings)
	}
}

// runCheck runs the ELF check id on tg.
func runCheck(t *testing.T, id string, tg *analyze.Target) Result {
	t.Helper()
	c := map[string]Check{"LD301": elfArchMismatch{}, "LD302": notLinuxExecutable{}, "LD303": elfInterpreterMissing{}, "LD304": elfLibraryMissing{}}[id]
	return runOne(context.Background(), c, tg)
}

func TestELFHeadTooShortForDynamic(t *testing.T) {
	// An executable whose dynamic section lies beyond the captured head:
	// it is read whole to find DT_NEEDED.
	spec := fixtures.AL2023Spec(fixtures.AMD64ELF, testimage.Reg("var/task/bootstrap", 0o755, fixtures.ELFSpec{Interp: fixtures.GlibcInterp, Needed: []string{"libmissing.so.3", "libc.so.6"}, Pad: 20000}.String()))
	spec.Config.Entrypoint = []string{"/var/task/bootstrap"}
	tg := newTarget(t, spec, "amd64")
	if h := tg.FS.Head("/var/task/bootstrap"); len(h) >= 20000 {
		t.Fatalf("head is %d bytes; the test needs a short one", len(h))
	}
	r := runCheck(t, "LD304", tg)
	if r.Status != StatusFailed || !strings.Contains(r.Findings[0].Message, "libmissing.so.3") {
		t.Fatalf("%s %+v", r.Status, r.Findings)
	}
}

func TestELFChecksOnStubImages(t *testing.T) {
	// The shared fixtures use a 20-byte ELF stub: the identity is read, and
	// nothing is reported about what cannot be known.
	for name, spec := range map[string]testimage.Spec{
		"aws base": fixtures.AWSBaseSpec(),
		"ruby":     fixtures.RubySpec("/usr/local/bundle/bin/aws_lambda_ric"),
		"python":   fixtures.PythonSpec(fixtures.PythonConfig("/usr/local/bin/python", "-m", "awslambdaric")),
	} {
		tg := newTarget(t, spec, "amd64")
		for _, id := range []string{"LD301", "LD302", "LD303", "LD304"} {
			if r := runCheck(t, id, tg); r.Status != StatusPassed {
				t.Errorf("%s on %s: %s %s %+v", id, name, r.Status, r.Err, r.Findings)
			}
		}
	}
}

// The checks that read the entrypoint binary (ELF, runtime client, TLS
// stack) share one read of it: its layer is decompressed once, not once
// per check.
func TestReadFileSharedAcrossChecks(t *testing.T) {
	bin := string(testimage.ELF(delf.EM_X86_64, "")) + strings.Repeat("\x00lambda_runtime", 4096)
	si := fixtures.NewImage(t, testimage.Spec{
		Config: v1.Config{Entrypoint: []string{"/var/task/bootstrap"}, WorkingDir: "/var/task"},
		Layers: [][]testimage.File{{testimage.Dir("var/task", 0), testimage.Reg("var/task/bootstrap", 0o755, bin)}},
	})
	tgt := newTargetFrom(t, si, "amd64")
	for _, c := range []Check{MustLookup("LD301"), MustLookup("LD401"), MustLookup("LD601")} {
		if _, err := c.Run(context.Background(), tgt); err != nil && !strings.Contains(err.Error(), "does not apply") {
			t.Fatalf("%s: %v", c.Meta().ID, err)
		}
	}
	if st := tgt.FS.Stats(); st.Reads != 1 || st.ReadBytes > st.PassBytes {
		t.Errorf("after the build the checks read %d files, decompressing %d bytes (the layer is %d); want one read", st.Reads, st.ReadBytes, st.PassBytes)
	}
}

// The ELF checks pass on the AWS base image, whose chain binaries the
// scan finds with every library they need.
func TestELFChecksOnAL2023(t *testing.T) {
	tg := newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF), "amd64")
	for _, id := range []string{"LD301", "LD302", "LD303", "LD304"} {
		if r := runCheck(t, id, tg); r.Status != StatusPassed {
			t.Errorf("%s on the AWS base image: %s %s %+v", id, r.Status, r.Err, r.Findings)
		}
	}
}

// One LD304 finding per missing library, each naming its module.
func TestELFLibraryMissingPerModule(t *testing.T) {
	var extra []testimage.File
	extra = append(extra, testimage.Dir("var/task/pkg", 0))
	for _, n := range []string{"a", "b", "c", "d"} {
		extra = append(extra, testimage.Reg("var/task/pkg/"+n+".cpython-312-x86_64-linux-gnu.so", 0o644, fixtures.AMD64ELF.Lib("", "lib"+n+".so.1", "libc.so.6")))
	}
	extra = append(extra, testimage.Hardlink("var/task/pkg/e.cpython-312-x86_64-linux-gnu.so", "var/task/pkg/a.cpython-312-x86_64-linux-gnu.so"))
	tg := newTarget(t, fixtures.AL2023Spec(fixtures.AMD64ELF, extra...), "amd64")
	r := runCheck(t, "LD304", tg)
	if r.Status != StatusFailed || len(r.Findings) != 4 {
		t.Fatalf("%s, %d findings: %+v", r.Status, len(r.Findings), r.Findings)
	}
}

// The handler checks skip an image whose runtime client was not recognised,
// and say where that is reported.
func TestHandlerChecksSkipWithoutClient(t *testing.T) {
	tg := newTarget(t, nginxSpec(), "amd64")
	for _, id := range []string{"LD402", "LD403"} {
		res := runOne(context.Background(), MustLookup(id), tg)
		if res.Status != StatusSkipped || res.Err != "no runtime interface client was recognised (see LD401)" {
			t.Errorf("%s: status %s (%q), want skipped for want of a client", id, res.Status, res.Err)
		}
	}
}
