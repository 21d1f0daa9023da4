package dockerfile

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const suppressed = `# syntax=docker/dockerfile:1
FROM golang:1.22 AS build
# lambdoctor ignore=LD999 reason="in a stage the image is not built from: matches nothing"
RUN go build -o /out/bootstrap .

# lambdoctor ignore=LD101 reason="the base image's value"
FROM public.ecr.aws/lambda/provided:al2023
# Copy the binary.
#lambdoctor ignore=LD203,entrypoint-not-found reason="the mode is fixed by \"chmod\" at deploy" paths=/var/task/**,/opt/*
# lambdoctor checks this image, and this line is an ordinary comment
COPY --from=build /out/bootstrap \
     /var/task/bootstrap
RUN <<EOF
# lambdoctor ignore=LD1 reason=heredoc-body-is-not-a-comment
EOF
# lambdoctor   ignore=LD603   reason=local-testing-only   expires=2026-12-31
EXPOSE 8080
`

func TestSuppressions(t *testing.T) {
	f, err := Parse("Dockerfile", strings.NewReader(suppressed), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := f.Suppressions()
	want := []struct {
		checks      []string
		paths       []string
		reason      string
		expires     string
		line, instr int
	}{
		{[]string{"LD999"}, nil, "in a stage the image is not built from: matches nothing", "", 3, 4},
		{[]string{"LD101"}, nil, "the base image's value", "", 6, 7},
		{[]string{"LD203", "entrypoint-not-found"}, []string{"/var/task/**", "/opt/*"}, `the mode is fixed by "chmod" at deploy`, "", 9, 11},
		{[]string{"LD603"}, nil, "local-testing-only", "2026-12-31", 16, 17},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d suppressions, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		exp := ""
		if !g.Expires.IsZero() {
			exp = g.Expires.Format(time.DateOnly)
		}
		if !slices.Equal(g.Checks, w.checks) || !slices.Equal(g.Paths, w.paths) || g.Reason != w.reason || exp != w.expires || g.Line != w.line || g.Instruction.Line != w.instr {
			t.Errorf("suppression %d = %+v (instruction line %d), want %+v", i, g, g.Instruction.Line, w)
		}
	}
}

func TestSuppressionErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		src  string // the comment goes on line 2, above RUN, unless src says
		line int
		want string
	}{
		"unknown key":        {`# lambdoctor ignore=LD202 reasn="x"`, 2, `unknown key "reasn" (did you mean "reason"?)`},
		"no reason":          {`# lambdoctor ignore=LD202`, 2, "ignore LD202 needs a reason"},
		"empty reason":       {`# lambdoctor ignore=LD202 reason=""`, 2, "needs a reason"},
		"no ignore":          {`# lambdoctor reason="x"`, 2, "no ignore="},
		"key without value":  {`# lambdoctor ignore LD202`, 2, `want key=value, found "ignore"`},
		"empty item":         {`# lambdoctor ignore=LD202,,LD203 reason=x`, 2, `ignore: empty item in "LD202,,LD203"`},
		"open quote":         {`# lambdoctor ignore=LD202 reason="x`, 2, "reason: the quote is not closed"},
		"stray quote":        {`# lambdoctor ignore=LD202 reason=it"s`, 2, "quote the whole value"},
		"glued after quote":  {`# lambdoctor ignore=LD202 reason="x"y`, 2, "a space must follow the closing quote"},
		"twice":              {`# lambdoctor ignore=LD202 ignore=LD203 reason=x`, 2, "ignore is given twice"},
		"bad date":           {`# lambdoctor ignore=LD202 reason=x expires=31/12/2026`, 2, `expires "31/12/2026" is not a date written YYYY-MM-DD`},
		"no such day":        {`# lambdoctor ignore=LD202 reason=x expires=2026-02-30`, 2, "is not a day of the calendar"},
		"empty value":        {`# lambdoctor ignore= reason=x`, 2, "ignore: no value"},
		"upper-case keyword": {`# LAMBDOCTOR ignore=LD202`, 2, "needs a reason"},
		"blank line below":   {"FROM x\n# lambdoctor ignore=LD202 reason=x\n\nRUN true\n", 2, "not directly above an instruction"},
		"end of file":        {"FROM x\nRUN true\n# lambdoctor ignore=LD202 reason=x\n# the end\n", 3, "not directly above an instruction"},
	} {
		t.Run(name, func(t *testing.T) {
			src := tt.src
			if !strings.HasPrefix(src, "FROM") {
				src = "FROM x\n" + src + "\nRUN true\n"
			}
			_, err := Parse("Dockerfile", strings.NewReader(src), Options{})
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *dockerfile.Error", err)
			}
			if de.Line != tt.line || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "Dockerfile:") {
				t.Errorf("err = %q (line %d), want line %d and %q", err, de.Line, tt.line, tt.want)
			}
		})
	}
}

// TestNotSuppressions: comments that mention lambdoctor without being
// one are left alone.
func TestNotSuppressions(t *testing.T) {
	for _, c := range []string{"# lambdoctor", "# lambdoctor checks this image", "# lambdoctor: see docs", "# run lambdoctor ignore=LD202", "#lambdoctorignore=x"} {
		f, err := Parse("Dockerfile", strings.NewReader("FROM x\n"+c+"\nRUN true\n"), Options{})
		if err != nil {
			t.Errorf("%q: %v", c, err)
			continue
		}
		if len(f.Suppressions()) != 0 {
			t.Errorf("%q: suppressions %+v", c, f.Suppressions())
		}
	}
}
