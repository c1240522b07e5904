package httpfault

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Rule is one HTTP fault: which requests it matches, how many of them it
// touches, and what it does to those.
type Rule struct {
	// Method matches the request's method exactly; empty matches any.
	Method string
	// Path matches the request's URL path.
	Path Pattern
	// Headers must all be on the request with these values (an empty
	// value: present, with any value). Names are case-insensitive.
	Headers map[string]string
	// Percent of the matching requests are touched, each one decided on its
	// own by a draw from a generator seeded with Seed: the same seed and
	// the same sequence of matching requests touch the same ones.
	Percent float64
	Seed    uint64

	// Status answers a touched request at once with this status (an
	// abort), unless Reset, which resets its stream instead: HTTP/1.1
	// closes the connection without a response, HTTP/2 sends RST_STREAM.
	Status int
	Reset  bool
	// Delay holds a touched request this long (plus or minus a uniform
	// random Jitter) before it is forwarded; used when Status is 0 and
	// Reset false.
	Delay, Jitter time.Duration

	mu      sync.Mutex
	rng     *rand.Rand
	matched int64
	touched int64
}

// Counts are what a rule did.
type Counts struct {
	// Matched is how many requests matched the rule (method, path,
	// headers), Touched how many of them it aborted or delayed.
	Matched, Touched int64
}

// Counts returns how many requests the rule matched and touched so far.
func (r *Rule) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Counts{Matched: r.matched, Touched: r.touched}
}

// aborts reports whether the rule answers touched requests itself.
func (r *Rule) aborts() bool { return r.Status != 0 || r.Reset }

// matches reports whether req is one of the rule's requests.
func (r *Rule) matches(req *http.Request) bool {
	if r.Method != "" && req.Method != r.Method {
		return false
	}
	if !r.Path.Match(req.URL.Path) {
		return false
	}
	for name, want := range r.Headers {
		got, ok := req.Header[http.CanonicalHeaderKey(name)]
		if !ok || (want != "" && !containsValue(got, want)) {
			return false
		}
	}
	return true
}

func containsValue(values []string, want string) bool {
	for _, v := range values {
		if v == want {
			return true
		}
	}
	return false
}

// draw counts a matching request and decides whether the rule touches it,
// and how long to hold it when it delays. The decision and the jitter come
// from the rule's own generator, one draw per matching request, so the
// sequence of decisions is the seed's.
func (r *Rule) draw() (touch bool, delay time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rng == nil {
		r.rng = rand.New(rand.NewPCG(r.Seed, 0x6874747066617574)) // "httpfaut"
	}
	r.matched++
	if r.Percent < 100 && r.rng.Float64()*100 >= r.Percent {
		return false, 0
	}
	r.touched++
	delay = r.Delay
	if r.Jitter > 0 {
		delay += time.Duration((r.rng.Float64()*2 - 1) * float64(r.Jitter))
	}
	return true, max(delay, 0)
}

// String says what the rule matches and does, such as "503 for 10% of
// POST /api/orders".
func (r *Rule) String() string {
	var do string
	switch {
	case r.Reset:
		do = "reset"
	case r.Status != 0:
		do = fmt.Sprintf("%d", r.Status)
	case r.Jitter > 0:
		do = fmt.Sprintf("delay %s ±%s", r.Delay, r.Jitter)
	default:
		do = "delay " + r.Delay.String()
	}
	method := r.Method
	if method == "" {
		method = "any method"
	}
	path := r.Path.String()
	if path == "" {
		path = "any path"
	}
	s := fmt.Sprintf("%s for %v%% of %s %s", do, r.Percent, method, path)
	if len(r.Headers) > 0 {
		var hs []string
		for k, v := range r.Headers {
			hs = append(hs, k+": "+v)
		}
		sort.Strings(hs)
		s += " with " + strings.Join(hs, ", ")
	}
	return s
}
