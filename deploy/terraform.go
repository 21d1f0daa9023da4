package deploy

import (
	"encoding/json"
	"fmt"
	"slices"
)

// The JSON of `terraform show -json` (a saved plan, or the state) holds
// the values of every resource: planned_values.root_module (a plan) or
// values.root_module (the state), with resources and child_modules, each
// of those with its own resources and child_modules. An image function is
// an aws_lambda_function whose package_type is "Image": image_uri,
// image_config (a block: command, entry_point, working_directory),
// architectures, environment (variables), memory_size, timeout and
// ephemeral_storage (size). A plan's values not known until apply (an
// image_uri built from a repository created in the same apply) are
// absent from planned_values and true in the resource's
// resource_changes[].change.after_unknown: those are reported unresolved
// (https://developer.hashicorp.com/terraform/internals/json-format,
// https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/lambda_function).

type tfModule struct {
	Address      string       `json:"address"`
	Resources    []tfResource `json:"resources"`
	ChildModules []tfModule   `json:"child_modules"`
}

type tfResource struct {
	Address string         `json:"address"`
	Mode    string         `json:"mode"`
	Type    string         `json:"type"`
	Values  map[string]any `json:"values"`
}

type tfShow struct {
	PlannedValues *struct {
		RootModule tfModule `json:"root_module"`
	} `json:"planned_values"`
	Values *struct {
		RootModule tfModule `json:"root_module"`
	} `json:"values"`
	ResourceChanges []struct {
		Address string `json:"address"`
		Change  struct {
			AfterUnknown map[string]any `json:"after_unknown"`
		} `json:"change"`
	} `json:"resource_changes"`
}

// readTerraform reads the image functions of `terraform show -json`.
func readTerraform(path string, data []byte) ([]Function, error) {
	var doc tfShow
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var root *tfModule
	switch {
	case doc.PlannedValues != nil:
		root = &doc.PlannedValues.RootModule
	case doc.Values != nil:
		root = &doc.Values.RootModule
	default:
		return nil, fmt.Errorf("%s: neither planned_values nor values: save a plan (terraform plan -out=tfplan) and run terraform show -json tfplan", path)
	}
	unknown := map[string]map[string]any{}
	for _, rc := range doc.ResourceChanges {
		unknown[rc.Address] = rc.Change.AfterUnknown
	}
	var out []Function
	var walk func(m *tfModule, depth int) error
	walk = func(m *tfModule, depth int) error {
		if depth > 50 {
			return fmt.Errorf("%s: modules nested too deeply", path)
		}
		for _, r := range m.Resources {
			if r.Type != "aws_lambda_function" || r.Mode == "data" {
				continue
			}
			fn, ok, err := tfFunction(path, r, unknown[r.Address])
			if err != nil {
				return err
			}
			if ok {
				out = append(out, fn)
			}
		}
		for i := range m.ChildModules {
			if err := walk(&m.ChildModules[i], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// tfFunction reads one aws_lambda_function; false when it is not an image
// function.
func tfFunction(path string, r tfResource, afterUnknown map[string]any) (Function, bool, error) {
	v := r.Values
	if pt, _ := v["package_type"].(string); pt != "Image" {
		if !isUnknown(afterUnknown, "package_type") {
			return Function{}, false, nil
		}
	}
	fn := Function{ID: r.Address, Tool: "terraform", Source: path}
	fail := func(attr string, err error) (Function, bool, error) {
		return Function{}, false, fmt.Errorf("%s: %s: %s: %v", path, r.Address, attr, err)
	}
	for _, attr := range []string{"package_type", "function_name", "image_uri", "image_config", "architectures", "environment", "memory_size", "timeout", "ephemeral_storage"} {
		if isUnknown(afterUnknown, attr) {
			fn.Unresolved = append(fn.Unresolved, attr+": known after apply")
		}
	}
	fn.Name, _ = v["function_name"].(string)
	fn.Image, _ = v["image_uri"].(string)
	if b := tfBlock(v["image_config"]); b != nil {
		for _, p := range []struct {
			attr string
			dst  *[]string
		}{{"entry_point", &fn.ImageConfig.EntryPoint}, {"command", &fn.ImageConfig.Command}} {
			if l, ok := b[p.attr].([]any); ok {
				for _, e := range l {
					*p.dst = append(*p.dst, scalarString(e))
				}
			}
			if isUnknown(afterUnknown, "image_config", p.attr) {
				fn.Unresolved = append(fn.Unresolved, "image_config."+p.attr+": known after apply")
			}
		}
		fn.ImageConfig.WorkingDirectory, _ = b["working_directory"].(string)
	}
	if l, ok := v["architectures"].([]any); ok && len(l) > 0 {
		if len(l) != 1 {
			return fail("architectures", fmt.Errorf("%d architectures: Lambda takes one", len(l)))
		}
		a, err := lambdaArch(scalarString(l[0]))
		if err != nil {
			return fail("architectures", err)
		}
		fn.Architecture = a
	}
	if b := tfBlock(v["environment"]); b != nil {
		vars, _ := b["variables"].(map[string]any)
		for _, k := range sortedKeys(vars) {
			if fn.Environment == nil {
				fn.Environment = map[string]string{}
			}
			fn.Environment[k] = scalarString(vars[k])
		}
		if u := tfBlock(afterUnknown["environment"]); u != nil {
			if uv, ok := u["variables"].(map[string]any); ok {
				for _, k := range sortedKeys(uv) {
					if uv[k] == true {
						fn.Unresolved = append(fn.Unresolved, "environment.variables."+k+": known after apply")
					}
				}
			}
		}
	}
	for _, n := range []struct {
		attr string
		val  any
		dst  *int
	}{{"memory_size", v["memory_size"], &fn.MemoryMB}, {"timeout", v["timeout"], &fn.TimeoutSeconds}} {
		if n.val == nil {
			continue
		}
		i, err := toInt(n.val)
		if err != nil {
			return fail(n.attr, err)
		}
		*n.dst = i
	}
	if b := tfBlock(v["ephemeral_storage"]); b != nil && b["size"] != nil {
		i, err := toInt(b["size"])
		if err != nil {
			return fail("ephemeral_storage.size", err)
		}
		fn.EphemeralStorageMB = i
	}
	slices.Sort(fn.Unresolved)
	fn.Unresolved = slices.Compact(fn.Unresolved)
	return fn, true, nil
}

// tfBlock is the single nested block Terraform writes as a list of one
// object; nil when absent.
func tfBlock(v any) map[string]any {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return nil
	}
	m, _ := l[0].(map[string]any)
	return m
}

// isUnknown walks after_unknown: true at the attribute, or at a block
// holding it, means unknown until apply.
func isUnknown(afterUnknown map[string]any, attr string, nested ...string) bool {
	v, ok := afterUnknown[attr]
	if !ok {
		return false
	}
	if v == true {
		return true
	}
	for _, n := range nested {
		b := tfBlock(v)
		if b == nil {
			return false
		}
		if v = b[n]; v == true {
			return true
		}
	}
	return false
}
