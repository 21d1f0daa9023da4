package analyze

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/fixtures"
	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

func TestPyNameScope(t *testing.T) {
	for _, tc := range []struct {
		name, src     string
		atModule      bool
		nested        int
		dynamic, what string
	}{
		{"def at top", "def handler(e, c):\n    return 1\n", true, 0, "", "a top-level def"},
		{"nowhere", "def main(e, c):\n    return 1\n", false, 0, "", "a name that occurs nowhere"},
		{"method only", "class A:\n    def handler(self):\n        pass\n", false, 1, "", "a method"},
		{"nested def", "def make():\n    def handler(e, c):\n        return 1\n    return handler\n", false, 3, "", "a nested function"},
		{"try block", "try:\n    from fast import handler\nexcept ImportError:\n    def handler(e, c):\n        pass\n", true, 0, "", "a definition under try"},
		{"after a def", "def make():\n    return 1\n\nhandler = make()\n", true, 0, "", "an assignment after a def"},
		{"star import", "from impl import *\n", false, 0, "import *", "a star import"},
		{"module getattr", "def __getattr__(n):\n    return n\n", false, 0, "__getattr__", "a module __getattr__"},
		{"tabs", "class A:\n\tdef handler(self):\n\t\tpass\n", true, 0, "", "tab indentation (undecided, counted as defined)"},
		{"suffix name", "def lambda_handler(e, c):\n    pass\n", false, 0, "", "a longer name containing it"},
	} {
		at, nested, dyn := PyNameScope(tc.src, "handler")
		if at != tc.atModule || len(nested) > 0 != (tc.nested > 0) || dyn != tc.dynamic {
			t.Errorf("%s (%s): atModule %v nested %v dynamic %q, want %v %v %q", tc.name, tc.what, at, nested, dyn, tc.atModule, tc.nested, tc.dynamic)
		}
	}
}

func TestPythonUserSite(t *testing.T) {
	for _, tc := range []struct {
		env      []string
		args     []string
		disabled bool
		base     string
	}{
		{nil, []string{"-m", "awslambdaric"}, false, LambdaHome + "/.local"},
		{[]string{"HOME=/root"}, []string{"-Xfrozen_modules=off", "-m", "awslambdaric"}, false, "/root/.local"},
		{[]string{"HOME=/root"}, []string{"-X", "importtime", "-m", "awslambdaric"}, false, "/root/.local"},
		{[]string{"HOME=/root"}, []string{"-s", "-m", "awslambdaric"}, true, "/root/.local"},
		{[]string{"HOME=/root"}, []string{"-uI", "-m", "awslambdaric"}, true, "/root/.local"},
		{[]string{"PYTHONUSERBASE=/opt/pyuser"}, []string{"-m", "awslambdaric"}, false, "/opt/pyuser"},
		{[]string{"PYTHONNOUSERSITE=1"}, []string{"-m", "awslambdaric"}, true, LambdaHome + "/.local"},
	} {
		tg := newTarget(t, fixtures.RICPySpec(v1.Config{Env: append([]string{fixtures.DockerPATH}, tc.env...)}), "amd64")
		u := pythonUserSite(tg, tc.args)
		if (u.disabled != "") != tc.disabled || u.base != tc.base {
			t.Errorf("env %v args %v: base %q disabled %q, want %q disabled=%v", tc.env, tc.args, u.base, u.disabled, tc.base, tc.disabled)
		}
	}
}

// A package directory wins over a module file of the same name, as in
// CPython's FileFinder; a directory without __init__ loses to the file.
func TestPythonModuleAtOrder(t *testing.T) {
	tg := newTarget(t, fixtures.RICPySpec(v1.Config{},
		testimage.Reg("var/task/app.py", 0o644, ""), testimage.Dir("var/task/app", 0), testimage.Reg("var/task/app/__init__.py", 0o644, ""),
		testimage.Reg("var/task/lib.py", 0o644, ""), testimage.Dir("var/task/lib", 0)), "amd64")
	if got := PythonModuleAt(tg.FS, "/var/task/app"); got != "/var/task/app" {
		t.Errorf("app: %q, want the package /var/task/app", got)
	}
	if got := PythonModuleAt(tg.FS, "/var/task/lib"); got != "/var/task/lib.py" {
		t.Errorf("lib: %q, want /var/task/lib.py before the namespace directory", got)
	}
}
