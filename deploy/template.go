package deploy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The properties of AWS::Lambda::Function
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-function.html)
// and AWS::Serverless::Function
// (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html)
// that decide how an image function runs share their names: ImageConfig
// (EntryPoint, Command, WorkingDirectory), Architectures, Environment
// (Variables), MemorySize, Timeout, EphemeralStorage (Size), FunctionName.

// templateFunction reads one function resource's properties into fn; each
// value is resolved on its own, so that one that cannot be known leaves
// only itself unset (named in fn.Unresolved).
func templateFunction(c *cfnContext, fn *Function, props map[string]any) error {
	r := &propReader{c: c, fn: fn}
	if err := r.read(props); err != nil {
		return err
	}
	return r.bad
}

func (r *propReader) read(props map[string]any) error {
	fn := r.fn
	if v, ok := r.get(props, "FunctionName"); ok {
		fn.Name = scalarString(v)
	}
	if ic, ok := r.get(props, "ImageConfig"); ok {
		m, isMap := ic.(map[string]any)
		if !isMap {
			return fmt.Errorf("ImageConfig is %s, not a mapping", describe(ic))
		}
		var err error
		if fn.ImageConfig.EntryPoint, err = r.list(m, "ImageConfig.EntryPoint", "EntryPoint"); err != nil {
			return err
		}
		if fn.ImageConfig.Command, err = r.list(m, "ImageConfig.Command", "Command"); err != nil {
			return err
		}
		if v, ok := r.getAs(m, "ImageConfig.WorkingDirectory", "WorkingDirectory"); ok {
			fn.ImageConfig.WorkingDirectory = scalarString(v)
		}
	}
	if v, ok := r.get(props, "Architectures"); ok {
		l, isList := v.([]any)
		if !isList || len(l) != 1 {
			return fmt.Errorf("property Architectures is %s: Lambda takes a list of one, x86_64 or arm64", describe(v))
		}
		a, err := r.resolve("Architectures", l[0])
		if err == nil {
			if fn.Architecture, err = lambdaArch(scalarString(a)); err != nil {
				return fmt.Errorf("property Architectures: %v", err)
			}
		}
	}
	if env, ok := r.get(props, "Environment"); ok {
		m, _ := env.(map[string]any)
		if vars, ok := r.getAs(m, "Environment.Variables", "Variables"); ok {
			vm, isMap := vars.(map[string]any)
			if !isMap {
				return fmt.Errorf("Environment.Variables is %s, not a mapping", describe(vars))
			}
			for _, k := range sortedKeys(vm) {
				v, err := r.resolve("Environment.Variables."+k, vm[k])
				if err != nil || v == noValue {
					continue
				}
				if fn.Environment == nil {
					fn.Environment = map[string]string{}
				}
				fn.Environment[k] = scalarString(v)
			}
		}
	}
	var err error
	if fn.MemoryMB, err = r.int(props, "MemorySize"); err != nil {
		return err
	}
	if fn.TimeoutSeconds, err = r.int(props, "Timeout"); err != nil {
		return err
	}
	if es, ok := r.get(props, "EphemeralStorage"); ok {
		m, _ := es.(map[string]any)
		if fn.EphemeralStorageMB, err = r.intAs(m, "EphemeralStorage.Size", "Size"); err != nil {
			return err
		}
	}
	return nil
}

// propReader resolves properties one at a time, recording what cannot be
// resolved in fn.Unresolved; bad is the first error of a malformed
// template (an !If on a condition that does not exist).
type propReader struct {
	c   *cfnContext
	fn  *Function
	bad error
}

// get resolves props[key]; false when it is absent, AWS::NoValue or
// unresolved (then recorded).
func (r *propReader) get(props map[string]any, key string) (any, bool) {
	return r.getAs(props, key, key)
}

func (r *propReader) getAs(props map[string]any, label, key string) (any, bool) {
	raw, ok := props[key]
	if !ok || raw == nil {
		return nil, false
	}
	v, err := r.resolveShallow(label, raw)
	if err != nil || v == noValue || v == nil {
		return nil, false
	}
	return v, true
}

// resolveShallow resolves v when it is itself an intrinsic function (an
// !If choosing a mapping), leaving what it contains for the caller.
func (r *propReader) resolveShallow(label string, v any) (any, error) {
	for {
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return v, nil
		}
		isFn := false
		for k := range m {
			isFn = k == "Ref" || strings.HasPrefix(k, "Fn::")
		}
		if !isFn {
			return v, nil
		}
		if _, isIf := m["Fn::If"]; !isIf {
			return r.resolve(label, v)
		}
		list, _ := m["Fn::If"].([]any)
		if len(list) != 3 {
			return r.resolve(label, v)
		}
		name, _ := list[0].(string)
		b, err := r.c.condition(name, 0)
		if err != nil {
			r.record(label, err)
			return nil, err
		}
		if b {
			v = list[1]
		} else {
			v = list[2]
		}
		if ref, ok := v.(map[string]any); ok && len(ref) == 1 && ref["Ref"] == "AWS::NoValue" {
			return noValue, nil
		}
	}
}

// resolve fully resolves v, recording an unresolved value under label.
func (r *propReader) resolve(label string, v any) (any, error) {
	out, err := r.c.resolve(v)
	if err != nil {
		r.record(label, err)
		return nil, err
	}
	return out, nil
}

func (r *propReader) record(label string, err error) {
	if _, ok := err.(*unresolved); !ok {
		if r.bad == nil {
			r.bad = fmt.Errorf("%s: %v", label, err)
		}
		return
	}
	r.fn.Unresolved = append(r.fn.Unresolved, label+": "+err.Error())
}

// list resolves a list of strings (ImageConfig's EntryPoint, Command).
func (r *propReader) list(m map[string]any, label, key string) ([]string, error) {
	raw, ok := m[key]
	if !ok {
		return nil, nil
	}
	v, err := r.resolve(label, raw)
	if err != nil || v == noValue {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %s, not a list of strings", label, describe(v))
	}
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = scalarString(e)
	}
	return out, nil
}

func (r *propReader) int(props map[string]any, key string) (int, error) {
	return r.intAs(props, key, key)
}

func (r *propReader) intAs(props map[string]any, label, key string) (int, error) {
	raw, ok := props[key]
	if !ok {
		return 0, nil
	}
	v, err := r.resolve(label, raw)
	if err != nil || v == noValue {
		return 0, nil
	}
	n, err := toInt(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", label, err)
	}
	return n, nil
}

// toInt reads a whole number from YAML, JSON or a parameter's string.
func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case uint64:
		if x > math.MaxInt32 {
			return 0, fmt.Errorf("%d is out of range", x)
		}
		return int(x), nil
	case float64:
		if x != math.Trunc(x) || x > math.MaxInt32 || x < math.MinInt32 {
			return 0, fmt.Errorf("%v is not a whole number", x)
		}
		return int(x), nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s is not a number", describe(v))
}

// lambdaArch validates an architecture as Lambda names it.
func lambdaArch(s string) (string, error) {
	switch s {
	case "x86_64", "arm64":
		return s, nil
	}
	return "", fmt.Errorf("%q is not x86_64 or arm64", s)
}
