package distrib

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// helloRounds is how many hellos measure a worker's clock; the one with
// the shortest round trip bounds the offset most tightly.
const helloRounds = 5

// Clock is what the hellos measured of a worker's clock: the offset to add
// to a time on the coordinator's clock to get the same instant on the
// worker's, and the bound on its error. The worker read its clock at some
// instant within the round trip, so the true offset lies within Error
// (half the shortest round trip) of Offset, whatever the delays each way.
type Clock struct {
	Offset, Error time.Duration
}

// greet says hello helloRounds times: it checks the worker's protocol and
// its proof of the token, and measures its clock.
func greet(ctx context.Context, client *http.Client, base *url.URL, token string) (Hello, Clock, error) {
	var best Hello
	clock := Clock{Error: -1}
	for range helloRounds {
		h, sent, received, err := helloOnce(ctx, client, base, token)
		if err != nil {
			return best, clock, err
		}
		rtt := received.Sub(sent)
		if clock.Error < 0 || rtt/2 < clock.Error {
			mid := sent.Add(rtt / 2)
			// h.Now carries no monotonic reading, so Sub compares wall clocks.
			clock = Clock{Offset: h.Now.Sub(mid), Error: rtt / 2}
			best = h
		}
	}
	return best, clock, nil
}

// helloOnce is one authenticated hello with a fresh nonce.
func helloOnce(ctx context.Context, client *http.Client, base *url.URL, token string) (h Hello, sent, received time.Time, err error) {
	nb := make([]byte, 16)
	if _, err := rand.Read(nb); err != nil {
		return h, sent, received, err
	}
	nonce := hex.EncodeToString(nb)
	u := base.JoinPath(HelloPath)
	u.RawQuery = url.Values{"nonce": {nonce}}.Encode()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return h, sent, received, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	sent = time.Now()
	resp, err := client.Do(req)
	received = time.Now()
	if err != nil {
		return h, sent, received, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return h, sent, received, fmt.Errorf("hello: %s: %s", resp.Status, trimBody(b))
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, sent, received, fmt.Errorf("hello: %w", err)
	}
	switch {
	case h.Protocol != Version:
		return h, sent, received, fmt.Errorf("hello: the worker speaks protocol version %d, this coordinator %d", h.Protocol, Version)
	case h.Proof != proof(token, nonce):
		return h, sent, received, fmt.Errorf("hello: the worker does not hold this run's token")
	case h.Busy:
		return h, sent, received, fmt.Errorf("hello: the worker is busy with another run")
	}
	return h, sent, received, nil
}

func trimBody(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
