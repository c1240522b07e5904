package chaos

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic[slowCloseToxic]("slow_close", "delay the close of the connection by delay")
}

// slowCloseToxic delays the close of a connection.
type slowCloseToxic struct {
	Delay time.Duration `yaml:"delay,omitempty" doc:"how long the close of the connection is delayed (required; whole milliseconds)"`
}

func (s slowCloseToxic) validate() []error {
	if s.Delay <= 0 {
		return []error{fieldErrorf("delay", "delay is required and must be positive, such as 1s")}
	}
	if _, err := wholeMillis("delay", s.Delay); err != nil {
		return []error{err}
	}
	return nil
}

func (s slowCloseToxic) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"delay": int64(s.Delay / time.Millisecond)}
}

func (s slowCloseToxic) describe() string { return fmt.Sprintf("slow_close %s", s.Delay) }
