package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/deploy"
	"github.com/lambdoctor/lambdoctor/internal/termsafe"
	"github.com/lambdoctor/lambdoctor/lambda"
)

// Function is the Lambda function a report judges its image as: the
// function's identity, where its configuration was read (a deployment
// definition with inspect --deploy, the Lambda API with inspect
// --function), and the configuration applied over the image, Lambda's
// defaults in place of what the configuration leaves unset.
type Function struct {
	// ID names the function: the logical ID (SAM, CloudFormation, CDK),
	// the function key (Serverless), the resource address (Terraform), or
	// the function's name (a live function).
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Tool is where the configuration was read: sam, cloudformation, cdk,
	// serverless, terraform, or lambda (the live function).
	Tool string `json:"tool"`
	// Source is the definition's path, or the live function's ARN.
	Source string `json:"source,omitempty"`
	// ARN is the live function's ARN.
	ARN string `json:"arn,omitempty"`
	// ImageURI is the image as a live function's configuration names it
	// (Code.ImageUri: a tag or a digest).
	ImageURI string `json:"imageUri,omitempty"`
	// Image is the reference that was inspected: the definition's local
	// build tag or ECR URI, or the digest a live function runs
	// (Code.ResolvedImageUri); "" when it is known only once deployed.
	Image string `json:"image"`
	// Digest is the digest a live function runs.
	Digest string `json:"digest,omitempty"`
	// Repository is the ECR repository the tool pushes to, when named.
	Repository string `json:"repository,omitempty"`
	// ImageConfig is the function's ImageConfig, applied over the image's
	// ENTRYPOINT, CMD and WORKDIR; an empty field leaves the image's own.
	ImageConfig deploy.ImageConfig `json:"imageConfig"`
	// Architecture is x86_64 or arm64.
	Architecture       string `json:"architecture"`
	MemoryMB           int    `json:"memoryMB"`
	TimeoutSeconds     int    `json:"timeoutSeconds"`
	EphemeralStorageMB int    `json:"ephemeralStorageMB"`
	// Environment are the names of the function's environment variables,
	// sorted. Their values are left out: they often hold secrets, and
	// reports travel (CI logs and artifacts, code scanning).
	Environment []string `json:"environment"`
	// Reserved are the names in Environment that Lambda reserves.
	Reserved []string `json:"reserved,omitempty"`
	// Dockerfile and DockerContext are what the definition builds the
	// image from.
	Dockerfile    string `json:"dockerfile,omitempty"`
	DockerContext string `json:"dockerContext,omitempty"`
	// Unresolved are the values a definition sets that cannot be known
	// without deploying, left unset: "ImageConfig.Command: !GetAtt
	// Repo.Arn".
	Unresolved []string `json:"unresolved"`
	// State is a live function's state (Active, Pending, Inactive,
	// Failed).
	State string `json:"state,omitempty"`
	// Problems are what Lambda reports it could not apply or read for a
	// live function (ImageConfigResponse.Error, Environment.Error, a
	// Failed state), one line each.
	Problems []string `json:"problems"`
}

// NewFunction is the report's Function for f: its identity and the
// configuration it runs with (deploy.Function.Applied), the environment
// reduced to its names, the reserved ones listed.
func NewFunction(f deploy.Function) *Function {
	a := f.Applied()
	fn := &Function{
		ID: a.ID, Name: a.Name, Tool: a.Tool, Source: a.Source, Image: a.Image, Repository: a.Repository,
		ImageConfig:  a.ImageConfig,
		Architecture: a.Architecture, MemoryMB: a.MemoryMB, TimeoutSeconds: a.TimeoutSeconds, EphemeralStorageMB: a.EphemeralStorageMB,
		Environment: slices.Sorted(maps.Keys(a.Environment)), Dockerfile: a.Dockerfile, DockerContext: a.DockerContext,
		Unresolved: slices.Clone(a.Unresolved), Problems: []string{},
	}
	if fn.Environment == nil {
		fn.Environment = []string{}
	}
	if fn.Unresolved == nil {
		fn.Unresolved = []string{}
	}
	for _, k := range fn.Environment {
		if lambda.IsReserved(k) {
			fn.Reserved = append(fn.Reserved, k)
		}
	}
	return fn
}

// function writes the header of a report inspected as a function: its
// identity, the configuration applied, and what Lambda could not apply
// (escaped by forTerminal).
func (t *textWriter) function(b *strings.Builder, f *Function) {
	if f == nil {
		return
	}
	id := f.ID
	if f.Name != "" && f.Name != f.ID {
		id += " (" + f.Name + ")"
	}
	head := t.bold.Sprint(id) + " · " + f.Tool
	// A live function's source is its ARN, which names the AWS account:
	// reports travel (CI logs), and the function's name is enough here.
	if f.Source != "" && f.Tool != "lambda" {
		head += " " + t.faint.Sprint(f.Source)
	}
	fmt.Fprintf(b, "%s %s\n", t.faint.Sprint("function"), head)
	var cfg []string
	if ep := f.ImageConfig.EntryPoint; ep != nil {
		cfg = append(cfg, "entrypoint "+analyze.JSONList(ep))
	}
	if cmd := f.ImageConfig.Command; cmd != nil {
		cfg = append(cfg, "cmd "+analyze.JSONList(cmd))
	}
	if f.ImageConfig.WorkingDirectory != "" {
		cfg = append(cfg, "workdir "+f.ImageConfig.WorkingDirectory)
	}
	cfg = append(cfg, f.Architecture, fmt.Sprintf("%d MB", f.MemoryMB), fmt.Sprintf("%d s", f.TimeoutSeconds), fmt.Sprintf("/tmp %d MB", f.EphemeralStorageMB))
	t.line(b, "config", strings.Join(cfg, " · "))
	if len(f.Environment) > 0 {
		names := make([]string, len(f.Environment))
		for i, n := range f.Environment {
			names[i] = n
			if slices.Contains(f.Reserved, n) {
				names[i] += " (reserved)"
			}
		}
		t.line(b, "env", strings.Join(names, ", "))
	}
	if f.Dockerfile != "" {
		t.line(b, "build", f.Dockerfile)
	}
	if f.State != "" && f.State != "Active" {
		t.line(b, "state", f.State)
	}
	for i, u := range f.Unresolved {
		label := ""
		if i == 0 {
			label = "unknown"
		}
		t.line(b, label, u)
	}
	for _, p := range f.Problems {
		t.line(b, t.warn.Sprint("!"), p)
	}
}

// escapeFunction is fn with every string escaped for a terminal.
func escapeFunction(fn *Function) *Function {
	if fn == nil {
		return nil
	}
	c := *fn
	for _, p := range []*string{&c.ID, &c.Name, &c.Tool, &c.Source, &c.ARN, &c.ImageURI, &c.Image, &c.Digest, &c.Repository,
		&c.Architecture, &c.Dockerfile, &c.DockerContext, &c.State, &c.ImageConfig.WorkingDirectory} {
		*p = termsafe.Line(*p)
	}
	line := func(l []string) []string {
		if l == nil {
			return nil
		}
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = termsafe.Line(s)
		}
		return out
	}
	c.ImageConfig.EntryPoint = line(fn.ImageConfig.EntryPoint)
	c.ImageConfig.Command = line(fn.ImageConfig.Command)
	c.Environment = line(fn.Environment)
	c.Reserved = line(fn.Reserved)
	c.Unresolved = line(fn.Unresolved)
	c.Problems = line(fn.Problems)
	return &c
}
