package sandbox

// The sandbox's own network namespace has only a loopback interface, so
// the function cannot reach the host's services. The one service it needs,
// the Runtime API, is forwarded: the init listens on 127.0.0.1:ForwardPort
// inside the namespace and hands every connection it accepts, as a file
// descriptor (SCM_RIGHTS), over a socketpair it inherited from Start. On
// the host side, Process.Forwarded is a net.Listener whose Accept returns
// those connections, so an http.Server serves them directly: no bytes are
// copied, no iptables rule or veth pair is needed, and the same works in
// the user namespace of the unprivileged path.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// newForwardPair is the socketpair the init hands connections over: the
// host's end and the init's.
func newForwardPair() (host, init *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the forwarding socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "forward"), os.NewFile(uintptr(fds[1]), "forward"), nil
}

// forwardListener accepts the connections the init hands over.
type forwardListener struct {
	conn *net.UnixConn
	addr net.Addr

	mu     sync.Mutex // one Accept reads the socket at a time
	closed chan struct{}
	once   sync.Once
}

func newForwardListener(host *os.File, port int) (*forwardListener, error) {
	c, err := net.FileConn(host)
	host.Close()
	if err != nil {
		return nil, fmt.Errorf("forwarding socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("forwarding socket: not a unix socket")
	}
	return &forwardListener{conn: uc, closed: make(chan struct{}),
		addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}, nil
}

// errSandboxGone is what Accept returns once the init has exited.
var errSandboxGone = errors.New("the sandbox's network namespace is gone")

func (l *forwardListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := make([]byte, 1)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := l.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			default:
			}
			return nil, err
		}
		if n == 0 && oobn == 0 {
			return nil, errSandboxGone
		}
		fds := receivedFDs(oob[:oobn])
		if len(fds) == 0 {
			continue
		}
		for _, fd := range fds[1:] {
			syscall.Close(fd)
		}
		f := os.NewFile(uintptr(fds[0]), "forwarded")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			// Not a socket, or closed already by the time we look: skip it.
			continue
		}
		return c, nil
	}
}

// receivedFDs are the descriptors of SCM_RIGHTS messages in oob.
func receivedFDs(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if f, err := syscall.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, f...)
		}
	}
	return fds
}

func (l *forwardListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.closed)
		err = l.conn.Close()
	})
	return err
}

// Addr is 127.0.0.1:ForwardPort, the address inside the sandbox.
func (l *forwardListener) Addr() net.Addr { return l.addr }

// forwardFD is the init's descriptor of the forwarding socketpair.
const forwardFD = 5

// setupNetwork runs in the init before anything else: the hostname of its
// UTS namespace, the loopback interface of its own network namespace, and
// the forwarded port.
func setupNetwork(cfg initConfig) error {
	if cfg.Hostname != "" {
		if err := syscall.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("setting the hostname: %w", err)
		}
	}
	if !cfg.OwnNetwork {
		return nil
	}
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("bringing the loopback interface up: %w", err)
	}
	if cfg.ForwardPort == 0 {
		return nil
	}
	syscall.CloseOnExec(forwardFD)
	ln, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("listening on 127.0.0.1:%d: %w", cfg.ForwardPort, err)
	}
	_ = syscall.SetsockoptInt(ln, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(ln, &syscall.SockaddrInet4{Port: cfg.ForwardPort, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(ln)
		return fmt.Errorf("listening on 127.0.0.1:%d: %w", cfg.ForwardPort, err)
	}
	if err := syscall.Listen(ln, 128); err != nil {
		syscall.Close(ln)
		return fmt.Errorf("listening on 127.0.0.1:%d: %w", cfg.ForwardPort, err)
	}
	go relay(ln, forwardFD)
	syscall.CloseOnExec(dialFD)
	go serveDials(dialFD)
	return nil
}

// relay hands every connection accepted on ln over fwd until either side
// is gone. It runs as long as the init.
func relay(ln, fwd int) {
	for {
		nfd, _, err := syscall.Accept4(ln, syscall.SOCK_CLOEXEC)
		if err == syscall.EINTR || err == syscall.ECONNABORTED {
			continue
		}
		if err != nil {
			return
		}
		err = syscall.Sendmsg(fwd, []byte{0}, syscall.UnixRights(nfd), nil, 0)
		syscall.Close(nfd)
		if err != nil && err != syscall.EINTR {
			// The host side is gone: refuse further connections.
			syscall.Close(ln)
			return
		}
	}
}

// loopbackUp sets the flags IFF_UP and IFF_RUNNING of lo (SIOCSIFFLAGS,
// netdevice(7)).
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var req struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], "lo")
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&req))); e != 0 {
		return e
	}
	req.flags |= syscall.IFF_UP | syscall.IFF_RUNNING
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&req))); e != 0 {
		return e
	}
	return nil
}

// Dialing into the sandbox: the extensions' telemetry listeners are on the
// loopback of the sandbox's network namespace, which the host cannot
// reach. A second socketpair carries requests the other way: the host
// sends a port, the init (lambdoctor's own code, never the image's)
// connects to 127.0.0.1:port inside the namespace and hands the connected
// socket back (SCM_RIGHTS), or why it could not.

// dialFD is the init's descriptor of the dialing socketpair.
const dialFD = 6

// dialRequest is a request on the dialing socket: a sequence number and a
// port; the answer repeats the number and holds the socket or an error.
type dialRequest struct {
	Seq  uint32 `json:"seq"`
	Port int    `json:"port,omitempty"`
	Err  string `json:"err,omitempty"`
}

// serveDials answers the host's dial requests on fd until it closes. It
// runs as long as the init.
func serveDials(fd int) {
	buf := make([]byte, 512)
	for {
		n, _, _, _, err := syscall.Recvmsg(fd, buf, nil, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		var req dialRequest
		if json.Unmarshal(buf[:n], &req) != nil {
			continue
		}
		reply := dialRequest{Seq: req.Seq}
		var rights []byte
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(req.Port)), 2*time.Second)
		var f *os.File
		if err == nil {
			f, err = c.(*net.TCPConn).File()
			c.Close()
		}
		if err != nil {
			reply.Err = err.Error()
		} else {
			rights = syscall.UnixRights(int(f.Fd()))
		}
		b, _ := json.Marshal(reply)
		err = syscall.Sendmsg(fd, b, rights, nil, 0)
		if f != nil {
			f.Close()
		}
		if err != nil && err != syscall.EINTR {
			return
		}
	}
}

// sandboxDialer is the host's end of the dialing socketpair.
type sandboxDialer struct {
	mu   sync.Mutex // one request at a time
	conn *net.UnixConn
	seq  uint32
}

func newSandboxDialer(host *os.File) (*sandboxDialer, error) {
	c, err := net.FileConn(host)
	host.Close()
	if err != nil {
		return nil, fmt.Errorf("dialing socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("dialing socket: not a unix socket")
	}
	return &sandboxDialer{conn: uc}, nil
}

func (d *sandboxDialer) dial(ctx context.Context, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port %d is not a TCP port", port)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	seq := d.seq
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	_ = d.conn.SetDeadline(deadline)
	defer d.conn.SetDeadline(time.Time{})
	b, _ := json.Marshal(dialRequest{Seq: seq, Port: port})
	if _, err := d.conn.Write(b); err != nil {
		return nil, fmt.Errorf("connecting to 127.0.0.1:%d in the sandbox: %w", port, err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := d.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return nil, fmt.Errorf("connecting to 127.0.0.1:%d in the sandbox: %w", port, err)
		}
		if n == 0 && oobn == 0 {
			return nil, fmt.Errorf("connecting to 127.0.0.1:%d in the sandbox: %w", port, errSandboxGone)
		}
		fds := receivedFDs(oob[:oobn])
		var reply dialRequest
		if json.Unmarshal(buf[:n], &reply) != nil || reply.Seq != seq {
			// The late answer of a request given up on: drop it.
			for _, fd := range fds {
				syscall.Close(fd)
			}
			continue
		}
		if reply.Err != "" || len(fds) == 0 {
			for _, fd := range fds {
				syscall.Close(fd)
			}
			if reply.Err == "" {
				reply.Err = "no socket in the answer"
			}
			return nil, fmt.Errorf("connecting to 127.0.0.1:%d in the sandbox: %s", port, reply.Err)
		}
		for _, fd := range fds[1:] {
			syscall.Close(fd)
		}
		f := os.NewFile(uintptr(fds[0]), "dialed")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("connecting to 127.0.0.1:%d in the sandbox: %w", port, err)
		}
		return c, nil
	}
}

func (d *sandboxDialer) close() { d.conn.Close() }
