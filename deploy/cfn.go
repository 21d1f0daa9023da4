package deploy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// CloudFormation templates (AWS SAM's and the CDK's) are read into a tree
// of map[string]any, []any, string, float64/int and bool, where an
// intrinsic function is a one-key map in its long form ({"Ref": "P"},
// {"Fn::Sub": ...}), whichever form the template used. go.yaml.in/yaml/v3
// keeps YAML tags on its yaml.Node, so the short forms (!Ref P, !Sub ...)
// are read from the node's Tag and turned into the long form here
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html).

// decodeYAMLTemplate reads a YAML CloudFormation template into the tree.
func decodeYAMLTemplate(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return nil, fmt.Errorf("the file is empty")
	}
	v, err := fromNode(&doc, 0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document is not a mapping")
	}
	return m, nil
}

// fromNode converts a YAML node, turning short-form intrinsic tags into
// their long form.
func fromNode(n *yaml.Node, depth int) (any, error) {
	if depth > 200 {
		return nil, fmt.Errorf("line %d: nested too deeply", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromNode(n.Content[0], depth+1)
	case yaml.AliasNode:
		return fromNode(n.Alias, depth+1)
	}
	if tag := n.Tag; strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
		return shortForm(n, tag[1:], depth)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		return v, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromNode(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				merged, err := fromNode(v, depth+1)
				if err != nil {
					return nil, err
				}
				if mm, ok := merged.(map[string]any); ok {
					for mk, mv := range mm {
						if _, set := out[mk]; !set {
							out[mk] = mv
						}
					}
				}
				continue
			}
			val, err := fromNode(v, depth+1)
			if err != nil {
				return nil, err
			}
			out[k.Value] = val
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// shortForm turns !Name ARG into its long form: {"Ref": ARG},
// {"Condition": ARG} or {"Fn::Name": ARG}; !GetAtt A.B becomes
// {"Fn::GetAtt": ["A", "B"]}.
func shortForm(n *yaml.Node, name string, depth int) (any, error) {
	plain := *n
	plain.Tag = ""
	var arg any
	if n.Kind == yaml.ScalarNode {
		arg = n.Value
	} else {
		var err error
		if arg, err = fromNode(&plain, depth+1); err != nil {
			return nil, err
		}
	}
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: arg}, nil
	case "GetAtt":
		if s, ok := arg.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			arg = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: arg}, nil
}

// unresolved is a value that cannot be known without deploying: its
// expression, in short form.
type unresolved struct{ expr string }

func (u *unresolved) Error() string { return u.expr }

// cfnContext resolves the intrinsic functions of one template.
type cfnContext struct {
	// params are the parameters' values: the overrides, else the
	// defaults; a parameter without either is absent.
	params map[string]any
	// paramUnknown says why a declared parameter has no value.
	paramUnknown map[string]string
	// pseudo are the pseudo parameters that are known (AWS::Region from
	// samconfig.toml, AWS::StackName, AWS::Partition, AWS::URLSuffix).
	pseudo     map[string]string
	conditions map[string]any
	condCache  map[string]bool
	mappings   map[string]any
	resources  map[string]any
}

// newCFNContext reads the template's Parameters, Conditions and Mappings;
// overrides replace parameter defaults; region and stack, when known,
// give the pseudo parameters that follow from them.
func newCFNContext(tmpl map[string]any, overrides map[string]string, region, stack string) *cfnContext {
	c := &cfnContext{
		params: map[string]any{}, paramUnknown: map[string]string{}, pseudo: map[string]string{},
		condCache: map[string]bool{},
	}
	c.conditions, _ = tmpl["Conditions"].(map[string]any)
	c.mappings, _ = tmpl["Mappings"].(map[string]any)
	c.resources, _ = tmpl["Resources"].(map[string]any)
	params, _ := tmpl["Parameters"].(map[string]any)
	for name, decl := range params {
		d, _ := decl.(map[string]any)
		typ, _ := d["Type"].(string)
		var raw any
		if v, ok := overrides[name]; ok {
			raw = v
		} else if v, ok := d["Default"]; ok {
			raw = v
		}
		switch {
		case strings.HasPrefix(typ, "AWS::SSM::Parameter::Value<"):
			c.paramUnknown[name] = "an SSM parameter, read at deploy time"
		case raw == nil:
			c.paramUnknown[name] = "a parameter without a default or an override"
		case strings.Contains(typ, "List") || typ == "CommaDelimitedList":
			s := scalarString(raw)
			var list []any
			for _, p := range strings.Split(s, ",") {
				list = append(list, strings.TrimSpace(p))
			}
			c.params[name] = list
		default:
			c.params[name] = scalarString(raw)
		}
	}
	if region != "" {
		c.pseudo["AWS::Region"] = region
		partition, suffix := "aws", "amazonaws.com"
		switch {
		case strings.HasPrefix(region, "cn-"):
			partition, suffix = "aws-cn", "amazonaws.com.cn"
		case strings.HasPrefix(region, "us-gov-"):
			partition = "aws-us-gov"
		}
		c.pseudo["AWS::Partition"], c.pseudo["AWS::URLSuffix"] = partition, suffix
	}
	if stack != "" {
		c.pseudo["AWS::StackName"] = stack
	}
	return c
}

// scalarString renders a YAML or JSON scalar as CloudFormation sees it.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// noValue is what AWS::NoValue resolves to: the property is removed.
type noValueT struct{}

var noValue = noValueT{}

// resolve evaluates the intrinsic functions in v. An error is an
// *unresolved naming the expression that cannot be known statically, or a
// malformed template.
func (c *cfnContext) resolve(v any) (any, error) {
	return c.resolveDepth(v, 0)
}

func (c *cfnContext) resolveDepth(v any, depth int) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("intrinsic functions nested too deeply")
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			r, err := c.resolveDepth(e, depth+1)
			if err != nil {
				return nil, err
			}
			if r == noValue {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return c.intrinsic(k, arg, depth)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := c.resolveDepth(e, depth+1)
			if err != nil {
				return nil, err
			}
			if r == noValue {
				continue
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func (c *cfnContext) intrinsic(name string, arg any, depth int) (any, error) {
	switch name {
	case "Ref":
		ref, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("!Ref takes a name, not %s", describe(arg))
		}
		return c.ref(ref)
	case "Fn::Sub":
		return c.sub(arg, depth)
	case "Fn::If":
		list, ok := arg.([]any)
		if !ok || len(list) != 3 {
			return nil, fmt.Errorf("!If takes [condition, value if true, value if false], not %s", describe(arg))
		}
		cond, ok := list[0].(string)
		if !ok {
			return nil, fmt.Errorf("!If names a condition, not %s", describe(list[0]))
		}
		b, err := c.condition(cond, depth)
		if err != nil {
			return nil, err
		}
		if b {
			return c.resolveDepth(list[1], depth+1)
		}
		return c.resolveDepth(list[2], depth+1)
	case "Fn::Join":
		list, ok := arg.([]any)
		if !ok || len(list) != 2 {
			return nil, fmt.Errorf("!Join takes [delimiter, [values]], not %s", describe(arg))
		}
		sep, _ := list[0].(string)
		items, err := c.resolveDepth(list[1], depth+1)
		if err != nil {
			return nil, err
		}
		parts, ok := items.([]any)
		if !ok {
			return nil, fmt.Errorf("!Join joins a list, not %s", describe(items))
		}
		ss := make([]string, len(parts))
		for i, p := range parts {
			ss[i] = scalarString(p)
		}
		return strings.Join(ss, sep), nil
	case "Fn::Select":
		list, ok := arg.([]any)
		if !ok || len(list) != 2 {
			return nil, fmt.Errorf("!Select takes [index, list], not %s", describe(arg))
		}
		idx, err := c.resolveDepth(list[0], depth+1)
		if err != nil {
			return nil, err
		}
		items, err := c.resolveDepth(list[1], depth+1)
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(scalarString(idx))
		parts, ok := items.([]any)
		if err != nil || !ok || i < 0 || i >= len(parts) {
			return nil, fmt.Errorf("!Select index %s is not in %s", describe(idx), describe(items))
		}
		return parts[i], nil
	case "Fn::Split":
		list, ok := arg.([]any)
		if !ok || len(list) != 2 {
			return nil, fmt.Errorf("!Split takes [delimiter, string], not %s", describe(arg))
		}
		sep, _ := list[0].(string)
		s, err := c.resolveDepth(list[1], depth+1)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(scalarString(s), sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::FindInMap":
		list, ok := arg.([]any)
		if !ok || len(list) < 3 {
			return nil, fmt.Errorf("!FindInMap takes [map, key, key], not %s", describe(arg))
		}
		keys := make([]string, 3)
		for i := range 3 {
			k, err := c.resolveDepth(list[i], depth+1)
			if err != nil {
				return nil, err
			}
			keys[i] = scalarString(k)
		}
		m, _ := c.mappings[keys[0]].(map[string]any)
		top, _ := m[keys[1]].(map[string]any)
		v, ok := top[keys[2]]
		if !ok {
			return nil, fmt.Errorf("!FindInMap [%s, %s, %s]: no such entry in Mappings", keys[0], keys[1], keys[2])
		}
		return c.resolveDepth(v, depth+1)
	}
	// Fn::GetAtt, Fn::ImportValue, Fn::GetAZs, Fn::Base64, Fn::Cidr,
	// Fn::Transform ... are known only once deployed.
	return nil, &unresolved{expr: describe(map[string]any{name: arg})}
}

// ref resolves !Ref NAME: a parameter or a known pseudo parameter; a
// resource's Ref is known only once it exists.
func (c *cfnContext) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if v, ok := c.params[name]; ok {
		return v, nil
	}
	if why, ok := c.paramUnknown[name]; ok {
		return nil, &unresolved{expr: fmt.Sprintf("!Ref %s (%s)", name, why)}
	}
	if v, ok := c.pseudo[name]; ok {
		return v, nil
	}
	if strings.HasPrefix(name, "AWS::") {
		return nil, &unresolved{expr: fmt.Sprintf("!Ref %s (a pseudo parameter known at deploy time)", name)}
	}
	if _, ok := c.resources[name]; ok {
		return nil, &unresolved{expr: fmt.Sprintf("!Ref %s (a resource, known once created)", name)}
	}
	return nil, fmt.Errorf("!Ref %s: no parameter or resource has this name", name)
}

// sub resolves !Sub "text ${Name} ${Res.Attr} ${!Literal}" and its
// [text, {Name: value}] form.
func (c *cfnContext) sub(arg any, depth int) (any, error) {
	var text string
	vars := map[string]any{}
	switch x := arg.(type) {
	case string:
		text = x
	case []any:
		if len(x) != 2 {
			return nil, fmt.Errorf("!Sub takes a string or [string, {variables}], not %s", describe(arg))
		}
		text, _ = x[0].(string)
		m, _ := x[1].(map[string]any)
		for k, v := range m {
			vars[k] = v
		}
	default:
		return nil, fmt.Errorf("!Sub takes a string or [string, {variables}], not %s", describe(arg))
	}
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			b.WriteString(text)
			break
		}
		b.WriteString(text[:i])
		j := strings.IndexByte(text[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("!Sub %q: an unclosed ${", scalarString(arg))
		}
		name := text[i+2 : i+j]
		text = text[i+j+1:]
		if strings.HasPrefix(name, "!") { // ${!Literal} writes ${Literal}
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		var val any
		var err error
		if v, ok := vars[name]; ok {
			val, err = c.resolveDepth(v, depth+1)
		} else if strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::") {
			res, attr, _ := strings.Cut(name, ".")
			err = &unresolved{expr: fmt.Sprintf("!GetAtt %s.%s", res, attr)}
		} else {
			val, err = c.ref(name)
		}
		if u, ok := err.(*unresolved); ok {
			missing = append(missing, "${"+name+"}: "+u.expr)
			continue
		}
		if err != nil {
			return nil, err
		}
		b.WriteString(scalarString(val))
	}
	if len(missing) > 0 {
		return nil, &unresolved{expr: fmt.Sprintf("!Sub %s (%s)", describe(scalarOrFirst(arg)), strings.Join(missing, "; "))}
	}
	return b.String(), nil
}

func scalarOrFirst(arg any) any {
	if l, ok := arg.([]any); ok && len(l) > 0 {
		return l[0]
	}
	return arg
}

// condition evaluates a named condition of Conditions.
func (c *cfnContext) condition(name string, depth int) (bool, error) {
	if b, ok := c.condCache[name]; ok {
		return b, nil
	}
	def, ok := c.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not in Conditions", name)
	}
	b, err := c.evalCond(def, depth+1)
	if err != nil {
		if u, ok := err.(*unresolved); ok {
			return false, &unresolved{expr: fmt.Sprintf("condition %s (%s)", name, u.expr)}
		}
		return false, err
	}
	c.condCache[name] = b
	return b, nil
}

func (c *cfnContext) evalCond(v any, depth int) (bool, error) {
	if depth > 100 {
		return false, fmt.Errorf("conditions nested too deeply")
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("a condition must be !Equals, !Not, !And, !Or or !Condition, not %s", describe(v))
	}
	for k, arg := range m {
		switch k {
		case "Condition":
			name, _ := arg.(string)
			return c.condition(name, depth)
		case "Fn::Equals":
			list, ok := arg.([]any)
			if !ok || len(list) != 2 {
				return false, fmt.Errorf("!Equals takes two values, not %s", describe(arg))
			}
			a, err := c.resolveDepth(list[0], depth+1)
			if err != nil {
				return false, err
			}
			b, err := c.resolveDepth(list[1], depth+1)
			if err != nil {
				return false, err
			}
			return describe(a) == describe(b), nil
		case "Fn::Not":
			list, ok := arg.([]any)
			if !ok || len(list) != 1 {
				return false, fmt.Errorf("!Not takes one condition, not %s", describe(arg))
			}
			b, err := c.evalCond(list[0], depth+1)
			return !b, err
		case "Fn::And", "Fn::Or":
			list, ok := arg.([]any)
			if !ok || len(list) < 2 {
				return false, fmt.Errorf("%s takes two to ten conditions, not %s", k, describe(arg))
			}
			and := k == "Fn::And"
			for _, e := range list {
				b, err := c.evalCond(e, depth+1)
				if err != nil {
					return false, err
				}
				if b != and {
					return b, nil
				}
			}
			return and, nil
		}
	}
	return false, fmt.Errorf("a condition must be !Equals, !Not, !And, !Or or !Condition, not %s", describe(v))
}

// describe renders a template value in the short form a template author
// would write: !Ref P, !GetAtt R.A, !Sub "...", else compact JSON.
func describe(v any) string {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, arg := range m {
			switch {
			case k == "Ref":
				return "!Ref " + scalarString(arg)
			case k == "Fn::GetAtt":
				if l, ok := arg.([]any); ok && len(l) == 2 {
					return "!GetAtt " + scalarString(l[0]) + "." + scalarString(l[1])
				}
				return "!GetAtt " + describe(arg)
			case strings.HasPrefix(k, "Fn::"):
				return "!" + strings.TrimPrefix(k, "Fn::") + " " + describe(arg)
			}
		}
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(sortedForJSON(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// sortedForJSON makes v marshalable (noValue becomes null); maps marshal
// with sorted keys already.
func sortedForJSON(v any) any {
	switch x := v.(type) {
	case noValueT:
		return nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sortedForJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = sortedForJSON(e)
		}
		return out
	}
	return v
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
