package chaos

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic(toxicKind{
		name:    "reset_peer",
		summary: "reset the connection (TCP RST) when data arrives, after timeout",
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
				return fmt.Sprintf("reset_peer after %s", d)
			}
			return "reset_peer"
		},
	})
}
