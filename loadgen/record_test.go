package loadgen

import (
	"testing"
	"time"
)

// TestRecorderSendLagOnlyWhereRecorded checks that a shard holds a send-lag
// histogram only once a sample with a lag reached it (a closed-model run and
// an unused shard hold none), and that drain still delivers every lag.
func TestRecorderSendLagOnlyWhereRecorded(t *testing.T) {
	t.Parallel()
	rec := newRecorder([]Target{{Name: "a"}}, 2)
	rec.record(0, 0, &sample{latency: time.Millisecond, service: time.Millisecond, status: 200})
	if rec.shards[0].lag != nil || rec.shards[1].lag != nil {
		t.Fatal("a sample without a send lag made a send-lag histogram")
	}
	st := NewStats(time.Time{}, time.Time{})
	rec.drain(st)
	if n := st.SendLag.TotalCount(); n != 0 {
		t.Fatalf("send lag count %d, want 0", n)
	}
	for range 3 {
		rec.record(0, 0, &sample{latency: time.Millisecond, service: time.Millisecond, lag: 50 * time.Microsecond, hasLag: true, status: 200})
	}
	if rec.shards[0].lag == nil || rec.shards[1].lag != nil {
		t.Fatal("want a send-lag histogram in shard 0 only")
	}
	st = NewStats(time.Time{}, time.Time{})
	rec.drain(st)
	if n := st.SendLag.TotalCount(); n != 3 {
		t.Fatalf("send lag count %d, want 3", n)
	}
	if n := rec.shards[0].lag.TotalCount(); n != 0 {
		t.Fatalf("shard kept %d send-lag samples after drain", n)
	}
}
