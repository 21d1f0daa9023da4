package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/lambdoctor/lambdoctor/analyze"
	"github.com/lambdoctor/lambdoctor/internal/fixtures"
)

func awsWith(f func(*v1.Config)) func(t *testing.T) *analyze.Target {
	s := fixtures.AWSGoodSpec()
	f(&s.Config)
	return spec(s)
}

var ld204Cases = []checkCase{
	{
		name: "ENTRYPOINT /lambda-entrypoint.sh in shell form on the AWS base image",
		kind: catches,
		target: awsWith(func(c *v1.Config) {
			c.Entrypoint = []string{"/bin/sh", "-c", "/lambda-entrypoint.sh"}
		}),
		verify: expect(Error,
			[]string{`ENTRYPOINT is in shell form (/bin/sh -c "/lambda-entrypoint.sh"), so the shell runs that string and ignores CMD ["app.handler"]`, "exits 142"},
			[]string{`config.Entrypoint=["/bin/sh", "-c", "/lambda-entrypoint.sh"]`, `$0="app.handler"`},
			[]string{`ENTRYPOINT ["/lambda-entrypoint.sh"]`}),
	},
	{
		name:   "shell form using \"$@\": the handler lands in $0",
		kind:   catches,
		target: spec(fixtures.PythonSpec(v1.Config{Env: []string{fixtures.DockerPATH}, Entrypoint: []string{"/bin/sh", "-c", `exec /usr/local/bin/python -m awslambdaric "$@"`}, Cmd: []string{"app.handler"}, WorkingDir: "/function"})),
		verify: expect(Error,
			[]string{`takes the first CMD element "app.handler" as $0`, "Handler not set"},
			nil,
			[]string{`ENTRYPOINT ["/usr/local/bin/python", "-m", "awslambdaric"]`}),
	},
	{
		name: "ImageConfig.Command added to a shell-form ENTRYPOINT",
		kind: catches,
		target: func(t *testing.T) *analyze.Target {
			s := fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/bin/sh", "-c", "node /var/task/node_modules/.bin/aws-lambda-ric"}})
			tg := newTarget(t, s, "amd64")
			tg.Overrides.Command = []string{"index.handler"}
			return tg
		},
		verify: expect(Error, []string{"No handler specified"}, []string{"ImageConfig.Command"}, []string{`ENTRYPOINT ["node", "/var/task/node_modules/.bin/aws-lambda-ric"]`}),
	},
	{name: "AWS base image (exec form)", kind: clean, target: spec(fixtures.AWSGoodSpec())},
	{
		name:   "shell form without CMD runs as written",
		kind:   clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Entrypoint: []string{"/bin/sh", "-c", "exec node index.js"}})),
	},
	{
		name:   "shell form that passes $0 on",
		kind:   clean,
		target: awsWith(func(c *v1.Config) { c.Entrypoint = []string{"/bin/sh", "-c", `exec /lambda-entrypoint.sh "$0"`} }),
	},
	{
		name:   "shell-form CMD without ENTRYPOINT",
		kind:   clean,
		target: spec(fixtures.SimpleSpec(v1.Config{Cmd: []string{"/bin/sh", "-c", "node index.js"}})),
	},
}
