package experiments

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

const defaultProbeTimeout = 5 * time.Second

// probeResult is what one probe found.
type probeResult struct {
	Verdict  Verdict
	Measured string
	Detail   string
}

// runProbe checks p. samples are the load's intervals the metric probes
// judge; resolve expands ${...} references.
func runProbe(ctx context.Context, p *Probe, samples []*sample, resolve func(string) string, rng *rand.Rand) probeResult {
	switch c := p.Spec.Check.(type) {
	case selfCheck:
		return c.check(ctx, resolve)
	case readingCheck:
		v, err := c.read(ctx, resolve)
		if err != nil {
			return probeResult{Verdict: Deviated, Detail: err.Error()}
		}
		j := judge(p.Expect, &scope{current: samples, value: v, timeToRecover: math.NaN()}, rng)
		return probeResult{Verdict: j.Verdict, Measured: strconv.FormatFloat(v, 'g', 6, 64), Detail: j.Detail}
	default:
		j := judge(p.Expect, &scope{current: samples, timeToRecover: math.NaN()}, rng)
		return probeResult{Verdict: j.Verdict, Measured: j.Measured, Detail: j.Detail}
	}
}
