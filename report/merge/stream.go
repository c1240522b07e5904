package merge

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/results"
)

// Files merges the results files at paths into a results file at out as
// Results and Write do, streaming: each input is read twice, once for its
// header, summary and interval lengths, then interval by interval in step
// with the others, and each merged interval is written as soon as every
// input has gone past it, so memory does not grow with the runs' length.
// It returns the merged summary.
func Files(paths []string, out string, opts Options) (*report.Summary, error) {
	if len(paths) == 0 {
		return nil, errors.New("merge: no results files")
	}
	inputs := make([]*results.File, len(paths))
	ends := make([]*results.File, len(paths)) // each input with its end
	lengths := map[time.Duration]int{}
	for i, path := range paths {
		in, last, err := scan(path, lengths)
		if err != nil {
			return nil, err
		}
		inputs[i] = in
		withEnd := *in
		if withEnd.EndedAt.IsZero() {
			withEnd.EndedAt = last
		}
		ends[i] = &withEnd
	}
	if err := checkMergeable(ends, paths, opts); err != nil {
		return nil, err
	}
	first := inputs[0]
	t0 := first.StartedAt
	for _, in := range inputs {
		if in.StartedAt.Before(t0) {
			t0 = in.StartedAt
		}
	}
	acc, err := combineHeaders(inputs, paths, t0)
	if err != nil {
		return nil, err
	}
	info, err := results.NewHeader("faultline report merge", first.Model, t0, acc.planned, acc.targetRate, map[string]any{"merged_from": acc.sources})
	if err != nil {
		return nil, err
	}
	ev, err := rejudge(acc.expressions)
	if err != nil {
		return nil, err
	}
	w, err := results.Create(out, info)
	if err != nil {
		return nil, &OutputError{err}
	}
	total := loadgen.NewStats(t0, t0)
	count := 0
	ended := acc.endedAt
	err = alignStreams(paths, t0, medianLength(lengths), func(iv *loadgen.Stats) {
		ev.Observe(iv)
		total.Merge(iv)
		w.WriteInterval(iv)
		count++
		if iv.End.After(ended) {
			ended = iv.End
		}
	})
	if err != nil {
		w.Abort()
		return nil, err
	}
	summary := summarizeMerged(mergedRun{
		Model: first.Model, Start: t0, End: ended, Planned: acc.planned, Total: total, Intervals: count,
		TargetRate: acc.targetRate, Sent: acc.sent, Interrupted: acc.interrupted, Generator: acc.generator,
	}, ev.Results(total))
	if err := w.Close(ended, summary); err != nil {
		return nil, &OutputError{err}
	}
	return summary, nil
}

// OutputError is an error of Files writing the merged file, as opposed
// to one in its inputs.
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// scan reads the header and summary of the results file at path, counts
// its interval lengths (to the millisecond) into lengths, and returns the
// end of its last interval.
func scan(path string, lengths map[time.Duration]int) (*results.File, time.Time, error) {
	var last time.Time
	f, err := os.Open(path)
	if err != nil {
		return nil, last, err
	}
	defer f.Close()
	in, err := results.Stream(bufio.NewReaderSize(f, 1<<16), path, func(_ int, ij *results.Interval, start time.Time) error {
		lengths[time.Duration((ij.EndMs-ij.StartMs)*float64(time.Millisecond)).Round(time.Millisecond)]++
		if end := start.Add(time.Duration(ij.EndMs * float64(time.Millisecond))); end.After(last) {
			last = end
		}
		return nil
	})
	return in, last, err
}

// medianLength is intervalLength's median over counted lengths.
func medianLength(lengths map[time.Duration]int) time.Duration {
	n := 0
	for _, c := range lengths {
		n += c
	}
	seen := 0
	for _, l := range slices.Sorted(func(yield func(time.Duration) bool) {
		for l := range lengths {
			if !yield(l) {
				return
			}
		}
	}) {
		if seen += lengths[l]; seen > n/2 {
			if l > 0 {
				return l
			}
			break
		}
	}
	return time.Second
}

// head is the next interval of one input and the bucket it goes to.
type head struct {
	iv   *loadgen.Stats
	key  int64
	next func() (*loadgen.Stats, error)
}

// alignStreams merges the inputs' intervals bucket by bucket, as
// alignIntervals does, reading each input in step, and hands each merged
// interval to emit in time order.
func alignStreams(paths []string, t0 time.Time, length time.Duration, emit func(*loadgen.Stats)) error {
	keyOf := func(iv *loadgen.Stats) int64 {
		return int64(math.Round(float64(iv.Start.Sub(t0)) / float64(length)))
	}
	heads := make([]*head, len(paths))
	for i, path := range paths {
		next, stop := pull(path)
		defer stop()
		h := &head{next: next}
		if err := h.advance(keyOf); err != nil {
			return err
		}
		heads[i] = h
	}
	var held *loadgen.Stats // the last bucket, until the next one's start clips it
	for {
		key, ok := int64(math.MaxInt64), false
		for _, h := range heads {
			if h.iv != nil && h.key <= key {
				key, ok = h.key, true
			}
		}
		if !ok {
			break
		}
		b := loadgen.NewStats(time.Time{}, time.Time{})
		var longer time.Duration
		for _, h := range heads {
			for h.iv != nil && h.key == key {
				b.Merge(h.iv)
				longer = max(longer, h.iv.Duration())
				if err := h.advance(keyOf); err != nil {
					return err
				}
				if h.iv != nil && h.key < key {
					return errors.New("merge: an input's intervals are not in time order")
				}
			}
		}
		b.Start = t0.Add(time.Duration(key) * length)
		b.End = b.Start.Add(longer)
		if held != nil {
			// Timer jitter makes some intervals a little longer than the
			// length; the merged ones must not overlap.
			held.End = minTime(held.End, b.Start)
			emit(held)
		}
		held = b
	}
	if held != nil {
		emit(held)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (h *head) advance(keyOf func(*loadgen.Stats) int64) error {
	iv, err := h.next()
	if err != nil {
		return err
	}
	h.iv = iv
	if iv != nil {
		h.key = keyOf(iv)
	}
	return nil
}

// pull reads the results file at path interval by interval in a goroutine:
// next returns the next interval (nil at the end); stop ends the reading
// and waits for the goroutine.
func pull(path string) (next func() (*loadgen.Stats, error), stop func()) {
	type item struct {
		iv  *loadgen.Stats
		err error
	}
	items := make(chan item)
	done := make(chan struct{})
	finished := make(chan struct{})
	errStopped := errors.New("stopped")
	go func() {
		defer close(finished)
		defer close(items)
		f, err := os.Open(path)
		if err != nil {
			select {
			case items <- item{err: err}:
			case <-done:
			}
			return
		}
		defer f.Close()
		_, err = results.Stream(bufio.NewReaderSize(f, 1<<16), path, func(i int, ij *results.Interval, start time.Time) error {
			iv, err := results.DecodeInterval(ij, start)
			if err != nil {
				return err
			}
			select {
			case items <- item{iv: iv}:
				return nil
			case <-done:
				return errStopped
			}
		})
		if err != nil && !errors.Is(err, errStopped) {
			select {
			case items <- item{err: fmt.Errorf("merge: %w", err)}:
			case <-done:
			}
		}
	}()
	next = func() (*loadgen.Stats, error) {
		it, ok := <-items
		if !ok {
			return nil, nil
		}
		return it.iv, it.err
	}
	stop = func() {
		close(done)
		<-finished
	}
	return next, stop
}
