package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestProgressClearsLongerLines(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	t0 := time.Unix(1000, 0)
	p := NewProgress(&buf, Constant{Rate: 100, For: 10 * time.Second}, t0)
	p.Update(statsWith(t0, time.Second, "a", 1500*time.Millisecond, 10, 0)) // "1.50s"
	first := buf.Len()
	// One column narrower ("1/s" against "10/s") but two bytes longer ("µ"
	// twice): a byte count would leave a column of the first line showing.
	p.Update(statsWith(t0.Add(time.Second), time.Second, "a", 250*time.Microsecond, 1, 0))
	second := buf.String()[first:]
	line := strings.TrimPrefix(second, "\r")
	if got, want := len([]rune(line)), len([]rune(strings.TrimPrefix(buf.String()[:first], "\r"))); got < want {
		t.Errorf("second line is %d columns, the first was %d: its tail would show", got, want)
	}
	p.Done()
}
