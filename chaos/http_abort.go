package chaos

func init() {
	registerHTTPFault[httpAbortAction]("http_abort", "answer a share of the matching HTTP requests on a proxy with a status (such as 503), or reset them, each request drawn on its own")
}

// httpAbortAction answers touched requests itself: they never reach the
// upstream.
type httpAbortAction struct {
	Status int  `yaml:"status,omitempty" default:"503" doc:"the status to answer with, from 200 to 599"`
	Reset  bool `yaml:"reset,omitempty" doc:"reset the request instead of answering: HTTP/1.1 closes the connection without a response, HTTP/2 resets the stream"`
}

func (a httpAbortAction) validate() []error {
	switch {
	case a.Reset && a.Status != 0:
		return []error{fieldErrorf("status", "status %d with reset: a reset request gets no status; give one or the other", a.Status)}
	case a.Status != 0 && !statusOK(a.Status):
		return []error{fieldErrorf("status", "status %d: want an HTTP status from 200 to 599, such as 503", a.Status)}
	}
	return nil
}

func (a httpAbortAction) configure(r *httpRuleDef) {
	switch {
	case a.Reset:
		r.Reset = true
	case a.Status == 0:
		r.Status = 503
	default:
		r.Status = a.Status
	}
}
