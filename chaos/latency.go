package chaos

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic[latencyToxic]("latency", "delay data by latency, plus or minus a random jitter")
}

// latencyToxic delays data.
type latencyToxic struct {
	Latency time.Duration `yaml:"latency,omitempty" doc:"the delay added to the data (required; whole milliseconds), such as 200ms"`
	Jitter  time.Duration `yaml:"jitter,omitempty" doc:"random variation of the latency, plus or minus (whole milliseconds, at most latency)"`
}

func (l latencyToxic) validate() []error {
	var errs []error
	if l.Latency <= 0 {
		errs = append(errs, fieldErrorf("latency", "latency is required and must be positive, such as 200ms"))
	} else if _, err := wholeMillis("latency", l.Latency); err != nil {
		errs = append(errs, err)
	}
	if _, err := wholeMillis("jitter", l.Jitter); err != nil {
		errs = append(errs, err)
	}
	if l.Jitter > l.Latency && l.Latency > 0 {
		errs = append(errs, fieldErrorf("jitter", "jitter %s is larger than latency %s", l.Jitter, l.Latency))
	}
	return errs
}

func (l latencyToxic) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"latency": int64(l.Latency / time.Millisecond), "jitter": int64(l.Jitter / time.Millisecond)}
}

func (l latencyToxic) describe() string {
	if l.Jitter > 0 {
		return fmt.Sprintf("latency %s ±%s", l.Latency, l.Jitter)
	}
	return fmt.Sprintf("latency %s", l.Latency)
}
