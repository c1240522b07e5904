package report

import (
	"fmt"
	"io"
	"slices"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
)

func init() {
	RegisterFormat(Format{Name: "hgrm", Extension: ".hgrm", Render: writeHgrmFormat,
		Description: "percentile distribution of the latency in HdrHistogram's .hgrm layout (one histogram: select with --request, --phase)"})
}

// SelectLatency returns the latency histogram of one request name (every
// request when empty) in one phase (the whole run when empty).
func SelectLatency(r *Run, phase, request string) (*hdrhistogram.Histogram, error) {
	var s *loadgen.Stats
	if phase == "" {
		s = r.Total()
	} else {
		i := slices.IndexFunc(r.Phases, func(p Phase) bool { return p.Name == phase })
		if i < 0 {
			names := make([]string, len(r.Phases))
			for j, p := range r.Phases {
				names[j] = p.Name
			}
			return nil, fmt.Errorf("no phase named %q (phases: %v)", phase, names)
		}
		s = r.PhaseStats(i)
	}
	if request != "" && !slices.Contains(r.Names(), request) {
		return nil, fmt.Errorf("no request named %q (requests: %q)", request, r.Names())
	}
	return s.Latency(request), nil
}

func writeHgrmFormat(w io.Writer, r *Run, opts Options) error {
	h, err := SelectLatency(r, opts.Phase, opts.Request)
	if err != nil {
		return err
	}
	scale, _ := opts.scale()
	return WriteHgrm(w, h, scale, DefaultTicksPerHalfDistance)
}
