package imagefs

import (
	"archive/tar"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestMergeSemantics(t *testing.T) {
	tests := []struct {
		name      string
		layers    [][]tf
		want      []string
		anomalies []string
	}{
		{
			name:   "layers apply base to top",
			layers: [][]tf{{dir("etc/", 0o755), reg("etc/a", 0o644, "base")}, {reg("etc/a", 0o600, "top"), reg("etc/b", 0o644, "b")}},
			want:   []string{"/etc dir 0755", "/etc/a reg 0600 =top", "/etc/b reg 0644 =b"},
		},
		{
			name:   "whiteout deletes a lower file and never shows",
			layers: [][]tf{{dir("etc/", 0o755), reg("etc/a", 0o644, "a"), reg("etc/b", 0o644, "b")}, {dir("etc/", 0o755), wh("etc/a")}},
			want:   []string{"/etc dir 0755", "/etc/b reg 0644 =b"},
		},
		{
			name: "whiteout of a directory deletes its subtree",
			layers: [][]tf{
				{dir("opt/", 0o755), dir("opt/app/", 0o755), dir("opt/app/lib/", 0o755), reg("opt/app/lib/x.so", 0o755, "x"), reg("opt/keep", 0o644, "k")},
				{wh("opt/app")},
			},
			want: []string{"/opt dir 0755", "/opt/keep reg 0644 =k"},
		},
		{
			name: "whiteout spares the same layer's file, before or after it",
			layers: [][]tf{
				{reg("a", 0o644, "lower-a"), reg("b", 0o644, "lower-b")},
				{reg("a", 0o644, "upper-a"), wh("a"), wh("b"), reg("b", 0o644, "upper-b")},
			},
			want: []string{"/a reg 0644 =upper-a", "/b reg 0644 =upper-b"},
		},
		{
			name:   "whiteout of a missing path is harmless",
			layers: [][]tf{{reg("a", 0o644, "a")}, {wh("nope"), wh("dir/nope")}},
			want:   []string{"/a reg 0644 =a"},
		},
		{
			name: "opaque marker after the layer's own files",
			layers: [][]tf{
				{dir("d/", 0o755), reg("d/old", 0o644, "old"), dir("d/sub/", 0o755), reg("d/sub/deep", 0o644, "deep"), reg("other", 0o644, "o")},
				{dir("d/", 0o750), reg("d/new", 0o644, "new"), dir("d/sub/", 0o755), reg("d/sub/n2", 0o644, "n2"), opq("d")},
			},
			want: []string{"/d dir 0750", "/d/new reg 0644 =new", "/d/sub dir 0755", "/d/sub/n2 reg 0644 =n2", "/other reg 0644 =o"},
		},
		{
			name: "opaque marker before the layer's own files",
			layers: [][]tf{
				{dir("d/", 0o755), reg("d/old", 0o644, "old")},
				{dir("d/", 0o755), opq("d"), reg("d/new", 0o644, "new")},
			},
			want: []string{"/d dir 0755", "/d/new reg 0644 =new"},
		},
		{
			name: "opaque marker without its directory entry",
			layers: [][]tf{
				{dir("d/", 0o700), reg("d/old", 0o644, "old")},
				{opq("d")},
			},
			want: []string{"/d dir 0700"},
		},
		{
			name: "opaque marker in a new directory creates it",
			layers: [][]tf{
				{reg("x", 0o644, "x")},
				{opq("fresh")},
			},
			want: []string{"/fresh dir 0755", "/x reg 0644 =x"},
		},
		{
			name: "opaque marker hides only lower layers",
			layers: [][]tf{
				{dir("d/", 0o755), reg("d/l0", 0o644, "0")},
				{dir("d/", 0o755), reg("d/l1", 0o644, "1")},
				{dir("d/", 0o755), opq("d"), reg("d/l2", 0o644, "2")},
				{reg("d/l3", 0o644, "3")},
			},
			want: []string{"/d dir 0755", "/d/l2 reg 0644 =2", "/d/l3 reg 0644 =3"},
		},
		{
			name: "a file replaces a whole directory",
			layers: [][]tf{
				{dir("usr/", 0o755), dir("usr/lib/", 0o755), reg("usr/lib/a", 0o644, "a"), dir("usr/lib/sub/", 0o755)},
				{reg("usr/lib", 0o644, "now a file")},
			},
			want: []string{"/usr dir 0755", "/usr/lib reg 0644 =now a file"},
		},
		{
			name: "a symlink replaces a directory",
			layers: [][]tf{
				{dir("lib64/", 0o755), reg("lib64/ld.so", 0o755, "ld"), dir("usr/", 0o755), dir("usr/lib64/", 0o755)},
				{sym("lib64", "usr/lib64")},
			},
			want: []string{"/lib64 sym ->usr/lib64", "/usr dir 0755", "/usr/lib64 dir 0755"},
		},
		{
			name:   "a directory replaces a file",
			layers: [][]tf{{reg("bin", 0o755, "x")}, {dir("bin/", 0o700), reg("bin/sh", 0o755, "sh")}},
			want:   []string{"/bin dir 0700", "/bin/sh reg 0755 =sh"},
		},
		{
			// mutate.Extract gets this one wrong: it resurrects /d/old.
			name: "directory, then file, then directory: the old children stay gone",
			layers: [][]tf{
				{dir("d/", 0o755), reg("d/old", 0o644, "old")},
				{reg("d", 0o644, "file")},
				{dir("d/", 0o755), reg("d/new", 0o644, "new")},
			},
			want: []string{"/d dir 0755", "/d/new reg 0644 =new"},
		},
		{
			name: "a directory over a directory keeps children and takes the new metadata",
			layers: [][]tf{
				{dir("d/", 0o755), reg("d/a", 0o644, "a")},
				{dir("d/", 0o1777), reg("d/b", 0o644, "b")},
			},
			want: []string{"/d dir 0777", "/d/a reg 0644 =a", "/d/b reg 0644 =b"},
		},
		{
			name:      "later entry of the same path in a layer wins",
			layers:    [][]tf{{reg("f", 0o644, "first"), reg("f", 0o600, "second"), dir("d/", 0o700), dir("d/", 0o755)}},
			want:      []string{"/d dir 0755", "/f reg 0600 =second"},
			anomalies: []string{"duplicate-entry /f"},
		},
		{
			name: "hard link to a lower layer's file",
			layers: [][]tf{
				{dir("usr/", 0o755), dir("usr/bin/", 0o755), reg("usr/bin/perl5.36", 0o755, "#!perl")},
				{hard("usr/bin/perl", "usr/bin/perl5.36")},
			},
			want: []string{"/usr dir 0755", "/usr/bin dir 0755", "/usr/bin/perl reg 0755 =#!perl", "/usr/bin/perl5.36 reg 0755 =#!perl"},
		},
		{
			name: "hard link to an earlier entry of the same layer, content not captured",
			layers: [][]tf{
				{reg("data.txt", 0o644, "payload"), hard("copy.txt", "./data.txt")},
			},
			want: []string{"/copy.txt reg 0644 =payload", "/data.txt reg 0644 =payload"},
		},
		{
			name:      "hard link to nothing is skipped",
			layers:    [][]tf{{reg("a", 0o644, "a"), hard("b", "missing"), hard("c", "../../etc/shadow")}},
			want:      []string{"/a reg 0644 =a"},
			anomalies: []string{"dangling-hardlink /b", "dangling-hardlink /c"},
		},
		{
			name: "names are cleaned",
			layers: [][]tf{{
				dir("./", 0o755), reg("./a", 0o644, "a"), reg("/b", 0o644, "b"), reg("c/../d", 0o644, "d"), reg(".//e//f", 0o644, "f"),
			}},
			want: []string{"/a reg 0644 =a", "/b reg 0644 =b", "/d reg 0644 =d", "/e dir 0755", "/e/f reg 0644 =f"},
		},
		{
			name:      "names climbing above the root are skipped",
			layers:    [][]tf{{reg("../evil", 0o644, "x"), reg("a/../../evil2", 0o644, "x"), reg("/../evil3", 0o644, "x"), reg("ok", 0o644, "ok")}},
			want:      []string{"/ok reg 0644 =ok"},
			anomalies: []string{"unsafe-name ../evil", "unsafe-name /../evil3", "unsafe-name a/../../evil2"},
		},
		{
			name:   "implicit parent directories",
			layers: [][]tf{{reg("var/task/app.py", 0o644, "print(1)")}},
			want:   []string{"/var dir 0755", "/var/task dir 0755", "/var/task/app.py reg 0644 =print(1)"},
		},
		{
			name:      "escaping symlinks are kept and reported",
			layers:    [][]tf{{dir("a/", 0o755), sym("a/up", "../../../etc"), sym("a/abs", "/../x"), sym("a/fine", "../b"), sym("a/root", "/etc/passwd")}},
			want:      []string{"/a dir 0755", "/a/abs sym ->/../x", "/a/fine sym ->../b", "/a/root sym ->/etc/passwd", "/a/up sym ->../../../etc"},
			anomalies: []string{"escaping-link /a/abs", "escaping-link /a/up"},
		},
		{
			name:      "AUFS metadata and empty whiteouts are ignored",
			layers:    [][]tf{{reg("x", 0o644, "x")}, {reg(".wh..wh.plnk", 0o644, ""), reg("d/.wh.", 0o644, "")}},
			want:      []string{"/x reg 0644 =x"},
			anomalies: []string{"bad-whiteout /.wh..wh.plnk", "bad-whiteout /d/.wh."},
		},
		{
			name:      "unsupported types are skipped",
			layers:    [][]tf{{reg("x", 0o644, "x"), {name: "vol", typ: tar.TypeGNULongName + 10, mode: 0o644}}},
			want:      []string{"/x reg 0644 =x"},
			anomalies: []string{"unsupported-type /vol"},
		},
		{
			name:   "devices and fifos",
			layers: [][]tf{{{name: "dev/null", typ: tar.TypeChar, mode: 0o666}, {name: "dev/sda", typ: tar.TypeBlock, mode: 0o660}, {name: "run/p", typ: tar.TypeFifo, mode: 0o600}}},
			want:   []string{"/dev dir 0755", "/dev/null type=3", "/dev/sda type=4", "/run dir 0755", "/run/p type=6"},
		},
		{
			name: "entries below a symlinked directory are written through it",
			layers: [][]tf{
				{dir("usr/", 0o755), dir("usr/lib64/", 0o755), sym("lib64", "usr/lib64")},
				{reg("lib64/ld.so", 0o755, "ld")},
			},
			want:      []string{"/lib64 sym ->usr/lib64", "/usr dir 0755", "/usr/lib64 dir 0755", "/usr/lib64/ld.so reg 0755 =ld"},
			anomalies: []string{"symlink-parent /lib64"},
		},
		{
			name:      "entries below a file are skipped",
			layers:    [][]tf{{reg("f", 0o644, "f")}, {reg("f/x", 0o644, "x"), reg("f/y", 0o644, "y")}},
			want:      []string{"/f reg 0644 =f"},
			anomalies: []string{"parent-not-dir /f"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := build(t, tt.layers...)
			if d := diffLines(listing(t, f), tt.want); d != "" {
				t.Error(d)
			}
			if d := diffLines(kinds(f), tt.anomalies); d != "" {
				t.Errorf("anomalies: %s", d)
			}
		})
	}
}

func TestRootEntry(t *testing.T) {
	f := build(t, []tf{{name: "./", typ: tar.TypeDir, mode: 0o700, uid: 7}}, []tf{reg("a", 0o644, "")})
	e, ok := f.Lookup("/")
	if !ok || e.Mode.Perm() != 0o700 || e.UID != 7 || e.Implicit || e.Layer != 0 {
		t.Fatalf("root = %+v", e)
	}
	f = build(t, []tf{reg(".", 0o644, "")})
	if got := kinds(f); len(got) != 1 || got[0] != "unsupported-type /" {
		t.Errorf("anomalies = %v", got)
	}
}

func TestEntryMetadata(t *testing.T) {
	f := build(t,
		[]tf{
			{name: "usr/bin/sudo", typ: tar.TypeReg, mode: 0o4755, uid: 0, gid: 0, body: "elf"},
			{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
			{name: "home/app/", typ: tar.TypeDir, mode: 0o2750, uid: 1000, gid: 1001},
		},
		[]tf{hard("usr/bin/sudoedit", "usr/bin/sudo")},
	)
	tests := []struct {
		path      string
		typ       byte
		mode      uint32
		uid, gid  int
		size      int64
		layer     int
		hardlink  string
		implicit  bool
		fileMode  string
		linkCheck bool
	}{
		{path: "/usr/bin/sudo", typ: TypeReg, mode: 0o4755 &^ 0o4000, size: 3, fileMode: "urwxr-xr-x"},
		{path: "/usr/bin/sudoedit", typ: TypeReg, mode: 0o755, size: 3, layer: 1, hardlink: "/usr/bin/sudo", fileMode: "urwxr-xr-x"},
		{path: "/tmp", typ: TypeDir, mode: 0o777, fileMode: "dtrwxrwxrwx"},
		{path: "/home/app", typ: TypeDir, mode: 0o750, uid: 1000, gid: 1001, fileMode: "dgrwxr-x---"},
		{path: "/home", typ: TypeDir, mode: 0o755, implicit: true, fileMode: "drwxr-xr-x"},
	}
	for _, tt := range tests {
		e, ok := f.Lookup(tt.path)
		if !ok {
			t.Errorf("Lookup(%s): missing", tt.path)
			continue
		}
		if e.Path != tt.path || e.Type != tt.typ || uint32(e.Mode.Perm()) != tt.mode || e.UID != tt.uid || e.GID != tt.gid ||
			e.Size != tt.size || e.Layer != tt.layer || e.HardlinkTo != tt.hardlink || e.Implicit != tt.implicit ||
			e.FileMode().String() != tt.fileMode || (!tt.implicit && !e.ModTime.Equal(testEpoch)) {
			t.Errorf("Lookup(%s) = %+v (mode %v)", tt.path, e, e.FileMode())
		}
	}
}

func TestAnomalyCap(t *testing.T) {
	var es []tf
	for i := range maxAnomaliesPerLayer + 50 {
		es = append(es, reg(fmt.Sprintf("../x%d", i), 0o644, ""))
	}
	f := build(t, es, []tf{reg("../y", 0o644, "")})
	a := f.Anomalies()
	if len(a) != maxAnomaliesPerLayer+2 {
		t.Fatalf("%d anomalies", len(a))
	}
	if last := a[maxAnomaliesPerLayer]; last.Kind != AnomalyTruncated || last.Layer != 0 || last.Detail != "50 more anomalies in this layer not recorded" {
		t.Errorf("truncation = %+v", last)
	}
	if a[len(a)-1].Layer != 1 || a[len(a)-1].Kind != AnomalyUnsafeName {
		t.Errorf("layer 1 anomaly = %+v", a[len(a)-1])
	}
}

func TestUnsortedLargeDirectory(t *testing.T) {
	const n = 20000
	r := rand.New(rand.NewPCG(5, 5))
	perm := r.Perm(n)
	var l0, l1 []tf
	for _, i := range perm {
		l0 = append(l0, reg(fmt.Sprintf("big/f%05d", i), 0o644, ""))
	}
	// Reverse order too, in another directory.
	for i := n - 1; i >= 0; i-- {
		l0 = append(l0, reg(fmt.Sprintf("rev/f%05d", i), 0o644, ""))
	}
	want := map[string]bool{}
	for i := range n {
		want[fmt.Sprintf("/big/f%05d", i)] = true
		want[fmt.Sprintf("/rev/f%05d", i)] = true
	}
	for _, i := range perm[:n/3] {
		p := fmt.Sprintf("big/f%05d", i)
		l1 = append(l1, wh(p))
		delete(want, "/"+p)
		if i%2 == 0 {
			p = fmt.Sprintf("big/g%05d", i)
			l1 = append(l1, reg(p, 0o644, ""))
			want["/"+p] = true
		}
	}
	start := time.Now()
	f := build(t, l0, l1)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Build took %v", d)
	}
	var got []string
	if err := f.Walk(func(e *Entry) error {
		if e.Type == TypeReg {
			got = append(got, e.Path)
			if !want[e.Path] {
				t.Errorf("unexpected %s", e.Path)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || !slices.IsSorted(got) {
		t.Errorf("%d files (sorted %v), want %d", len(got), slices.IsSorted(got), len(want))
	}
	for p := range want {
		if _, ok := f.Lookup(p); !ok {
			t.Errorf("Lookup(%s) failed", p)
			break
		}
	}
}
