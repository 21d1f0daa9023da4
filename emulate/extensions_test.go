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

// A /opt that leads out of the root is not followed on the host.
func TestListExtensionsStaysInRoot(t *testing.T) {
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, "extensions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "extensions", "host-file"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "opt")); err != nil {
		t.Fatal(err)
	}
	got, err := listExtensions(root)
	if len(got) != 0 || err == nil {
		t.Errorf("listExtensions through a link out of the root = %v, %v; want an error and nothing", got, err)
	}
}
