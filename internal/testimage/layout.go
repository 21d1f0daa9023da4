package testimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Build is Image for programs without a testing.TB (fixture generators):
// the same image for the same Spec.
func Build(s Spec) (v1.Image, error) {
	var img v1.Image = empty.Image
	layerType := types.DockerLayer
	if s.OCI {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		layerType = types.OCILayer
	}
	for i, files := range s.Layers {
		gz := Gzip(Tar(files...))
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(gz)), nil
		}, tarball.WithMediaType(layerType))
		if err != nil {
			return nil, fmt.Errorf("building layer %d: %w", i, err)
		}
		createdBy := fmt.Sprintf("COPY layer%d / # buildkit", i)
		if i < len(s.CreatedBy) {
			createdBy = s.CreatedBy[i]
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   l,
			History: v1.History{CreatedBy: createdBy, Created: v1.Time{Time: Epoch}},
		})
		if err != nil {
			return nil, fmt.Errorf("appending layer %d: %w", i, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", "amd64", ""
	if s.OS != "" {
		cf.OS = s.OS
	}
	if s.Arch != "" {
		cf.Architecture = s.Arch
	}
	if s.Variant != "" {
		cf.Variant = s.Variant
	}
	cf.Config = s.Config
	cf.Created = v1.Time{Time: Epoch}
	return mutate.ConfigFile(img, cf)
}

// AttestedIndex wraps images in an OCI image index the way buildx pushes a
// build with its default provenance: one child per image, with the platform
// from its config, then one attestation manifest per image (platform
// unknown/unknown, annotations vnd.docker.reference.type and
// vnd.docker.reference.digest).
func AttestedIndex(imgs ...v1.Image) (v1.ImageIndex, error) {
	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds, atts []mutate.IndexAddendum
	for i, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
		}})
		att, err := attestation(digest)
		if err != nil {
			return nil, err
		}
		atts = append(atts, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{
				"vnd.docker.reference.type":   "attestation-manifest",
				"vnd.docker.reference.digest": digest.String(),
			},
		}})
	}
	return mutate.AppendManifests(idx, append(adds, atts...)...), nil
}

// attestation is a provenance attestation manifest for subject, shaped like
// buildx's: an OCI image whose one layer is an in-toto statement.
func attestation(subject v1.Hash) (v1.Image, error) {
	stmt := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[{"name":"_","digest":{"sha256":%q}}],"predicate":{}}`, subject.Hex)
	layer := static.NewLayer([]byte(stmt), "application/vnd.in-toto+json")
	var img v1.Image = mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, mutate.Addendum{
		Layer:       layer,
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
	})
	if err != nil {
		return nil, fmt.Errorf("building attestation: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "unknown", "unknown"
	cf.Created = v1.Time{Time: Epoch}
	cf.History = nil
	return mutate.ConfigFile(img, cf)
}

// tarWriter writes deterministic archive members.
type tarWriter struct {
	tw *tar.Writer
}

func (t tarWriter) dir(name string) error {
	return t.tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: Epoch, Format: tar.FormatPAX})
}

func (t tarWriter) file(name string, b []byte) error {
	if err := t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b)), ModTime: Epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := t.tw.Write(b)
	return err
}

func (t tarWriter) json(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.file(name, b)
}

// legacyManifest is one entry of a docker save manifest.json.
type legacyManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteLegacyArchive writes img as `docker save` did before Docker 25:
// <id>/layer.tar uncompressed with <id>/VERSION and <id>/json,
// <config-hex>.json, manifest.json and repositories. tag is "name:tag".
func WriteLegacyArchive(w io.Writer, tag string, img v1.Image) error {
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfgHex := sha256Hex(rawConfig)
	t := tarWriter{tar.NewWriter(w)}
	m := legacyManifest{Config: cfgHex + ".json", RepoTags: []string{tag}}
	parent := ""
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return err
		}
		id := sha256Hex([]byte(parent + " " + diffID.String()))
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		v1json := map[string]any{"id": id, "created": Epoch, "container_config": map[string]any{}}
		if parent != "" {
			v1json["parent"] = parent
		}
		if err := t.dir(id); err != nil {
			return err
		}
		if err := t.file(id+"/VERSION", []byte("1.0")); err != nil {
			return err
		}
		if err := t.json(id+"/json", v1json); err != nil {
			return err
		}
		if err := t.file(id+"/layer.tar", data); err != nil {
			return err
		}
		m.Layers = append(m.Layers, id+"/layer.tar")
		parent = id
	}
	if err := t.file(m.Config, rawConfig); err != nil {
		return err
	}
	if err := t.json("manifest.json", []legacyManifest{m}); err != nil {
		return err
	}
	repo, tagName := splitTag(tag)
	if err := t.json("repositories", map[string]map[string]string{repo: {tagName: parent}}); err != nil {
		return err
	}
	return t.tw.Close()
}

// ContainerdOptions vary the Docker ≥ 25 archive WriteContainerdArchive
// makes.
type ContainerdOptions struct {
	// Uncompressed stores layers as plain tar blobs with a manifest
	// rewritten to match, as the classic image store exports them.
	Uncompressed bool
	// OtherPlatforms puts the image in an index next to entries for these
	// platforms whose blobs are absent, as a pulled multi-platform image
	// saves from the containerd store.
	OtherPlatforms []v1.Platform
}

// WriteContainerdArchive writes img as `docker save` does since Docker 25:
// an OCI layout (oci-layout, index.json, blobs/sha256/...) plus the legacy
// manifest.json whose Config and Layers name the blobs.
func WriteContainerdArchive(w io.Writer, tag string, img v1.Image, o ContainerdOptions) error {
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	blobs := map[string][]byte{}
	add := func(b []byte) string {
		h := sha256Hex(b)
		blobs[h] = b
		return h
	}
	cfgHex := add(rawConfig)
	manifest := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(rawConfig)), Digest: v1.Hash{Algorithm: "sha256", Hex: cfgHex}},
	}
	if m, err := img.Manifest(); err == nil && !o.Uncompressed {
		manifest = *m
	}
	m := legacyManifest{Config: "blobs/sha256/" + cfgHex, RepoTags: []string{tag}}
	for i, l := range layers {
		var rc io.ReadCloser
		if o.Uncompressed {
			rc, err = l.Uncompressed()
		} else {
			rc, err = l.Compressed()
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		h := add(data)
		if o.Uncompressed {
			manifest.Layers = append(manifest.Layers, v1.Descriptor{
				MediaType: types.OCIUncompressedLayer, Size: int64(len(data)), Digest: v1.Hash{Algorithm: "sha256", Hex: h},
			})
		}
		m.Layers = append(m.Layers, "blobs/sha256/"+h)
	}
	rawManifest, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if !o.Uncompressed {
		if rawManifest, err = img.RawManifest(); err != nil {
			return err
		}
	}
	manHex := add(rawManifest)
	repo, tagName := splitTag(tag)
	top := v1.Descriptor{
		MediaType: manifest.MediaType, Size: int64(len(rawManifest)), Digest: v1.Hash{Algorithm: "sha256", Hex: manHex},
		Annotations: map[string]string{
			"io.containerd.image.name":          containerdName(repo) + ":" + tagName,
			"org.opencontainers.image.ref.name": tagName,
		},
	}
	if len(o.OtherPlatforms) > 0 {
		children := []v1.Descriptor{{
			MediaType: top.MediaType, Size: top.Size, Digest: top.Digest,
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
		}}
		for _, p := range o.OtherPlatforms {
			children = append(children, v1.Descriptor{
				MediaType: types.OCIManifestSchema1, Size: 1234,
				Digest:   v1.Hash{Algorithm: "sha256", Hex: sha256Hex([]byte("absent " + p.String()))},
				Platform: &p,
			})
		}
		rawIndex, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: children})
		if err != nil {
			return err
		}
		idxHex := add(rawIndex)
		top = v1.Descriptor{
			MediaType: types.OCIImageIndex, Size: int64(len(rawIndex)), Digest: v1.Hash{Algorithm: "sha256", Hex: idxHex},
			Annotations: top.Annotations,
		}
	}
	t := tarWriter{tar.NewWriter(w)}
	if err := t.dir("blobs"); err != nil {
		return err
	}
	if err := t.dir("blobs/sha256"); err != nil {
		return err
	}
	hexes := make([]string, 0, len(blobs))
	for h := range blobs {
		hexes = append(hexes, h)
	}
	sort.Strings(hexes)
	for _, h := range hexes {
		if err := t.file("blobs/sha256/"+h, blobs[h]); err != nil {
			return err
		}
	}
	if err := t.json("index.json", v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{top}}); err != nil {
		return err
	}
	if err := t.json("manifest.json", []legacyManifest{m}); err != nil {
		return err
	}
	if err := t.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return t.tw.Close()
}

// TarDir packs the directory dir (an OCI layout) into w, sorted, with
// fixed times and modes, as buildx --output type=oci,dest=x.tar does.
func TarDir(w io.Writer, dir string) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	t := tarWriter{tar.NewWriter(w)}
	for _, p := range names {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			err = t.dir(rel)
		case fi.Mode().IsRegular():
			var b []byte
			if b, err = os.ReadFile(p); err == nil {
				err = t.file(rel, b)
			}
		default:
			err = fmt.Errorf("%s: not a regular file or directory", p)
		}
		if err != nil {
			return err
		}
	}
	return t.tw.Close()
}

// ELF returns a minimal, well-formed ELF64 little-endian executable header
// for machine (elf.EM_X86_64, elf.EM_AARCH64): one PT_LOAD, plus PT_INTERP
// naming interp when it is not empty (a dynamically linked binary). It is
// not runnable; debug/elf parses it.
func ELF(machine elf.Machine, interp string) []byte {
	const ehsize, phentsize = 64, 56
	phnum := 1
	if interp != "" {
		phnum = 2
	}
	interpOff := uint64(ehsize + phentsize*phnum)
	size := interpOff + uint64(len(interp)+1)
	if interp == "" {
		size = interpOff
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(elf.ELFOSABI_NONE)}
	b.Write(ident[:])
	w := func(v any) { _ = binary.Write(&b, le, v) }
	w(uint16(elf.ET_EXEC))
	w(uint16(machine))
	w(uint32(elf.EV_CURRENT))
	w(uint64(0x400000 + interpOff)) // e_entry
	w(uint64(ehsize))               // e_phoff
	w(uint64(0))                    // e_shoff
	w(uint32(0))                    // e_flags
	w(uint16(ehsize))
	w(uint16(phentsize))
	w(uint16(phnum))
	w(uint16(64)) // e_shentsize
	w(uint16(0))  // e_shnum
	w(uint16(0))  // e_shstrndx
	if interp != "" {
		w(uint32(elf.PT_INTERP))
		w(uint32(elf.PF_R))
		w(interpOff)
		w(uint64(0x400000 + interpOff))
		w(uint64(0x400000 + interpOff))
		w(uint64(len(interp) + 1))
		w(uint64(len(interp) + 1))
		w(uint64(1))
	}
	w(uint32(elf.PT_LOAD))
	w(uint32(elf.PF_R | elf.PF_X))
	w(uint64(0))
	w(uint64(0x400000))
	w(uint64(0x400000))
	w(size)
	w(size)
	w(uint64(0x1000))
	if interp != "" {
		b.WriteString(interp)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// splitTag splits "name:tag" (tag "latest" when absent).
func splitTag(s string) (string, string) {
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Contains(s[i:], "/") {
		return s, "latest"
	}
	return s[:i], s[i+1:]
}

// containerdName is the fully qualified name containerd records
// ("hello" → "docker.io/library/hello").
func containerdName(repo string) string {
	first, _, found := strings.Cut(repo, "/")
	switch {
	case !found:
		return "docker.io/library/" + repo
	case strings.ContainsAny(first, ".:") || first == "localhost":
		return repo
	default:
		return "docker.io/" + repo
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
