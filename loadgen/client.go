package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// endpoint is one origin (scheme, host and port) that targets point at.
type endpoint struct {
	addr string      // host:port to dial
	tls  *tls.Config // nil for plain http
}

// errProtocol marks a response the client could not parse as HTTP/1.x.
var errProtocol = errors.New("malformed HTTP response")

// h1Conn is one HTTP/1.1 keep-alive connection owned by one worker. It writes
// pre-serialised requests and parses responses without allocating, which is
// what lets one generator core keep up with a fast server.
type h1Conn struct {
	ep             *endpoint
	connectTimeout time.Duration

	mu sync.Mutex // guards c against abort from another goroutine
	c  net.Conn
	br *bufio.Reader
	// deadline is the connection's deadline as last set.
	deadline time.Time
	parser   h1Parser
}

// failureBody is the start of the last response's body if it failed, valid
// until the next round trip, and whether the body went on.
func (h *h1Conn) failureBody() ([]byte, bool) { return h.parser.failureBody() }

func newH1Conn(ep *endpoint, connectTimeout time.Duration) *h1Conn {
	return &h1Conn{ep: ep, connectTimeout: connectTimeout}
}

func (h *h1Conn) dial(deadline time.Time) error {
	d := net.Dialer{Timeout: h.connectTimeout, Deadline: deadline}
	c, err := d.Dial("tcp", h.ep.addr)
	if err != nil {
		return err
	}
	if h.ep.tls != nil {
		tc := tls.Client(c, h.ep.tls)
		_ = tc.SetDeadline(deadline)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return &tlsError{err}
		}
		c = tc
	}
	if h.br == nil {
		h.br = bufio.NewReaderSize(c, 16*1024)
	} else {
		h.br.Reset(c)
	}
	h.deadline = time.Time{}
	h.mu.Lock()
	h.c = c
	h.mu.Unlock()
	return nil
}

func (h *h1Conn) close() {
	h.mu.Lock()
	if h.c != nil {
		h.c.Close()
		h.c = nil
	}
	h.mu.Unlock()
}

// abort makes any read or write in progress on the connection fail now.
func (h *h1Conn) abort() {
	h.mu.Lock()
	if h.c != nil {
		_ = h.c.SetDeadline(time.Unix(1, 0))
	}
	h.mu.Unlock()
}

// roundTrip writes raw and reads the response, returning its status and the
// number of response bytes read. A request on a reused connection that the
// server had already closed is retried once on a new connection, as browsers
// and net/http do, since nothing of it reached the server.
func (h *h1Conn) roundTrip(raw []byte, head bool, deadline time.Time, timeout time.Duration) (status int, in int64, err error) {
	for attempt := 0; ; attempt++ {
		fresh := false
		if h.c == nil {
			if err := h.dial(deadline); err != nil {
				return 0, 0, err
			}
			fresh = true
		}
		// Moving a deadline costs a runtime timer update, so it is moved
		// only once it has drifted by a tenth of the timeout: a request
		// times out after between 90% and 100% of the timeout.
		if h.deadline.Sub(deadline) < -timeout/10 || h.deadline.After(deadline) {
			_ = h.c.SetDeadline(deadline)
			h.deadline = deadline
		}
		var keep bool
		if _, err = h.c.Write(raw); err == nil {
			status, in, keep, err = h.readResponse(head)
		}
		if err != nil {
			h.close()
			if !fresh && attempt == 0 && in == 0 && isStaleConn(err) {
				continue
			}
			return status, in, err
		}
		if !keep {
			h.close()
		}
		return status, in, nil
	}
}

// isStaleConn reports errors that mean the peer had closed the connection
// before the request was sent.
func isStaleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readResponse parses one response and discards its body. It returns the
// status, bytes read, and whether the connection can carry another request.
func (h *h1Conn) readResponse(head bool) (status int, in int64, keep bool, err error) {
	p := &h.parser
	p.reset(head)
	// Bytes already buffered are parsed before reading more; after that,
	// whatever the parser left is an incomplete line, so each round reads.
	more := h.br.Buffered() == 0
	for {
		if more {
			// Peek returns exactly what it was asked for: asking for one
			// byte more than is buffered makes it read, and the second
			// Peek takes everything the read brought.
			buf, perr := h.br.Peek(h.br.Buffered() + 1)
			if perr == io.EOF {
				perr = p.eof(len(buf))
				in += int64(len(buf))
				h.br.Discard(len(buf))
				return p.status, in, p.keep && perr == nil, perr
			}
			if perr != nil {
				return p.status, in, false, perr
			}
		}
		buf, _ := h.br.Peek(h.br.Buffered())
		more = true
		n, done, ferr := p.feed(buf)
		h.br.Discard(n)
		in += int64(n)
		if ferr != nil || done {
			return p.status, in, p.keep && ferr == nil, ferr
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// tlsError marks a failed TLS handshake.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "tls: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// classify names the kind of transport failure err is.
func classify(err error) ErrorClass {
	var (
		te   *tlsError
		rhe  tls.RecordHeaderError
		ae   tls.AlertError
		cve  *tls.CertificateVerificationError
		uae  x509.UnknownAuthorityError
		hne  x509.HostnameError
		cie  x509.CertificateInvalidError
		nerr net.Error
	)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.As(err, &nerr) && nerr.Timeout():
		return ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.As(err, &te), errors.As(err, &rhe), errors.As(err, &ae), errors.As(err, &cve),
		errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
		return ErrTLS
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrReset
	default:
		return ErrOther
	}
}
