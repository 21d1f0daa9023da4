// Package history takes apart the created_by strings builders record in an
// image config's history, one per layer: the one parser of them, for the
// Dockerfile locator, the reports' layer lines and the checks' layer
// labels. It imports nothing of lambdoctor, so the analysis may use it.
package history

import (
	"fmt"
	"regexp"
	"strings"
)

// History is a config history's created_by taken apart. The forms are buildkit's
// ("RUN /bin/sh -c cmd # buildkit", "RUN |2 A=1 B=2 /bin/sh -c cmd #
// buildkit", "COPY src dest # buildkit", "ENV K=v") and the classic
// builder's ("/bin/sh -c cmd", "|1 ARG=v /bin/sh -c cmd", "/bin/sh -c
// #(nop)  COPY file:<hash> in dest").
type History struct {
	// Cmd is the instruction in upper case (RUN, COPY, ADD, WORKDIR, ...);
	// "" when the created_by has none of the builders' forms (a tool of
	// its own, "Imported from -").
	Cmd string
	// Text is the rest, white space collapsed and build arguments
	// ("|2 A=1 B=2") removed; for RUN the shell and the command as
	// recorded ("/bin/sh -c make"); with Cmd "", the whole created_by.
	Text string
}

var buildArgsRE = regexp.MustCompile(`^\|\d+ `)

// shellPrefix is how both builders record a shell-form RUN.
const shellPrefix = "/bin/sh -c "

// instructions are the keywords a buildkit created_by starts with.
var instructions = map[string]bool{
	"COPY": true, "ADD": true, "WORKDIR": true, "ENV": true, "USER": true, "ENTRYPOINT": true,
	"CMD": true, "LABEL": true, "EXPOSE": true, "VOLUME": true, "ARG": true, "SHELL": true,
	"STOPSIGNAL": true, "HEALTHCHECK": true, "ONBUILD": true, "MAINTAINER": true,
}

// Parse takes a created_by apart.
func Parse(s string) History {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.TrimSuffix(s, " # buildkit")
	if rest, ok := strings.CutPrefix(s, "RUN "); ok {
		return History{Cmd: "RUN", Text: stripBuildArgs(rest)}
	}
	if _, rest, ok := strings.Cut(s, "#(nop)"); ok {
		cmd, text, _ := strings.Cut(strings.TrimSpace(rest), " ")
		return History{Cmd: strings.ToUpper(cmd), Text: text}
	}
	s = stripBuildArgs(s)
	if strings.HasPrefix(s, shellPrefix) {
		return History{Cmd: "RUN", Text: s}
	}
	if cmd, text, _ := strings.Cut(s, " "); instructions[cmd] {
		return History{Cmd: cmd, Text: text}
	}
	return History{Text: s}
}

// stripBuildArgs removes the classic builder's "|N A=1 B=2 " prefix: the
// count, then that many assignments.
func stripBuildArgs(s string) string {
	if m := buildArgsRE.FindString(s); m != "" {
		var n int
		fmt.Sscanf(m, "|%d", &n)
		fields := strings.SplitN(s, " ", n+2)
		if len(fields) == n+2 {
			return fields[n+1]
		}
	}
	return s
}

// String is the instruction as a Dockerfile reads, on one line: "RUN
// make" (the recorded /bin/sh -c dropped), "COPY app.py /var/task/",
// "CMD [\"app.handler\"]"; the created_by itself when it has no known form.
func (h History) String() string {
	switch {
	case h.Cmd == "":
		return h.Text
	case h.Text == "":
		return h.Cmd
	case h.Cmd == "RUN":
		return "RUN " + strings.TrimPrefix(h.Text, shellPrefix)
	}
	return h.Cmd + " " + h.Text
}
