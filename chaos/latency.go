package chaos

import (
	"errors"
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic(toxicKind{
		name:    "latency",
		summary: "delay data by latency, plus or minus a random jitter",
		fields:  []string{"latency", "jitter"},
		validate: func(s Spec) []error {
			var errs []error
			if s.Latency <= 0 {
				errs = append(errs, errors.New("latency is required and must be positive, such as 200ms"))
			} else if _, err := wholeMillis("latency", s.Latency); err != nil {
				errs = append(errs, err)
			}
			if _, err := wholeMillis("jitter", s.Jitter); err != nil {
				errs = append(errs, err)
			}
			if s.Jitter > s.Latency && s.Latency > 0 {
				errs = append(errs, fmt.Errorf("jitter %s is larger than latency %s", s.Jitter, s.Latency))
			}
			return errs
		},
		attributes: func(s Spec) toxiproxy.Attributes {
			return toxiproxy.Attributes{"latency": int64(s.Latency / time.Millisecond), "jitter": int64(s.Jitter / time.Millisecond)}
		},
		describe: func(s Spec) string {
			if s.Jitter > 0 {
				return fmt.Sprintf("latency %s ±%s", s.Latency, s.Jitter)
			}
			return fmt.Sprintf("latency %s", s.Latency)
		},
	})
}
