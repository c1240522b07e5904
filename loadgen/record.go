package loadgen

import (
	"runtime"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// sample is what one completed request contributes to the statistics.
//
// Every engine fills one per completed request and hands it to
// recorder.record. For a failing request (status 0 or >= 400) it also sets
// what the failure samples need: body, the first bytes of the response body
// that the client kept (at most FailureBodyBytes, in a buffer the client
// reuses: record copies it only when it keeps the sample) with bodyMore
// when the body went on; or err, the transport error. A successful request
// sets neither and costs record no allocation.
type sample struct {
	latency, service time.Duration
	lag              time.Duration
	hasLag           bool
	status           int        // 0 when no response arrived
	errClass         ErrorClass // set when no response arrived
	in, out          int64
	body             []byte
	bodyMore         bool
	err              error
}

// recorder collects samples from many workers with little contention: each
// worker records into one of a few shards, each shard holds one histogram per
// request name and outcome, and the collector empties the shards into an
// interval once a second. Memory is fixed by the number of shards and names,
// however long the run.
type recorder struct {
	names      []string // series names, deduplicated
	targetName []int    // target index -> index into names
	shards     []*shard
}

type shard struct {
	mu     sync.Mutex
	series []*Series // index: 2*name + outcome (0 ok, 1 error); nil until used
	// status counts responses by code for each series slot in an array,
	// cheaper than a map on the hot path; drain folds it into the map.
	status []*[1000]int64
	// lag is the shard's send-lag histogram, made on the first sample that
	// has one: a closed-model run has none, and a shard no worker records
	// into (an event loop's shard when there are fewer loops than shards)
	// never needs it, so neither holds its 264 KiB.
	lag *hdrhistogram.Histogram
	// failures are the failure samples taken since the last drain, and
	// sampled counts them per request name: each shard keeps at most
	// FailureSamplesPerName per name and interval, and drain keeps at most
	// that many of all shards' (Stats.AddFailure).
	failures []FailureSample
	sampled  []int
}

func newRecorder(targets []Target, shards int) *recorder {
	r := &recorder{targetName: make([]int, len(targets))}
	index := map[string]int{}
	for i, t := range targets {
		n, ok := index[t.Name]
		if !ok {
			n = len(r.names)
			index[t.Name] = n
			r.names = append(r.names, t.Name)
		}
		r.targetName[i] = n
	}
	for i := 0; i < shards; i++ {
		r.shards = append(r.shards, &shard{series: make([]*Series, 2*len(r.names)), status: make([]*[1000]int64, 2*len(r.names)), sampled: make([]int, len(r.names))})
	}
	return r
}

// record adds one completed request of target to the shard of shardIndex
// (a worker's id). It is the one entry point of every engine's measurements,
// failure samples included (see sample).
func (r *recorder) record(shardIndex, target int, s *sample) {
	sh := r.shards[shardIndex%len(r.shards)]
	name := r.targetName[target]
	outcome, slot := OK, 2*name
	if s.status == 0 || s.status >= 400 {
		outcome, slot = Error, slot+1
	}
	sh.mu.Lock()
	if outcome == Error && sh.sampled[name] < FailureSamplesPerName {
		sh.sampled[name]++
		var errText string
		if s.status == 0 && s.err != nil {
			errText = s.err.Error()
		}
		sh.failures = append(sh.failures, newFailureSample(r.names[name], s.status, s.errClass, s.body, errText, s.bodyMore))
	}
	se := sh.series[slot]
	if se == nil {
		se = newSeries(r.names[name], outcome)
		sh.series[slot] = se
	}
	recordDuration(se.Latency, s.latency)
	recordDuration(se.Service, s.service)
	switch {
	case s.status > 0 && s.status < 1000:
		if sh.status[slot] == nil {
			sh.status[slot] = new([1000]int64)
		}
		sh.status[slot][s.status]++
	case s.status != 0:
		se.Status[s.status]++
	default:
		se.Errors[s.errClass]++
	}
	se.BytesIn += s.in
	se.BytesOut += s.out
	if s.hasLag {
		if sh.lag == nil {
			sh.lag = NewHistogram()
		}
		recordDuration(sh.lag, s.lag)
	}
	sh.mu.Unlock()
}

// drain moves everything recorded so far into st and empties the shards.
func (r *recorder) drain(st *Stats) {
	for _, sh := range r.shards {
		sh.mu.Lock()
		for slot, se := range sh.series {
			if se == nil || se.Count() == 0 {
				continue
			}
			if codes := sh.status[slot]; codes != nil {
				for code, n := range codes {
					if n != 0 {
						se.Status[code] += n
						codes[code] = 0
					}
				}
			}
			st.series(se.Name, se.Outcome).merge(se)
			se.Latency.Reset()
			se.Service.Reset()
			clear(se.Status)
			clear(se.Errors)
			se.BytesIn, se.BytesOut = 0, 0
		}
		if sh.lag != nil {
			st.SendLag.Merge(sh.lag)
			sh.lag.Reset()
		}
		for _, f := range sh.failures {
			st.AddFailure(f)
		}
		sh.failures = sh.failures[:0]
		clear(sh.sampled)
		sh.mu.Unlock()
		runtime.Gosched()
	}
}
