package emulate

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Lambda's order and selection (the emulator's ListExternalAgentPaths):
// every entry of /opt/extensions but directories, in name order; none
// without the directory.
func TestListExtensions(t *testing.T) {
	root := t.TempDir()
	if got, err := listExtensions(root); err != nil || got != nil {
		t.Fatalf("no /opt/extensions: %v, %v", got, err)
	}
	dir := filepath.Join(root, "opt", "extensions")
	if err := os.MkdirAll(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"zeta", "Alpha", "beta", "not-executable"} {
		mode := os.FileMode(0o755)
		if name == "not-executable" {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/opt/extensions/beta", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	got, err := listExtensions(root)
	want := []string{"/opt/extensions/Alpha", "/opt/extensions/beta", "/opt/extensions/link", "/opt/extensions/not-executable", "/opt/extensions/zeta"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("listExtensions = %v, %v; want %v", got, err, want)
	}
}

// Links resolve inside the root, as in the sandbox: an /opt that is an
// absolute link to /var/opt lists the image's /var/opt/extensions, and
// one that points out of the root by ".." stays in it.
func TestListExtensionsLinksStayInRoot(t *testing.T) {
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, "extensions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "extensions", "host-file"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var", "opt", "extensions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var", "opt", "extensions", "ext"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/var/opt", "var/opt", "../../../../../../var/opt"} {
		os.Remove(filepath.Join(root, "opt"))
		if err := os.Symlink(target, filepath.Join(root, "opt")); err != nil {
			t.Fatal(err)
		}
		got, err := listExtensions(root)
		if err != nil || !slices.Equal(got, []string{"/opt/extensions/ext"}) {
			t.Errorf("/opt -> %s: %v, %v; want /opt/extensions/ext", target, got, err)
		}
	}
	// A link to the host's directory names a path inside the root, which
	// does not exist there.
	os.Remove(filepath.Join(root, "opt"))
	if err := os.Symlink(outside, filepath.Join(root, "opt")); err != nil {
		t.Fatal(err)
	}
	if got, err := listExtensions(root); len(got) != 0 || err != nil {
		t.Errorf("/opt -> %s (the host's): %v, %v; want nothing", outside, got, err)
	}
	// A loop is an error, not a hang.
	os.Remove(filepath.Join(root, "opt"))
	if err := os.Symlink("/opt", filepath.Join(root, "opt")); err != nil {
		t.Fatal(err)
	}
	if _, err := listExtensions(root); err == nil {
		t.Error("a link loop: no error")
	}
}
