package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// limitError says which network limit fired, after how long, and on what.
// It is the cause of the context cancellations the limits make, so that
// whatever error the layers above return, the message names the limit.
type limitError struct {
	peer  string        // "registry 127.0.0.1:5000", "the Docker daemon at ..."
	what  string        // "reading blob sha256:...", "waiting for the answer to GET ..."
	flag  string        // "--idle-timeout"
	after time.Duration // the limit's value
	kind  limitKind
	read  int64 // bytes received, for a body; -1 when not in a body
	total int64 // the body's declared length, -1 when unknown
	// target is where the last redirect pointed (limitRedirects).
	target string
}

type limitKind int

const (
	limitIdle limitKind = iota
	limitConnect
	limitOverall
	limitRedirects
)

func (e *limitError) Error() string {
	var b strings.Builder
	b.WriteString(e.peer)
	b.WriteString(": ")
	switch e.kind {
	case limitIdle:
		if e.read >= 0 {
			fmt.Fprintf(&b, "no data for %s while %s", e.after, e.what)
		} else {
			fmt.Fprintf(&b, "no answer for %s while %s", e.after, e.what)
		}
	case limitConnect:
		fmt.Fprintf(&b, "no connection after %s", e.after)
	case limitOverall:
		fmt.Fprintf(&b, "not done after %s", e.after)
		if e.what != "" {
			fmt.Fprintf(&b, ", while %s", e.what)
		}
	case limitRedirects:
		fmt.Fprintf(&b, "more than %d redirects while %s, the last to %s: a redirect loop?", maxRedirects, e.what, e.target)
	}
	if e.read > 0 {
		if e.total > 0 {
			fmt.Fprintf(&b, " (%s of %s received)", humanSize(e.read), humanSize(e.total))
		} else {
			fmt.Fprintf(&b, " (%s received)", humanSize(e.read))
		}
	}
	fmt.Fprintf(&b, " (%s)", e.flag)
	return b.String()
}

// at returns a copy of e describing what was under way and how far it got.
func (e *limitError) at(what string, read, total int64) *limitError {
	out := *e
	if out.what == "" {
		out.what = what
	}
	if out.kind == limitOverall && out.read < 0 {
		out.read, out.total = read, total
	}
	return &out
}

// netLimits are the time limits of one load from a registry or daemon.
type netLimits struct {
	connect, idle, overall time.Duration
}

func limitsOf(opts Options) netLimits {
	l := netLimits{connect: opts.ConnectTimeout, idle: opts.IdleTimeout, overall: opts.LoadTimeout}
	if l.connect == 0 {
		l.connect = DefaultConnectTimeout
	}
	if l.idle == 0 {
		l.idle = DefaultIdleTimeout
	}
	if l.overall == 0 {
		l.overall = DefaultLoadTimeout
	}
	return l
}

// withDeadline derives the load's context: it ends after the overall limit
// with a limitError as its cause. A negative limit means none.
func (l netLimits) withDeadline(ctx context.Context, peer string) (context.Context, context.CancelFunc) {
	if l.overall < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, l.overall, &limitError{
		peer: peer, flag: "--load-timeout", after: l.overall, kind: limitOverall, read: -1, total: -1,
	})
}

// NewTransport returns the network transport registry requests use: ggcr's
// default (proxy from the environment, HTTP/2, keep-alive) with connect as
// the bound on establishing a connection, TCP and TLS handshake each
// (0: DefaultConnectTimeout).
func NewTransport(connect time.Duration) http.RoundTripper {
	if connect == 0 {
		connect = DefaultConnectTimeout
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = connect
	return tr
}

// stallGuard runs fire when an armed wait lasts longer than idle. Waits are
// armed only while the network is waited on, never while the caller works
// on what it received.
type stallGuard struct {
	idle  time.Duration
	timer *time.Timer
}

func newStallGuard(idle time.Duration, fire func()) *stallGuard {
	g := &stallGuard{idle: idle}
	if idle > 0 {
		g.timer = time.AfterFunc(time.Hour, fire)
		g.timer.Stop()
	}
	return g
}

func (g *stallGuard) arm() {
	if g.timer != nil {
		g.timer.Reset(g.idle)
	}
}

func (g *stallGuard) disarm() {
	if g.timer != nil {
		g.timer.Stop()
	}
}

// retryStats counts the registry's answers that are retried (429, 5xx), so
// that the final error says how often and for how long it was tried.
type retryStats struct {
	mu       sync.Mutex
	attempts int
	first    time.Time
	last     time.Time
}

func (s *retryStats) record(code int) {
	for _, c := range retryStatusCodes {
		if c == code {
			s.mu.Lock()
			now := time.Now()
			if s.attempts == 0 {
				s.first = now
			}
			s.attempts++
			s.last = now
			s.mu.Unlock()
			return
		}
	}
}

// summary is " after 5 attempts over 7.6s", or "" when nothing was retried.
func (s *retryStats) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attempts < 2 {
		return ""
	}
	return fmt.Sprintf(" after %d attempts over %s (retried with backoff)", s.attempts, s.last.Sub(s.first).Round(100*time.Millisecond))
}

// limitTransport applies the idle limit, the redirect limit and the
// manifest size limit to every registry request, and turns a dial timeout
// into a limitError. go-containerregistry wraps it in its retry transport,
// so it sees every attempt.
type limitTransport struct {
	next  http.RoundTripper
	peer  string
	lim   netLimits
	stats *retryStats
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	what := describeRequest(req)
	if hops := redirectHops(req); hops > maxRedirects {
		return nil, &limitError{peer: t.peer, what: what, flag: "maxRedirects", kind: limitRedirects,
			read: -1, total: -1, target: redactURL(req)}
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	body := &guardedBody{t: t, what: what, ctx: ctx, cancel: cancel, total: -1}
	body.guard = newStallGuard(t.lim.idle, body.stalled)
	body.guard.arm()
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	body.guard.disarm()
	if err != nil {
		err = t.explain(ctx, err, what, -1, -1)
		cancel(nil)
		return nil, err
	}
	t.stats.record(resp.StatusCode)
	if isManifestRequest(req) && resp.StatusCode == http.StatusOK && resp.ContentLength > maxManifestBytes {
		resp.Body.Close()
		cancel(nil)
		return nil, tooBig(t.peer+": "+strings.TrimPrefix(what, "reading "), resp.ContentLength, maxManifestBytes, "maxManifestBytes")
	}
	body.rc = resp.Body
	body.total = resp.ContentLength
	body.answered.Store(true)
	if isManifestRequest(req) {
		body.limit = maxManifestBytes
	}
	resp.Body = body
	return resp, nil
}

// explain replaces err by the limitError behind it, when a limit fired.
func (t *limitTransport) explain(ctx context.Context, err error, what string, read, total int64) error {
	var le *limitError
	if errors.As(context.Cause(ctx), &le) {
		return le.at(what, read, total)
	}
	if read < 0 && isDialTimeout(err) {
		return &limitError{peer: t.peer, flag: "--connect-timeout", after: t.lim.connect, kind: limitConnect, read: -1, total: -1}
	}
	return err
}

// isDialTimeout reports a connection (TCP connect or TLS handshake) that
// did not complete in time.
func isDialTimeout(err error) bool {
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		return false
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial" || strings.Contains(err.Error(), "TLS handshake timeout")
}

// guardedBody is a response body under the idle limit (and, for
// manifests, the size limit).
type guardedBody struct {
	t      *limitTransport
	rc     io.ReadCloser
	what   string
	guard  *stallGuard
	ctx    context.Context
	cancel context.CancelCauseFunc
	read   atomic.Int64
	// answered is set once the response headers came.
	answered atomic.Bool
	total    int64
	limit    int64 // 0: none
}

// stalled fires when no byte came for the idle limit.
func (b *guardedBody) stalled() {
	read, total := int64(-1), int64(-1) // still waiting for the answer itself
	if b.answered.Load() {              // total was set before answered
		read, total = b.read.Load(), b.total
	}
	b.cancel(&limitError{peer: b.t.peer, what: b.what, flag: "--idle-timeout", after: b.t.lim.idle,
		kind: limitIdle, read: read, total: total})
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.guard.arm()
	n, err := b.rc.Read(p)
	b.guard.disarm()
	got := b.read.Add(int64(n))
	if b.limit > 0 && got > b.limit {
		return n, tooBig(b.t.peer+": "+strings.TrimPrefix(b.what, "reading "), -1, b.limit, "maxManifestBytes")
	}
	if err != nil && err != io.EOF {
		var le *limitError
		if errors.As(context.Cause(b.ctx), &le) {
			return n, le.at(b.what, got, b.total)
		}
	}
	return n, err
}

func (b *guardedBody) Close() error {
	b.guard.disarm()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// redirectHops counts the redirects that led to req.
func redirectHops(req *http.Request) int {
	n := 0
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		n++
	}
	return n
}

// originalRequest is the request that started req's redirect chain.
func originalRequest(req *http.Request) *http.Request {
	r := req
	for r.Response != nil && r.Response.Request != nil {
		r = r.Response.Request
	}
	return r
}

// describeRequest says what a registry request is for: "reading blob
// sha256:...", "reading manifest fn:latest".
func describeRequest(req *http.Request) string {
	p := originalRequest(req).URL.Path
	if _, d, ok := strings.Cut(p, "/blobs/"); ok {
		return "reading blob " + d
	}
	if repo, ref, ok := strings.Cut(strings.TrimPrefix(p, "/v2/"), "/manifests/"); ok {
		sep := ":"
		if strings.Contains(ref, ":") {
			sep = "@"
		}
		return "reading manifest " + repo + sep + ref
	}
	return req.Method + " " + p
}

func isManifestRequest(req *http.Request) bool {
	return strings.Contains(originalRequest(req).URL.Path, "/manifests/")
}

// redactURL is req's URL without its query (signed CDN URLs carry tokens).
func redactURL(req *http.Request) string {
	u := *req.URL
	u.RawQuery, u.User = "", nil
	return u.String()
}
