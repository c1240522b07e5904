package loadgen

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawServer answers each request on a connection with the next of replies,
// written verbatim, and closes the connection after the last one.
func rawServer(t *testing.T, replies ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, reply := range replies {
			if readRequestHead(br) != nil {
				return
			}
			if _, err := io.WriteString(c, reply); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return l.Addr().String()
}

// readRequestHead reads one request's head, up to its blank line (the
// requests in these tests carry no body).
func readRequestHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			return nil
		}
	}
}

// framingCases are responses with every framing the parser knows, and
// malformed ones.
var framingCases = []struct {
	name       string
	reply      string
	head       bool
	wantStatus int
	wantKeep   bool
	wantErr    bool
}{
	{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 200, true, false},
	{"chunked", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n", false, 201, true, false},
	{"no content", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, true, false},
	{"head with length", "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", true, 200, true, false},
	{"connection close", "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno", false, 503, false, false},
	{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, false, false},
	{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false, 200, true, false},
	{"100 continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, true, false},
	{"until close", "HTTP/1.1 200 OK\r\n\r\nbody until the end", false, 200, false, false},
	{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", false, 0, false, true},
	{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, 200, false, true},
	{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, 200, false, true},
	{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, 200, false, true},
}

func TestH1ResponseFraming(t *testing.T) {
	t.Parallel()
	for _, c := range framingCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			addr := rawServer(t, c.reply)
			h := newH1Conn(&endpoint{addr: addr}, time.Second)
			defer h.close()
			if err := h.dial(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := h.c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			status, in, keep, err := h.readResponse(c.head)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if status != c.wantStatus || (!c.wantErr && keep != c.wantKeep) {
				t.Errorf("status %d keep %v, want %d %v", status, keep, c.wantStatus, c.wantKeep)
			}
			if !c.wantErr && int(in) != len(c.reply) {
				t.Errorf("counted %d bytes in, the reply has %d", in, len(c.reply))
			}
		})
	}
}

// TestH1ParserSplitAnywhere feeds each framing case to the parser in pieces
// of every size from one byte, as the event-loop engine's reads may cut a
// response anywhere, and checks it reaches the same verdict as whole.
func TestH1ParserSplitAnywhere(t *testing.T) {
	t.Parallel()
	for _, c := range framingCases {
		for size := 1; size <= len(c.reply); size++ {
			var p h1Parser
			p.reset(c.head)
			var pending []byte
			done, eof := false, false
			var err error
			for off := 0; off < len(c.reply) && !done && err == nil; off += size {
				pending = append(pending, c.reply[off:min(off+size, len(c.reply))]...)
				var n int
				n, done, err = p.feed(pending)
				pending = pending[n:]
			}
			if !done && err == nil {
				err, eof = p.eof(len(pending)), true
			}
			if (err != nil) != c.wantErr {
				t.Fatalf("%s in pieces of %d: err = %v, want error %v", c.name, size, err, c.wantErr)
			}
			if !c.wantErr && (p.status != c.wantStatus || p.keep != c.wantKeep) {
				t.Fatalf("%s in pieces of %d: status %d keep %v, want %d %v", c.name, size, p.status, p.keep, c.wantStatus, c.wantKeep)
			}
			if !c.wantErr && !eof && int(p.consumed) != len(c.reply) {
				t.Fatalf("%s in pieces of %d: consumed %d of %d bytes", c.name, size, p.consumed, len(c.reply))
			}
		}
	}
}

func TestH1ParserLongLine(t *testing.T) {
	t.Parallel()
	long := "X-Big: " + strings.Repeat("a", 3*maxLine) + "\r\n"
	reply := "HTTP/1.1 200 OK\r\n" + long + "Content-Length: 2\r\n\r\nok"
	var p h1Parser
	p.reset(false)
	var pending []byte
	for off := 0; off < len(reply); off += 1000 {
		pending = append(pending, reply[off:min(off+1000, len(reply))]...)
		n, done, err := p.feed(pending)
		if err != nil {
			t.Fatal(err)
		}
		pending = pending[n:]
		if len(pending) >= maxLine {
			t.Fatalf("parser left %d bytes unconsumed", len(pending))
		}
		if done {
			if p.status != 200 || int(p.consumed) != len(reply) {
				t.Fatalf("status %d consumed %d of %d", p.status, p.consumed, len(reply))
			}
			return
		}
	}
	t.Fatal("the response never completed")
}

func TestH1RetriesAStaleConnectionOnce(t *testing.T) {
	t.Parallel()
	// The server answers one request and closes; the client's second
	// request finds the connection closed and must go out on a new one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 2; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			readRequestHead(bufio.NewReader(c))
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	h := newH1Conn(&endpoint{addr: l.Addr().String()}, time.Second)
	defer h.close()
	raw := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 0; i < 2; i++ {
		status, _, err := h.roundTrip(raw, false, time.Now().Add(5*time.Second), 5*time.Second)
		if err != nil || status != 200 {
			t.Fatalf("request %d: status %d, err %v", i, status, err)
		}
		// Let the server's close arrive before the next request.
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	if c := classify(io.ErrUnexpectedEOF); c != ErrReset {
		t.Errorf("unexpected EOF: %s", c)
	}
	if c := classify(&tlsError{errors.New("x")}); c != ErrTLS {
		t.Errorf("tls: %s", c)
	}
	if c := classify(errors.New("something")); c != ErrOther {
		t.Errorf("other: %s", c)
	}
}

func FuzzH1Response(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), false)
	f.Add([]byte("HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 404 NF\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, reply []byte, head bool) {
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			server.Write(reply)
			server.Close()
		}()
		h := &h1Conn{c: client, br: bufio.NewReaderSize(client, 16*1024)}
		_ = client.SetDeadline(time.Now().Add(5 * time.Second))
		status, in, _, err := h.readResponse(head)
		if err == nil && (status < 100 || status > 999) {
			t.Errorf("accepted status %d", status)
		}
		if in > int64(len(reply)) {
			t.Errorf("counted %d bytes of a %d-byte reply", in, len(reply))
		}
	})
}
