//go:build linux

package cmd

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lambdoctor/lambdoctor/emulate"
	"github.com/lambdoctor/lambdoctor/internal/realimage"
)

// TestRealImageDebianGoAnswersUnderRun boots the debian-go real-shaped
// image (a Debian bookworm base of thousands of files and an aws-lambda-go
// function) with `lambdoctor run` and expects its answer within
// realRunLimit, unpacking included.
func TestRealImageDebianGoAnswersUnderRun(t *testing.T) {
	path := realimage.Path(t, "debian-go")
	requireSandbox(t)
	isolate(t)
	ctx, cancel := context.WithTimeout(context.Background(), realRunLimit)
	defer cancel()
	s, out, errb := streams(map[string]string{"NO_COLOR": "1"})
	s.Getwd = func() (string, error) { return t.TempDir(), nil }
	start := time.Now()
	code := Run(ctx, []string{"run", "--format", "json", "--event", writeEvent(t, `{"name":"ci"}`), path}, s)
	if ctx.Err() != nil {
		t.Fatalf("lambdoctor run did not answer within %s (exit %d): %s", realRunLimit, code, errb.String())
	}
	var doc emulate.Doc
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Run == nil {
		t.Fatalf("exit %d, stdout is not a run report (%v):\n%s\nstderr: %s", code, err, out.String(), errb.String())
	}
	if code != ExitOK || doc.Run.Result != emulate.ResultSuccess {
		t.Fatalf("exit %d, result %q, want 0 and success; run: %+v\nfindings: %+v\nstderr: %s", code, doc.Run.Result, doc.Run, doc.Findings, errb.String())
	}
	var resp struct {
		Greeting string `json:"greeting"`
		OS       string `json:"os"`
	}
	if err := json.Unmarshal(doc.Run.Response, &resp); err != nil {
		t.Fatalf("response %s: %v", doc.Run.Response, err)
	}
	if resp.Greeting != "hello ci" || resp.OS != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("response %s, want hello ci from Debian 12", doc.Run.Response)
	}
	t.Logf("lambdoctor run answered in %s", time.Since(start).Round(time.Millisecond))
}

// realRunLimit bounds the whole run of a 96 MB / 5,700-entry image: the
// unpack should cost about one pass over its 37 MB of gzip layers.
const realRunLimit = 2 * time.Minute
