package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Options configure the readers.
type Options struct {
	// ConfigEnv is the samconfig.toml environment; "" is "default".
	ConfigEnv string
	// Getenv resolves a Serverless ${env:NAME}; nil resolves none.
	Getenv func(string) string
}

// ErrNoDefinition says a directory holds no deployment definition.
var ErrNoDefinition = errors.New("no deployment definition found")

// Discover lists the deployment definitions in dir, in this order: an
// AWS SAM template (template.yaml, else template.yml; its samconfig.toml
// is read with it), a CDK cloud assembly (cdk.out/manifest.json), a
// Serverless Framework file (serverless.yml, else serverless.yaml). A
// Terraform plan has no fixed name: it is read only when named.
func Discover(dir string) []string {
	var found []string
	first := func(names ...string) {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				found = append(found, p)
				return
			}
		}
	}
	first("template.yaml", "template.yml")
	if st, err := os.Stat(filepath.Join(dir, "cdk.out", "manifest.json")); err == nil && !st.IsDir() {
		found = append(found, filepath.Join(dir, "cdk.out"))
	}
	first("serverless.yml", "serverless.yaml")
	return found
}

// Read reads the image functions of the deployment definition at path: a
// SAM or CloudFormation template, a CDK cloud assembly directory (or its
// manifest.json), a serverless.yml, or a Terraform plan or state in JSON
// (terraform show -json). A directory is searched with Discover. Zip
// functions are left out.
func Read(path string, opts Options) ([]Function, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading the deployment definition: %w", err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "manifest.json")); err == nil {
			return readCDK(path)
		}
		found := Discover(path)
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: %w (template.yaml, template.yml, cdk.out/, serverless.yml or serverless.yaml)", path, ErrNoDefinition)
		}
		var all []Function
		for _, p := range found {
			fns, err := Read(p, opts)
			if err != nil {
				return nil, err
			}
			all = append(all, fns...)
		}
		return all, nil
	}
	base := strings.ToLower(filepath.Base(path))
	switch {
	case base == "manifest.json":
		return readCDK(filepath.Dir(path))
	case strings.HasPrefix(base, "serverless.") && (strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, ".yaml")):
		return readServerless(path, opts)
	case strings.HasSuffix(base, ".json"):
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if isTerraform(data) {
			return readTerraform(path, data)
		}
		return readTemplate(path, opts)
	case strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, ".template"):
		return readTemplate(path, opts)
	}
	return nil, fmt.Errorf("%s: not a deployment definition lambdoctor reads (a SAM or CloudFormation template, cdk.out, serverless.yml, or the JSON of terraform show -json)", path)
}

// isTerraform recognises the JSON of `terraform show -json`: it has a
// format_version and a terraform_version.
func isTerraform(data []byte) bool {
	if !bytes.Contains(data, []byte(`"terraform_version"`)) {
		return false
	}
	var head struct {
		FormatVersion    string `json:"format_version"`
		TerraformVersion string `json:"terraform_version"`
	}
	return json.Unmarshal(data, &head) == nil && head.FormatVersion != "" && head.TerraformVersion != ""
}
