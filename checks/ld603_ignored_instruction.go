package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// ignoredInstruction is LD603: the image config sets USER, EXPOSE,
// HEALTHCHECK, VOLUME or STOPSIGNAL, which Lambda ignores ("Lambda ignores
// the values of any unsupported container image settings"). Information
// only; for USER it adds that the function runs as the sandbox user.
type ignoredInstruction struct{}

func (ignoredInstruction) Meta() Meta {
	return Meta{
		ID:       "LD603",
		Name:     "ignored-instruction",
		Title:    "image config sets something Lambda ignores",
		Severity: Info,
		Category: CategoryOf("LD603"),
	}
}

func (c ignoredInstruction) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	cfg := t.Config()
	var out []Finding
	add := func(instr, field, value, consequence, fix string) {
		f := NewFinding(c.Meta(), fmt.Sprintf("The image sets %s %s, which Lambda ignores: only ENTRYPOINT, CMD, WORKDIR and ENV are honoured (awsdocs images-create.md). %s", instr, value, consequence))
		f.Evidence = []string{"config." + field + "=" + value}
		f.Source, _, _ = strings.Cut(field, ".") // Healthcheck.Test: Healthcheck
		if cb := instrHistoryLine(t, instr+" "); cb != "" {
			f.Evidence = append(f.Evidence, "set by the Dockerfile line: "+cb)
		}
		f.Fix = fix
		out = append(out, f)
	}
	if u := strings.TrimSpace(cfg.User); u != "" && !isRootUser(u) {
		add("USER", "User", u,
			fmt.Sprintf("The function runs as Lambda's sandbox user (uid %d, gid %d), not as %s: files and directories that only %s can read or search will be unreadable at runtime (see LD501); only /tmp is writable.", analyze.SandboxUID, analyze.SandboxGID, u, u),
			"make the files the function needs world-readable (RUN chmod -R o+rX /var/task, or COPY --chmod=755), and keep USER only if you also run the image elsewhere")
	}
	if len(cfg.ExposedPorts) > 0 {
		var ports []string
		for p := range cfg.ExposedPorts {
			ports = append(ports, p)
		}
		sort.Strings(ports)
		add("EXPOSE", "ExposedPorts", strings.Join(ports, " "),
			"Lambda sends invocations through the Runtime API, not to a port; a web server needs the Lambda Web Adapter (/opt/extensions/lambda-adapter) to receive them.",
			"nothing is required; remove EXPOSE if the image runs only on Lambda")
	}
	if hc := cfg.Healthcheck; hc != nil && len(hc.Test) > 0 && !(len(hc.Test) == 1 && hc.Test[0] == "NONE") {
		add("HEALTHCHECK", "Healthcheck.Test", analyze.JSONList(hc.Test),
			"Lambda never runs it; a function is healthy when its runtime calls the Runtime API's next-invocation endpoint.",
			"nothing is required; remove HEALTHCHECK if the image runs only on Lambda")
	}
	if len(cfg.Volumes) > 0 {
		var vols []string
		for v := range cfg.Volumes {
			vols = append(vols, v)
		}
		sort.Strings(vols)
		consequence := "No volume is mounted there: the path stays part of the read-only image; only /tmp is writable."
		add("VOLUME", "Volumes", strings.Join(vols, " "), consequence,
			"write to /tmp instead of a VOLUME path (or mount EFS through the function configuration), and remove VOLUME")
	}
	if s := cfg.StopSignal; s != "" && s != "SIGTERM" && s != "15" {
		add("STOPSIGNAL", "StopSignal", s,
			"Lambda stops execution environments its own way; a graceful shutdown needs an extension registered for the SHUTDOWN event.",
			"nothing is required; remove STOPSIGNAL if the image runs only on Lambda")
	}
	return out, nil
}

// isRootUser reports whether a USER value names root.
func isRootUser(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "root" || name == "0"
}

// instrHistoryLine returns the last Dockerfile line of the config history that
// starts with prefix (e.g. "USER "), shortened, or "".
func instrHistoryLine(t *analyze.Target, prefix string) string {
	if t.Image == nil || t.Image.Config == nil {
		return ""
	}
	found := ""
	for _, h := range t.Image.Config.History {
		if cb := analyze.CreatedBy(h.CreatedBy); strings.HasPrefix(cb, prefix) {
			found = cb
		}
	}
	return found
}
