package chaos

import (
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic(toxicKind{
		name:    "bandwidth",
		summary: "limit throughput to rate (Toxiproxy counts it in whole KB/s, 1 KB = 1000 bytes)",
		fields:  []string{"rate"},
		validate: func(s Spec) []error {
			if s.Rate < 1000 || s.Rate%1000 != 0 {
				return []error{fmt.Errorf("rate is required, a whole number of KB/s (1 KB = 1000 bytes), such as 100KB/s (got %s)", s.Rate)}
			}
			return nil
		},
		attributes: func(s Spec) toxiproxy.Attributes {
			return toxiproxy.Attributes{"rate": int64(s.Rate) / 1000}
		},
		describe: func(s Spec) string { return fmt.Sprintf("bandwidth %s", s.Rate) },
	})
}
