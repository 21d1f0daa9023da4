// Package deploy reads how a container-image function will be deployed:
// the values Lambda applies on top of the image (its ImageConfig, its
// architecture, environment, memory, timeout and ephemeral storage) and
// the image reference it runs. They come from a deployment definition (an
// AWS SAM template, a CDK cloud assembly, a Serverless Framework file, a
// Terraform plan) or from the live function's configuration
// (lambda:GetFunction).
//
// Lambda runs the image with the function's ImageConfig EntryPoint,
// Command and WorkingDirectory in place of the image's ENTRYPOINT, CMD and
// WORKDIR when they are set, on the function's architecture, with its
// environment variables
// (https://docs.aws.amazon.com/lambda/latest/dg/images-parms.html,
// https://docs.aws.amazon.com/lambda/latest/api/API_ImageConfig.html).
package deploy

// Function is one image function as it will be (or is) deployed. A field
// left at its zero value was not set by the definition: Lambda's default
// applies (x86_64, 128 MB, 3 s, 512 MB of /tmp, the image's own
// ENTRYPOINT/CMD/WORKDIR).
type Function struct {
	// ID names the function in reports: the logical ID (SAM, CDK,
	// CloudFormation), the function key (Serverless), the resource address
	// (Terraform) or the function's name (a live function).
	ID string
	// Name is the function's FunctionName when the definition gives one.
	Name string
	// Tool is what defined it: "sam", "cloudformation" (a template
	// without the SAM transform), "cdk", "serverless", "terraform" or
	// "lambda" (the live configuration).
	Tool string
	// Source is where it was read: the definition file's path, or the
	// function's ARN.
	Source string
	// Image is the reference to inspect: a local build tag, an ECR URI
	// (with the digest Lambda resolved, for a live function) or a path.
	Image string
	// ImageConfig is the function's ImageConfig.
	ImageConfig ImageConfig
	// Architecture is "x86_64" or "arm64", as Lambda names them; "" is
	// Lambda's default, x86_64.
	Architecture string
	// Environment is the function's environment variables.
	Environment map[string]string
	// MemoryMB, TimeoutSeconds and EphemeralStorageMB are 0 when not set.
	MemoryMB           int
	TimeoutSeconds     int
	EphemeralStorageMB int
	// Dockerfile and DockerContext are what the definition builds the
	// image from, when it says (SAM Metadata, a CDK asset, Serverless
	// provider.ecr.images); Dockerfile is a path to the file.
	Dockerfile    string
	DockerContext string
	// Repository is the ECR repository the tool pushes the image to on
	// deploy, when the definition names one (samconfig.toml
	// image_repositories); the tag it pushes is chosen at deploy time.
	Repository string
	// Unresolved names each value the definition sets but that cannot be
	// known without deploying (an import, a resource attribute, a
	// parameter without a default): "ImageConfig.Command: !GetAtt
	// Repo.Arn". Such a value is left unset, never guessed.
	Unresolved []string
}

// ImageConfig is a function's ImageConfig. A nil list or an empty string
// leaves the image's own value in force.
type ImageConfig struct {
	EntryPoint       []string `json:"entryPoint,omitempty"`
	Command          []string `json:"command,omitempty"`
	WorkingDirectory string   `json:"workingDirectory,omitempty"`
}

// Lambda's defaults for what a definition leaves unset
// (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html).
const (
	DefaultArchitecture       = "x86_64"
	DefaultMemoryMB           = 128
	DefaultTimeoutSeconds     = 3
	DefaultEphemeralStorageMB = 512
)

// Applied is f with Lambda's defaults in place of what it leaves unset:
// the configuration the function runs with.
func (f Function) Applied() Function {
	if f.Architecture == "" {
		f.Architecture = DefaultArchitecture
	}
	if f.MemoryMB == 0 {
		f.MemoryMB = DefaultMemoryMB
	}
	if f.TimeoutSeconds == 0 {
		f.TimeoutSeconds = DefaultTimeoutSeconds
	}
	if f.EphemeralStorageMB == 0 {
		f.EphemeralStorageMB = DefaultEphemeralStorageMB
	}
	return f
}

// EnvList is the function's environment as KEY=value lines, sorted by
// name.
func (f Function) EnvList() []string {
	out := make([]string, 0, len(f.Environment))
	for _, k := range sortedKeys(f.Environment) {
		out = append(out, k+"="+f.Environment[k])
	}
	return out
}
