package dockerfile

import (
	"bytes"
	"testing"
)

// A Dockerfile is user input: Parse must reject bad files with an error,
// never panic or hang.
func FuzzParse(f *testing.F) {
	f.Add([]byte("FROM public.ecr.aws/lambda/python:3.12\nCOPY app.py ${LAMBDA_TASK_ROOT}\nCMD [\"app.handler\"]\n"))
	f.Add([]byte("ARG BASE=debian\nFROM $BASE AS build\nRUN echo \\\n  hi\nFROM scratch\nCOPY --from=build /x /y\nENTRYPOINT /bin/sh -c 'exec x'\n"))
	f.Add([]byte("# syntax=docker/dockerfile:1\nFROM x\nRUN <<EOF\necho hi\nEOF\n"))
	f.Add([]byte("FROM x\n# lambdoctor ignore=LD202,LD203 reason=\"a \\\"b\\\"\" paths=/a/** expires=2026-01-01\nCOPY a /a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse("Dockerfile", bytes.NewReader(b), Options{})
	})
}
