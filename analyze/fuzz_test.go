package analyze

import (
	"bytes"
	delf "debug/elf"
	"testing"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// The parsers that read bytes from images must never panic or loop on
// hostile input: ELF files (whole, as a prefix, and read by spans),
// ld.so.cache, shebang lines and the shell subset of entry scripts. `make
// fuzz` runs these for FUZZTIME each; CI runs each briefly.

func FuzzParseELF(f *testing.F) {
	f.Add(testimage.ELF(delf.EM_X86_64, "/lib64/ld-linux-x86-64.so.2"))
	f.Add(testimage.ELF(delf.EM_AARCH64, ""))
	f.Add(fixtures.ELFSpec{Interp: fixtures.GlibcInterp, Needed: []string{"libstdc++.so.6", "libc.so.6"}, RunPath: "$ORIGIN/lib"}.Build())
	f.Add(fixtures.ELFSpec{Class32: true, Machine: delf.EM_386, Soname: "libx.so.1", Needed: []string{"libc.so.6"}}.Build())
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e1, err1 := ParseELF(b)
		e2, err2 := ReadELF(bytes.NewReader(b), int64(len(b)), nil)
		// Both see the whole file: they must agree.
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("ParseELF error %v, ReadELF error %v", err1, err2)
		}
		if e1 != nil && e2 != nil && (e1.Machine != e2.Machine || len(e1.Needed) != len(e2.Needed) || e1.Interp != e2.Interp) {
			t.Fatalf("ParseELF %+v, ReadELF %+v", e1, e2)
		}
		if len(b) > 64 {
			ReadELF(bytes.NewReader(b), int64(len(b)), b[:64])
		}
	})
}

func FuzzParseLDCache(f *testing.F) {
	f.Add([]byte("glibc-ld.so.cache1.1"))
	f.Add([]byte("ld.so-1.7.0\x00\x00\x00\x00"))
	f.Add(append([]byte("glibc-ld.so.cache1.1"), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseLDCache(b)
	})
}

func FuzzShebangAndShell(f *testing.F) {
	f.Add([]byte("#!/bin/sh\nset -e\nexec /var/task/bootstrap \"$@\"\n"))
	f.Add([]byte("#!/usr/bin/env -S python3 -u\r\n"))
	f.Add([]byte("\xef\xbb\xbf#!/bin/bash\nif [ -z \"${AWS_LAMBDA_RUNTIME_API}\" ]; then\n  exec /usr/local/bin/aws-lambda-rie /usr/bin/npx aws-lambda-ric $1\nelse\n  exec /usr/bin/npx aws-lambda-ric $1\nfi\n"))
	f.Add([]byte("#!/bin/sh\nA=${B:-/x}; exec ${A}/run 'a b' \"c $d\" > /dev/null 2>&1 &\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.HasPrefix(b, []byte("#!")) { // as its callers ensure
			ParseShebang(b)
		}
		ParseShell(string(b))
		lastExec(string(b), []string{"PATH=/usr/bin:/bin", "B=/opt"}, []string{"handler.main"})
	})
}

// FuzzAnalyzeScript: the start-up script walker (parse, expansion, the
// write and builtin tables) never panics, whatever the script.
func FuzzAnalyzeScript(f *testing.F) {
	f.Add("#!/bin/sh\nset -euo pipefail\n. \"$LAMBDA_TASK_ROOT/$(echo $_HANDLER | cut -d. -f1).sh\"\nwhile true; do X=$(curl -sS \"http://$AWS_LAMBDA_RUNTIME_API/x\"); done\n")
	f.Add("f() { jq . x > /var/task/y; }\nf\ncd /var/task && exec ./bootstrap \"$@\"\n")
	f.Add("case $1 in a) mkdir -p ~/x ;; esac; ${X:-/bin/true} 2>&1 | tee -a /var/log/l; sed -i -e s/a/b/ /etc/f; cp -t /opt a b\n")
	f.Fuzz(func(t *testing.T, text string) {
		FirstDashSyntaxError(text)
		for _, fl := range []ShellFlavour{FlavourDash, FlavourBash} {
			file, err := ParseScript(text, fl)
			if err != nil {
				continue
			}
			s := &Script{Text: text, Flavour: fl}
			AnalyzeScript(s, file, scriptEnv(nil), "/var/task", false,
				func(string) (string, bool) { return "g() { :; }\n", true },
				func(string) ([]string, bool) { return []string{"a.sh", "b.sh"}, true })
			ShellTarget(s)
			for i := range s.Commands {
				ShellOptions(append([]string{}, s.Commands[i].Name.Value))
			}
		}
	})
}
