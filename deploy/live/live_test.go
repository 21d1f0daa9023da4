package live

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lambdoctor/lambdoctor/deploy"
	"github.com/lambdoctor/lambdoctor/internal/fakelambda"
)

const region = "eu-west-1"

// hermetic keeps the SDK's default chains away from this machine's AWS
// configuration: no shared files, no profile, no instance metadata.
func hermetic(t *testing.T) {
	fakelambda.Hermetic(t, nil)
}

var static = credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")

func client(t *testing.T, srv *fakelambda.Server) *Client {
	t.Helper()
	c, err := New(context.Background(), Options{Region: region, Endpoint: srv.URL, Credentials: static})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"
const digest = "sha256:4a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

func TestFunctionReadsTheLiveConfiguration(t *testing.T) {
	hermetic(t)
	srv := fakelambda.New(t, region, fakelambda.Function{
		Name:     "orders-api",
		ImageURI: repo + ":prod", ResolvedImageURI: repo + "@" + digest,
		Command: []string{"app.handler"}, WorkingDirectory: "/var/task",
		Architecture: "arm64",
		Environment:  map[string]string{"TABLE": "orders", "LOG_LEVEL": "debug"},
		MemoryMB:     1024, TimeoutSeconds: 30, EphemeralMB: 2048,
	})
	c := client(t, srv)
	for _, asked := range []string{"orders-api", srv.ARN("orders-api")} {
		e, err := c.Function(context.Background(), asked)
		if err != nil || e.Err != nil {
			t.Fatalf("%s: %v, %v", asked, err, e.Err)
		}
		want := deploy.Function{
			ID: "orders-api", Name: "orders-api", Tool: "lambda", Source: srv.ARN("orders-api"),
			Image:        repo + "@" + digest,
			ImageConfig:  deploy.ImageConfig{Command: []string{"app.handler"}, WorkingDirectory: "/var/task"},
			Architecture: "arm64",
			Environment:  map[string]string{"TABLE": "orders", "LOG_LEVEL": "debug"},
			MemoryMB:     1024, TimeoutSeconds: 30, EphemeralStorageMB: 2048,
		}
		if !reflect.DeepEqual(e.Function, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", asked, e.Function, want)
		}
		if e.Name != "orders-api" || e.ARN != srv.ARN("orders-api") || e.ImageURI != repo+":prod" || e.Digest != digest || e.State != "Active" || len(e.Problems) != 0 {
			t.Errorf("%s: entry %+v", asked, e)
		}
	}
	// ImageConfig unset: the image's own ENTRYPOINT, CMD and WORKDIR stay.
	srv2 := fakelambda.New(t, region, fakelambda.Function{Name: "plain", ImageURI: repo + "@" + digest, ResolvedImageURI: repo + "@" + digest})
	e, err := client(t, srv2).Function(context.Background(), "plain")
	if err != nil || e.Err != nil {
		t.Fatal(err, e.Err)
	}
	if f := e.Function; f.ImageConfig.EntryPoint != nil || f.ImageConfig.Command != nil || f.ImageConfig.WorkingDirectory != "" || f.Architecture != "x86_64" || f.MemoryMB != 128 || f.TimeoutSeconds != 3 || f.Environment != nil {
		t.Errorf("defaults: %+v", f)
	}
}

func TestFunctionErrorsBelongToTheFunction(t *testing.T) {
	hermetic(t)
	srv := fakelambda.New(t, region,
		fakelambda.Function{Name: "secret", Denied: true},
		fakelambda.Function{Name: "legacy", PackageType: "Zip"},
		fakelambda.Function{
			Name: "broken", ImageURI: repo + ":gone", ResolvedImageURI: repo + "@" + digest,
			ImageConfigError: [2]string{"InvalidImageConfig", "Command is not a list"},
			EnvironmentError: [2]string{"KMSAccessDeniedException", "Lambda was unable to decrypt the environment variables because KMS access was denied."},
			State:            "Inactive", StateReasonCode: "ImageDeleted", StateReason: "The image was deleted from the repository.",
		},
		fakelambda.Function{Name: "idle", ImageURI: repo + "@" + digest, ResolvedImageURI: repo + "@" + digest, State: "Inactive", StateReasonCode: "Idle", StateReason: "The function is inactive."},
	)
	c := client(t, srv)
	ctx := context.Background()
	for _, tc := range []struct{ name, kind, msg string }{
		{"secret", "unauthorized", "lambda:GetFunction on secret was denied: AccessDeniedException (HTTP 403): User: arn:aws:iam::123456789012:user/ci is not authorized"},
		{"missing", "not-found", "no function missing in eu-west-1: ResourceNotFoundException (HTTP 404): Function not found: arn:aws:lambda:eu-west-1:123456789012:function:missing"},
		{"legacy", "not-an-image", "function legacy is a .zip archive function (PackageType Zip), not a container image"},
	} {
		e, err := c.Function(ctx, tc.name)
		if err != nil {
			t.Fatalf("%s: a setup error %v, want the function's", tc.name, err)
		}
		if e.Err == nil || e.Err.Kind != tc.kind || !strings.HasPrefix(e.Err.Msg, tc.msg) || e.Name != tc.name {
			t.Errorf("%s: entry %+v error %+v, want kind %s, message %q", tc.name, e, e.Err, tc.kind, tc.msg)
		}
		if e.Err != nil && strings.Contains(e.Err.Msg, "\n") {
			t.Errorf("%s: message on several lines: %q", tc.name, e.Err.Msg)
		}
	}
	e, err := c.Function(ctx, "broken")
	if err != nil || e.Err != nil {
		t.Fatal(err, e.Err)
	}
	want := []string{
		"ImageConfigResponse.Error: InvalidImageConfig: Command is not a list",
		"Environment.Error: KMSAccessDeniedException: Lambda was unable to decrypt the environment variables because KMS access was denied.",
		"State Inactive (ImageDeleted): The image was deleted from the repository.",
	}
	if !reflect.DeepEqual(e.Problems, want) {
		t.Errorf("problems\n%q\nwant\n%q", e.Problems, want)
	}
	if e, _ := c.Function(ctx, "idle"); len(e.Problems) != 0 {
		t.Errorf("an idle function: %q", e.Problems)
	}
}

func TestFunctionsPagesAndKeepsImages(t *testing.T) {
	hermetic(t)
	img := func(name string) fakelambda.Function {
		return fakelambda.Function{Name: name, ImageURI: repo + ":" + name, ResolvedImageURI: repo + "@" + digest}
	}
	srv := fakelambda.New(t, region,
		img("zeta"), fakelambda.Function{Name: "zip-one", PackageType: "Zip"}, img("alpha"),
		fakelambda.Function{Name: "denied", Denied: true}, img("mid"), fakelambda.Function{Name: "zip-two", PackageType: "Zip"},
		img("beta"), img("gamma"), img("delta"),
	)
	srv.Delay = 30 * time.Millisecond
	c := client(t, srv)
	entries, err := c.Functions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if e.Name == "denied" {
			if e.Err == nil || e.Err.Kind != "unauthorized" {
				t.Errorf("denied: %+v", e.Err)
			}
		} else if e.Err != nil || e.Function.Image != repo+"@"+digest {
			t.Errorf("%s: %+v", e.Name, e)
		}
	}
	if want := []string{"alpha", "beta", "delta", "denied", "gamma", "mid", "zeta"}; !reflect.DeepEqual(names, want) {
		t.Errorf("functions %q, want the image ones by name %q", names, want)
	}
	if got, want := srv.Lists(), []string{"", "page-after-2", "page-after-4", "page-after-6", "page-after-8"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ListFunctions markers %q, want %q", got, want)
	}
	for _, g := range srv.Gets() {
		if strings.HasPrefix(g, "zip-") {
			t.Errorf("GetFunction on %s, a .zip function", g)
		}
	}
	if n := srv.MaxInFlight(); n > DefaultParallel || n < 2 {
		t.Errorf("%d GetFunction calls at once, want 2 to %d", n, DefaultParallel)
	}
}

func TestSetupErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no region", func(t *testing.T) {
		hermetic(t)
		_, err := New(ctx, Options{Credentials: static})
		var se *SetupError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "no AWS Region: pass --region") {
			t.Errorf("%v", err)
		}
	})
	t.Run("region from the environment", func(t *testing.T) {
		hermetic(t)
		t.Setenv("AWS_REGION", "ap-south-1")
		c, err := New(ctx, Options{Credentials: static})
		if err != nil || c.Region() != "ap-south-1" {
			t.Errorf("%v, region %q", err, c.Region())
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		hermetic(t)
		_, err := New(ctx, Options{Region: region})
		var se *SetupError
		if !errors.As(err, &se) || !strings.HasPrefix(se.Msg, "no AWS credentials") || strings.Contains(se.Msg, "\n") {
			t.Errorf("%v", err)
		}
	})
	t.Run("no credentials, instance metadata refusing: nothing logged", func(t *testing.T) {
		hermetic(t)
		imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "forbidden", http.StatusForbidden)
		}))
		defer imds.Close()
		t.Setenv("AWS_EC2_METADATA_DISABLED", "")
		t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
		// The SDK's default logger writes to the process's stderr.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		stderr := os.Stderr
		os.Stderr = w
		_, err = New(ctx, Options{Region: region})
		os.Stderr = stderr
		w.Close()
		logged, _ := io.ReadAll(r)
		var se *SetupError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "no EC2 IMDS role found") {
			t.Errorf("%v", err)
		}
		if len(logged) != 0 {
			t.Errorf("the SDK wrote to stderr: %q", logged)
		}
	})
	t.Run("credentials from the environment, endpoint from AWS_ENDPOINT_URL_LAMBDA", func(t *testing.T) {
		hermetic(t)
		srv := fakelambda.New(t, region, fakelambda.Function{Name: "fn", ImageURI: repo + "@" + digest})
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)
		c, err := New(ctx, Options{Region: region})
		if err != nil {
			t.Fatal(err)
		}
		if e, err := c.Function(ctx, "fn"); err != nil || e.Err != nil || e.Function.Image != repo+"@"+digest {
			t.Errorf("%v %+v", err, e)
		}
	})
	t.Run("listing denied", func(t *testing.T) {
		hermetic(t)
		srv := fakelambda.New(t, region)
		srv.DenyList = true
		_, err := client(t, srv).Functions(ctx)
		var se *SetupError
		if !errors.As(err, &se) || !strings.HasPrefix(se.Msg, "lambda:ListFunctions in eu-west-1: AccessDeniedException (HTTP 403): User: arn:aws:iam::123456789012:user/ci is not authorized") {
			t.Errorf("%v", err)
		}
	})
	t.Run("credentials rejected", func(t *testing.T) {
		hermetic(t)
		srv := fakelambda.New(t, region, fakelambda.Function{Name: "fn", ImageURI: repo + "@" + digest})
		srv.RejectCredentials = true
		c := client(t, srv)
		_, err := c.Function(ctx, "fn")
		var se *SetupError
		if !errors.As(err, &se) || se.Msg != "lambda:GetFunction in eu-west-1: the AWS credentials were rejected: UnrecognizedClientException (HTTP 403): The security token included in the request is invalid." {
			t.Errorf("%v", err)
		}
		if _, err := c.Functions(ctx); !errors.As(err, &se) {
			t.Errorf("Functions: %v", err)
		}
	})
	t.Run("API unreachable", func(t *testing.T) {
		hermetic(t)
		srv := fakelambda.New(t, region)
		c := client(t, srv)
		srv.Close()
		_, err := c.Function(ctx, "fn")
		var se *SetupError
		if !errors.As(err, &se) || !strings.HasPrefix(se.Msg, "lambda:GetFunction in eu-west-1: the Lambda API could not be reached: ") || strings.Contains(se.Msg, "\n") {
			t.Errorf("%v", err)
		}
	})
}
