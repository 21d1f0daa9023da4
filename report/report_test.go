package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fatih/color"

	"github.com/lambdoctor/lambdoctor/checks"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

func TestGolden(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		reports []*Report
		opts    Options
	}{
		{"text", "text", []*Report{broken()}, Options{}},
		{"text_color", "text", []*Report{broken()}, Options{Color: true}},
		{"text_verbose", "text", []*Report{broken()}, Options{Verbose: true}},
		{"text_clean", "text", []*Report{clean()}, Options{}},
		{"text_clean_color", "text", []*Report{clean()}, Options{Color: true}},
		{"text_check_error", "text", []*Report{checkError()}, Options{}},
		{"text_check_error_verbose", "text", []*Report{checkError()}, Options{Verbose: true}},
		{"text_load_failure", "text", []*Report{loadFailure()}, Options{}},
		{"text_multi", "text", []*Report{broken(), loadFailure(), clean()}, Options{}},
		{"json", "json", []*Report{broken()}, Options{}},
		{"json_clean", "json", []*Report{clean()}, Options{}},
		{"json_check_error", "json", []*Report{checkError()}, Options{}},
		{"json_load_failure", "json", []*Report{loadFailure()}, Options{}},
		{"json_multi", "json", []*Report{broken(), loadFailure(), clean()}, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, tt.reports, tt.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./report -update if intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestColorIgnoresGlobal checks that colour is decided by Options alone,
// never by color.NoColor (which looks at the test's stdout).
func TestColorIgnoresGlobal(t *testing.T) {
	saved := color.NoColor
	t.Cleanup(func() { color.NoColor = saved })
	for _, global := range []bool{false, true} {
		color.NoColor = global
		for _, want := range []bool{false, true} {
			var buf bytes.Buffer
			if err := Write(&buf, "text", []*Report{broken()}, Options{Color: want}); err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(buf.Bytes(), []byte("\x1b[")); got != want {
				t.Errorf("color.NoColor=%v, Options.Color=%v: escapes written = %v", global, want, got)
			}
		}
	}
}

func TestJSONListsNeverNull(t *testing.T) {
	m := meta("LD202", "entrypoint-not-found", checks.Error)
	sparse := New(Tool{}, Image{Index: &Index{}}, []checks.Result{
		{Meta: m, Status: checks.StatusFailed, Findings: []checks.Finding{{ID: "LD202", Severity: checks.Error}}},
	})
	for _, reports := range [][]*Report{
		{sparse},
		{New(Tool{}, Image{}, nil)},
		{Failed(Tool{}, "x", "", "")},
		{sparse, Failed(Tool{}, "x", "", "")},
		nil,
	} {
		var buf bytes.Buffer
		if err := Write(&buf, "json", reports, Options{}); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		lists := map[string]bool{"reports": true, "layers": true, "manifests": true, "findings": true, "checks": true, "evidence": true}
		walk(v, "", func(parent, key string, val any) {
			if lists[key] && parent != "checks" { // checks[].findings is a count

				if _, ok := val.([]any); !ok {
					t.Errorf("%q is %v, want a list, in\n%s", key, val, buf.Bytes())
				}
			}
			if val == nil && key != "layer" {
				t.Errorf("%q is null in\n%s", key, buf.Bytes())
			}
		})
	}
}

// walk calls fn for every key of every object inside v, with the key of the
// object (or list of objects) that holds it.
func walk(v any, parent string, fn func(parent, key string, val any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			fn(parent, k, val)
			walk(val, k, fn)
		}
	case []any:
		for _, val := range v {
			walk(val, parent, fn)
		}
	}
}

// TestJSONContract pins the top-level keys consumers rely on; more may be
// added, none removed.
func TestJSONContract(t *testing.T) {
	contract := map[string][]string{
		"":        {"schemaVersion", "tool", "image", "findings", "checks", "summary"},
		"tool":    {"name", "version"},
		"image":   {"ref", "source", "digest", "platform", "isIndex", "layers"},
		"summary": {"error", "warning", "info"},
	}
	hasKeys := func(t *testing.T, obj map[string]any) {
		t.Helper()
		for section, keys := range contract {
			o := obj
			if section != "" {
				o, _ = obj[section].(map[string]any)
			}
			for _, k := range keys {
				if _, ok := o[k]; !ok {
					t.Errorf("%s: missing key %q", cmp.Or(section, "top level"), k)
				}
			}
		}
		if v, _ := obj["schemaVersion"].(float64); v != SchemaVersion {
			t.Errorf("schemaVersion = %v, want %d", obj["schemaVersion"], SchemaVersion)
		}
	}

	var buf bytes.Buffer
	if err := Write(&buf, "json", []*Report{broken()}, Options{}); err != nil {
		t.Fatal(err)
	}
	var single map[string]any
	if err := json.Unmarshal(buf.Bytes(), &single); err != nil {
		t.Fatal(err)
	}
	hasKeys(t, single)
	if !bytes.HasSuffix(buf.Bytes(), []byte("}\n")) || !bytes.Contains(buf.Bytes(), []byte("\n  \"tool\"")) {
		t.Errorf("want 2-space indent and a trailing newline:\n%s", buf.Bytes())
	}
	if !bytes.Contains(buf.Bytes(), []byte(brokenImage().Digest)) {
		t.Error("JSON must keep full digests")
	}
	f := single["findings"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "name", "severity", "title", "message", "path", "layer", "evidence", "fix", "docs"} {
		if _, ok := f[k]; !ok {
			t.Errorf("finding: missing key %q", k)
		}
	}
	if f["severity"] != "error" {
		t.Errorf("severity = %v, want \"error\"", f["severity"])
	}

	buf.Reset()
	if err := Write(&buf, "json", []*Report{broken(), loadFailure()}, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int              `json:"schemaVersion"`
		Tool          Tool             `json:"tool"`
		Reports       []map[string]any `json:"reports"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != SchemaVersion || doc.Tool != tool || len(doc.Reports) != 2 {
		t.Fatalf("document = %+v", doc)
	}
	for _, r := range doc.Reports {
		hasKeys(t, r)
	}
	if e, _ := doc.Reports[1]["error"].(map[string]any); e["kind"] != "not-found" {
		t.Errorf("load failure error = %v", doc.Reports[1]["error"])
	}
}

func TestNew(t *testing.T) {
	r := broken()
	var order []string
	for _, f := range r.Findings {
		order = append(order, f.Severity.String()+" "+f.ID)
	}
	if want := []string{"error LD202", "warning LD203", "info LD150"}; !slices.Equal(order, want) {
		t.Errorf("findings order = %q, want %q", order, want)
	}
	if want := (Summary{Error: 1, Warning: 1, Info: 1}); r.Summary != want {
		t.Errorf("summary = %+v, want %+v", r.Summary, want)
	}
	if r.Max() != checks.Error {
		t.Errorf("Max = %v, want error", r.Max())
	}
	if len(r.Checks) != 6 || r.Checks[3].Status != "error" || r.Checks[3].Error == "" || r.Checks[1].Findings != 1 {
		t.Errorf("checks = %+v", r.Checks)
	}
	if got := clean().Max(); got != 0 {
		t.Errorf("clean Max = %v, want 0", got)
	}
	if !clean().Image.IsIndex {
		t.Error("an image with an index must have IsIndex set")
	}
	if f := loadFailure(); f.Error == nil || len(f.Findings) != 0 || f.Max() != 0 {
		t.Errorf("Failed = %+v", f)
	}
}

func TestNewSortsWithinSeverity(t *testing.T) {
	a := meta("LD210", "a", checks.Warning)
	b := meta("LD120", "b", checks.Warning)
	f := func(m checks.Meta, path string) checks.Finding {
		x := finding(m, "m")
		x.Path = path
		return x
	}
	r := New(tool, Image{}, []checks.Result{
		{Meta: a, Status: checks.StatusFailed, Findings: []checks.Finding{f(a, "/b"), f(a, "/a")}},
		{Meta: b, Status: checks.StatusFailed, Findings: []checks.Finding{f(b, "/z")}},
	})
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.ID+" "+f.Path)
	}
	if want := []string{"LD120 /z", "LD210 /a", "LD210 /b"}; !slices.Equal(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "xml", []*Report{broken()}, Options{})
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("err = %v, want ErrUnknownFormat", err)
	}
	if !strings.Contains(err.Error(), "github, json, junit, sarif, text") {
		t.Errorf("error %q should list the known formats", err)
	}
	if got := Formats(); !slices.Equal(got, []string{"github", "json", "junit", "sarif", "text"}) {
		t.Errorf("Formats = %q", got)
	}
}

func TestCreatedBy(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"RUN /bin/sh -c gem install aws_lambda_ric # buildkit", "RUN gem install aws_lambda_ric"},
		{"/bin/sh -c #(nop)  CMD [\"app.handler\"]", `CMD ["app.handler"]`},
		{"/bin/sh -c pip install -r requirements.txt", "RUN pip install -r requirements.txt"},
		{"|1 V=3 /bin/sh -c make", "RUN make"},
		{"COPY app.py /var/task/ # buildkit", "COPY app.py /var/task/"},
		{"RUN /bin/sh -c apt-get update &&     apt-get install -y \\\n\tcurl", `RUN apt-get update && apt-get install -y \ curl`},
		{"ENTRYPOINT [\"/bin/sh\", \"-c\", \"/bin/sh -c x\"]", `ENTRYPOINT ["/bin/sh", "-c", "/bin/sh -c x"]`},
		{"RUN /bin/sh -c " + strings.Repeat("x", 100), "RUN " + strings.Repeat("x", 67) + "…"},
		{"RUN /bin/sh -c pip install " + strings.Repeat("pkg ", 20) + "/opt/x", "RUN pip install " + strings.TrimSpace(strings.Repeat("pkg ", 13)) + " …"},
	}
	tw := newTextWriter(Options{}).(*textWriter)
	for _, tt := range tests {
		if got := tw.createdBy(tt.in); got != tt.want {
			t.Errorf("createdBy(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestShortDigest(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"sha256:abc", "sha256:abc"},
		{digest('a'), "sha256:aaaaaaaaaaaa…"},
	}
	for _, tt := range tests {
		if got := shortDigest(tt.in); got != tt.want {
			t.Errorf("shortDigest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	in := "found in " + digest('b') + ", /blobs/sha256/" + strings.Repeat("c", 64)
	want := "found in sha256:bbbbbbbbbbbb…, /blobs/sha256/" + strings.Repeat("c", 64)
	if got := shortenDigests(in); got != want {
		t.Errorf("shortenDigests = %q, want %q", got, want)
	}
}
