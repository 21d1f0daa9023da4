package report

import (
	"fmt"
	"slices"
	"strings"
)

// Function identifies the function a report judges its image for, and
// the configuration that was applied: Lambda's defaults in place of what
// the definition leaves unset.
type Function struct {
	// ID is the function's logical ID (SAM, CloudFormation, CDK), key
	// (Serverless) or resource address (Terraform).
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Tool is what defined it: sam, cloudformation, cdk, serverless,
	// terraform.
	Tool string `json:"tool"`
	// Source is the definition's path.
	Source string `json:"source"`
	// Image is the reference the definition deploys (a local build tag,
	// an ECR URI); "" when it is known only once deployed.
	Image string `json:"image"`
	// Repository is the ECR repository the tool pushes to, when named.
	Repository  string              `json:"repository,omitempty"`
	ImageConfig FunctionImageConfig `json:"imageConfig"`
	// Architecture is x86_64 or arm64.
	Architecture       string `json:"architecture"`
	MemoryMB           int    `json:"memoryMB"`
	TimeoutSeconds     int    `json:"timeoutSeconds"`
	EphemeralStorageMB int    `json:"ephemeralStorageMB"`
	// Environment are the function's variables' names; their values stay
	// out of reports, which end up in CI logs.
	Environment []string `json:"environment"`
	// Reserved are the names in Environment that Lambda reserves.
	Reserved []string `json:"reserved,omitempty"`
	// Dockerfile and DockerContext are what the definition builds the
	// image from.
	Dockerfile    string `json:"dockerfile,omitempty"`
	DockerContext string `json:"dockerContext,omitempty"`
	// Unresolved are the values that cannot be known without deploying,
	// left unset: "ImageConfig.Command: !GetAtt Repo.Arn".
	Unresolved []string `json:"unresolved"`
}

// FunctionImageConfig is the function's ImageConfig; an empty field
// leaves the image's own value in force.
type FunctionImageConfig struct {
	EntryPoint       []string `json:"entryPoint,omitempty"`
	Command          []string `json:"command,omitempty"`
	WorkingDirectory string   `json:"workingDirectory,omitempty"`
}

// function writes the header of a report inspected as a deployed
// function: its identity and the configuration applied (escaped by
// forTerminal).
func (t *textWriter) function(b *strings.Builder, f *Function) {
	id := f.ID
	if f.Name != "" && f.Name != f.ID {
		id += " (" + f.Name + ")"
	}
	fmt.Fprintf(b, "%s %s · %s %s\n", t.faint.Sprint("function"), t.bold.Sprint(id), f.Tool, t.faint.Sprint(f.Source))
	var cfg []string
	list := func(label string, v []string) {
		if len(v) > 0 {
			// As the JSON list a template holds; the values are
			// escaped already, so they are quoted, not re-encoded.
			cfg = append(cfg, label+` ["`+strings.Join(v, `", "`)+`"]`)
		}
	}
	list("entrypoint", f.ImageConfig.EntryPoint)
	list("cmd", f.ImageConfig.Command)
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
	for i, u := range f.Unresolved {
		label := ""
		if i == 0 {
			label = "unknown"
		}
		t.line(b, label, u)
	}
}
