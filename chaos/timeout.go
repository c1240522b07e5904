package chaos

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic(toxicKind{
		name:    "timeout",
		summary: "blackhole data: nothing passes; with timeout > 0 the connection is closed after it",
		fields:  []string{"timeout"},
		validate: func(s Spec) []error {
			if s.Timeout == nil {
				return nil
			}
			if _, err := wholeMillis("timeout", *s.Timeout); err != nil {
				return []error{err}
			}
			return nil
		},
		attributes: func(s Spec) toxiproxy.Attributes {
			return toxiproxy.Attributes{"timeout": int64(timeoutOr(s, 0) / time.Millisecond)}
		},
		describe: func(s Spec) string {
			if d := timeoutOr(s, 0); d > 0 {
				return fmt.Sprintf("timeout (blackhole, close after %s)", d)
			}
			return "timeout (blackhole)"
		},
	})
}

// timeoutOr returns the spec's timeout, or def when it has none.
func timeoutOr(s Spec, def time.Duration) time.Duration {
	if s.Timeout == nil {
		return def
	}
	return *s.Timeout
}
