package chaos

import "time"

func init() {
	registerHTTPFault[httpDelayAction]("http_delay", "hold a share of the matching HTTP requests on a proxy for delay (plus or minus jitter) before forwarding them, each request drawn on its own")
}

// httpDelayAction holds touched requests before forwarding them.
type httpDelayAction struct {
	Delay  time.Duration `yaml:"delay,omitempty" doc:"how long to hold each touched request before forwarding it (required), such as 200ms"`
	Jitter time.Duration `yaml:"jitter,omitempty" doc:"random variation of the delay, plus or minus, drawn per request (at most delay)"`
}

func (a httpDelayAction) validate() []error {
	var errs []error
	if a.Delay <= 0 {
		errs = append(errs, fieldErrorf("delay", "delay is required and must be positive, such as 200ms"))
	}
	if a.Jitter < 0 || (a.Delay > 0 && a.Jitter > a.Delay) {
		errs = append(errs, fieldErrorf("jitter", "jitter %s: want at least 0 and at most delay %s", a.Jitter, a.Delay))
	}
	return errs
}

func (a httpDelayAction) configure(r *httpRuleDef) { r.Delay, r.Jitter = a.Delay, a.Jitter }
