package source

import "testing"

func TestStableName(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		kind Kind
		want string
	}{
		{"docker:fn:sha-1a2b3c", Daemon, "docker:fn"},
		{"docker:fn", Daemon, "docker:fn"},
		{"fn:v2", Daemon, "fn"},
		{"registry:123456789012.dkr.ecr.us-east-1.amazonaws.com/team/fn:v2", Registry, "registry:123456789012.dkr.ecr.us-east-1.amazonaws.com/team/fn"},
		{"localhost:5000/fn@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12", Registry, "localhost:5000/fn"},
		{"localhost:5000/fn:1.0@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12", Registry, "localhost:5000/fn"},
		{"localhost:5000/fn", Registry, "localhost:5000/fn"},
		{"build/fn:v2.tar", DockerArchive, "build/fn:v2.tar"},
		{"oci:layout", OCILayout, "oci:layout"},
	} {
		if got := StableName(tc.ref, tc.kind); got != tc.want {
			t.Errorf("StableName(%q, %s) = %q, want %q", tc.ref, tc.kind, got, tc.want)
		}
	}
}
