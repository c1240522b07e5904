package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
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
	// failBody holds the first bytes of the last response's body when its
	// status was 4xx or 5xx (failLen of them; failMore when the body went
	// on), for the failure samples. A fixed array, so that keeping it
	// costs a copy and no allocation, and nothing at all for a success.
	failBody [FailureBodyBytes]byte
	failLen  int
	failMore bool
}

// failureBody is the start of the last response's body if it failed, valid
// until the next round trip, and whether the body went on.
func (h *h1Conn) failureBody() ([]byte, bool) { return h.failBody[:h.failLen], h.failMore }

// keepBody copies up to limit bytes (FailureBodyBytes at most) of the body
// about to be discarded. A body cut short shows as a short sample; the
// discard that follows reports the error.
func (h *h1Conn) keepBody(limit int64) {
	n := int(min(limit, FailureBodyBytes))
	b, _ := h.br.Peek(n)
	h.failLen = copy(h.failBody[:], b)
}

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

// readLine returns the next line without its CRLF and the bytes consumed.
// The slice is only valid until the next read.
func (h *h1Conn) readLine() ([]byte, int64, error) {
	line, err := h.br.ReadSlice('\n')
	n := int64(len(line))
	if err == bufio.ErrBufferFull {
		// A line longer than the buffer: keep its tail only; callers never
		// need more than the start of a header line.
		for err == bufio.ErrBufferFull {
			var more []byte
			more, err = h.br.ReadSlice('\n')
			n += int64(len(more))
		}
		if err != nil {
			return nil, n, err
		}
		return []byte("X-Long: line"), n, nil
	}
	if err != nil {
		if err == io.EOF && n > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, n, err
	}
	return bytes.TrimRight(line, "\r\n"), n, nil
}

var (
	hdrContentLength    = []byte("content-length")
	hdrTransferEncoding = []byte("transfer-encoding")
	hdrConnection       = []byte("connection")
)

// readResponse parses one response and discards its body. It returns the
// status, bytes read, and whether the connection can carry another request.
func (h *h1Conn) readResponse(head bool) (status int, in int64, keep bool, err error) {
	h.failLen, h.failMore = 0, false
	for {
		line, n, err := h.readLine()
		in += n
		if err != nil {
			return 0, in, false, err
		}
		// "HTTP/1.1 200 OK"
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return 0, in, false, fmt.Errorf("%w: status line %q", errProtocol, truncate(line))
		}
		status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
		if status < 100 || status > 999 {
			return 0, in, false, fmt.Errorf("%w: status line %q", errProtocol, truncate(line))
		}
		keep = line[7] == '1'
		contentLength, chunked := int64(-1), false
		for {
			line, n, err := h.readLine()
			in += n
			if err != nil {
				return status, in, false, err
			}
			if len(line) == 0 {
				break
			}
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				continue
			}
			name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
			switch {
			case bytes.EqualFold(name, hdrContentLength):
				v, perr := strconv.ParseInt(string(value), 10, 64)
				if perr != nil || v < 0 {
					return status, in, false, fmt.Errorf("%w: content-length %q", errProtocol, truncate(value))
				}
				contentLength = v
			case bytes.EqualFold(name, hdrTransferEncoding):
				chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
			case bytes.EqualFold(name, hdrConnection):
				if bytes.EqualFold(value, []byte("close")) {
					keep = false
				} else if bytes.EqualFold(value, []byte("keep-alive")) {
					keep = true
				}
			}
		}
		if status >= 100 && status < 200 && status != 101 {
			continue // an informational response precedes the real one
		}
		switch {
		case head || status == 204 || status == 304 || status == 101:
			return status, in, keep && status != 101, nil
		case chunked:
			n, err := h.discardChunked(status >= 400)
			in += n
			return status, in, keep && err == nil, err
		case contentLength >= 0:
			if status >= 400 {
				h.keepBody(contentLength)
				h.failMore = contentLength > int64(h.failLen)
			}
			n, err := h.br.Discard(int(contentLength))
			in += int64(n)
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return status, in, keep && err == nil, err
		default:
			// No length: the body runs to the end of the connection.
			if status >= 400 {
				h.keepBody(FailureBodyBytes)
			}
			n, err := io.Copy(io.Discard, h.br)
			h.failMore = n > int64(h.failLen)
			in += n
			return status, in, false, err
		}
	}
}

// discardChunked discards a chunked body; with keep, it keeps the start of
// the first chunk for the failure samples.
func (h *h1Conn) discardChunked(keep bool) (int64, error) {
	var in int64
	for first := true; ; first = false {
		line, n, err := h.readLine()
		in += n
		if err != nil {
			return in, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return in, fmt.Errorf("%w: chunk size %q", errProtocol, truncate(line))
		}
		if keep && first {
			h.keepBody(size)
			h.failMore = size > int64(h.failLen)
		} else if keep && size > 0 {
			h.failMore = true
		}
		if size == 0 {
			for { // trailers, up to the blank line
				line, n, err := h.readLine()
				in += n
				if err != nil || len(line) == 0 {
					return in, err
				}
			}
		}
		d, err := h.br.Discard(int(size))
		in += int64(d)
		if err != nil {
			return in, err
		}
		crlf, n, err := h.readLine()
		in += n
		if err != nil {
			return in, err
		}
		if len(crlf) != 0 {
			return in, fmt.Errorf("%w: chunk not followed by CRLF", errProtocol)
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
