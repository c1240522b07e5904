package chaos

import (
	"errors"
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic(toxicKind{
		name:    "limit_data",
		summary: "close the connection once bytes have passed",
		fields:  []string{"bytes"},
		validate: func(s Spec) []error {
			if s.Bytes <= 0 {
				return []error{errors.New("bytes is required and must be positive, such as 1KiB")}
			}
			return nil
		},
		attributes: func(s Spec) toxiproxy.Attributes {
			return toxiproxy.Attributes{"bytes": int64(s.Bytes)}
		},
		describe: func(s Spec) string { return fmt.Sprintf("limit_data %s", s.Bytes) },
	})
}
