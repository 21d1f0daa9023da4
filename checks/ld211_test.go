package checks

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// ld211Target builds a Debian-like image whose config history holds the
// base image's CMD after its first layer, then the given later
// (empty-layer) instructions.
func ld211Target(cfg v1.Config, baseCmd string, later ...string) func(t *testing.T) *analyze.Target {
	return func(t *testing.T) *analyze.Target {
		tg := newTarget(t, fixtures.SimpleSpec(cfg, testimage.Reg("var/task/app.py", 0o644, "def handler(e, c):\n    return 1\n"), testimage.Reg("var/task/bootstrap", 0o755, fixtures.ELFStub)), "amd64")
		h := tg.Image.Config.History
		ins := []v1.History{{CreatedBy: `/bin/sh -c #(nop)  CMD ` + baseCmd, EmptyLayer: true}}
		for _, l := range later {
			ins = append(ins, v1.History{CreatedBy: l + " # buildkit", EmptyLayer: true})
		}
		tg.Image.Config.History = slices.Insert(slices.Clone(h), 1, ins...)
		return tg
	}
}

var ld211Cases = []checkCase{
	{
		name:   `debian's CMD ["bash"] inherited, no ENTRYPOINT`,
		kind:   catches,
		target: ld211Target(v1.Config{Cmd: []string{"bash"}}, `["bash"]`, "WORKDIR /var/task"),
		verify: expect(Error,
			[]string{`CMD ["bash"] was set by history entry 2 of 4 ("CMD [\"bash\"]"), and none of the 2 later entries`, "it is the base image's CMD, inherited", `Lambda starts "bash"`, "never polls the Runtime API", "Lambda does not document the function's standard input"},
			[]string{`config.history[1] of 4: "CMD [\"bash\"]"`, "/bin/bash: regular file"},
			[]string{`ENTRYPOINT ["/var/task/bootstrap"]`}),
	},
	{
		name:   `CMD ["python3"] with no CMD in the history`,
		kind:   catches,
		target: spec(fixtures.PythonSpec(v1.Config{Env: []string{fixtures.DockerPATH}, Cmd: []string{"python3"}})),
		verify: expect(Error, []string{`Lambda starts "python3"`}, []string{"config.history records no CMD instruction"}, []string{`ENTRYPOINT ["python3", "-m", "awslambdaric"]`}),
	},
	{
		name:   "the fix: the same image with an ENTRYPOINT",
		kind:   clean,
		target: ld211Target(v1.Config{Entrypoint: []string{"/var/task/bootstrap"}, Cmd: []string{"bash"}}, `["bash"]`, "WORKDIR /var/task", `ENTRYPOINT ["/var/task/bootstrap"]`),
	},
	{
		name:   "the fix: a CMD that runs the runtime",
		kind:   clean,
		target: ld211Target(v1.Config{Cmd: []string{"/var/task/bootstrap"}}, `["bash"]`, "WORKDIR /var/task", `CMD ["/var/task/bootstrap"]`),
	},
	{
		name:   "python3 with a script is not a REPL",
		kind:   clean,
		target: spec(fixtures.PythonSpec(v1.Config{Env: []string{fixtures.DockerPATH}, Cmd: []string{"python3", "-m", "awslambdaric", "app.handler"}})),
	},
	{name: "AWS base image", kind: clean, target: spec(fixtures.AWSGoodSpec())},
}
