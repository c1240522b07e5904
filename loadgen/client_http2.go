package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// TLSOptions configures TLS towards https targets.
type TLSOptions struct {
	Insecure bool   // skip certificate verification
	CAFile   string // PEM bundle of extra roots to trust
	CertFile string // client certificate (PEM), with KeyFile
	KeyFile  string
}

// config builds the TLS configuration; errors name the file at fault.
func (o TLSOptions) config(nextProtos []string) (*tls.Config, error) {
	cfg := &tls.Config{
		InsecureSkipVerify: o.Insecure, //nolint:gosec // asked for with --insecure
		NextProtos:         nextProtos,
		ClientSessionCache: tls.NewLRUClientSessionCache(256),
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca file %s: no PEM certificates found", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("a client certificate needs both a cert file and a key file")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// h2Client sends requests over HTTP/2 (TLS with ALPN, or h2c with prior
// knowledge on plain http) through net/http, which multiplexes many requests
// over one connection. Each h2Client owns one transport and so one
// connection per origin.
type h2Client struct {
	client *http.Client
}

func newH2Client(tlsCfg *tls.Config, connectTimeout time.Duration) *h2Client {
	protocols := new(http.Protocols)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols:           protocols,
		TLSClientConfig:     tlsCfg,
		DialContext:         (&net.Dialer{Timeout: connectTimeout}).DialContext,
		TLSHandshakeTimeout: connectTimeout,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
		ForceAttemptHTTP2:   true,
	}
	return &h2Client{client: &http.Client{
		Transport: tr,
		// A load generator measures what the target answers, redirects
		// included, rather than following them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// roundTrip sends t and discards the response body. Byte counts are body
// bytes only: HTTP/2 compresses headers per connection, so they cannot be
// attributed to a single request. The start of a 4xx or 5xx response's body
// is first read into *keep (allocated on the first failure, FailureBodyBytes
// long, reused after), and kept says how many bytes it holds.
func (c *h2Client) roundTrip(ctx context.Context, t *Target, deadline time.Time, keep *[]byte) (status int, in, out int64, kept int, err error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var body io.Reader
	if len(t.Body) > 0 {
		body = bytes.NewReader(t.Body)
	}
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL.String(), body)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	for k, v := range t.Header {
		req.Header[k] = v
	}
	if host := t.Header.Get("Host"); host != "" {
		req.Host = host
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, 0, int64(len(t.Body)), 0, err
	}
	if resp.StatusCode >= 400 {
		if *keep == nil {
			*keep = make([]byte, FailureBodyBytes)
		}
		// A short body is no error here; a broken one fails the copy below.
		kept, _ = io.ReadFull(resp.Body, *keep)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, n + int64(kept), int64(len(t.Body)), kept, err
}

func (c *h2Client) close() { c.client.CloseIdleConnections() }
