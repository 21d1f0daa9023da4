package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/lambdoctor/lambdoctor/imagefs/source"
)

// netFlags are the network limits of loading an image from a registry or
// the Docker daemon, shared by every command that loads images.
type netFlags struct {
	connect, idle, load time.Duration
}

// defaultNetFlags are the limits when no flag is given.
func defaultNetFlags() netFlags {
	return netFlags{connect: source.DefaultConnectTimeout, idle: source.DefaultIdleTimeout, load: source.DefaultLoadTimeout}
}

func addNetFlags(f *pflag.FlagSet, n *netFlags) {
	f.DurationVar(&n.connect, "connect-timeout", source.DefaultConnectTimeout,
		"registry and daemon: the limit on establishing a connection (TCP and TLS handshake)")
	f.DurationVar(&n.idle, "idle-timeout", source.DefaultIdleTimeout,
		"registry and daemon: the longest wait for the next byte of an answer, a manifest or a layer (0: no limit)")
	f.DurationVar(&n.load, "load-timeout", source.DefaultLoadTimeout,
		"registry and daemon: the limit on loading one image, all its layers included (0: no limit)")
}

// check refuses limits that make no sense.
func (n netFlags) check() error {
	switch {
	case n.connect <= 0:
		return fmt.Errorf("--connect-timeout %s must be positive", n.connect)
	case n.idle < 0:
		return fmt.Errorf("--idle-timeout %s is negative (0 means no limit)", n.idle)
	case n.load < 0:
		return fmt.Errorf("--load-timeout %s is negative (0 means no limit)", n.load)
	}
	return nil
}

// apply sets the limits on o; on the command line 0 means no limit.
func (n netFlags) apply(o *source.Options) {
	none := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	o.ConnectTimeout, o.IdleTimeout, o.LoadTimeout = n.connect, none(n.idle), none(n.load)
}
