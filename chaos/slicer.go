package chaos

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func init() {
	registerToxic[slicerToxic]("slicer", "slice data into packets of average_size ± size_variation bytes, delay apart")
}

// slicerToxic slices data into small packets.
type slicerToxic struct {
	AverageSize   Size          `yaml:"average_size,omitempty" doc:"the average size of the slices (required), such as 64B"`
	SizeVariation Size          `yaml:"size_variation,omitempty" doc:"the variation of the slice size, plus or minus (smaller than average_size)"`
	Delay         time.Duration `yaml:"delay,omitempty" doc:"the time between slices (whole microseconds)"`
}

func (s slicerToxic) validate() []error {
	var errs []error
	if s.AverageSize <= 0 {
		errs = append(errs, fieldErrorf("average_size", "average_size is required and must be positive, such as 64B"))
	}
	if s.SizeVariation >= s.AverageSize && s.AverageSize > 0 {
		errs = append(errs, fieldErrorf("size_variation", "size_variation %s must be smaller than average_size %s", s.SizeVariation, s.AverageSize))
	}
	if s.Delay < 0 || s.Delay%time.Microsecond != 0 {
		errs = append(errs, fieldErrorf("delay", "delay %s: want a non-negative whole number of microseconds", s.Delay))
	}
	return errs
}

func (s slicerToxic) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{
		"average_size":   int64(s.AverageSize),
		"size_variation": int64(s.SizeVariation),
		"delay":          int64(s.Delay / time.Microsecond),
	}
}

func (s slicerToxic) describe() string {
	return fmt.Sprintf("slicer %s ±%s every %s", s.AverageSize, s.SizeVariation, s.Delay)
}
