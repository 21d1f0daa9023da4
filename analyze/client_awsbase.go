package analyze

import (
	"bytes"
	"fmt"
	"path"
	"strings"
)

// This file recognises the AWS base images' /lambda-entrypoint.sh, whose
// /var/runtime/bootstrap starts the client of the image's language.

// awsBase handles /lambda-entrypoint.sh: the handler is its only argument
// and the client is what /var/runtime/bootstrap starts.
func (a *RICAnalysis) awsBase(t *Target, c *Chain, i int) {
	l := &c.Links[i]
	argv := t.Argv()
	a.Handler = handlerArg{From: "CMD"}
	if len(l.Args) == 1 {
		from := "CMD[0]"
		if argv.Overrides.Command != nil {
			from = "ImageConfig.Command[0]"
		}
		a.Handler = handlerArg{Set: true, Value: l.Args[0], Known: true, From: from}
	}
	boot := t.FS.Resolve("/var/runtime/bootstrap")
	if boot.Err != nil || boot.Entry == nil || !boot.Entry.IsRegular() {
		a.Missing = fmt.Sprintf("%s runs /var/runtime/bootstrap, which does not exist in this image", l.Path)
		a.Link = i
		return
	}
	lang := awsBaseLanguage(t, c, i)
	ev := fmt.Sprintf("/var/runtime/bootstrap: %s", t.Describe(boot.Entry))
	// A provided.* image whose bootstrap is the user's binary.
	if bytes.HasPrefix(t.FS.Head("/var/runtime/bootstrap"), []byte("\x7fELF")) {
		name, blang, bev, err := binaryClient(t, "/var/runtime/bootstrap")
		switch {
		case err != nil:
			a.Undecided = err.Error()
			return
		case name == "":
			a.Lang, a.LangLink, a.Program = blang, i, "/var/runtime/bootstrap"
			a.Why = append([]string{ev}, bev...)
			return
		}
		a.setClient(c, i, name, blang, "/var/runtime/bootstrap", append([]string{ev}, bev...)...)
		return
	}
	a.setClient(c, i, ClientAWSBase, lang, "/var/runtime/bootstrap", ev)
}

// awsBaseLanguage guesses the runtime of an AWS base image from what its
// bootstrap starts, then from /var/lang/bin.
func awsBaseLanguage(t *Target, c *Chain, from int) string {
	for j := from + 1; j < len(c.Links); j++ {
		l := &c.Links[j]
		for _, r := range runtimes {
			if r.interpreter != nil && isName(l, r.interpreter) {
				return r.Language
			}
		}
	}
	for _, r := range runtimes {
		for _, g := range r.awsBaseGlobs {
			ents, err := t.FS.ReadDir(strings.TrimPrefix(path.Dir(g), "/"))
			if err != nil {
				continue
			}
			for _, e := range ents {
				if ok, _ := path.Match(path.Base(g), e.Name()); ok {
					return r.Language
				}
			}
		}
	}
	return ""
}
