// Package fakelambda is an in-process Lambda API for tests: it answers
// GetFunction and ListFunctions over REST-JSON with the shapes of the
// Lambda API reference
// (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html,
// https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html),
// pages the listing with Marker/NextMarker, and answers errors the way
// the API does: the status, an x-amzn-ErrorType header and a
// {"Type","Message"} body. The real SDK client talks to it.
package fakelambda

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Account is the account ID of every ARN the server writes.
const Account = "123456789012"

// Function is one function the server knows.
type Function struct {
	Name string
	// PackageType is "Image" or "Zip"; "" is Image.
	PackageType string
	// ImageURI and ResolvedImageURI are Code.ImageUri and
	// Code.ResolvedImageUri.
	ImageURI, ResolvedImageURI string
	// EntryPoint, Command and WorkingDirectory are the ImageConfig;
	// all unset leaves ImageConfigResponse out.
	EntryPoint, Command []string
	WorkingDirectory    string
	// ImageConfigError and EnvironmentError are {ErrorCode, Message}
	// pairs Lambda reports; empty for none.
	ImageConfigError, EnvironmentError [2]string
	// Architecture is "x86_64" or "arm64"; "" is x86_64.
	Architecture string
	Environment  map[string]string
	// MemoryMB, TimeoutSeconds and EphemeralMB are 128, 3 and 512 when 0,
	// Lambda's defaults.
	MemoryMB, TimeoutSeconds, EphemeralMB int
	// State is "Active" when empty; StateReasonCode and StateReason go
	// with it.
	State, StateReasonCode, StateReason string
	// Denied makes GetFunction answer AccessDeniedException.
	Denied bool
}

// Server is the fake Lambda API.
type Server struct {
	*httptest.Server
	// Region is the Region in the ARNs and the one requests must be
	// signed for.
	Region string
	// PageSize is how many functions a ListFunctions page holds when the
	// request gives no MaxItems (the real API: 50).
	PageSize int
	// DenyList makes ListFunctions answer AccessDeniedException.
	DenyList bool
	// RejectCredentials answers every request UnrecognizedClientException,
	// as Lambda does for an unknown access key.
	RejectCredentials bool
	// Delay is added to every GetFunction answer, so that calls overlap.
	Delay time.Duration

	mu        sync.Mutex
	fns       []Function
	inFlight  int
	maxFlight int
	lists     []string // the Marker of each ListFunctions call
	gets      []string
}

// New starts a server holding fns, closed when the test ends.
func New(t testing.TB, region string, fns ...Function) *Server {
	s := &Server{Region: region, PageSize: 2, fns: fns}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// ARN is the ARN of the function named name.
func (s *Server) ARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.Region, Account, name)
}

// MaxInFlight is the most GetFunction calls that were served at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight
}

// Lists are the Marker of each ListFunctions call, in order ("" for the
// first page).
func (s *Server) Lists() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lists...)
}

// Gets are the FunctionName of each GetFunction call, in order.
func (s *Server) Gets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.gets...)
}

const prefix = "/2015-03-31/functions/"

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Every request is signed with Signature Version 4 for this Region
	// and the lambda service, as the SDK signs them.
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/"+s.Region+"/lambda/aws4_request") {
		apiError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	if s.RejectCredentials {
		apiError(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	// The reference writes ListFunctions as GET /2015-03-31/functions/;
	// the SDK sends it without the slash. Lambda answers both.
	p := r.URL.EscapedPath()
	if r.Method != http.MethodGet || (p != strings.TrimSuffix(prefix, "/") && !strings.HasPrefix(p, prefix)) {
		apiError(w, http.StatusNotFound, "UnknownOperationException", "Unknown operation "+r.Method+" "+r.URL.Path)
		return
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(p, strings.TrimSuffix(prefix, "/")), "/")
	if rest == "" {
		s.list(w, r)
		return
	}
	name, err := url.PathUnescape(rest)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	s.get(w, name)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.lists = append(s.lists, q.Get("Marker"))
	fns := append([]Function(nil), s.fns...)
	s.mu.Unlock()
	if s.DenyList {
		apiError(w, http.StatusForbidden, "AccessDeniedException", fmt.Sprintf("User: arn:aws:iam::%s:user/ci is not authorized to perform: lambda:ListFunctions on resource: * because no identity-based policy allows the lambda:ListFunctions action", Account))
		return
	}
	start := 0
	if m := q.Get("Marker"); m != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "page-after-"))
		if err != nil || n < 0 || n > len(fns) {
			apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "Invalid Marker "+m)
			return
		}
		start = n
	}
	size := s.PageSize
	if mi := q.Get("MaxItems"); mi != "" {
		size, _ = strconv.Atoi(mi)
	}
	end := min(start+size, len(fns))
	page := map[string]any{"Functions": []any{}}
	var confs []any
	for _, f := range fns[start:end] {
		confs = append(confs, s.configuration(f))
	}
	if confs != nil {
		page["Functions"] = confs
	}
	if end < len(fns) {
		page["NextMarker"] = fmt.Sprintf("page-after-%d", end)
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) get(w http.ResponseWriter, asked string) {
	s.mu.Lock()
	s.gets = append(s.gets, asked)
	s.inFlight++
	s.maxFlight = max(s.maxFlight, s.inFlight)
	fns := append([]Function(nil), s.fns...)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	time.Sleep(s.Delay)
	name := asked
	// A full or partial ARN names the function after "function:".
	if _, after, ok := strings.Cut(asked, "function:"); ok {
		name = after
	}
	for _, f := range fns {
		if f.Name != name {
			continue
		}
		if f.Denied {
			apiError(w, http.StatusForbidden, "AccessDeniedException", fmt.Sprintf("User: arn:aws:iam::%s:user/ci is not authorized to perform: lambda:GetFunction on resource: %s because no identity-based policy allows the lambda:GetFunction action", Account, s.ARN(name)))
			return
		}
		out := map[string]any{"Configuration": s.configuration(f), "Tags": map[string]string{"team": "payments"}}
		if f.PackageType == "Zip" {
			out["Code"] = map[string]any{"RepositoryType": "S3", "Location": "https://awslambda-" + s.Region + "-tasks.s3." + s.Region + ".amazonaws.com/snapshots/" + Account + "/" + name + "?X-Amz-Signature=0"}
		} else {
			out["Code"] = map[string]any{"RepositoryType": "ECR", "ImageUri": f.ImageURI, "ResolvedImageUri": f.ResolvedImageURI}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+s.ARN(name))
}

// configuration is the FunctionConfiguration of f, as both GetFunction
// and ListFunctions return it.
func (s *Server) configuration(f Function) map[string]any {
	or := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	c := map[string]any{
		"FunctionName":     f.Name,
		"FunctionArn":      s.ARN(f.Name),
		"Role":             "arn:aws:iam::" + Account + ":role/" + f.Name + "-role",
		"CodeSize":         0,
		"Description":      "",
		"Timeout":          or(f.TimeoutSeconds, 3),
		"MemorySize":       or(f.MemoryMB, 128),
		"LastModified":     "2026-11-30T09:12:44.000+0000",
		"CodeSha256":       "5f1c1b9ab1b1e6bd4b8c3b0f5a6cbd3e7a54d0f0d2a1c0b9a8f7e6d5c4b3a291",
		"Version":          "$LATEST",
		"TracingConfig":    map[string]any{"Mode": "PassThrough"},
		"RevisionId":       "2d3f5c2a-8c8e-4c53-9d36-6f0a1b7e9c11",
		"State":            "Active",
		"LastUpdateStatus": "Successful",
		"PackageType":      "Image",
		"Architectures":    []string{"x86_64"},
		"EphemeralStorage": map[string]any{"Size": or(f.EphemeralMB, 512)},
		"SnapStart":        map[string]any{"ApplyOn": "None", "OptimizationStatus": "Off"},
		"LoggingConfig":    map[string]any{"LogFormat": "Text", "LogGroup": "/aws/lambda/" + f.Name},
	}
	if f.PackageType == "Zip" {
		c["PackageType"] = "Zip"
		c["Runtime"] = "python3.12"
		c["Handler"] = "app.handler"
	}
	if f.Architecture != "" {
		c["Architectures"] = []string{f.Architecture}
	}
	if f.State != "" {
		c["State"] = f.State
	}
	if f.StateReasonCode != "" {
		c["StateReasonCode"] = f.StateReasonCode
		c["StateReason"] = f.StateReason
	}
	if f.Environment != nil || f.EnvironmentError[0] != "" {
		env := map[string]any{}
		if f.Environment != nil {
			env["Variables"] = f.Environment
		}
		if f.EnvironmentError[0] != "" {
			env["Error"] = map[string]string{"ErrorCode": f.EnvironmentError[0], "Message": f.EnvironmentError[1]}
		}
		c["Environment"] = env
	}
	icr := map[string]any{}
	ic := map[string]any{}
	if f.EntryPoint != nil {
		ic["EntryPoint"] = f.EntryPoint
	}
	if f.Command != nil {
		ic["Command"] = f.Command
	}
	if f.WorkingDirectory != "" {
		ic["WorkingDirectory"] = f.WorkingDirectory
	}
	if len(ic) > 0 {
		icr["ImageConfig"] = ic
	}
	if f.ImageConfigError[0] != "" {
		icr["Error"] = map[string]string{"ErrorCode": f.ImageConfigError[0], "Message": f.ImageConfigError[1]}
	}
	if len(icr) > 0 {
		c["ImageConfigResponse"] = icr
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", "8f2b4c1e-0d7a-4b8e-9a61-3c5d7e9f1a20")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// apiError answers an error as Lambda does: the status, the error type in
// x-amzn-ErrorType, and {"Type", "Message"}.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-Errortype", code)
	typ := "User"
	if status >= 500 {
		typ = "Service"
	}
	writeJSON(w, status, map[string]string{"Type": typ, "Message": msg})
}

// Hermetic keeps the AWS SDK's default chains away from this machine's AWS
// configuration for the rest of t: no shared config or credentials files
// (both in a fresh directory), no profile, no Region, no credentials, no
// instance metadata, no endpoint overrides. set then sets what the test
// wants (credentials, AWS_ENDPOINT_URL_LAMBDA, ...); it returns the fresh
// directory.
func Hermetic(t testing.TB, set map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "", "AWS_DEFAULT_PROFILE": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_LAMBDA": "",
	} {
		t.Setenv(k, v)
	}
	for k, v := range set {
		t.Setenv(k, v)
	}
	return dir
}
