package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/lambdoctor/lambdoctor/internal/testimage"
)

// requireDocker is set by CI, where the daemon test must run, not skip.
const requireDocker = "LAMBDOCTOR_REQUIRE_DOCKER"

// skipOrFail skips the test, or fails it when CI requires Docker.
func skipOrFail(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if os.Getenv(requireDocker) == "1" {
		t.Fatalf("%s (and %s=1)", msg, requireDocker)
	}
	t.Skip(msg)
}

// startDockerd runs a private dockerd in a fresh directory (vfs storage,
// no iptables, no bridge) and returns its host ("unix://.../docker.sock").
// The daemon is stopped in t.Cleanup: SIGTERM, then SIGKILL to its process
// group after 30 s. It dies with the test binary too (Pdeathsig).
func startDockerd(t *testing.T) string {
	t.Helper()
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		skipOrFail(t, "dockerd is not on PATH")
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "the daemon test needs root to run dockerd")
	}
	// Unix socket paths must stay under 108 bytes: t.TempDir is too long.
	dir, err := os.MkdirTemp("/tmp", "ldd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("removing %s: %v", dir, err)
		}
	})
	host := "unix://" + filepath.Join(dir, "docker.sock")
	// Docker 20.10 writes its trust key to /etc/docker unless told
	// otherwise; keep it in dir. Newer daemons may reject the key: retry
	// without the config file then.
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"deprecated-key-path": %q}`, filepath.Join(dir, "key.json"))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, withConfig := range []bool{true, false} {
		args := []string{
			"--iptables=false", "--bridge=none", "--storage-driver=vfs",
			"--host", host,
			"--data-root", filepath.Join(dir, "root"),
			"--exec-root", filepath.Join(dir, "exec"),
			"--pidfile", filepath.Join(dir, "docker.pid"),
		}
		if withConfig {
			args = append(args, "--config-file", cfg)
		}
		logPath := filepath.Join(dir, "dockerd.log")
		if ok := runDockerd(t, dockerd, args, host, logPath); ok {
			return host
		}
		logData, _ := os.ReadFile(logPath)
		if withConfig && (bytes.Contains(logData, []byte("deprecated-key-path")) || bytes.Contains(logData, []byte("configuration option"))) {
			continue
		}
		t.Fatalf("dockerd did not start:\n%s", tail(logData, 3000))
	}
	return ""
}

// runDockerd starts dockerd and waits up to 60 s for it to answer a ping.
// It returns false when dockerd exited early.
func runDockerd(t *testing.T, dockerd string, args []string, host, logPath string) bool {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dockerd, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting dockerd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Log("dockerd ignored SIGTERM for 30 s: killing its process group")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		// The containerd dockerd started shares its process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	t.Cleanup(stop)

	cli, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			stopped = true
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	logData, _ := os.ReadFile(logPath)
	t.Fatalf("dockerd did not answer within 60 s:\n%s", tail(logData, 3000))
	return false
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// dockerLoad loads the image archive in data into the daemon at host.
func dockerLoad(t *testing.T, host string, data []byte) {
	t.Helper()
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ImageLoad(t.Context(), bytes.NewReader(data), client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatalf("docker load: %v", err)
	}
	defer res.Close()
	out, err := io.ReadAll(res)
	if err != nil {
		t.Fatalf("docker load: %v", err)
	}
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("docker load: %s", out)
	}
}

func TestDaemon(t *testing.T) {
	host := startDockerd(t)
	img := testimage.Image(t, lambdaSpec("amd64"))
	tag, _ := name.NewTag("lambdoctor-test/hello:v1")
	var archive bytes.Buffer
	if err := tarball.Write(tag, img, &archive); err != nil {
		t.Fatal(err)
	}
	dockerLoad(t, host, archive.Bytes())

	rawConfig, _ := img.RawConfigFile()
	cf, _ := img.ConfigFile()
	spoolDir := t.TempDir()
	for _, ref := range []string{"docker:lambdoctor-test/hello:v1", "lambdoctor-test/hello:v1", "docker:docker.io/lambdoctor-test/hello:v1"} {
		t.Run(ref, func(t *testing.T) {
			got, err := Load(t.Context(), ref, Options{DockerHost: host, TempDir: spoolDir})
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != Daemon || !got.PushedFormUnknown {
				t.Errorf("Source %s PushedFormUnknown %v", got.Source, got.PushedFormUnknown)
			}
			if got.ImageID != sha256Of(rawConfig) || !bytes.Equal(got.RawConfig, rawConfig) {
				t.Errorf("ImageID %s, want the config digest %s", got.ImageID, sha256Of(rawConfig))
			}
			checkLambdaConfig(t, got, "amd64")
			checkLayers(t, got)
			for i, l := range got.Layers {
				if l.DiffID != cf.RootFS.DiffIDs[i].String() {
					t.Errorf("layer %d DiffID %s, want %s", i, l.DiffID, cf.RootFS.DiffIDs[i])
				}
			}
			if len(got.RepoTags) == 0 || !strings.Contains(got.RepoTags[0], "lambdoctor-test/hello:v1") {
				t.Errorf("RepoTags = %v", got.RepoTags)
			}
			if n := len(dirEntries(t, spoolDir)); n != 1 {
				t.Errorf("%d files spooled, want 1", n)
			}
			if err := got.Close(); err != nil {
				t.Fatal(err)
			}
			if left := dirEntries(t, spoolDir); len(left) != 0 {
				t.Errorf("Close left %v", left)
			}
		})
	}

	// The checked-in fixtures are archives a real daemon accepts.
	for _, fx := range []struct{ file, tag string }{
		{"hello-docker-archive.tar", "hello:latest"},
		{"hello-containerd-archive.tar", "hello:latest"},
		{"broken-entrypoint.tar", "ruby-lambda:latest"},
	} {
		t.Run("fixture "+fx.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(fixtures, fx.file))
			if err != nil {
				t.Fatal(err)
			}
			dockerLoad(t, host, data)
			want := mustLoad(t, filepath.Join(fixtures, fx.file), Options{})
			got := mustLoad(t, "docker:"+fx.tag, Options{DockerHost: host})
			if got.ImageID != want.ImageID || len(got.Layers) != len(want.Layers) {
				t.Errorf("daemon has %s with %d layers, archive %s with %d", got.ImageID, len(got.Layers), want.ImageID, len(want.Layers))
			}
			checkLayers(t, got)
		})
	}

	// Docker Desktop, Colima, OrbStack and Rancher Desktop leave
	// DOCKER_HOST unset and select their engine with a context.
	t.Run("reached only through a context", func(t *testing.T) {
		for _, how := range []string{"currentContext", "DOCKER_CONTEXT"} {
			t.Run(how, func(t *testing.T) {
				dir := cleanDaemonEnv(t)
				writeContext(t, dir, "lambdoctor-ctx", host)
				if how == "currentContext" {
					useCurrentContext(t, dir, "lambdoctor-ctx")
				} else {
					useCurrentContext(t, dir, "default")
					t.Setenv("DOCKER_CONTEXT", "lambdoctor-ctx")
				}
				for _, ref := range []string{"docker:lambdoctor-test/hello:v1", "lambdoctor-test/hello:v1"} {
					got := mustLoad(t, ref, Options{TempDir: t.TempDir()})
					if got.Source != Daemon || got.ImageID != sha256Of(rawConfig) {
						t.Errorf("%s: Source %s ImageID %s", ref, got.Source, got.ImageID)
					}
					checkLayers(t, got)
				}
				loadErr(t, "docker:lambdoctor-test/nope:1", Options{}, NotFound,
					"not found in the local Docker daemon at "+host+` (context "lambdoctor-ctx" from `+how)
			})
		}
	})

	t.Run("unknown image", func(t *testing.T) {
		loadErr(t, "docker:lambdoctor-test/nope:1", Options{DockerHost: host}, NotFound, "not found in the local Docker daemon", host)
	})
	t.Run("bare reference falls back to the registry", func(t *testing.T) {
		hermeticDockerConfig(t)
		reg := startRegistry(t)
		loadErr(t, reg+"/nope:1", Options{DockerHost: host}, NotFound,
			"image not found in registry "+reg+"/nope", "nor is it in the local Docker daemon at "+host)
	})
}

func TestDaemonUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing", "docker.sock")
	loadErr(t, "docker:hello:latest", Options{DockerHost: "unix://" + sock}, DaemonUnreachable,
		"cannot connect to the Docker daemon", sock)

	t.Setenv("DOCKER_HOST", "unix://"+sock)
	le := loadErr(t, "docker:hello:latest", Options{}, DaemonUnreachable, sock, "(DOCKER_HOST)")
	if !errors.Is(le, le.Err) {
		t.Error("LoadError does not unwrap")
	}
	loadErr(t, "docker:", Options{}, Usage, "docker:NAME")
}
