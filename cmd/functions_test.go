package cmd

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/lambdoctor/lambdoctor/internal/fakelambda"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

const fnRegion = "eu-west-1"

// hermeticAWS points the SDK's default chains at the test: static
// credentials in the environment, the Lambda API at endpoint (through
// AWS_ENDPOINT_URL_LAMBDA, as the SDK documents it), and nothing read
// from this machine's AWS or Docker configuration.
func hermeticAWS(t *testing.T, endpoint string) {
	dir := t.TempDir()
	fakelambda.Hermetic(t, map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_ENDPOINT_URL_LAMBDA": endpoint,
		"DOCKER_CONFIG":           dir,
	})
}

// pushImage pushes img to the registry at host as repo and returns its
// repo@digest reference, as Lambda's ResolvedImageUri writes it.
func pushImage(t *testing.T, host, repo string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repo + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return host + "/" + repo + "@" + d.String()
}

// functionsAccount is a Region of functions over an in-process registry:
//   - orders-api runs a good image as built;
//   - billing runs an image whose CMD names a missing handler, but its
//     ImageConfig.Command names the present one: it passes;
//   - reports runs the good image, but its ImageConfig.Command names a
//     missing handler: it fails;
//   - secret cannot be read (AccessDeniedException);
//   - deleted runs a digest no longer in the repository;
//   - graviton runs the good (amd64) image on arm64;
//   - legacy is a .zip function, which --all-functions leaves out.
func functionsAccount(t *testing.T) (srv *fakelambda.Server, good, cmdMissing string) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	good = pushImage(t, host, "orders", testimage.Image(t, fixtures.AWSGoodSpec()))
	spec := fixtures.AWSGoodSpec()
	spec.Config.Cmd = []string{"missing.handler"}
	cmdMissing = pushImage(t, host, "billing", testimage.Image(t, spec))
	gone := host + "/orders@sha256:" + strings.Repeat("0", 64)
	srv = fakelambda.New(t, fnRegion,
		fakelambda.Function{Name: "reports", ImageURI: strings.Replace(good, "@", ":v7@", 1), ResolvedImageURI: good, Command: []string{"gone.handler"}},
		fakelambda.Function{Name: "orders-api", ImageURI: good, ResolvedImageURI: good, MemoryMB: 1024, TimeoutSeconds: 30, Environment: map[string]string{"TABLE": "orders", "API_KEY": "s3cr3t-value"}},
		fakelambda.Function{Name: "secret", Denied: true},
		fakelambda.Function{Name: "legacy", PackageType: "Zip"},
		fakelambda.Function{Name: "billing", ImageURI: cmdMissing, ResolvedImageURI: cmdMissing, Command: []string{"app.handler"}},
		fakelambda.Function{Name: "deleted", ImageURI: gone, ResolvedImageURI: gone},
		fakelambda.Function{Name: "graviton", ImageURI: good, ResolvedImageURI: good, Architecture: "arm64"},
	)
	hermeticAWS(t, srv.URL)
	return srv, good, cmdMissing
}

type functionReport struct {
	Image struct {
		Ref, Name, Digest, Platform string
	} `json:"image"`
	Function *struct {
		ID, Name, Tool, Source, ARN, ImageURI, Image, Digest, Architecture, State string
		ImageConfig                                                               struct {
			EntryPoint, Command []string
			WorkingDirectory    string
		}
		Environment                                  []string
		MemoryMB, TimeoutSeconds, EphemeralStorageMB int
		Problems                                     []string
	} `json:"function"`
	Findings []struct{ ID, Severity, Message string } `json:"findings"`
	Summary  struct{ Error int }                      `json:"summary"`
	Error    *struct{ Kind, Message string }          `json:"error"`
}

func runJSON(t *testing.T, args ...string) (int, []functionReport, string) {
	t.Helper()
	s, out, errb := streams(nil)
	code := Run(context.Background(), append([]string{"inspect", "--no-cache", "--format", "json"}, args...), s)
	// One report is a report object, several a document of reports.
	var doc struct{ Reports *[]functionReport }
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v: stdout is not JSON: %v\n%s\nstderr:\n%s", args, err, out, errb)
	}
	if doc.Reports != nil {
		return code, *doc.Reports, errb.String()
	}
	var one functionReport
	if err := json.Unmarshal(out.Bytes(), &one); err != nil {
		t.Fatal(err)
	}
	return code, []functionReport{one}, errb.String()
}

func TestFunctionAppliesTheLiveConfiguration(t *testing.T) {
	srv, _, cmdMissing := functionsAccount(t)

	// The image alone fails: its CMD names a handler it does not have.
	s, out, errb := streams(nil)
	if code := Run(context.Background(), []string{"inspect", "--no-cache", "registry:" + cmdMissing}, s); code != ExitFindings {
		t.Fatalf("the billing image as built: exit %d, want %d\n%s%s", code, ExitFindings, out, errb)
	}
	// As the function runs it, with its ImageConfig.Command, it passes.
	code, reports, stderr := runJSON(t, "--function", "billing", "--region", fnRegion)
	if code != ExitOK || len(reports) != 1 {
		t.Fatalf("billing: exit %d, %d reports, want %d and 1\n%s", code, len(reports), ExitOK, stderr)
	}
	r := reports[0]
	if r.Image.Name != "billing" || r.Image.Ref != "registry:"+cmdMissing || r.Summary.Error != 0 {
		t.Errorf("billing: image %+v summary %+v findings %+v", r.Image, r.Summary, r.Findings)
	}
	if fn := r.Function; fn == nil || fn.ID != "billing" || fn.Tool != "lambda" || fn.ARN != srv.ARN("billing") ||
		fn.Digest != r.Image.Digest || !strings.HasSuffix(cmdMissing, "@"+fn.Digest) ||
		!reflect.DeepEqual(fn.ImageConfig.Command, []string{"app.handler"}) || fn.Architecture != "x86_64" || fn.MemoryMB != 128 || fn.TimeoutSeconds != 3 {
		t.Errorf("billing: function block %+v", fn)
	}

	// The reverse: a good image whose function's Command names a
	// missing handler fails, by the function's ARN too; the text report
	// says which configuration it applied.
	for _, asked := range []string{"reports", srv.ARN("reports")} {
		s, out, errb := streams(nil)
		if code := Run(context.Background(), []string{"inspect", "--no-cache", "--function", asked, "--region", fnRegion}, s); code != ExitFindings {
			t.Fatalf("%s: exit %d, want %d\n%s%s", asked, code, ExitFindings, out, errb)
		}
		for _, want := range []string{"\nfunction reports · lambda\n", `  config    cmd ["gone.handler"] · x86_64 · 128 MB · 3 s · /tmp 512 MB` + "\n", "gone"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: no %q in\n%s", asked, want, out)
			}
		}
	}
}

func TestAllFunctions(t *testing.T) {
	srv, good, _ := functionsAccount(t)
	s, out, errb := streams(nil)
	code := Run(context.Background(), []string{"inspect", "--no-cache", "--all-functions", "--region", fnRegion}, s)
	if code != ExitLoad {
		t.Fatalf("exit %d, want %d (a function could not be read)\n%s\n%s", code, ExitLoad, out, errb)
	}
	table, _, _ := strings.Cut(out.String(), "\n\n")
	digest := regexp.QuoteMeta(good[strings.Index(good, "@")+1:][:19])
	for _, row := range []string{
		`^FUNCTION\s+IMAGE DIGEST\s+VERDICT\s+TOP FINDING$`,
		`^billing\s+sha256:[0-9a-f]{12}\s+pass\s+(-|LD\d+ [a-z-]+ \(warning\))$`,
		`^deleted\s+sha256:000000000000\s+error\s+not-found: image not found in registry `,
		`^graviton\s+` + digest + `\s+fail\s+LD102 platform-mismatch \(error\)$`,
		`^orders-api\s+` + digest + `\s+pass\s+(-|LD\d+ [a-z-]+ \(warning\))$`,
		`^reports\s+` + digest + `\s+fail\s+LD\d+ [a-z-]+ \(error\)$`,
		`^secret\s+-\s+error\s+unauthorized: lambda:GetFunction on secret was denied: AccessDeniedException \(HTTP 403\)`,
	} {
		if !regexp.MustCompile("(?m)" + row).MatchString(table) {
			t.Errorf("no row %s in the table\n%s", row, table)
		}
	}
	if strings.Contains(out.String(), "legacy") {
		t.Errorf("the .zip function was inspected:\n%s", out)
	}
	if got := strings.Count(out.String(), "\nfunction "); got != 6 {
		t.Errorf("%d function reports after the table, want 6:\n%s", got, out)
	}
	if strings.Contains(out.String(), "s3cr3t-value") {
		t.Errorf("an environment value reached the report")
	}
	if len(srv.Lists()) < 2 {
		t.Errorf("ListFunctions called %d times, want the pages followed", len(srv.Lists()))
	}

	// In JSON the table goes to stderr and stdout is one document, the
	// reports in the functions' order.
	code, reports, stderr := runJSON(t, "--all-functions", "--region", fnRegion)
	if code != ExitLoad || !strings.HasPrefix(stderr, "FUNCTION ") {
		t.Fatalf("json: exit %d, stderr\n%s", code, stderr)
	}
	var names []string
	for _, r := range reports {
		names = append(names, r.Function.ID)
	}
	if want := []string{"billing", "deleted", "graviton", "orders-api", "reports", "secret"}; !reflect.DeepEqual(names, want) {
		t.Errorf("reports %q, want %q", names, want)
	}
	byName := map[string]functionReport{}
	for _, r := range reports {
		byName[r.Function.ID] = r
	}
	if r := byName["secret"]; r.Error == nil || r.Error.Kind != "unauthorized" || r.Function.ARN != "" {
		t.Errorf("secret: %+v", r.Error)
	}
	if r := byName["deleted"]; r.Error == nil || r.Error.Kind != "not-found" || r.Function.Digest != "sha256:"+strings.Repeat("0", 64) {
		t.Errorf("deleted: error %+v function %+v", r.Error, r.Function)
	}
	if fn := byName["orders-api"].Function; !reflect.DeepEqual(fn.Environment, []string{"API_KEY", "TABLE"}) || fn.MemoryMB != 1024 || fn.TimeoutSeconds != 30 || fn.EphemeralStorageMB != 512 {
		t.Errorf("orders-api: %+v", fn)
	}
	if r := byName["graviton"]; r.Function.Architecture != "arm64" || r.Image.Platform != "linux/amd64" || r.Summary.Error == 0 {
		t.Errorf("graviton: %+v", r)
	}
	if fn := byName["reports"].Function; fn.ImageURI != strings.Replace(good, "@", ":v7@", 1) || fn.Image != good {
		t.Errorf("reports: image URI %q, inspected %q", fn.ImageURI, fn.Image)
	}
}

func TestFunctionExitCodes(t *testing.T) {
	srv, good, _ := functionsAccount(t)
	for _, tc := range []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"no such function", []string{"--function", "nope"}, ExitLoad, ""},
		{"a .zip function", []string{"--function", "legacy"}, ExitLoad, ""},
		{"two functions, worst wins", []string{"--function", "orders-api", "--function", "reports"}, ExitFindings, ""},
		{"the same function twice", []string{"--function", "billing", "--function", "billing"}, ExitOK, ""},
		{"fail-on none", []string{"--function", "reports", "--fail-on", "none"}, ExitOK, ""},
		{"with an image", []string{"--function", "billing", "registry:" + good}, ExitUsage, "drop IMAGE"},
		{"with --cmd", []string{"--function", "billing", "--cmd", "app.handler"}, ExitUsage, "ImageConfig"},
		{"with --arch", []string{"--function", "billing", "--arch", "arm64"}, ExitUsage, "Architectures"},
		{"both", []string{"--function", "billing", "--all-functions"}, ExitUsage, "cannot be combined"},
		{"region alone", []string{"--region", fnRegion, "registry:" + good}, ExitUsage, "--region goes with"},
		{"empty name", []string{"--function", " "}, ExitUsage, "needs a function name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, out, errb := streams(nil)
			args := append([]string{"inspect", "--no-cache"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--region") {
				args = append(args, "--region", fnRegion)
			}
			if code := Run(context.Background(), args, s); code != tc.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.want, out, errb)
			}
			if tc.msg != "" && (!strings.Contains(errb.String(), tc.msg) || strings.Count(errb.String(), "\n") != 1) {
				t.Errorf("stderr %q, want one line with %q", errb, tc.msg)
			}
		})
	}

	// What stops every function from being read: one line, exit 6.
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		args  []string
		msg   string
	}{
		{"no region", func(*testing.T) {}, []string{"--all-functions"}, "lambdoctor: no AWS Region: pass --region, or set AWS_REGION"},
		{"no credentials", func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", "")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		}, []string{"--function", "billing", "--region", fnRegion}, "lambdoctor: no AWS credentials: "},
		{"listing refused", func(*testing.T) { srv.DenyList = true }, []string{"--all-functions", "--region", fnRegion}, "lambdoctor: lambda:ListFunctions in eu-west-1: AccessDeniedException (HTTP 403): "},
		{"credentials rejected", func(*testing.T) { srv.DenyList, srv.RejectCredentials = false, true }, []string{"--function", "billing", "--region", fnRegion}, "lambdoctor: lambda:GetFunction in eu-west-1: the AWS credentials were rejected: UnrecognizedClientException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t)
			s, out, errb := streams(nil)
			if code := Run(context.Background(), append([]string{"inspect", "--no-cache"}, tc.args...), s); code != ExitAWS {
				t.Fatalf("exit %d, want %d\n%s%s", code, ExitAWS, out, errb)
			}
			if !strings.HasPrefix(errb.String(), tc.msg) || strings.Count(errb.String(), "\n") != 1 || out.Len() != 0 {
				t.Errorf("stdout %q stderr %q, want one line starting %q", out, errb, tc.msg)
			}
		})
	}
}

// A Region without image functions: the table alone, a line on stderr,
// an empty document, exit 0.
func TestAllFunctionsNone(t *testing.T) {
	srv := fakelambda.New(t, fnRegion, fakelambda.Function{Name: "zip-a", PackageType: "Zip"}, fakelambda.Function{Name: "zip-b", PackageType: "Zip"}, fakelambda.Function{Name: "zip-c", PackageType: "Zip"})
	hermeticAWS(t, srv.URL)
	code, reports, stderr := runJSON(t, "--all-functions", "--region", fnRegion)
	if code != ExitOK || len(reports) != 0 || !strings.Contains(stderr, "lambdoctor: no container-image function in eu-west-1\n") {
		t.Errorf("exit %d, %d reports, stderr\n%s", code, len(reports), stderr)
	}
	if len(srv.Gets()) != 0 || len(srv.Lists()) != 2 {
		t.Errorf("GetFunction %q, ListFunctions %q", srv.Gets(), srv.Lists())
	}
}
