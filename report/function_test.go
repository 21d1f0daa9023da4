package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/lambdoctor/lambdoctor/deploy"
)

func liveFunction() *Function {
	fn := NewFunction(deploy.Function{
		ID: "orders-api", Name: "orders-api", Tool: "lambda",
		Source:       "arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
		Image:        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@" + digest('d'),
		ImageConfig:  deploy.ImageConfig{Command: []string{"app.handler"}, WorkingDirectory: "/var/task"},
		Architecture: "arm64",
		Environment:  map[string]string{"TABLE": "orders", "API_KEY": "s3cr3t-value"},
		MemoryMB:     1024, TimeoutSeconds: 30, EphemeralStorageMB: 2048,
	})
	fn.ARN = fn.Source
	fn.Digest = digest('d')
	fn.Problems = append(fn.Problems, "Environment.Error: KMSAccessDeniedException: Lambda was unable to decrypt the environment variables")
	return fn
}

func TestFunctionJSON(t *testing.T) {
	r := broken()
	r.Function = liveFunction()
	var buf bytes.Buffer
	if err := Write(&buf, "json", []*Report{r}, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "s3cr3t-value") {
		t.Fatalf("an environment variable's value reached the report:\n%s", buf.String())
	}
	var doc struct {
		Function map[string]any `json:"function"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "orders-api", "name": "orders-api", "tool": "lambda",
		"source":       "arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
		"arn":          "arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
		"image":        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@" + digest('d'),
		"digest":       digest('d'),
		"imageConfig":  map[string]any{"command": []any{"app.handler"}, "workingDirectory": "/var/task"},
		"architecture": "arm64",
		"environment":  []any{"API_KEY", "TABLE"},
		"memoryMB":     1024.0, "timeoutSeconds": 30.0, "ephemeralStorageMB": 2048.0,
		"problems": []any{"Environment.Error: KMSAccessDeniedException: Lambda was unable to decrypt the environment variables"},
	}
	if !reflect.DeepEqual(doc.Function, want) {
		t.Errorf("function\n%v\nwant\n%v", doc.Function, want)
	}

	// A function with nothing set: its lists are empty, never null, and
	// the architecture is Lambda's default.
	r.Function = NewFunction(deploy.Function{ID: "bare", Tool: "lambda"})
	buf.Reset()
	if err := Write(&buf, "json", []*Report{r}, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"environment": []`, `"problems": []`, `"imageConfig": {}`, `"architecture": "x86_64"`} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("bare function: no %s in\n%s", s, buf.String())
		}
	}
	// Without a function, no function block.
	buf.Reset()
	if err := Write(&buf, "json", []*Report{broken()}, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `"function"`) {
		t.Errorf("a report without a function has a function block")
	}
}

func TestFunctionText(t *testing.T) {
	r := clean()
	r.Function = liveFunction()
	failed := loadFailure()
	failed.Function = NewFunction(deploy.Function{ID: "billing", Tool: "lambda"})
	var buf bytes.Buffer
	if err := Write(&buf, "text", []*Report{r, failed}, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"\nlambda orders-api · arm64 · 1024 MB memory · 30 s timeout · 2048 MB /tmp · 2 environment variables\n" +
			`       ImageConfig Command ["app.handler"] · WorkingDirectory /var/task` + "\n" +
			"       ! Environment.Error: KMSAccessDeniedException: Lambda was unable to decrypt the environment variables\n" +
			"image ",
		"\nlambda billing · x86_64\n✗ cannot inspect",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no\n%s\nin\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t-value") || strings.Contains(out, "arn:aws:lambda") {
		t.Errorf("the text report shows a value or the ARN:\n%s", out)
	}
}
