package dockerfile

import (
	"slices"
	"strings"
	"testing"
)

// lastVars are the variables in effect at the last instruction of the
// last stage's lineage.
func lastVars(t *testing.T, src string, opts Options) map[string]string {
	t.Helper()
	f, err := Parse("Dockerfile", strings.NewReader(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	list := f.lineage()
	if len(list) == 0 {
		return f.stages[len(f.stages)-1].from.vars
	}
	return list[len(list)-1].vars
}

// TestBuildArgs follows buildkit's dispatchArg and buildMetaArgs
// (frontend/dockerfile/dockerfile2llb/convert.go, v0.28): a build arg
// applies only where an ARG declares it; a stage's ARG takes the build
// arg, else its default, else the global ARG's value; global ARGs are not
// seen in a stage until an ARG redeclares them; an ARG with a value
// replaces an earlier ENV of the same name. The ${my_arg:-def_val} cases
// are buildkit's testDefaultEnvWithArgs.
func TestBuildArgs(t *testing.T) {
	unset := "<unset>"
	tests := []struct {
		name string
		src  string
		args map[string]string
		arch string
		want map[string]string // name → value, or unset
	}{
		{"global ARG not seen in a stage", "ARG V=g\nFROM x\nRUN true\n", nil, "", map[string]string{"V": unset}},
		{"global ARG redeclared", "ARG V=g\nFROM x\nARG V\nRUN true\n", nil, "", map[string]string{"V": "g"}},
		{"global ARG redeclared, build arg", "ARG V=g\nFROM x\nARG V\nRUN true\n", map[string]string{"V": "b"}, "", map[string]string{"V": "b"}},
		{"stage default", "FROM x\nARG V=d\n", nil, "", map[string]string{"V": "d"}},
		{"stage default, build arg", "FROM x\nARG V=d\n", map[string]string{"V": "b"}, "", map[string]string{"V": "b"}},
		{"stage default, empty build arg", "FROM x\nARG V=d\n", map[string]string{"V": ""}, "", map[string]string{"V": ""}},
		{"stage default beats the global one", "ARG V=g\nFROM x\nARG V=d\n", nil, "", map[string]string{"V": "d"}},
		{"no default, no build arg", "FROM x\nARG V\n", nil, "", map[string]string{"V": unset}},
		{"undeclared build arg", "FROM x\nRUN true\n", map[string]string{"V": "b"}, "", map[string]string{"V": unset}},
		{"build arg before its ARG", "FROM x\nENV E=$V\nARG V\n", map[string]string{"V": "b"}, "", map[string]string{"E": "$V", "V": "b"}},
		{"default nil", "FROM x\nARG my_arg\nENV my_arg=\"my_arg=${my_arg:-def_val}\"\n", nil, "", map[string]string{"my_arg": "my_arg=def_val"}},
		{"default empty", "FROM x\nARG my_arg\nENV my_arg=\"my_arg=${my_arg:-def_val}\"\n", map[string]string{"my_arg": ""}, "", map[string]string{"my_arg": "my_arg=def_val"}},
		{"default override", "FROM x\nARG my_arg\nENV my_arg=\"my_arg=${my_arg:-def_val}\"\n", map[string]string{"my_arg": "override"}, "", map[string]string{"my_arg": "my_arg=override"}},
		{"${V-x} of an empty build arg", "FROM x\nARG V\nENV A=${V-x} B=${V:-x}\n", map[string]string{"V": ""}, "", map[string]string{"A": "", "B": "x"}},
		{"${V:+x}", "FROM x\nARG V\nENV A=${V:+set}\n", map[string]string{"V": "1"}, "", map[string]string{"A": "set"}},
		{"ARG replaces an earlier ENV", "FROM x\nENV V=e\nARG V=d\n", nil, "", map[string]string{"V": "d"}},
		{"ARG without a value keeps the ENV", "FROM x\nENV V=e\nARG V\n", nil, "", map[string]string{"V": "e"}},
		{"ENV after ARG wins", "FROM x\nARG V=d\nENV V=e\n", map[string]string{"V": "b"}, "", map[string]string{"V": "e"}},
		{"global default reads earlier globals", "ARG A=1\nARG B=${A}0\nFROM x\nARG B\n", nil, "", map[string]string{"B": "10"}},
		{"global default reads a build arg", "ARG A=1\nARG B=${A}0\nFROM x\nARG B\n", map[string]string{"A": "2"}, "", map[string]string{"B": "20"}},
		{"global build arg", "ARG A=1\nARG B=${A}0\nFROM x\nARG B\n", map[string]string{"B": "5"}, "", map[string]string{"B": "5"}},
		{"ARG reads the ARG before it", "FROM x\nARG A=1 B=${A}2\n", nil, "", map[string]string{"A": "1", "B": "12"}},
		{"ENV reads the state before it", "FROM x\nENV A=1\nENV A=2 B=$A\n", nil, "", map[string]string{"A": "2", "B": "1"}},
		{"quoted default", "FROM x\nARG V=\"a b\"\n", nil, "", map[string]string{"V": "a b"}},
		{"TARGETARCH needs an ARG", "FROM x\nRUN true\n", nil, "arm64", map[string]string{"TARGETARCH": unset}},
		{"TARGETARCH from --arch", "FROM x\nARG TARGETARCH TARGETPLATFORM\n", nil, "arm64", map[string]string{"TARGETARCH": "arm64", "TARGETPLATFORM": "linux/arm64"}},
		{"TARGETARCH from a build arg", "FROM x\nARG TARGETARCH\n", map[string]string{"TARGETARCH": "amd64"}, "arm64", map[string]string{"TARGETARCH": "amd64"}},
		{"a stage's state goes to the stage built on it", "FROM x AS build\nARG V=d\nENV E=e\nFROM build\nRUN true\n", nil, "", map[string]string{"V": "d", "E": "e"}},
		{"FROM names a stage through a global ARG", "ARG BUILDER=build\nFROM x AS build\nENV E=e\nFROM ${BUILDER}\nRUN true\n", nil, "", map[string]string{"E": "e"}},
		{"FROM names a stage through a build arg", "ARG BUILDER=other\nFROM x AS build\nENV E=e\nFROM x AS other\nENV E=o\nFROM ${BUILDER}\nRUN true\n", map[string]string{"BUILDER": "build"}, "", map[string]string{"E": "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := lastVars(t, tt.src, Options{BuildArgs: tt.args, Arch: tt.arch})
			for k, want := range tt.want {
				got, ok := vars[k]
				if !ok {
					got = unset
				}
				if got != want {
					t.Errorf("%s = %q, want %q (all: %v)", k, got, want, vars)
				}
			}
		})
	}
}

func TestUnusedBuildArgs(t *testing.T) {
	f, err := Parse("Dockerfile", strings.NewReader("ARG G=1\nFROM x AS build\nARG S\nFROM scratch\nCOPY --from=build /a /a\n"), Options{BuildArgs: map[string]string{
		"G": "", "S": "", "TYPO": "", "HTTP_PROXY": "", "TARGETARCH": "", "BUILDKIT_INLINE_CACHE": "1", "OTHER": "",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.UnusedBuildArgs(); !slices.Equal(got, []string{"OTHER", "TYPO"}) {
		t.Errorf("UnusedBuildArgs = %v, want [OTHER TYPO] (an ARG of any stage consumes one)", got)
	}
}

// TestForLayerBuildArgs: a COPY whose destination comes from an ARG maps
// to its layer with the build arg's value, and not with the default.
func TestForLayerBuildArgs(t *testing.T) {
	src := `ARG TASKDIR=/var/task
FROM public.ecr.aws/lambda/provided:al2023
ARG TASKDIR
ARG SUB=lib
COPY bootstrap ${TASKDIR}/bootstrap
COPY libs ${TASKDIR}/${SUB}/
`
	layers := []string{"ADD file:0123abcd in / ", "COPY bootstrap /opt/fn/bootstrap # buildkit", "COPY libs /opt/fn/vendor/ # buildkit"}
	for name, tt := range map[string]struct {
		args map[string]string
		want []int
	}{
		"defaults":   {nil, []int{0, 0, 0}},
		"build args": {map[string]string{"TASKDIR": "/opt/fn", "SUB": "vendor"}, []int{0, 5, 6}},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Parse("Dockerfile", strings.NewReader(src), Options{BuildArgs: tt.args})
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := range layers {
				in, _ := f.ForLayer(layers, i)
				got = append(got, in.Line)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines %v, want %v (vars %v)", got, tt.want, f.lineage()[len(f.lineage())-1].vars)
			}
		})
	}
}

// TestBuildArgsMeasured compares the destinations of COPYs, as this
// package expands them, with where buildkit put the file: the Dockerfiles
// below were built with dockerd 20.10.24's buildkit (the dockerfile.v0
// frontend, linux/amd64, exporting the result as a tar) with each set of
// build args, and the paths of the result's files written down here.
func TestBuildArgsMeasured(t *testing.T) {
	one := `ARG G=/g
ARG A=1
ARG B=${A}0
FROM scratch
ENV V=/env
COPY f ${V}/f1
ARG V=/argdefault
COPY f ${V}/f2
ARG G
COPY f ${G}/f3
ARG U
COPY f /u2${U:-dflt}/f5
ARG B
COPY f /b${B}/f6
ENV W=/w
ARG W
COPY f ${W}/f7
ARG X=/xdef
ENV X=/xenv
COPY f ${X}/f8
COPY f /notdeclared${NOPE:-none}/f9
`
	two := `ARG BUILDER=one
FROM scratch AS one
ARG S=/s1
ENV E=/e1
FROM scratch AS two
ENV E=/e2
FROM ${BUILDER}
COPY f ${E}/g1
COPY f /t${TARGETARCH}/g2
ARG TARGETARCH
COPY f /t${TARGETARCH}/g3
COPY f ${S}/g4
ARG Q="a b"
COPY f /q${Q}/g5
`
	tests := []struct {
		src  string
		args map[string]string
		want []string // the COPYs' destinations, in order
	}{
		{one, nil, []string{"/env/f1", "/argdefault/f2", "/g/f3", "/u2dflt/f5", "/b10/f6", "/w/f7", "/xenv/f8", "/notdeclarednone/f9"}},
		{one, map[string]string{"U": ""}, []string{"/env/f1", "/argdefault/f2", "/g/f3", "/u2dflt/f5", "/b10/f6", "/w/f7", "/xenv/f8", "/notdeclarednone/f9"}},
		{one, map[string]string{"U": "/given"}, []string{"/env/f1", "/argdefault/f2", "/g/f3", "/u2/given/f5", "/b10/f6", "/w/f7", "/xenv/f8", "/notdeclarednone/f9"}},
		{one, map[string]string{"G": "/gb", "A": "2"}, []string{"/env/f1", "/argdefault/f2", "/gb/f3", "/u2dflt/f5", "/b20/f6", "/w/f7", "/xenv/f8", "/notdeclarednone/f9"}},
		{one, map[string]string{"B": "/bb", "V": "/vb", "W": "/wb", "X": "/xb", "NOPE": "/n"}, []string{"/env/f1", "/vb/f2", "/g/f3", "/u2dflt/f5", "/b/bb/f6", "/wb/f7", "/xenv/f8", "/notdeclarednone/f9"}},
		// ${TARGETARCH} before its ARG, and ${S} in a stage that
		// declares no S, were empty for buildkit; this package leaves a
		// variable it cannot know (the base image might set it) as
		// written, to match any text.
		{two, nil, []string{"/e1/g1", "/t${TARGETARCH}/g2", "/tamd64/g3", "/s1/g4", "/qa b/g5"}},
		{two, map[string]string{"BUILDER": "two"}, []string{"/e2/g1", "/t${TARGETARCH}/g2", "/tamd64/g3", "${S}/g4", "/qa b/g5"}},
		{two, map[string]string{"TARGETARCH": "arm64", "S": "/sb"}, []string{"/e1/g1", "/t${TARGETARCH}/g2", "/tarm64/g3", "/sb/g4", "/qa b/g5"}},
	}
	for i, tt := range tests {
		f, err := Parse("Dockerfile", strings.NewReader(tt.src), Options{BuildArgs: tt.args, Arch: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range f.lineage() {
			if in.Cmd == "COPY" {
				args := nextValues(in.node)
				got = append(got, expand(args[len(args)-1], in.vars))
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("case %d (%v):\n got %q\nwant %q", i, tt.args, got, tt.want)
		}
	}
}
