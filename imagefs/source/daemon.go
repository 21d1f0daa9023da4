package source

import (
	"context"
	"fmt"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// daemonPingTimeout bounds the probe that decides whether a bare reference
// is looked up in the local daemon before the registry.
const daemonPingTimeout = 1500 * time.Millisecond

// dockerClient connects to the daemon named by host, DOCKER_HOST or the
// default socket.
func dockerClient(host string) (*client.Client, error) {
	copts := []client.Opt{client.FromEnv}
	if host != "" {
		copts = append(copts, client.WithHost(host))
	}
	cli, err := client.New(copts...)
	if err != nil {
		return nil, errorf(DaemonUnreachable, "configuring the Docker client for %s: %v", daemonWhere(host), err)
	}
	return cli, nil
}

// daemonWhere says which daemon address was used, for messages.
func daemonWhere(host string) string {
	switch {
	case host != "":
		return host
	case os.Getenv("DOCKER_HOST") != "":
		return fmt.Sprintf("%s (DOCKER_HOST)", os.Getenv("DOCKER_HOST"))
	default:
		return client.DefaultDockerHost + " (DOCKER_HOST is unset)"
	}
}

// daemonAnswers reports whether a daemon answers a ping quickly.
func daemonAnswers(ctx context.Context, host string) bool {
	cli, err := dockerClient(host)
	if err != nil {
		return false
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, daemonPingTimeout)
	defer cancel()
	_, err = cli.Ping(ctx, client.PingOptions{})
	return err == nil
}

// loadDaemon exports ref from the local Docker daemon with `docker save`
// semantics, spooled to a temporary file in opts.TempDir (removed by
// Image.Close), and reads it as a docker-archive. The daemon's image store
// (classic or containerd) decides the archive format. With opts.Cache, an
// image exported before is described from the cache and exported only if
// a layer is opened (see daemoncache.go).
func loadDaemon(ctx context.Context, ref string, opts Options) (*Image, error) {
	if ref == "" {
		return nil, errorf(Usage, "docker: needs an image name, as in docker:NAME[:TAG]")
	}
	cli, err := dockerClient(opts.DockerHost)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	where := daemonWhere(opts.DockerHost)
	insp, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, daemonError(err, ref, where)
	}
	var diffIDs []string
	if insp.RootFS.Type == "layers" {
		diffIDs = insp.RootFS.Layers
	}
	if opts.Cache != nil && len(diffIDs) > 0 {
		// Export by image ID: a tag moved meanwhile must not change what
		// the recorded description stands for.
		export := &lazyExport{ctx: ctx, ref: insp.ID, host: opts.DockerHost, dir: opts.TempDir}
		if img, ok := daemonFromRecord(opts.Cache, insp.ID, diffIDs, export); ok {
			fillFromInspect(img, insp.ID, insp.RepoTags, insp.RepoDigests)
			img.cleanup = export.close
			return img, nil
		}
	}
	img, cleanup, err := exportImage(ctx, cli, ref, where, opts.TempDir)
	if err != nil {
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

// daemonError classifies a Docker API error.
func daemonError(err error, ref, where string) error {
	switch {
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
