package experiments

import (
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// maxBlocks is the most blocks the runner keeps of one phase. A phase of
// up to maxBlocks intervals (2m8s at the default 1 s; every bundled
// example's phases and every test's have at most 30) is kept interval by
// interval, as it always was, so its verdicts are those of every interval.
// A longer one keeps between maxBlocks/2 and maxBlocks blocks, about as
// many as the 100 that report compare resamples. A block costs at most the
// populated buckets of the phase's whole distribution, 16 bytes each, per
// histogram kept (a distribution from 1 to 60 ms fills about 6,000), so a
// phase costs at most about 12 MB per histogram kept, and a bootstrap round
// sums at most that, however long the phase.
const maxBlocks = 128

// blockList is one phase's intervals in bounded space: at most maxBlocks
// blocks, each the exact merge of width consecutive intervals (the last
// may hold fewer). Until the phase has more than maxBlocks intervals, each
// block is one interval. The interval after that merges the blocks in
// adjacent pairs and doubles width, so the merge of the blocks is always
// the merge of every interval: a phase's counts and percentiles are exact
// whatever its length, and its bootstrap resamples blocks of consecutive
// intervals (see judge).
type blockList struct {
	blocks []*sample
	width  int // intervals per whole block: 1, 2, 4, ...
}

// add files s, the phase's next interval.
func (b *blockList) add(s *sample) {
	if b.width == 0 {
		b.width = 1
	}
	if n := len(b.blocks); n > 0 && b.blocks[n-1].intervals < b.width {
		b.blocks[n-1] = merged(b.blocks[n-1], s)
		return
	}
	b.blocks = append(b.blocks, s)
	if len(b.blocks) > maxBlocks {
		half := make([]*sample, 0, maxBlocks+1)
		for i := 0; i < len(b.blocks); i += 2 {
			if i+1 < len(b.blocks) {
				half = append(half, merged(b.blocks[i], b.blocks[i+1]))
			} else {
				half = append(half, b.blocks[i]) // the newest, open for more
			}
		}
		b.blocks, b.width = half, 2*b.width
	}
}

// pulse is what time_to_recover reads of one interval: its p99 and error
// rate over all requests (NaN when none completed), computed as the
// interval arrives, and its times after the start of the load. 32 bytes
// where the interval's histograms take kilobytes.
type pulse struct {
	start, end     time.Duration
	p99, errorRate float64
}

func pulseOf(s *sample, loadStart time.Time) pulse {
	one := []*sample{s}
	return pulse{start: s.start.Sub(loadStart), end: s.end.Sub(loadStart),
		p99: valueOf(metricP99, "", one), errorRate: valueOf(metricErrorRate, "", one)}
}

// archive is what the runner keeps of the load's intervals, in space that
// does not grow with the length of a phase beyond maxBlocks intervals,
// except 32 bytes per interval of the baseline (for "back to normal") and
// per interval since the last revert (for time_to_recover).
type archive struct {
	keep     retained
	clock    *runClock
	baseline string // the baseline phase's name ("" without one)
	phases   map[string]*blockList
	// base are the pulses of the baseline phase's intervals: "back to
	// normal" is judged against their spread.
	base []pulse
	// recent are the pulses of the intervals that may still count for
	// time_to_recover, in time order: those that ended after the last
	// revert so far (every one until a fault is reverted).
	recent []pulse
}

func newArchive(plan *Plan, clock *runClock) *archive {
	return &archive{keep: retainedOf(plan), clock: clock, baseline: plan.Baseline, phases: map[string]*blockList{}}
}

// add files one interval of the load under its phase and returns it as
// the sample the abort conditions read. lastRevert is when the last
// fault was reverted after the start of the load (negative before any).
func (a *archive) add(phase string, iv *loadgen.Stats, targetRate float64, lastRevert time.Duration) *sample {
	s := a.keep.sampleOf(iv, targetRate)
	b := a.phases[phase]
	if b == nil {
		b = &blockList{}
		a.phases[phase] = b
	}
	b.add(s)
	p := pulseOf(s, a.clock.start)
	if phase == a.baseline {
		a.base = append(a.base, p)
	}
	// An interval that ended by the last revert never counts: reverts
	// only come later.
	for len(a.recent) > 0 && a.recent[0].end <= lastRevert {
		a.recent = a.recent[1:]
	}
	a.recent = append(a.recent, p)
	return s
}

// phase is the blocks of one phase, oldest first (nil before its first
// interval).
func (a *archive) phase(name string) []*sample {
	if b := a.phases[name]; b != nil {
		return b.blocks
	}
	return nil
}

// byPhase is the blocks of every phase by name, with "baseline" naming
// the baseline phase whatever its name.
func (a *archive) byPhase() map[string][]*sample {
	m := make(map[string][]*sample, len(a.phases)+1)
	for name, b := range a.phases {
		m[name] = b.blocks
	}
	if _, ok := m["baseline"]; !ok && a.baseline != "" {
		m["baseline"] = a.phase(a.baseline)
	}
	return m
}

// all is the blocks of every phase, in the order of phases (time order).
func (a *archive) all(phases []*Phase) []*sample {
	var out []*sample
	for _, p := range phases {
		out = append(out, a.phase(p.Name)...)
	}
	return out
}

// timeToRecover is timeToRecover over what the archive kept.
func (a *archive) timeToRecover(lastRevert time.Duration) (float64, string) {
	return timeToRecover(a.base, a.phase(a.baseline), a.recent, lastRevert)
}
