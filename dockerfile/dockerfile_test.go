package dockerfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// multiStage is a Go function built in one stage and copied into the
// Lambda base image in the last: ARG and ENV, COPY --from, a heredoc RUN,
// continuation lines.
const multiStage = `# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY . .
RUN go build -o /out/bootstrap ./cmd/fn
ENTRYPOINT ["/ignored/in/the/build/stage"]

FROM public.ecr.aws/lambda/provided:al2023
ARG APP=/var/task
ENV TZ=Europe/Paris \
    AWS_REGION=eu-west-1
COPY --from=build /out/bootstrap ${LAMBDA_TASK_ROOT}/bootstrap
COPY config.json $APP/
RUN <<EOF
set -e
chmod 755 /var/task/bootstrap
EOF
RUN dnf install -y \
      tar gzip && \
    dnf clean all
WORKDIR /var/task
USER nobody
EXPOSE 8080
ENTRYPOINT ["/var/task/bootstrap"]
CMD ["handler"]
`

func parse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("Dockerfile", strings.NewReader(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestForField(t *testing.T) {
	f := parse(t, multiStage)
	tests := []struct {
		field     string
		line, end int
		text      string
		inherited bool
	}{
		{"Entrypoint", 25, 25, `ENTRYPOINT ["/var/task/bootstrap"]`, false},
		{"Cmd", 26, 26, `CMD ["handler"]`, false},
		{"WorkingDir", 22, 22, "WORKDIR /var/task", false},
		{"User", 23, 23, "USER nobody", false},
		{"ExposedPorts", 24, 24, "EXPOSE 8080", false},
		{"Env:AWS_REGION", 11, 12, "ENV TZ=Europe/Paris AWS_REGION=eu-west-1", false},
		{"Env:TZ", 11, 12, "ENV TZ=Europe/Paris AWS_REGION=eu-west-1", false},
		// Not set by the last stage: the base image's, so its FROM.
		{"Env:PATH", 9, 9, "FROM public.ecr.aws/lambda/provided:al2023", true},
		{"StopSignal", 9, 9, "FROM public.ecr.aws/lambda/provided:al2023", true},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			in, inherited, ok := f.ForField(tt.field)
			if !ok {
				t.Fatal("field not known")
			}
			if in.Line != tt.line || in.EndLine != tt.end || in.Text != tt.text || inherited != tt.inherited {
				t.Errorf("got %d-%d %q inherited=%v, want %d-%d %q inherited=%v", in.Line, in.EndLine, in.Text, inherited, tt.line, tt.end, tt.text, tt.inherited)
			}
		})
	}
	if _, _, ok := f.ForField("Nonsense"); ok {
		t.Error("unknown field reported as known")
	}
}

// TestForFieldStageChain: a last stage built FROM an earlier stage inherits
// that stage's instructions; an unrelated earlier stage does not count.
func TestForFieldStageChain(t *testing.T) {
	f := parse(t, `FROM alpine AS unrelated
ENTRYPOINT ["/unrelated"]
FROM public.ecr.aws/lambda/python:3.12 AS base
WORKDIR /var/task
CMD ["app.handler"]
FROM base
COPY app.py ./
`)
	in, inherited, _ := f.ForField("Cmd")
	if in.Line != 5 || inherited {
		t.Errorf("Cmd: line %d inherited=%v, want 5 from the parent stage", in.Line, inherited)
	}
	in, inherited, _ = f.ForField("Entrypoint")
	if in.Line != 3 || !inherited {
		t.Errorf("Entrypoint: line %d inherited=%v, want the parent stage's FROM (line 3)", in.Line, inherited)
	}
}

func TestForLayer(t *testing.T) {
	f := parse(t, multiStage)
	// The layers of the final image as buildkit records them: the base
	// image's first, then the last stage's.
	buildkit := []string{
		"ADD file:0123abcd in / ",
		"RUN /bin/sh -c dnf install -y tar gzip && dnf clean all # buildkit", // the base image ran the same command
		"COPY /out/bootstrap /var/task/bootstrap # buildkit",
		"COPY config.json /var/task/ # buildkit",
		"RUN /bin/sh -c set -e\nchmod 755 /var/task/bootstrap\n # buildkit",
		"RUN /bin/sh -c dnf install -y       tar gzip &&     dnf clean all # buildkit",
		"WORKDIR /var/task",
	}
	classic := []string{
		"/bin/sh -c #(nop) ADD file:0123abcd in / ",
		"/bin/sh -c #(nop) COPY file:4f1d9e0c7a in /var/task/bootstrap ",
		"/bin/sh -c #(nop) COPY file:9a8b7c6d in /var/task/ ",
		"|1 APP=/var/task /bin/sh -c set -e\nchmod 755 /var/task/bootstrap\n",
		"|1 APP=/var/task /bin/sh -c dnf install -y tar gzip && dnf clean all",
	}
	tests := []struct {
		name   string
		layers []string
		i      int
		line   int // 0: no instruction
	}{
		{"base image layer", buildkit, 0, 0},
		{"same RUN in the base image", buildkit, 1, 0},
		{"COPY --from, dest from a base-image variable", buildkit, 2, 13},
		{"COPY with an ARG in the dest", buildkit, 3, 14},
		{"heredoc RUN", buildkit, 4, 15},
		{"RUN with continuation lines", buildkit, 5, 19},
		{"WORKDIR that made a layer", buildkit, 6, 22},
		{"classic: base ADD", classic, 0, 0},
		{"classic: hashed COPY matched on its dest", classic, 1, 13},
		{"classic: hashed COPY into a directory", classic, 2, 14},
		{"classic: heredoc RUN with build args", classic, 3, 15},
		{"classic: RUN with build args", classic, 4, 19},
		{"out of range", buildkit, 9, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, ok := f.ForLayer(tt.layers, tt.i)
			if tt.line == 0 {
				if ok {
					t.Errorf("matched line %d %q, want none", in.Line, in.Text)
				}
				return
			}
			if !ok || in.Line != tt.line {
				t.Errorf("got line %d (ok=%v) %q, want %d", in.Line, ok, in.Text, tt.line)
			}
		})
	}
}

// TestForLayerRepeated: identical instructions map to identical layers in
// order, counted from the end.
func TestForLayerRepeated(t *testing.T) {
	f := parse(t, `FROM public.ecr.aws/lambda/nodejs:20
COPY package.json ./
RUN npm ci
COPY src/ ./
RUN npm ci
COPY --chmod=755 entry.sh /entry.sh
RUN ["/bin/sh", "-c", "chmod 755 /entry.sh"]
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsS https://example.invalid | tar -x
`)
	layers := []string{
		"RUN /bin/sh -c npm ci # buildkit", // base image
		"COPY package.json ./ # buildkit",
		"RUN /bin/sh -c npm ci # buildkit",
		"COPY src/ ./ # buildkit",
		"RUN /bin/sh -c npm ci # buildkit",
		"COPY --chmod=755 entry.sh /entry.sh # buildkit",
		"RUN /bin/sh -c chmod 755 /entry.sh # buildkit",
		"RUN /bin/bash -o pipefail -c curl -fsS https://example.invalid | tar -x # buildkit",
	}
	want := []int{0, 2, 3, 4, 5, 6, 7, 9}
	for i, line := range want {
		in, ok := f.ForLayer(layers, i)
		if line == 0 && ok || line != 0 && in.Line != line {
			t.Errorf("layer %d (%s): got line %d (ok=%v), want %d", i, layers[i], in.Line, ok, line)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for name, src := range map[string]string{
		"empty":                "",
		"comments only":        "# nothing\n",
		"no FROM":              "RUN true\n",
		"unterminated heredoc": "FROM alpine\nRUN <<EOF\necho\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse("Dockerfile", strings.NewReader(src), Options{}); err == nil || !strings.Contains(err.Error(), "Dockerfile") {
				t.Errorf("err = %v, want a parse error naming the file", err)
			}
		})
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing"), Options{}); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v", err)
	}
}

// TestForLayerShellExpansion: destinations are expanded as the builder
// expands them (buildkit's lexer), defaults and suffix trims included,
// while a variable only the base image sets still matches any text.
func TestForLayerShellExpansion(t *testing.T) {
	f := parse(t, `FROM public.ecr.aws/lambda/provided:al2023
ENV TASKDIR=${TASKDIR:-/var/task}
ARG BIN=bootstrap.exe
COPY bootstrap ${TASKDIR}/bootstrap
COPY lib ${TASKDIR}/${BIN%.exe}-lib/
COPY conf ${LAMBDA_TASK_ROOT}/conf/
`)
	layers := []string{
		"ADD file:0123abcd in / ",
		"COPY bootstrap /var/task/bootstrap # buildkit",
		"COPY lib /var/task/bootstrap-lib/ # buildkit",
		"COPY conf /var/task/conf/ # buildkit",
	}
	for i, want := range []int{0, 4, 5, 6} {
		in, ok := f.ForLayer(layers, i)
		if want == 0 {
			if ok {
				t.Errorf("layer %d: matched line %d, want none", i, in.Line)
			}
			continue
		}
		if !ok || in.Line != want {
			t.Errorf("layer %d (%s): line %d (ok=%v), want %d", i, layers[i], in.Line, ok, want)
		}
	}
}
