package chaos

import (
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic[bandwidthToxic]("bandwidth", "limit throughput to rate (Toxiproxy counts it in whole KB/s, 1 KB = 1000 bytes)")
}

// bandwidthToxic limits throughput.
type bandwidthToxic struct {
	Rate ByteRate `yaml:"rate,omitempty" doc:"the throughput limit (required), a whole number of KB/s (1 KB = 1000 bytes), such as 100KB/s"`
}

func (b bandwidthToxic) validate() []error {
	if b.Rate < 1000 || b.Rate%1000 != 0 {
		return []error{fieldErrorf("rate", "rate is required, a whole number of KB/s (1 KB = 1000 bytes), such as 100KB/s (got %s)", b.Rate)}
	}
	return nil
}

func (b bandwidthToxic) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"rate": int64(b.Rate) / 1000}
}

func (b bandwidthToxic) describe() string { return fmt.Sprintf("bandwidth %s", b.Rate) }
