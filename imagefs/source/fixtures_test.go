package source

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// fixtures is the directory of the checked-in real-format images.
var fixtures = filepath.Join("..", "..", "testdata", "images")

// layerFiles lists the entry names of a layer.
func layerFiles(t *testing.T, img *Image, i int) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(decompress(t, readLayer(t, img, i))))
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		names = append(names, hdr.Name)
	}
}

// layerFile returns the content of name in layer i.
func layerFile(t *testing.T, img *Image, i int, name string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(decompress(t, readLayer(t, img, i))))
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("layer %d has no %s: %v", i, name, err)
		}
		if hdr.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		ref        string
		source     Kind
		arch       string
		wantArch   string
		index      int // children in the index, 0 for none
		manifest   bool
		entrypoint string
	}{
		{"hello-docker-archive.tar", DockerArchive, "", "amd64", 0, false, "/var/runtime/bootstrap"},
		{"hello-containerd-archive.tar", DockerArchive, "", "amd64", 0, true, "/var/runtime/bootstrap"},
		{"hello-oci", OCILayout, "amd64", "amd64", 4, true, "/var/runtime/bootstrap"},
		{"hello-oci", OCILayout, "arm64", "arm64", 4, true, "/var/runtime/bootstrap"},
		{"hello-oci:latest", OCILayout, "arm64", "arm64", 4, true, "/var/runtime/bootstrap"},
		{"hello-oci-archive.tar", OCIArchive, "", "amd64", 2, true, "/var/runtime/bootstrap"},
		{"broken-entrypoint.tar", DockerArchive, "", "amd64", 0, false, "/usr/local/bin/aws_lambda_ric"},
	}
	for _, tt := range tests {
		t.Run(tt.ref+"/"+tt.arch, func(t *testing.T) {
			img := mustLoad(t, filepath.Join(fixtures, tt.ref), Options{Arch: tt.arch})
			if img.Source != tt.source {
				t.Errorf("Source = %s, want %s", img.Source, tt.source)
			}
			if img.Platform.Architecture != tt.wantArch {
				t.Errorf("arch = %s, want %s", img.Platform.Architecture, tt.wantArch)
			}
			if (img.Manifest != nil) != tt.manifest || (img.Digest != "") != tt.manifest {
				t.Errorf("Manifest %v Digest %q, want a manifest: %v", img.Manifest != nil, img.Digest, tt.manifest)
			}
			switch {
			case tt.index == 0 && img.Index != nil:
				t.Errorf("Index = %+v, want none", img.Index)
			case tt.index > 0 && (img.Index == nil || len(img.Index.Manifests) != tt.index):
				t.Errorf("Index = %+v, want %d children", img.Index, tt.index)
			}
			if ep := img.Config.Config.Entrypoint; len(ep) != 1 || ep[0] != tt.entrypoint {
				t.Errorf("Entrypoint = %v", ep)
			}
			checkLayers(t, img)
			for _, l := range img.Layers {
				if l.CreatedBy == "" {
					t.Errorf("layer %s has no CreatedBy (history has empty_layer entries to skip)", l.Digest)
				}
			}
		})
	}

	t.Run("fake ELF shells parse", func(t *testing.T) {
		for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
			img := mustLoad(t, "oci:"+filepath.Join(fixtures, "hello-oci"), Options{Arch: arch})
			f, err := elf.NewFile(bytes.NewReader(layerFile(t, img, 0, "bin/sh")))
			if err != nil {
				t.Fatalf("%s bin/sh: %v", arch, err)
			}
			if f.Machine != machine || f.Class != elf.ELFCLASS64 {
				t.Errorf("%s bin/sh: machine %v class %v", arch, f.Machine, f.Class)
			}
		}
	})

	t.Run("broken-entrypoint story", func(t *testing.T) {
		img := mustLoad(t, "docker-archive:"+filepath.Join(fixtures, "broken-entrypoint.tar"), Options{})
		var all []string
		for i := range img.Layers {
			all = append(all, layerFiles(t, img, i)...)
		}
		if !slices.Contains(all, "usr/local/bundle/bin/aws_lambda_ric") || slices.Contains(all, "usr/local/bin/aws_lambda_ric") {
			t.Errorf("the binstub must be under /usr/local/bundle/bin only: %v", all)
		}
		if got := img.Layers[1].CreatedBy; got != "/bin/sh -c gem install aws_lambda_ric" {
			t.Errorf("layer 1 CreatedBy = %q", got)
		}
	})
}

// TestFixturesRegenerate runs the generator into a temporary directory and
// compares every byte with the checked-in fixtures.
func TestFixturesRegenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the generator")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	out := t.TempDir()
	cmd := exec.Command(goBin, "run", "./testdata/images/gen", "-out", out)
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./testdata/images/gen: %v\n%s", err, b)
	}
	want := treeFiles(t, fixtures)
	got := treeFiles(t, out)
	for name, data := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: not generated", name)
		} else if !bytes.Equal(g, data) {
			t.Errorf("%s: regenerated bytes differ: run `go run ./testdata/images/gen`", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: generated but not checked in", name)
		}
	}
}

// treeFiles maps the fixture files under dir (not the generator) to their
// contents.
func treeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel == "gen" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "README.md" {
			return nil
		}
		b, err := os.ReadFile(p)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
