package source

import (
	"fmt"
	"io"
	"os"
)

// stdinRef is the reference that reads an image archive from stdin.
const stdinRef = "-"

// loadStdin reads a docker save or OCI archive (possibly gzip, zstd or
// bzip2 compressed) from opts.Stdin (os.Stdin when nil): it is spooled
// to a temporary file in opts.TempDir, up to maxImageBytes, then read as a
// file would be. The spool is removed by Image.Close, or at once on error.
// want is the prefix given (docker-archive:- or oci-archive:-), "" for -.
func loadStdin(opts Options, want Kind) (*Image, error) {
	in := opts.Stdin
	if in == nil {
		in = os.Stdin
	}
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return nil, errorf(Usage, "- reads an image archive from stdin, and stdin is a terminal: pipe one in (docker save fn | lambdoctor inspect -)")
		}
	}
	out, err := os.CreateTemp(opts.TempDir, "lambdoctor-stdin-*.tar")
	if err != nil {
		return nil, errorf(Usage, "creating a temporary file (set the temp dir to a writable directory): %v", err)
	}
	name := out.Name()
	remove := func() error {
		err := out.Close()
		if rerr := os.Remove(name); rerr != nil && err == nil {
			err = rerr
		}
		return err
	}
	limit := spoolLimit{bytes: maxImageBytes, name: "maxImageBytes", why: "Lambda images are at most 10 GB uncompressed"}
	w := &cappedWriter{f: out, limit: limit, what: "the archive read from stdin"}
	// One byte past the limit tells an archive of exactly the limit from
	// a larger one.
	n, err := io.Copy(w, io.LimitReader(in, limit.bytes+1))
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		remove()
		return nil, reclassify(Corrupt, err, "reading the archive from stdin after %s", humanSize(n))
	}
	if n == 0 {
		remove()
		return nil, errorf(NotAnImage, "stdin was empty: expected a docker save or OCI archive (docker save fn | lambdoctor inspect -)")
	}
	if opts.Notef != nil {
		opts.Notef("read %s from stdin into %s", humanSize(n), opts.tempDirName())
	}
	label := fmt.Sprintf("the archive read from stdin (%s)", humanSize(n))
	img, err := loadArchiveFile(name, label, selector{}, want, opts)
	if err != nil {
		remove()
		return nil, err
	}
	inner := img.cleanup
	img.cleanup = func() error {
		err := inner()
		if rerr := remove(); rerr != nil && err == nil {
			err = rerr
		}
		return err
	}
	return img, nil
}

// tempDirName names where spooled files go, for notes.
func (o Options) tempDirName() string {
	if o.TempDir != "" {
		return o.TempDir
	}
	return os.TempDir()
}
