package chaos

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic[timeoutToxic]("timeout", "blackhole data: nothing passes; with timeout > 0 the connection is closed after it")
}

// timeoutToxic blackholes data.
type timeoutToxic struct {
	Close toxicTimeout `yaml:",inline"`
}

func (t timeoutToxic) validate() []error                { return t.Close.validate() }
func (t timeoutToxic) attributes() toxiproxy.Attributes { return t.Close.attributes() }

func (t timeoutToxic) describe() string {
	if t.Close.Timeout > 0 {
		return fmt.Sprintf("timeout (blackhole, close after %s)", t.Close.Timeout)
	}
	return "timeout (blackhole)"
}

// toxicTimeout is the one attribute of the timeout and reset_peer toxics,
// a timeout in whole milliseconds.
type toxicTimeout struct {
	Timeout time.Duration `yaml:"timeout,omitempty" doc:"timeout: close the connection after this long (default 0: never); reset_peer: reset it after this long (default 0: at once); whole milliseconds"`
}

func (t toxicTimeout) validate() []error {
	if _, err := wholeMillis("timeout", t.Timeout); err != nil {
		return []error{err}
	}
	return nil
}

func (t toxicTimeout) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"timeout": int64(t.Timeout / time.Millisecond)}
}
