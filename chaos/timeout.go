package chaos

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic(toxicKind{
		name:       "timeout",
		summary:    "blackhole data: nothing passes; with timeout > 0 the connection is closed after it",
		fields:     []string{"timeout"},
		validate:   validateTimeoutMillis,
		attributes: timeoutAttributes,
		describe: func(s Spec) string {
			if d := timeoutOr(s, 0); d > 0 {
				return fmt.Sprintf("timeout (blackhole, close after %s)", d)
			}
			return "timeout (blackhole)"
		},
	})
}

// validateTimeoutMillis checks the timeout of the toxics whose one
// attribute is a timeout in whole milliseconds (timeout, reset_peer).
func validateTimeoutMillis(s Spec) []error {
	if s.Timeout == nil {
		return nil
	}
	if _, err := wholeMillis("timeout", *s.Timeout); err != nil {
		return []error{err}
	}
	return nil
}

// timeoutAttributes is the Toxiproxy attributes of those toxics.
func timeoutAttributes(s Spec) toxiproxy.Attributes {
	return toxiproxy.Attributes{"timeout": int64(timeoutOr(s, 0) / time.Millisecond)}
}

// timeoutOr returns the spec's timeout, or def when it has none.
func timeoutOr(s Spec, def time.Duration) time.Duration {
	if s.Timeout == nil {
		return def
	}
	return *s.Timeout
}
