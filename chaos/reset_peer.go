package chaos

import "fmt"

func init() {
	registerToxic(toxicKind{
		name:       "reset_peer",
		summary:    "reset the connection (TCP RST) when data arrives, after timeout",
		fields:     []string{"timeout"},
		validate:   validateTimeoutMillis,
		attributes: timeoutAttributes,
		describe: func(s Spec) string {
			if d := timeoutOr(s, 0); d > 0 {
				return fmt.Sprintf("reset_peer after %s", d)
			}
			return "reset_peer"
		},
	})
}
