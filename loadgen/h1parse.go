package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// maxLine is the longest response line the parser keeps whole. A longer line
// is consumed as it arrives and stands for an ignorable header, since the
// parser never needs more than the start of a status, header or chunk-size
// line, so that a reader's buffer never has to grow to hold one.
const maxLine = 4096

// h1Parser parses one HTTP/1.x response from bytes as they arrive, without
// copying or allocating: each call to feed consumes what it can of the bytes
// given and leaves at most an incomplete line (shorter than maxLine) for the
// next call. Both engines use it: the goroutine engine over a bufio.Reader,
// the event-loop engine over the bytes each read returned.
type h1Parser struct {
	state         parseState
	head          bool  // the request was HEAD: the response has no body
	status        int   // 0 until a valid status line was read
	keep          bool  // the connection can carry another request
	contentLength int64 // -1 when absent
	chunked       bool
	remaining     int64 // body or chunk bytes still to come
	longLine      bool  // in the middle of a line longer than maxLine
	consumed      int64 // bytes of this response consumed so far
	chunks        int   // chunks begun so far

	// failBody holds the first bytes of the body of a 4xx or 5xx response
	// (failLen of them; failMore when the body went on), for the failure
	// samples: of a chunked body, the start of the first chunk. A fixed
	// array, so that keeping it costs a copy and no allocation, and
	// nothing at all for a success.
	failBody [FailureBodyBytes]byte
	failLen  int
	failMore bool
}

type parseState uint8

const (
	stStatus parseState = iota
	stHeader
	stBody
	stChunkSize
	stChunkData
	stChunkEnd
	stTrailer
	stUntilClose
	stDone
)

// reset prepares the parser for the response to a new request.
func (p *h1Parser) reset(head bool) {
	p.state, p.head, p.status, p.keep = stStatus, head, 0, false
	p.contentLength, p.chunked, p.remaining = -1, false, 0
	p.longLine, p.consumed, p.chunks = false, 0, 0
	p.failLen, p.failMore = 0, false
}

// failureBody is the start of the body of a failing response, valid until
// the next reset, and whether the body went on.
func (p *h1Parser) failureBody() ([]byte, bool) { return p.failBody[:p.failLen], p.failMore }

// keepBody keeps what fits of body bytes b of a failing response.
func (p *h1Parser) keepBody(b []byte) {
	if p.status < 400 || len(b) == 0 {
		return
	}
	n := copy(p.failBody[p.failLen:], b)
	p.failLen += n
	if n < len(b) {
		p.failMore = true
	}
}

// longLineStandIn is what a line longer than maxLine reads as: a header the
// parser ignores.
var longLineStandIn = []byte("X-Long: line")

// line returns the next line of b without its line ending and the bytes it
// spans, or ok false when b holds no complete line yet. A line longer than
// maxLine is consumed as it arrives and returned as longLineStandIn.
func (p *h1Parser) line(b []byte) (line []byte, n int, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(b) >= maxLine || (p.longLine && len(b) > 0) {
			p.longLine = true
			return nil, len(b), false
		}
		return nil, 0, false
	}
	if p.longLine {
		p.longLine = false
		return longLineStandIn, i + 1, true
	}
	return bytes.TrimRight(b[:i], "\r\n"), i + 1, true
}

// feed consumes bytes of the response from b. It returns how many it
// consumed and whether the response is complete; bytes after the end of the
// response are left unconsumed. An error means the response is malformed.
func (p *h1Parser) feed(b []byte) (n int, done bool, err error) {
	defer func() { p.consumed += int64(n) }()
	for p.state != stDone {
		rest := b[n:]
		switch p.state {
		case stBody, stChunkData:
			take := int(min(p.remaining, int64(len(rest))))
			if p.state == stBody || p.chunks == 1 {
				p.keepBody(rest[:take])
			}
			n += take
			p.remaining -= int64(take)
			if p.remaining > 0 {
				return n, false, nil
			}
			if p.state == stBody {
				p.state = stDone
			} else {
				p.state = stChunkEnd
			}
			continue
		case stUntilClose:
			p.keepBody(rest)
			return n + len(rest), false, nil
		}
		line, used, ok := p.line(rest)
		n += used
		if !ok {
			return n, false, nil
		}
		if err := p.onLine(line); err != nil {
			return n, false, err
		}
	}
	return n, true, nil
}

// onLine advances the parser past one complete line.
func (p *h1Parser) onLine(line []byte) error {
	switch p.state {
	case stStatus:
		// "HTTP/1.1 200 OK"
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return fmt.Errorf("%w: status line %q", errProtocol, truncate(line))
		}
		status := int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
		if status < 100 || status > 999 {
			return fmt.Errorf("%w: status line %q", errProtocol, truncate(line))
		}
		p.status, p.keep = status, line[7] == '1'
		p.contentLength, p.chunked = -1, false
		p.state = stHeader
	case stHeader:
		if len(line) == 0 {
			p.endOfHeaders()
			return nil
		}
		return p.header(line)
	case stChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: chunk size %q", errProtocol, truncate(line))
		}
		if size == 0 {
			p.state = stTrailer
			break
		}
		p.state, p.remaining = stChunkData, size
		if p.chunks++; p.chunks > 1 && p.status >= 400 {
			p.failMore = true
		}
	case stChunkEnd:
		if len(line) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", errProtocol)
		}
		p.state = stChunkSize
	case stTrailer:
		if len(line) == 0 {
			p.state = stDone
		}
	}
	return nil
}

var (
	hdrContentLength    = []byte("content-length")
	hdrTransferEncoding = []byte("transfer-encoding")
	hdrConnection       = []byte("connection")
)

// header takes in one header line.
func (p *h1Parser) header(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil
	}
	name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
	switch {
	case bytes.EqualFold(name, hdrContentLength):
		v, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("%w: content-length %q", errProtocol, truncate(value))
		}
		p.contentLength = v
	case bytes.EqualFold(name, hdrTransferEncoding):
		p.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
	case bytes.EqualFold(name, hdrConnection):
		if bytes.EqualFold(value, []byte("close")) {
			p.keep = false
		} else if bytes.EqualFold(value, []byte("keep-alive")) {
			p.keep = true
		}
	}
	return nil
}

// endOfHeaders decides how the body is framed.
func (p *h1Parser) endOfHeaders() {
	switch {
	case p.status >= 100 && p.status < 200 && p.status != 101:
		p.state = stStatus // an informational response precedes the real one
	case p.head || p.status == 204 || p.status == 304 || p.status == 101:
		p.keep = p.keep && p.status != 101
		p.state = stDone
	case p.chunked:
		p.state = stChunkSize
	case p.contentLength > 0:
		p.state, p.remaining = stBody, p.contentLength
	case p.contentLength == 0:
		p.state = stDone
	default:
		// No length: the body runs to the end of the connection.
		p.keep = false
		p.state = stUntilClose
	}
}

// eof tells the parser the connection was closed, with pending bytes
// received but not consumed. It returns nil when that completes the response
// (a body that runs to the end of the connection), io.EOF when no byte of
// the response had arrived (the peer closed an idle connection) and
// io.ErrUnexpectedEOF otherwise.
func (p *h1Parser) eof(pending int) error {
	switch {
	case p.state == stUntilClose:
		p.state, p.keep = stDone, false
		return nil
	case p.consumed == 0 && pending == 0 && p.state == stStatus:
		return io.EOF
	default:
		return io.ErrUnexpectedEOF
	}
}
