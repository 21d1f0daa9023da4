package checks

import (
	"context"
	delf "debug/elf"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// The checks that read the entrypoint binary (ELF, runtime client, TLS
// stack) share one read of it: its layer is decompressed once, not once
// per check.
func TestReadFileSharedAcrossChecks(t *testing.T) {
	bin := string(testimage.ELF(delf.EM_X86_64, "")) + strings.Repeat("\x00lambda_runtime", 4096)
	si := newImage(t, testimage.Spec{
		Config: v1.Config{Entrypoint: []string{"/var/task/bootstrap"}, WorkingDir: "/var/task"},
		Layers: [][]testimage.File{{testimage.Dir("var/task", 0), testimage.Reg("var/task/bootstrap", 0o755, bin)}},
	})
	tgt := newTargetFrom(t, si, "amd64")
	for _, c := range []Check{MustLookup("LD301"), MustLookup("LD401"), MustLookup("LD601")} {
		if _, err := c.Run(context.Background(), tgt); err != nil && !strings.Contains(err.Error(), "does not apply") {
			t.Fatalf("%s: %v", c.Meta().ID, err)
		}
	}
	if st := tgt.FS.Stats(); st.Reads != 1 || st.ReadBytes > st.PassBytes {
		t.Errorf("after the build the checks read %d files, decompressing %d bytes (the layer is %d); want one read", st.Reads, st.ReadBytes, st.PassBytes)
	}
}
