package report

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/fixture"
)

// TestHgrmOfOneToThousand checks the distribution of the values 1..1000, each
// once, which a 3-digit histogram holds exactly: at every reporting level L
// the value is the smallest v with v/1000 >= L, and the total count equals v.
func TestHgrmOfOneToThousand(t *testing.T) {
	t.Parallel()
	h := loadgen.NewHistogram()
	for v := int64(1); v <= 1000; v++ {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, h, Nanoseconds, DefaultTicksPerHalfDistance); err != nil {
		t.Fatal(err)
	}
	fixture.Golden(t, "one-to-thousand.hgrm", buf.Bytes())

	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	sc.Scan()
	if got := sc.Text(); got != "       Value     Percentile TotalCount 1/(1-Percentile)" {
		t.Fatalf("header %q", got)
	}
	sc.Scan() // blank line
	rows := 0
	level := 0.0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			break
		}
		f := strings.Fields(line)
		value, _ := strconv.ParseFloat(f[0], 64)
		pct, _ := strconv.ParseFloat(f[1], 64)
		count, _ := strconv.ParseInt(f[2], 10, 64)
		if pct == 1 {
			if len(f) != 3 || value != 1000 || count != 1000 {
				t.Errorf("last row %q, want value 1000, count 1000 and no 1/(1-p) column", line)
			}
			rows++
			continue
		}
		if math.Abs(pct-level/100) > 1e-12 {
			t.Fatalf("row %d at percentile %v, want %v", rows, pct, level/100)
		}
		want := math.Max(1, math.Ceil(level*10-1e-9))
		if value != want || count != int64(want) {
			t.Errorf("row %q: want value %v with count %v", line, want, want)
		}
		if inv, _ := strconv.ParseFloat(f[3], 64); math.Abs(inv-1/(1-pct)) > 0.01 {
			t.Errorf("row %q: 1/(1-p) = %v", line, inv)
		}
		rows++
		level = nextLevel(level, DefaultTicksPerHalfDistance)
	}
	if rows < 20 {
		t.Errorf("only %d rows", rows)
	}
	footer := buf.String()[strings.Index(buf.String(), "#[Mean"):]
	wantFooter := fmt.Sprintf("#[Mean    = %12.3f, StdDeviation   = %12.3f]\n#[Max     = %12.3f, Total count    = %12d]\n#[Buckets = %12d, SubBuckets     = %12d]\n",
		500.5, h.StdDev(), 1000.0, 1000, 32, 2048)
	if footer != wantFooter {
		t.Errorf("footer:\n%s\nwant:\n%s", footer, wantFooter)
	}
	if sd := h.StdDev(); math.Abs(sd-288.675) > 0.01 {
		t.Errorf("stdev %v, want 288.675 (of 1..1000)", sd)
	}
}

func TestHgrmInMilliseconds(t *testing.T) {
	t.Parallel()
	h := loadgen.NewHistogram()
	for i := int64(0); i < 990; i++ {
		_ = h.RecordValue(2_000_000 + i*1000) // about 2-3ms
	}
	for i := int64(0); i < 10; i++ {
		_ = h.RecordValue(1_000_000_000) // 1s stalls
	}
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, h, Milliseconds, DefaultTicksPerHalfDistance); err != nil {
		t.Fatal(err)
	}
	fixture.Golden(t, "stall-ms.hgrm", buf.Bytes())
	if !strings.Contains(buf.String(), "#[Max     =     1000.342, Total count    =         1000]") {
		t.Errorf("footer does not show the 1s max in ms:\n%s", buf.String())
	}
}

func TestHgrmEmpty(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, loadgen.NewHistogram(), Milliseconds, 5); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Total count    =            0") {
		t.Errorf("empty histogram:\n%s", buf.String())
	}
}
