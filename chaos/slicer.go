package chaos

import (
	"errors"
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic(toxicKind{
		name:    "slicer",
		summary: "slice data into packets of average_size ± size_variation bytes, delay apart",
		fields:  []string{"average_size", "size_variation", "delay"},
		validate: func(s Spec) []error {
			var errs []error
			if s.AverageSize <= 0 {
				errs = append(errs, errors.New("average_size is required and must be positive, such as 64B"))
			}
			if s.SizeVariation >= s.AverageSize && s.AverageSize > 0 {
				errs = append(errs, fmt.Errorf("size_variation %s must be smaller than average_size %s", s.SizeVariation, s.AverageSize))
			}
			if s.Delay < 0 || s.Delay%time.Microsecond != 0 {
				errs = append(errs, fmt.Errorf("delay %s: want a non-negative whole number of microseconds", s.Delay))
			}
			return errs
		},
		attributes: func(s Spec) toxiproxy.Attributes {
			return toxiproxy.Attributes{
				"average_size":   int64(s.AverageSize),
				"size_variation": int64(s.SizeVariation),
				"delay":          int64(s.Delay / time.Microsecond),
			}
		},
		describe: func(s Spec) string {
			return fmt.Sprintf("slicer %s ±%s every %s", s.AverageSize, s.SizeVariation, s.Delay)
		},
	})
}
