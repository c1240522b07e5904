package chaos

import (
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic[resetPeerToxic]("reset_peer", "reset the connection (TCP RST) when data arrives, after timeout")
}

// resetPeerToxic resets connections.
type resetPeerToxic struct {
	Reset toxicTimeout `yaml:",inline"`
}

func (r resetPeerToxic) validate() []error                { return r.Reset.validate() }
func (r resetPeerToxic) attributes() toxiproxy.Attributes { return r.Reset.attributes() }

func (r resetPeerToxic) describe() string {
	if r.Reset.Timeout > 0 {
		return fmt.Sprintf("reset_peer after %s", r.Reset.Timeout)
	}
	return "reset_peer"
}
