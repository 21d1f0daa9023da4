//go:build linux

package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// run --deploy boots the function with its definition's memory size and
// environment: the function answers with a variable only the template
// sets, and the sandbox's memory limit is the template's MemorySize.
func TestRunDeploySandbox(t *testing.T) {
	requireSandbox(t)
	isolate(t)
	tmpl := filepath.Join(t.TempDir(), "template.yaml")
	body := `AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/echo:v1
      MemorySize: 256
      Timeout: 5
      EphemeralStorage:
        Size: 600
      ImageConfig:
        Command: ["greet.handler"]
      Environment:
        Variables:
          GREETING: hello-from-the-template
`
	if err := os.WriteFile(tmpl, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// The image's CMD names function.handler; the template's Command
	// names greet.handler, which answers with $GREETING.
	img := shellImageWith(t, "var/task/greet.sh", "function handler () {\n  echo \"$GREETING\"\n}\n")
	r := runImage(t, context.Background(), img, "--deploy", tmpl, "--function-id", "EchoFunction")
	run := r.doc.Run
	if r.code != ExitOK {
		t.Fatalf("exit %d; run: %+v\nstderr: %s", r.code, run, r.stderr)
	}
	var got string
	if err := json.Unmarshal(run.Response, &got); err != nil || got != "hello-from-the-template" {
		t.Errorf("response %s (%v), want the template's GREETING", run.Response, err)
	}
	if run.Memory == nil || run.Memory.SizeMB != 256 {
		t.Errorf("memory %+v, want the template's 256 MB", run.Memory)
	}
}

// shellImageWith is shellImage (busybox, the AWS docs' shell runtime,
// function.sh) with one more script in a layer of its own.
func shellImageWith(t *testing.T, path, script string) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(shellImage(t, busyboxBootstrap, 0o755, functionSh), testimage.Layer(t, testimage.Reg(path, 0o755, script)))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
