package analyze

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"runtime/debug"
)

// This file recognises clients linked into a native binary: Go's
// aws-lambda-go (from the build info), Rust's lambda_runtime, .NET's
// RuntimeSupport, or a custom client calling the Runtime API.

// binaryClient reads an ELF and says which client it links: Go build
// info, then strings. lang is "go" for Go binaries.
func binaryClient(t *Target, p string) (name, lang string, ev []string, err error) {
	r := t.FS.Resolve(p)
	if r.Err != nil || r.Entry == nil {
		return "", "", nil, fmt.Errorf("%w: %s could not be resolved", ErrNotApplicable, p)
	}
	if r.Entry.Size > maxBinaryRead {
		return "", "", nil, fmt.Errorf("%w: %s is %d bytes, more than the %d searched for a runtime client", ErrNotApplicable, p, r.Entry.Size, maxBinaryRead)
	}
	// A Go program whose build information the layer pass kept: when it
	// links aws-lambda-go, that settles it without reading the program.
	if info, ok := t.FS.ELF(r.Final); ok && info.GoVersion != "" {
		if bi, err := debug.ParseBuildInfo(info.GoModInfo); err == nil {
			for _, d := range bi.Deps {
				if d.Path == "github.com/aws/aws-lambda-go" {
					return ClientGo, "go", []string{fmt.Sprintf("%s is a Go binary (%s, main module %s) linking github.com/aws/aws-lambda-go %s", p, info.GoVersion, bi.Path, d.Version)}, nil
				}
			}
		}
	}
	b, err := t.readFile(r.Final)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: reading %s: %v", ErrNotApplicable, p, err)
	}
	if bi, err := buildinfo.Read(bytes.NewReader(b)); err == nil {
		lang = "go"
		for _, d := range bi.Deps {
			if d.Path == "github.com/aws/aws-lambda-go" {
				return ClientGo, "go", []string{fmt.Sprintf("%s is a Go binary (%s, main module %s) linking github.com/aws/aws-lambda-go %s", p, bi.GoVersion, bi.Path, d.Version)}, nil
			}
		}
		ev = append(ev, fmt.Sprintf("%s is a Go binary (%s, main module %s) whose build info lists %d module(s), none of them github.com/aws/aws-lambda-go", p, bi.GoVersion, bi.Path, len(bi.Deps)))
	}
	for _, packer := range []string{"UPX!", "_MEIPASS", "PyInstaller", "pkg/prelude/bootstrap.js", "__nuitka"} {
		if bytes.Contains(b, []byte(packer)) {
			return "", "", nil, fmt.Errorf("%w: %s is packed (it contains %q), so its strings cannot be searched for a runtime client", ErrNotApplicable, p, packer)
		}
	}
	switch {
	case bytes.Contains(b, []byte("lambda_runtime")) || bytes.Contains(b, []byte("lambda-runtime")):
		return ClientRust, "rust", []string{fmt.Sprintf("%s contains the string \"lambda_runtime\" (the Rust crate)", p)}, nil
	case bytes.Contains(b, []byte("Amazon.Lambda.RuntimeSupport")):
		return ClientDotnet, "dotnet", []string{fmt.Sprintf("%s contains \"Amazon.Lambda.RuntimeSupport\"", p)}, nil
	case bytes.Contains(b, []byte("2018-06-01/runtime")) || bytes.Contains(b, []byte("AWS_LAMBDA_RUNTIME_API")):
		return ClientCustom, lang, []string{fmt.Sprintf("%s contains the Runtime API path or AWS_LAMBDA_RUNTIME_API", p)}, nil
	}
	ev = append(ev, fmt.Sprintf("%s (%d bytes) contains neither %s nor AWS_LAMBDA_RUNTIME_API nor a runtime client's name", p, len(b), RuntimeAPIPath))
	return "", lang, ev, nil
}
