// Package live reads the configuration of deployed container-image
// functions from the Lambda API (AWS SDK for Go v2): lambda:GetFunction
// for one function, lambda:ListFunctions then lambda:GetFunction for every
// image function of a Region. What Lambda runs (the image digest it
// resolved, the ImageConfig, architecture, environment, memory, timeout,
// ephemeral storage) becomes a deploy.Function; what stops one function
// from being read is that function's error, not the run's.
//
// API reference:
// https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html,
// https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html.
package live

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/lambdoctor/lambdoctor/deploy"
)

// DefaultParallel is how many GetFunction calls run at once by default.
const DefaultParallel = 4

// Options configure a Client. The zero value uses the SDK's default
// chains for the Region and the credentials.
type Options struct {
	// Region is the AWS Region; "" takes the SDK's default chain
	// (AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
	Region string
	// Endpoint is the Lambda API's base URL in place of the Region's
	// (a test server, LocalStack); "" keeps the SDK's resolution, which
	// honours AWS_ENDPOINT_URL_LAMBDA and AWS_ENDPOINT_URL.
	Endpoint string
	// Credentials replace the SDK's default credential chain when set.
	Credentials aws.CredentialsProvider
	// Parallel bounds the GetFunction calls in flight; 0 is
	// DefaultParallel.
	Parallel int
}

// Client reads functions from the Lambda API of one Region.
type Client struct {
	api      *lambda.Client
	region   string
	parallel int
}

// SetupError is an error of the whole run, not of one function: no
// Region, no credentials, credentials the API rejects, the API
// unreachable, or the listing itself refused. Nothing can be read.
type SetupError struct {
	Msg string
}

func (e *SetupError) Error() string { return e.Msg }

// New resolves the Region and the credentials and returns a client. A
// missing Region or credentials is a *SetupError.
func New(ctx context.Context, o Options) (*Client, error) {
	// The SDK logs warnings (an IMDSv1 fallback) on stderr by default:
	// every error here is returned, and printed once, by the caller.
	lo := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		lo = append(lo, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, &SetupError{Msg: "reading the AWS configuration: " + oneLine(err.Error())}
	}
	if cfg.Region == "" {
		return nil, &SetupError{Msg: "no AWS Region: pass --region, or set AWS_REGION or the region of the profile (AWS_PROFILE)"}
	}
	if cfg.Credentials == nil {
		return nil, &SetupError{Msg: "no AWS credentials were found"}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &SetupError{Msg: "no AWS credentials: the SDK's default chain (AWS_ACCESS_KEY_ID, AWS_PROFILE and the shared config files, SSO, web identity, the container or instance role) gave none: " + oneLine(err.Error())}
	}
	api := lambda.NewFromConfig(cfg, func(lo *lambda.Options) {
		if o.Endpoint != "" {
			lo.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &Client{api: api, region: cfg.Region, parallel: cmp.Or(o.Parallel, DefaultParallel)}, nil
}

// Region is the Region the client reads.
func (c *Client) Region() string { return c.region }

// Entry is one function as Lambda describes it. When it could not be read
// Err says why and only Name (what was asked for, or listed) is known.
type Entry struct {
	// Function is what the inspection applies: ID and Name are the
	// function's name, Tool "lambda", Source its ARN, Image the image
	// Lambda runs (ResolvedImageURI, else ImageURI).
	Function deploy.Function
	// Name is the function's name, or the name or ARN that was asked for
	// when it could not be read.
	Name string
	// ARN is the function's ARN (with its version or alias qualifier when
	// one was asked for).
	ARN string
	// ImageURI is Code.ImageUri, the image as configured (a tag or a
	// digest); ResolvedImageURI is Code.ResolvedImageUri, the digest
	// Lambda resolved it to and runs; Digest is that digest.
	ImageURI, ResolvedImageURI, Digest string
	// State is the function's state (Active, Pending, Inactive, Failed).
	State string
	// Problems are what Lambda reports it could not apply or read for
	// this function: ImageConfigResponse.Error, Environment.Error,
	// Code.Error, a Failed state or update, an Inactive state for a reason
	// other than idleness.
	Problems []string
	// Err is why the function could not be read.
	Err *FunctionError
}

// FunctionError is why one function could not be read.
type FunctionError struct {
	// Kind classifies it for machines: "unauthorized" (AccessDenied),
	// "not-found" (no such function), "not-an-image" (a .zip function),
	// "lambda" (any other error the API answered).
	Kind string
	Msg  string
}

func (e *FunctionError) Error() string { return e.Msg }

// Function reads one function by name, ARN or partial ARN, with an
// optional :version or :alias qualifier, as GetFunction takes it. Errors
// of this function are in the Entry; the error returned is a
// *SetupError (the API cannot be used at all) or the context's.
func (c *Client) Function(ctx context.Context, name string) (Entry, error) {
	out, err := c.api.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		if fatal := c.setupError(ctx, "lambda:GetFunction", err); fatal != nil {
			return Entry{}, fatal
		}
		return Entry{Name: name, Err: c.functionError(name, err)}, nil
	}
	return entryOf(name, out), nil
}

// Functions reads every container-image function of the Region: the
// pages of ListFunctions, only PackageType Image kept, then GetFunction
// for each, Options.Parallel at a time. Entries are ordered by name.
func (c *Client) Functions(ctx context.Context) ([]Entry, error) {
	var names []string
	p := lambda.NewListFunctionsPaginator(c.api, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if fatal := c.setupError(ctx, "lambda:ListFunctions", err); fatal != nil {
				return nil, fatal
			}
			return nil, &SetupError{Msg: fmt.Sprintf("lambda:ListFunctions in %s: %s", c.region, c.describe(err))}
		}
		for _, f := range page.Functions {
			if f.PackageType == types.PackageTypeImage {
				names = append(names, aws.ToString(f.FunctionName))
			}
		}
	}
	slices.Sort(names)
	return c.Named(ctx, slices.Compact(names))
}

// Named reads the functions names (as Function takes them),
// Options.Parallel at a time; entries are in the order of names. The
// first setup error stops the others and is returned.
func (c *Client) Named(ctx context.Context, names []string) ([]Entry, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	entries := make([]Entry, len(names))
	sem := make(chan struct{}, c.parallel)
	var wg sync.WaitGroup
	for i, name := range names {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			e, err := c.Function(ctx, name)
			if err != nil {
				cancel(err)
				return
			}
			entries[i] = e
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return entries, nil
}

// entryOf turns a GetFunction answer into an Entry; asked is the name
// the function was asked for by.
func entryOf(asked string, out *lambda.GetFunctionOutput) Entry {
	cf := out.Configuration
	if cf == nil {
		cf = &types.FunctionConfiguration{}
	}
	name := cmp.Or(aws.ToString(cf.FunctionName), asked)
	e := Entry{Name: name, ARN: aws.ToString(cf.FunctionArn), State: string(cf.State)}
	if cf.PackageType != types.PackageTypeImage {
		kind := cmp.Or(string(cf.PackageType), "Zip")
		e.Err = &FunctionError{Kind: "not-an-image", Msg: fmt.Sprintf("function %s is a .zip archive function (PackageType %s), not a container image", name, kind)}
		return e
	}
	if code := out.Code; code != nil {
		e.ImageURI, e.ResolvedImageURI = aws.ToString(code.ImageUri), aws.ToString(code.ResolvedImageUri)
		if ce := code.Error; ce != nil {
			e.Problems = append(e.Problems, "Code.Error: "+apiProblem(ce.ErrorCode, ce.Message))
		}
	}
	if _, d, ok := strings.Cut(e.ResolvedImageURI, "@"); ok {
		e.Digest = d
	}
	f := deploy.Function{
		ID:     name,
		Name:   name,
		Tool:   "lambda",
		Source: e.ARN,
		Image:  cmp.Or(e.ResolvedImageURI, e.ImageURI),
	}
	if icr := cf.ImageConfigResponse; icr != nil {
		if ic := icr.ImageConfig; ic != nil {
			f.ImageConfig = deploy.ImageConfig{
				EntryPoint:       nonEmpty(ic.EntryPoint),
				Command:          nonEmpty(ic.Command),
				WorkingDirectory: aws.ToString(ic.WorkingDirectory),
			}
		}
		if ie := icr.Error; ie != nil {
			e.Problems = append(e.Problems, "ImageConfigResponse.Error: "+apiProblem(ie.ErrorCode, ie.Message))
		}
	}
	if len(cf.Architectures) > 0 {
		f.Architecture = string(cf.Architectures[0])
	}
	if env := cf.Environment; env != nil {
		if len(env.Variables) > 0 {
			f.Environment = env.Variables
		}
		if ee := env.Error; ee != nil {
			e.Problems = append(e.Problems, "Environment.Error: "+apiProblem(ee.ErrorCode, ee.Message))
		}
	}
	f.MemoryMB = int(aws.ToInt32(cf.MemorySize))
	f.TimeoutSeconds = int(aws.ToInt32(cf.Timeout))
	if es := cf.EphemeralStorage; es != nil {
		f.EphemeralStorageMB = int(aws.ToInt32(es.Size))
	}
	switch {
	case cf.State == types.StateFailed:
		e.Problems = append(e.Problems, stateProblem("State Failed", string(cf.StateReasonCode), aws.ToString(cf.StateReason)))
	case cf.State == types.StateInactive && cf.StateReasonCode != "" && cf.StateReasonCode != types.StateReasonCodeIdle:
		e.Problems = append(e.Problems, stateProblem("State Inactive", string(cf.StateReasonCode), aws.ToString(cf.StateReason)))
	}
	if cf.LastUpdateStatus == types.LastUpdateStatusFailed {
		e.Problems = append(e.Problems, stateProblem("LastUpdateStatus Failed", string(cf.LastUpdateStatusReasonCode), aws.ToString(cf.LastUpdateStatusReason)))
	}
	if f.Image == "" {
		e.Err = &FunctionError{Kind: "lambda", Msg: fmt.Sprintf("lambda:GetFunction on %s: the answer names no image (Code.ImageUri)", name)}
	}
	e.Function = f
	return e
}

// nonEmpty is nil for an empty list: Lambda leaves the image's value in
// force then.
func nonEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

func apiProblem(code, msg *string) string {
	c, m := aws.ToString(code), oneLine(aws.ToString(msg))
	switch {
	case c != "" && m != "":
		return c + ": " + m
	case c != "":
		return c
	}
	return cmp.Or(m, "(no message)")
}

func stateProblem(what, code, reason string) string {
	s := what
	if code != "" {
		s += " (" + code + ")"
	}
	if reason != "" {
		s += ": " + oneLine(reason)
	}
	return s
}

// accountCodes are the API errors that reject the caller, not one
// function: no function can be read with these credentials.
var accountCodes = []string{
	"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
	"ExpiredToken", "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature",
	"MissingAuthenticationTokenException", "MissingAuthenticationToken",
}

// setupError is err as a *SetupError when it is not one function's: the
// credentials rejected, or the API unreachable (no API answer at all);
// nil otherwise. A cancelled context is returned as it is.
func (c *Client) setupError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return &SetupError{Msg: fmt.Sprintf("%s in %s: the Lambda API could not be reached: %s", op, c.region, c.describe(err))}
	}
	if slices.Contains(accountCodes, ae.ErrorCode()) {
		return &SetupError{Msg: fmt.Sprintf("%s in %s: the AWS credentials were rejected: %s", op, c.region, c.describe(err))}
	}
	return nil
}

// functionError is the error of one function that GetFunction refused.
func (c *Client) functionError(name string, err error) *FunctionError {
	var ae smithy.APIError
	errors.As(err, &ae)
	switch code := ae.ErrorCode(); {
	case code == "AccessDeniedException" || code == "AccessDenied" || httpStatus(err) == 403:
		return &FunctionError{Kind: "unauthorized", Msg: fmt.Sprintf("lambda:GetFunction on %s was denied: %s (the caller needs lambda:GetFunction on the function)", name, c.describe(err))}
	case code == "ResourceNotFoundException" || httpStatus(err) == 404:
		return &FunctionError{Kind: "not-found", Msg: fmt.Sprintf("no function %s in %s: %s", name, c.region, c.describe(err))}
	}
	return &FunctionError{Kind: "lambda", Msg: fmt.Sprintf("lambda:GetFunction on %s: %s", name, c.describe(err))}
}

// describe is an SDK error in one line: the API's code and message with
// the HTTP status, or the cause of a transport error, without the SDK's
// "operation error ..., https response error ..." preamble.
func (c *Client) describe(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		s := ae.ErrorCode()
		if st := httpStatus(err); st != 0 {
			s += fmt.Sprintf(" (HTTP %d)", st)
		}
		if m := oneLine(ae.ErrorMessage()); m != "" {
			s += ": " + m
		}
		return s
	}
	// A request that got no answer: the URL and the network's error,
	// without the SDK's retry and response wrapping.
	var ue *url.Error
	if errors.As(err, &ue) {
		return oneLine(ue.Error())
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	return oneLine(err.Error())
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// oneLine joins the lines of s: every error here is printed on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
