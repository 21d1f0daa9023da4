package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A CDK cloud assembly (cdk.out, written by `cdk synth`) names its stacks
// in manifest.json: artifacts of type aws:cloudformation:stack, whose
// properties.templateFile is the stack's CloudFormation template (JSON),
// artifacts of type cdk:asset-manifest, whose properties.file lists the
// assets (*.assets.json), and nested assemblies (cdk:cloud-assembly,
// properties.directoryName) for stages
// (https://github.com/aws/aws-cdk/tree/main/packages/%40aws-cdk/cloud-assembly-schema).
//
// A DockerImageFunction is an AWS::Lambda::Function with PackageType
// Image whose Code.ImageUri ends in ":<imageTag>" of one of the asset
// manifest's dockerImages destinations; the asset's source gives the
// build context (directory, relative to cdk.out) and Dockerfile
// (dockerFile, default "Dockerfile"). cdk-assets builds it locally as
// "cdkasset-<asset ID in lower case>" (aws/aws-cdk,
// packages/cdk-assets/lib/private/handlers/container-images.ts:
// `localTagName = `cdkasset-${this.asset.id.assetId.toLowerCase()}``),
// which Docker tags :latest: that local image is what is inspected.

type cdkManifest struct {
	Artifacts map[string]struct {
		Type        string          `json:"type"`
		Environment string          `json:"environment"`
		Properties  json.RawMessage `json:"properties"`
	} `json:"artifacts"`
}

type cdkStackProps struct {
	TemplateFile string            `json:"templateFile"`
	Parameters   map[string]string `json:"parameters"`
	StackName    string            `json:"stackName"`
}

type cdkAssets struct {
	DockerImages map[string]struct {
		Source struct {
			Directory  string `json:"directory"`
			DockerFile string `json:"dockerFile"`
		} `json:"source"`
		Destinations map[string]struct {
			RepositoryName string `json:"repositoryName"`
			ImageTag       string `json:"imageTag"`
		} `json:"destinations"`
	} `json:"dockerImages"`
}

// cdkImage is one docker image asset.
type cdkImage struct {
	id, dir, dockerfile, tag, repo string
}

// readCDK reads the image functions of the cloud assembly in dir.
func readCDK(dir string) ([]Function, error) {
	return readCDKDepth(dir, 0)
}

func readCDKDepth(dir string, depth int) ([]Function, error) {
	if depth > 5 {
		return nil, fmt.Errorf("%s: cloud assemblies nested too deeply", dir)
	}
	mpath := filepath.Join(dir, "manifest.json")
	data, err := os.ReadFile(mpath)
	if err != nil {
		return nil, fmt.Errorf("reading the CDK cloud assembly: %w", err)
	}
	var m cdkManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", mpath, err)
	}
	if m.Artifacts == nil {
		return nil, fmt.Errorf("%s: no artifacts: not a CDK cloud assembly manifest", mpath)
	}
	var images []cdkImage
	for _, name := range sortedKeys(m.Artifacts) {
		a := m.Artifacts[name]
		if a.Type != "cdk:asset-manifest" {
			continue
		}
		var p struct {
			File string `json:"file"`
		}
		if err := json.Unmarshal(a.Properties, &p); err != nil || p.File == "" {
			return nil, fmt.Errorf("%s: artifact %s names no asset file", mpath, name)
		}
		ap := filepath.Join(dir, p.File)
		adata, err := os.ReadFile(ap)
		if err != nil {
			return nil, fmt.Errorf("reading the CDK asset manifest: %w", err)
		}
		var assets cdkAssets
		if err := json.Unmarshal(adata, &assets); err != nil {
			return nil, fmt.Errorf("%s: %v", ap, err)
		}
		for _, id := range sortedKeys(assets.DockerImages) {
			di := assets.DockerImages[id]
			df := di.Source.DockerFile
			if df == "" {
				df = "Dockerfile"
			}
			for _, dn := range sortedKeys(di.Destinations) {
				d := di.Destinations[dn]
				images = append(images, cdkImage{id: id, dir: di.Source.Directory, dockerfile: df, tag: d.ImageTag, repo: d.RepositoryName})
			}
		}
	}
	var out []Function
	for _, name := range sortedKeys(m.Artifacts) {
		a := m.Artifacts[name]
		switch a.Type {
		case "cdk:cloud-assembly":
			var p struct {
				DirectoryName string `json:"directoryName"`
			}
			if err := json.Unmarshal(a.Properties, &p); err != nil || p.DirectoryName == "" {
				return nil, fmt.Errorf("%s: nested assembly %s names no directory", mpath, name)
			}
			fns, err := readCDKDepth(filepath.Join(dir, p.DirectoryName), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, fns...)
		case "aws:cloudformation:stack":
			var p cdkStackProps
			if err := json.Unmarshal(a.Properties, &p); err != nil || p.TemplateFile == "" {
				return nil, fmt.Errorf("%s: stack %s names no template file", mpath, name)
			}
			fns, err := cdkStack(dir, name, a.Environment, p, images)
			if err != nil {
				return nil, err
			}
			out = append(out, fns...)
		}
	}
	return out, nil
}

// cdkStack reads one stack's template and ties its image functions to
// their assets.
func cdkStack(dir, name, env string, p cdkStackProps, images []cdkImage) ([]Function, error) {
	tpath := filepath.Join(dir, p.TemplateFile)
	data, err := os.ReadFile(tpath)
	if err != nil {
		return nil, fmt.Errorf("reading the stack template: %w", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(data, &tmpl); err != nil {
		return nil, fmt.Errorf("%s: %v", tpath, err)
	}
	// aws://ACCOUNT/REGION; unknown-region when the stack is
	// environment-agnostic.
	region := ""
	if rest, ok := strings.CutPrefix(env, "aws://"); ok {
		if _, r, ok := strings.Cut(rest, "/"); ok && r != "unknown-region" {
			region = r
		}
	}
	cfg := &samConfig{overrides: p.Parameters, region: region, stack: cmpOr(p.StackName, name)}
	fns, err := templateFunctions(tmpl, tpath, dir, cfg)
	if err != nil {
		return nil, err
	}
	resources, _ := tmpl["Resources"].(map[string]any)
	for i := range fns {
		fn := &fns[i]
		fn.Tool = "cdk"
		res, _ := resources[fn.ID].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		code, _ := props["Code"].(map[string]any)
		uri := roughString(code["ImageUri"])
		for _, im := range images {
			if im.tag == "" || !strings.HasSuffix(uri, ":"+im.tag) {
				continue
			}
			fn.Image = "docker:cdkasset-" + strings.ToLower(im.id) + ":latest"
			fn.DockerContext = filepath.Join(dir, im.dir)
			fn.Dockerfile = filepath.Join(fn.DockerContext, im.dockerfile)
			fn.Repository = im.repo
			// The template's ImageUri names the pushed image, which
			// the local build stands for.
			kept := fn.Unresolved[:0]
			for _, u := range fn.Unresolved {
				if !strings.HasPrefix(u, "ImageUri:") {
					kept = append(kept, u)
				}
			}
			fn.Unresolved = kept
			if len(kept) == 0 {
				fn.Unresolved = nil
			}
			break
		}
	}
	return fns, nil
}

// roughString is the text of a string-valued template expression with
// what cannot be known left as written: a string, a !Sub's text, a
// !Join's parts joined.
func roughString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if s, ok := x["Fn::Sub"]; ok {
			if l, ok := s.([]any); ok && len(l) > 0 {
				return roughString(l[0])
			}
			return roughString(s)
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			parts, _ := j[1].([]any)
			ss := make([]string, len(parts))
			for i, p := range parts {
				ss[i] = roughString(p)
			}
			return strings.Join(ss, sep)
		}
	}
	return ""
}
