package chaos

import (
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic[limitDataToxic]("limit_data", "close the connection once bytes have passed")
}

// limitDataToxic closes a connection after some bytes.
type limitDataToxic struct {
	Bytes Size `yaml:"bytes,omitempty" doc:"the bytes to let through before closing (required), such as 1KiB"`
}

func (l limitDataToxic) validate() []error {
	if l.Bytes <= 0 {
		return []error{fieldErrorf("bytes", "bytes is required and must be positive, such as 1KiB")}
	}
	return nil
}

func (l limitDataToxic) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"bytes": int64(l.Bytes)}
}

func (l limitDataToxic) describe() string { return fmt.Sprintf("limit_data %s", l.Bytes) }
