package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// A Serverless Framework service (serverless.yml) declares the images it
// builds under provider.ecr.images.NAME (path: the build context, file:
// the Dockerfile in it, default "Dockerfile"; platform; or uri: an
// existing image) and image functions under functions.KEY.image: an
// image's name or URI, or {name | uri, command, entryPoint,
// workingDirectory}. provider.architecture, memorySize, timeout and
// environment apply to every function; a function's own architecture,
// memorySize, timeout, ephemeralStorageSize and environment override
// them (environment variables merge)
// (https://www.serverless.com/framework/docs/providers/aws/guide/functions,
// https://www.serverless.com/framework/docs/providers/aws/guide/serverless.yml).
//
// The framework builds provider.ecr.images.NAME locally as
// "<repository>:<NAME>", the repository being
// "serverless-<service>-<stage>" in lower case with runs of dashes
// collapsed and no trailing dash (serverless/serverless,
// lib/plugins/aws/provider.js: `localTag = `${repositoryName}:${imageName}``;
// lib/plugins/aws/lib/naming.js, getEcrRepositoryName). That local image
// is what is inspected. The stage is provider.stage, else "dev".
//
// Variables: ${self:a.b} (this file), ${sls:stage}, ${aws:region} (from
// provider.region), ${opt:NAME, default}
// (no command-line options here: the default applies) and ${env:NAME}
// (lambdoctor's environment, as `serverless deploy` would read its own)
// are resolved; other sources (ssm, file, cf, s3, aws ...) are known at
// deploy time only, and what uses them is reported unresolved.

// readServerless reads the image functions of a serverless.yml.
func readServerless(path string, opts Options) ([]Function, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := decodeYAMLTemplate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	sv := &slsVars{doc: doc, getenv: opts.Getenv}
	provider, _ := doc["provider"].(map[string]any)
	service := ""
	switch s := doc["service"].(type) {
	case string:
		service = s
	case map[string]any: // service: {name: ...}, the old form
		service, _ = s["name"].(string)
	}
	if v, err := sv.resolve(service); err == nil {
		service = scalarString(v)
	}
	stage := "dev"
	if st, ok := provider["stage"]; ok {
		v, err := sv.resolve(st)
		if err != nil {
			return nil, fmt.Errorf("%s: provider.stage: %v", path, err)
		}
		stage = scalarString(v)
	}
	sv.stage = stage
	if r, ok := provider["region"]; ok {
		if v, err := sv.resolve(r); err == nil {
			sv.region = scalarString(v)
		}
	}
	dir := filepath.Dir(path)
	repo := strings.ToLower("serverless-" + service + "-" + stage)
	repo = regexp.MustCompile(`-+`).ReplaceAllString(repo, "-")
	repo = strings.TrimSuffix(repo, "-")

	ecr, _ := provider["ecr"].(map[string]any)
	images, _ := ecr["images"].(map[string]any)
	functions, _ := doc["functions"].(map[string]any)
	var out []Function
	for _, key := range sortedKeys(functions) {
		f, _ := functions[key].(map[string]any)
		img, ok := f["image"]
		if !ok {
			continue // a zip function
		}
		fn := Function{ID: key, Tool: "serverless", Source: path, Name: service + "-" + stage + "-" + key}
		rec := func(label string, err error) {
			fn.Unresolved = append(fn.Unresolved, label+": "+err.Error())
		}
		get := func(m map[string]any, label, k string) (any, bool) {
			raw, ok := m[k]
			if !ok || raw == nil {
				return nil, false
			}
			v, err := sv.resolve(raw)
			if err != nil {
				rec(label, err)
				return nil, false
			}
			return v, true
		}
		if v, ok := get(f, "name", "name"); ok {
			fn.Name = scalarString(v)
		}
		imgV, err := sv.resolve(img)
		if err != nil {
			rec("image", err)
		}
		var imageName, imageURI string
		switch x := imgV.(type) {
		case string:
			if strings.Contains(x, "/") || strings.Contains(x, "@") {
				imageURI = x
			} else {
				imageName = x
			}
		case map[string]any:
			imageName = scalarString(x["name"])
			imageURI = scalarString(x["uri"])
			for _, p := range []struct {
				key string
				dst *[]string
			}{{"command", &fn.ImageConfig.Command}, {"entryPoint", &fn.ImageConfig.EntryPoint}} {
				if v, ok := x[p.key]; ok {
					l, isList := v.([]any)
					if !isList {
						return nil, fmt.Errorf("%s: functions.%s.image.%s is %s, not a list", path, key, p.key, describe(v))
					}
					for _, e := range l {
						*p.dst = append(*p.dst, scalarString(e))
					}
				}
			}
			if v, ok := x["workingDirectory"]; ok {
				fn.ImageConfig.WorkingDirectory = scalarString(v)
			}
		}
		switch {
		case imageURI != "":
			fn.Image = imageURI
		case imageName != "":
			def, ok := images[imageName].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: functions.%s.image names %q, which provider.ecr.images does not define", path, key, imageName)
			}
			dv, err := sv.resolve(def)
			if err != nil {
				rec("provider.ecr.images."+imageName, err)
				break
			}
			d, _ := dv.(map[string]any)
			if u := scalarString(d["uri"]); u != "" {
				fn.Image = u
				break
			}
			ctx := scalarString(d["path"])
			file := scalarString(d["file"])
			if file == "" {
				file = "Dockerfile"
			}
			fn.DockerContext = filepath.Join(dir, ctx)
			fn.Dockerfile = filepath.Join(fn.DockerContext, file)
			fn.Image = "docker:" + repo + ":" + imageName
			fn.Repository = repo
		}
		for _, src := range []map[string]any{provider, f} {
			if v, ok := get(src, "architecture", "architecture"); ok {
				if fn.Architecture, err = lambdaArch(scalarString(v)); err != nil {
					return nil, fmt.Errorf("%s: functions.%s: architecture: %v", path, key, err)
				}
			}
			for _, n := range []struct {
				k   string
				dst *int
			}{{"memorySize", &fn.MemoryMB}, {"timeout", &fn.TimeoutSeconds}, {"ephemeralStorageSize", &fn.EphemeralStorageMB}} {
				if v, ok := get(src, n.k, n.k); ok {
					if *n.dst, err = toInt(v); err != nil {
						return nil, fmt.Errorf("%s: functions.%s: %s: %v", path, key, n.k, err)
					}
				}
			}
			env, _ := src["environment"].(map[string]any)
			for _, k := range sortedKeys(env) {
				v, ok := get(env, "environment."+k, k)
				if !ok {
					continue
				}
				if fn.Environment == nil {
					fn.Environment = map[string]string{}
				}
				fn.Environment[k] = scalarString(v)
			}
		}
		out = append(out, fn)
	}
	return out, nil
}

// slsVars resolves the Serverless Framework's ${source:address, fallback}
// variables that do not need a deploy.
type slsVars struct {
	doc    map[string]any
	getenv func(string) string
	stage  string
	region string // provider.region, for ${aws:region}
	depth  int
}

var slsVar = regexp.MustCompile(`\$\{([^${}]*)\}`)

// resolve replaces the variables in v (a string, or every string in a
// list or map). A string that is one variable takes its value's type.
func (s *slsVars) resolve(v any) (any, error) {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > 30 {
		return nil, fmt.Errorf("variables refer to each other too deeply")
	}
	switch x := v.(type) {
	case string:
		return s.resolveString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := s.resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := s.resolve(e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func (s *slsVars) resolveString(str string) (any, error) {
	for range 50 {
		loc := slsVar.FindStringSubmatchIndex(str)
		if loc == nil {
			return str, nil
		}
		val, err := s.variable(str[loc[2]:loc[3]])
		if err != nil {
			return nil, err
		}
		if loc[0] == 0 && loc[1] == len(str) {
			if _, isStr := val.(string); !isStr {
				return val, nil
			}
		}
		str = str[:loc[0]] + scalarString(val) + str[loc[1]:]
	}
	return nil, fmt.Errorf("too many variables in %q", str)
}

// variable resolves the inside of one ${...}: sources tried in order,
// the last may be a literal.
func (s *slsVars) variable(expr string) (any, error) {
	type miss struct{ part, why string }
	var unknown []miss
	for i, part := range strings.Split(expr, ",") {
		part = strings.TrimSpace(part)
		if q, err := strconv.Unquote(strings.ReplaceAll(part, "'", `"`)); err == nil && len(part) >= 2 && (part[0] == '\'' || part[0] == '"') {
			return q, nil
		}
		src, addr, ok := strings.Cut(part, ":")
		if !ok {
			if i > 0 && part != "" {
				return part, nil // a bare literal fallback
			}
			unknown = append(unknown, miss{part, "known at deploy time"})
			continue
		}
		switch src {
		case "self":
			v, found := lookupPath(s.doc, addr)
			if found {
				return s.resolve(v)
			}
			unknown = append(unknown, miss{part, "not in this file"})
		case "sls", "opt":
			if addr == "stage" && s.stage != "" {
				return s.stage, nil
			}
			unknown = append(unknown, miss{part, "a command-line option"})
		case "aws":
			if addr == "region" && s.region != "" {
				return s.region, nil
			}
			unknown = append(unknown, miss{part, "known at deploy time"})
		case "env":
			if s.getenv != nil {
				if v := s.getenv(addr); v != "" {
					return v, nil
				}
			}
			unknown = append(unknown, miss{part, "not set here"})
		default:
			unknown = append(unknown, miss{part, "known at deploy time"})
		}
	}
	if len(unknown) == 1 {
		return nil, &unresolved{expr: "${" + expr + "} (" + unknown[0].why + ")"}
	}
	var why []string
	for _, u := range unknown {
		why = append(why, u.part+": "+u.why)
	}
	return nil, &unresolved{expr: "${" + expr + "} (" + strings.Join(why, "; ") + ")"}
}

// lookupPath finds a.b.c in a document.
func lookupPath(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}
