package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// daemonPingTimeout bounds the probe that decides whether a bare reference
// is looked up in the local daemon before the registry.
const daemonPingTimeout = 1500 * time.Millisecond

// daemonAnswers finds a daemon that answers a ping quickly, trying the
// endpoints of resolveDaemons in order; tried lists those that did not.
func daemonAnswers(ctx context.Context, explicit string) (daemonEndpoint, []daemonAttempt, bool) {
	cli, e, tried, err := findDaemon(ctx, explicit, 0, true)
	if err != nil {
		return e, tried, false
	}
	cli.Close()
	return e, tried, true
}

// loadDaemon exports ref from the local Docker daemon with `docker save`
// semantics, spooled to a temporary file in opts.TempDir (removed by
// Image.Close), and reads it as a docker-archive. The daemon's image store
// (classic or containerd) decides the archive format. The daemon's answers
// are bounded by the idle limit, the whole export by the load limit, and
// the export's size by maxImageBytes. With opts.Cache, an image exported
// before is described from the cache and exported only if a layer is
// opened (see daemoncache.go).
func loadDaemon(ctx context.Context, ref string, opts Options) (*Image, error) {
	outer := ctx
	if ref == "" {
		return nil, errorf(Usage, "docker: needs an image name, as in docker:NAME[:TAG]")
	}
	lim := limitsOf(opts)
	var (
		cli      *client.Client
		endpoint daemonEndpoint
		err      error
	)
	if opts.endpoint != nil {
		endpoint = *opts.endpoint
		cli, err = endpoint.client(lim.connect)
	} else {
		cli, endpoint, _, err = findDaemon(ctx, opts.DockerHost, lim.connect, false)
	}
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	where := endpoint.String()
	peer := "the Docker daemon at " + where
	ctx, cancelDeadline := lim.withDeadline(ctx, peer)
	defer cancelDeadline()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		read     atomic.Int64
		answered atomic.Bool
	)
	var what atomic.Pointer[string] // read by the guard's timer
	doing := func(s string) { what.Store(&s) }
	doing("inspecting " + ref)
	guard := newStallGuard(lim.idle, func() {
		n := int64(-1)
		if answered.Load() {
			n = read.Load()
		}
		cancel(&limitError{peer: peer, what: *what.Load(), flag: "--idle-timeout", after: lim.idle, kind: limitIdle, read: n, total: -1})
	})
	explain := func(err error) error {
		var le *limitError
		if errors.As(context.Cause(ctx), &le) {
			return &LoadError{Kind: DaemonUnreachable, Err: le.at(*what.Load(), read.Load(), -1)}
		}
		if isDialTimeout(err) {
			return &LoadError{Kind: DaemonUnreachable, Err: &limitError{peer: peer, flag: "--connect-timeout", after: lim.connect, kind: limitConnect, read: -1, total: -1}}
		}
		return nil
	}

	guard.arm()
	insp, err := cli.ImageInspect(ctx, ref)
	guard.disarm()
	if err != nil {
		if lerr := explain(err); lerr != nil {
			return nil, lerr
		}
		return nil, daemonError(err, ref, where)
	}
	var diffIDs []string
	if insp.RootFS.Type == "layers" {
		diffIDs = insp.RootFS.Layers
	}
	if opts.Cache != nil && len(diffIDs) > 0 {
		// The export, if a layer is opened, is by image ID: a tag moved
		// meanwhile must not change what the record stands for.
		eopts := opts
		eopts.Cache = nil
		export := &lazyExport{ctx: outer, ref: insp.ID, opts: eopts}
		if img, ok := daemonFromRecord(opts.Cache, insp.ID, diffIDs, export); ok {
			fillFromInspect(img, insp.ID, insp.RepoTags, insp.RepoDigests)
			img.cleanup = export.close
			return img, nil
		}
	}
	doing("exporting " + ref)
	guard.arm()
	rc, err := cli.ImageSave(ctx, []string{ref})
	guard.disarm()
	if err != nil {
		if lerr := explain(err); lerr != nil {
			return nil, lerr
		}
		return nil, daemonError(err, ref, where)
	}
	answered.Store(true)
	var body io.Reader = &guardedReader{r: rc, guard: guard, read: &read}
	if opts.Progress != nil {
		pr := newProgressReader(body, Progress{Total: -1}, opts.Progress)
		defer pr.finish() // the export ended: spooled or failed
		body = pr
	}
	f, err := spoolTar(body, opts.TempDir, "lambdoctor-docker-save-*.tar",
		spoolLimit{bytes: maxImageBytes, name: "maxImageBytes", why: "Lambda images are at most 10 GB uncompressed"}, "the export of "+ref)
	rc.Close()
	if err != nil {
		if lerr := explain(err); lerr != nil {
			return nil, lerr
		}
		return nil, reclassify(DaemonUnreachable, err, "exporting %s from the Docker daemon at %s", ref, where)
	}
	tmp := f.Name()
	cleanup := func() error {
		err := f.Close()
		if rerr := os.Remove(tmp); rerr != nil && err == nil {
			err = rerr
		}
		return err
	}
	tf, err := indexTar(f)
	if err != nil {
		cleanup()
		return nil, reclassify(Corrupt, err, "reading the export of %s from the Docker daemon", ref)
	}
	img, err := loadDockerArchive(tf, selector{}, "the daemon's export of "+ref)
	if err != nil {
		cleanup()
		return nil, err
	}
	if opts.Cache != nil && len(diffIDs) > 0 {
		storeDaemonRecord(opts.Cache, insp.ID, diffIDs, img)
	}
	img.Source = Daemon
	fillFromInspect(img, insp.ID, insp.RepoTags, insp.RepoDigests)
	img.cleanup = cleanup
	return img, nil
}

// fillFromInspect sets what the daemon's image inspect says of img.
func fillFromInspect(img *Image, id string, tags, digests []string) {
	img.ImageID = id
	if len(tags) > 0 {
		img.RepoTags = tags
	}
	img.RepoDigests = digests
}

// guardedReader arms a stallGuard around every read and counts the bytes.
type guardedReader struct {
	r     io.Reader
	guard *stallGuard
	read  *atomic.Int64
}

func (g *guardedReader) Read(p []byte) (int, error) {
	g.guard.arm()
	n, err := g.r.Read(p)
	g.guard.disarm()
	g.read.Add(int64(n))
	return n, err
}

// tlsFailure is the certificate error within err, or nil.
func tlsFailure(err error) error {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return cv.Err
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return ua
	}
	var hn x509.HostnameError
	if errors.As(err, &hn) {
		return hn
	}
	return nil
}

// daemonError classifies a Docker API error.
func daemonError(err error, ref, where string) error {
	switch {
	case client.IsErrConnectionFailed(err) && tlsFailure(err) != nil:
		return errorf(DaemonUnreachable, "cannot connect to the Docker daemon at %s: its TLS certificate was refused (%v): check the CA (ca.pem of the context, or in DOCKER_CERT_PATH)", where, tlsFailure(err))
	case client.IsErrConnectionFailed(err):
		return errorf(DaemonUnreachable, "cannot connect to the Docker daemon at %s: is it running, and may this user use its socket?", where)
	case cerrdefs.IsNotFound(err):
		return errorf(NotFound, "image %q not found in the local Docker daemon at %s", ref, where)
	case cerrdefs.IsPermissionDenied(err) || cerrdefs.IsUnauthorized(err):
		return errorf(DaemonUnreachable, "the Docker daemon at %s refused access: %v", where, err)
	default:
		return errorf(DaemonUnreachable, "the Docker daemon at %s failed on %s: %v", where, ref, err)
	}
}
