package loadgen

import "unicode/utf8"

// Failure samples: a few failing responses kept whole enough to say why
// they failed (a 400's body usually names the field at fault), so that a
// user reading a report need not grep a journal or rerun with a proxy.
const (
	// FailureSamplesPerName bounds the failure samples of one request
	// name in one interval, and in any merge of intervals (a phase, the
	// whole run), so memory stays fixed however long the run.
	FailureSamplesPerName = 3
	// FailureBodyBytes is how much of a failing response's body a sample
	// keeps: its first bytes, or of a transport error's message.
	FailureBodyBytes = 256
)

// FailureSample is one failing request as it was answered: its status (or,
// when no response arrived, its error class) and the first bytes of its
// body (or the transport error's message).
type FailureSample struct {
	Name   string
	Status int        // 0 when no response arrived
	Error  ErrorClass // set when Status is 0
	// Body is at most FailureBodyBytes bytes, cut at a character boundary;
	// Truncated says more followed.
	Body      string
	Truncated bool
}

// sameKind reports whether two samples failed the same way.
func (f FailureSample) sameKind(o FailureSample) bool {
	return f.Status == o.Status && f.Error == o.Error
}

// newFailureSample copies what a sample holds of a failure. body is the
// start of the response body as the client kept it (at most
// FailureBodyBytes), or nil; errText is the transport error's message.
func newFailureSample(name string, status int, class ErrorClass, body []byte, errText string, more bool) FailureSample {
	f := FailureSample{Name: name, Status: status}
	if status == 0 {
		f.Error = class
		body = []byte(errText)
	}
	if len(body) > FailureBodyBytes {
		body, more = body[:FailureBodyBytes], true
	}
	// A cut through a multi-byte character would leave invalid UTF-8 in
	// JSON and HTML: drop the partial character.
	if more {
		for n := 0; n < utf8.UTFMax && len(body) > 0 && !utf8.Valid(body); n++ {
			body = body[:len(body)-1]
		}
	}
	f.Body, f.Truncated = string(body), more
	return f
}

// AddFailure keeps f among s's failure samples if there is room: at most
// FailureSamplesPerName per request name. When a name's samples are full, a
// sample that failed in a way not yet kept replaces the latest of a kind
// kept more than once, so a phase that saw both 400s and 503s shows both.
func (s *Stats) AddFailure(f FailureSample) {
	var idx []int
	seen := false
	for i, x := range s.Failures {
		if x.Name == f.Name {
			idx = append(idx, i)
			seen = seen || x.sameKind(f)
		}
	}
	if len(idx) < FailureSamplesPerName {
		s.Failures = append(s.Failures, f)
		return
	}
	if seen {
		return
	}
	for j := len(idx) - 1; j >= 0; j-- {
		kept := 0
		for _, i := range idx {
			if s.Failures[i].sameKind(s.Failures[idx[j]]) {
				kept++
			}
		}
		if kept > 1 {
			s.Failures[idx[j]] = f
			return
		}
	}
}

// FailuresOf returns the failure samples of the named request (all when
// name is empty).
func (s *Stats) FailuresOf(name string) []FailureSample {
	if name == "" {
		return s.Failures
	}
	var out []FailureSample
	for _, f := range s.Failures {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}
