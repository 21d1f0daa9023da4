package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// An AWS SAM template (template.yaml) declares image functions as
// AWS::Serverless::Function with PackageType: Image; plain CloudFormation
// AWS::Lambda::Function resources with PackageType: Image are read too.
//
// Globals.Function applies to every AWS::Serverless::Function: the
// function's own scalar values win, maps are merged and lists are
// added to
// (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-template-anatomy-globals.html).
//
// `sam build` builds a function whose Metadata names a Dockerfile and
// DockerContext into a local image tagged "<logical ID in lower
// case>:<DockerTag, else latest>", with the Dockerfile read relative to
// the DockerContext (aws/aws-sam-cli, samcli/lib/build/app_builder.py,
// _build_lambda_image: `tag = metadata.get("DockerTag", "latest")`,
// `docker_tag = f"{function_name.lower()}:{tag}"`). That image is what
// is inspected for such a function.
//
// samconfig.toml, next to the template, gives the parameter_overrides,
// region, stack_name and image_repositories `sam deploy` uses: its
// default environment's deploy parameters, else its global ones
// (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html).

// samTransform is the transform that makes a template an AWS SAM one.
const samTransform = "AWS::Serverless-2016-10-31"

// readTemplate reads a SAM or CloudFormation template (YAML or JSON) and
// the samconfig.toml next to it, when there is one.
func readTemplate(path string, opts Options) ([]Function, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tmpl map[string]any
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		err = json.Unmarshal(data, &tmpl)
	} else {
		tmpl, err = decodeYAMLTemplate(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	dir := filepath.Dir(path)
	cfg, err := readSAMConfig(dir, opts.ConfigEnv)
	if err != nil {
		return nil, err
	}
	return templateFunctions(tmpl, path, dir, cfg)
}

// samConfig is what samconfig.toml says for `sam deploy`.
type samConfig struct {
	overrides       map[string]string
	region, stack   string
	imageRepos      map[string]string
	imageRepoForAll string
}

// readSAMConfig reads dir/samconfig.toml; a missing file is no config.
func readSAMConfig(dir, env string) (*samConfig, error) {
	path := filepath.Join(dir, "samconfig.toml")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if env == "" {
		env = "default"
	}
	cfg := &samConfig{overrides: map[string]string{}, imageRepos: map[string]string{}}
	envTable, _ := doc[env].(map[string]any)
	// The command's own parameters win over the global ones.
	for _, command := range []string{"global", "deploy"} {
		ct, _ := envTable[command].(map[string]any)
		params, _ := ct["parameters"].(map[string]any)
		if params == nil {
			continue
		}
		if v, ok := params["parameter_overrides"]; ok {
			ov, err := parseOverrides(v)
			if err != nil {
				return nil, fmt.Errorf("%s: [%s.%s.parameters] parameter_overrides: %v", path, env, command, err)
			}
			for k, val := range ov {
				cfg.overrides[k] = val
			}
		}
		if s, ok := params["region"].(string); ok {
			cfg.region = s
		}
		if s, ok := params["stack_name"].(string); ok {
			cfg.stack = s
		}
		if s, ok := params["image_repository"].(string); ok {
			cfg.imageRepoForAll = s
		}
		if list, ok := params["image_repositories"]; ok {
			for _, e := range toStrings(list) {
				k, v, ok := strings.Cut(e, "=")
				if !ok {
					return nil, fmt.Errorf("%s: image_repositories entry %q is not FunctionLogicalId=ECR-URI", path, e)
				}
				cfg.imageRepos[k] = v
			}
		}
	}
	return cfg, nil
}

// toStrings reads a TOML string or list of strings.
func toStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// parseOverrides reads parameter_overrides: a string of Key=Value pairs
// separated by spaces, with shell-style quotes ('Env="prod" Size=512'),
// or a list of such pairs; ParameterKey=K,ParameterValue=V is accepted as
// the CLI does.
func parseOverrides(v any) (map[string]string, error) {
	var words []string
	for _, s := range toStrings(v) {
		w, err := shellWords(s)
		if err != nil {
			return nil, err
		}
		words = append(words, w...)
	}
	out := map[string]string{}
	for _, w := range words {
		if strings.HasPrefix(w, "ParameterKey=") {
			k, rest, _ := strings.Cut(strings.TrimPrefix(w, "ParameterKey="), ",")
			val, ok := strings.CutPrefix(rest, "ParameterValue=")
			if !ok {
				return nil, fmt.Errorf("%q lacks ParameterValue=", w)
			}
			out[k] = val
			continue
		}
		k, val, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not Key=Value", w)
		}
		out[k] = val
	}
	return out, nil
}

// shellWords splits s at unquoted blanks, removing single and double
// quotes as a POSIX shell does (without expansions).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("an unclosed %c quote in %q", quote, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// templateFunctions lists the image functions of a CloudFormation
// template. dir is where relative Metadata paths start.
func templateFunctions(tmpl map[string]any, path, dir string, cfg *samConfig) ([]Function, error) {
	tool := "cloudformation"
	if hasTransform(tmpl["Transform"], samTransform) {
		tool = "sam"
	}
	var overrides map[string]string
	var region, stack string
	if cfg != nil {
		overrides, region, stack = cfg.overrides, cfg.region, cfg.stack
	}
	c := newCFNContext(tmpl, overrides, region, stack)
	resources, ok := tmpl["Resources"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: no Resources section: not a CloudFormation template", path)
	}
	globals := map[string]any{}
	if g, ok := tmpl["Globals"].(map[string]any); ok {
		globals, _ = g["Function"].(map[string]any)
	}
	var out []Function
	for _, id := range sortedKeys(resources) {
		res, _ := resources[id].(map[string]any)
		typ, _ := res["Type"].(string)
		props, _ := res["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		var imageURI any
		switch typ {
		case "AWS::Serverless::Function":
			props = mergeGlobals(globals, props)
			imageURI = props["ImageUri"]
		case "AWS::Lambda::Function":
			code, _ := props["Code"].(map[string]any)
			imageURI = code["ImageUri"]
		default:
			continue
		}
		fn := Function{ID: id, Tool: tool, Source: path}
		r := &propReader{c: c, fn: &fn}
		pt, ok := r.get(props, "PackageType")
		if !ok && imageURI == nil {
			continue
		}
		if ok && scalarString(pt) != "Image" {
			continue
		}
		if cond, ok := res["Condition"].(string); ok {
			b, err := c.condition(cond, 0)
			if err == nil && !b {
				continue // the resource is not created
			}
			if err != nil {
				r.record("Condition", err)
			}
		}
		if err := templateFunction(c, &fn, props); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, id, err)
		}
		if r.bad != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, id, r.bad)
		}
		meta, _ := res["Metadata"].(map[string]any)
		if df, ok := meta["Dockerfile"].(string); ok && typ == "AWS::Serverless::Function" {
			ctx, _ := meta["DockerContext"].(string)
			tag := "latest"
			if t, ok := meta["DockerTag"]; ok {
				tag = scalarString(t)
			}
			fn.DockerContext = filepath.Join(dir, ctx)
			fn.Dockerfile = filepath.Join(fn.DockerContext, df)
			fn.Image = "docker:" + strings.ToLower(id) + ":" + tag
		} else if imageURI != nil {
			if v, err := r.resolve("ImageUri", imageURI); err == nil {
				fn.Image = scalarString(v)
			}
			if r.bad != nil {
				return nil, fmt.Errorf("%s: %s: %v", path, id, r.bad)
			}
		}
		if cfg != nil {
			fn.Repository = cmpOr(cfg.imageRepos[id], cfg.imageRepoForAll)
		}
		slices.Sort(fn.Unresolved)
		out = append(out, fn)
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// hasTransform reports whether Transform (a string or a list) names t.
func hasTransform(v any, t string) bool {
	switch x := v.(type) {
	case string:
		return x == t
	case []any:
		for _, e := range x {
			if e == t {
				return true
			}
		}
	}
	return false
}

// mergeGlobals applies Globals.Function to a function's properties: the
// function's scalars win, maps merge, lists add up (the globals' first).
// An intrinsic function on either side is a value, not a map: the
// function's wins.
func mergeGlobals(globals, props map[string]any) map[string]any {
	out := make(map[string]any, len(props)+len(globals))
	for k, v := range globals {
		out[k] = v
	}
	for k, v := range props {
		if k == "Architectures" { // Lambda takes a list of one
			out[k] = v
			continue
		}
		out[k] = mergeValue(out[k], v)
	}
	return out
}

func mergeValue(global, local any) any {
	if global == nil {
		return local
	}
	switch l := local.(type) {
	case map[string]any:
		g, ok := global.(map[string]any)
		if !ok || isIntrinsic(g) || isIntrinsic(l) {
			return local
		}
		return mergeGlobals(g, l)
	case []any:
		g, ok := global.([]any)
		if !ok {
			return local
		}
		return append(slices.Clone(g), l...)
	}
	return local
}

func isIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}
