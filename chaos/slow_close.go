package chaos

import (
	"errors"
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic(toxicKind{
		name:    "slow_close",
		summary: "delay the close of the connection by delay",
		fields:  []string{"delay"},
		validate: func(s Spec) []error {
			if s.Delay <= 0 {
				return []error{errors.New("delay is required and must be positive, such as 1s")}
			}
			if _, err := wholeMillis("delay", s.Delay); err != nil {
				return []error{err}
			}
			return nil
		},
		attributes: func(s Spec) toxiproxy.Attributes {
			return toxiproxy.Attributes{"delay": int64(s.Delay / time.Millisecond)}
		},
		describe: func(s Spec) string { return fmt.Sprintf("slow_close %s", s.Delay) },
	})
}
