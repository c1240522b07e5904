package estimate

import (
	"fmt"
	"math"
	"time"
)

// Line is one output of an estimate with everything a reader needs to check
// it by hand: the formula in words, the arithmetic with the actual numbers,
// the exact value and a rounded one.
type Line struct {
	Key        string  `json:"key"`
	Label      string  `json:"label"`
	Formula    string  `json:"formula"`
	Arithmetic string  `json:"arithmetic"`
	Value      float64 `json:"value"`
	Unit       string  `json:"unit"`
	Rounded    string  `json:"rounded"`
	// Also is the same value in a second unit (bandwidth in bit/s).
	Also *Also  `json:"also,omitempty"`
	Note string `json:"note,omitempty"`
}

// Also is a line's value in a second unit.
type Also struct {
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Rounded string  `json:"rounded"`
}

// Section groups the lines of one concern (traffic, storage, ...). When its
// inputs are missing it has no lines and Skipped says what it needs.
type Section struct {
	Title   string `json:"title"`
	Lines   []Line `json:"lines,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// Input is one plan input as written and as understood.
type Input struct {
	Field  string `json:"field"`
	Text   string `json:"text"`
	Value  string `json:"value"`
	Origin string `json:"origin,omitempty"`
}

// Estimate is the result of a back-of-envelope plan.
type Estimate struct {
	Name        string    `json:"name,omitempty"`
	Description string    `json:"description,omitempty"`
	Inputs      []Input   `json:"inputs"`
	Sections    []Section `json:"sections"`
}

// Line returns the line with the given key, for tests and callers that want
// one figure.
func (e *Estimate) Line(key string) (Line, bool) {
	for _, s := range e.Sections {
		for _, l := range s.Lines {
			if l.Key == key {
				return l, true
			}
		}
	}
	return Line{}, false
}

func newLine(key, label, formula, arithmetic string, v float64, unit string) Line {
	return Line{Key: key, Label: label, Formula: formula, Arithmetic: arithmetic, Value: v, Unit: unit, Rounded: Human(v, unit)}
}

const secondsPerDay = 86400

// Compute works a plan through. It is pure: the same plan gives the same
// lines, and every section whose inputs are missing says what it needs.
func Compute(p *Plan) *Estimate {
	e := &Estimate{Name: p.Name, Description: p.Description, Inputs: inputs(p)}
	t := traffic(p)
	e.Sections = append(e.Sections, t.section, storage(p), bandwidth(p, t), cache(p, t), concurrency(p, t), instances(p, t))
	return e
}

func inputs(p *Plan) []Input {
	var out []Input
	for _, f := range fields {
		if !p.Has(f.Name) || f.Name == "name" || f.Name == "description" {
			continue
		}
		out = append(out, Input{Field: f.Name, Text: p.Text(f.Name), Value: understood(p, f.Name), Origin: p.origin[f.Name]})
	}
	return out
}

// understood restates an input in base units, so that a reader sees how
// "1KB" or "9:1" was read.
func understood(p *Plan, field string) string {
	switch field {
	case "daily_active_users":
		return Num(p.DailyActiveUsers) + " users/day"
	case "requests_per_user":
		return Num(p.RequestsPerUser.PerDay()) + " req/day per user"
	case "read_write_ratio":
		return fmt.Sprintf("%s of requests are reads", percent(p.ReadShare))
	case "peak_factor":
		return Num(p.PeakFactor) + "x"
	case "request_size":
		return Num(p.RequestSize) + " B"
	case "response_size":
		return Num(p.ResponseSize) + " B"
	case "new_records":
		return Num(p.NewRecords.PerDay()) + " records/day"
	case "record_size":
		return Num(p.RecordSize) + " B"
	case "retention":
		return Num(days(p.Retention)) + " days"
	case "replication":
		return fmt.Sprintf("%d copies", p.Replication)
	case "cache_share":
		return percent(p.CacheShare) + " of daily reads"
	case "cache_item_size":
		return Num(p.CacheItemSize) + " B"
	case "instance_capacity", "instance_capacity_from":
		if p.InstanceCapacity.Period == 0 {
			return "not read yet"
		}
		return Num(p.InstanceCapacity.PerSecond()) + " req/s per instance"
	case "target_utilisation":
		return percent(p.TargetUtilisation) + " of capacity"
	case "headroom":
		return percent(p.Headroom) + " of capacity kept free"
	case "redundancy":
		return fmt.Sprintf("N+%d", p.Redundancy)
	case "latency":
		return Num(p.Latency.Seconds()) + " s"
	}
	return p.Text(field)
}

func percent(f float64) string { return Num(f*100) + "%" }

func days(d time.Duration) float64 { return float64(d) / float64(Day) }

// trafficResult carries the rates later sections build on.
type trafficResult struct {
	section           Section
	ok                bool
	perDay, avg, peak float64
	readsPerDay       float64
	readsKnown        bool
}

func traffic(p *Plan) trafficResult {
	t := trafficResult{section: Section{Title: "traffic"}}
	if !p.hasTraffic() {
		t.section.Skipped = "needs daily_active_users and requests_per_user"
		return t
	}
	t.ok = true
	perUser := p.RequestsPerUser.PerDay()
	t.perDay = p.DailyActiveUsers * perUser
	t.avg = t.perDay / secondsPerDay
	peakFactor, note := p.PeakFactor, ""
	if !p.Has("peak_factor") {
		peakFactor, note = 1, "no peak_factor given: the peak is taken to be the average"
	}
	t.peak = t.avg * peakFactor
	s := &t.section
	s.Lines = append(s.Lines,
		newLine("requests_per_day", "requests per day", "daily active users × requests per user per day",
			fmt.Sprintf("%s × %s", Num(p.DailyActiveUsers), Num(perUser)), t.perDay, "req/day"),
		newLine("average_rps", "average requests per second", "requests per day / 86,400 s",
			fmt.Sprintf("%s / 86,400", Num(t.perDay)), t.avg, "req/s"),
	)
	peak := newLine("peak_rps", "peak requests per second", "average requests per second × peak factor",
		fmt.Sprintf("%s × %s", Num(t.avg), Num(peakFactor)), t.peak, "req/s")
	peak.Note = note
	s.Lines = append(s.Lines, peak)
	if !p.Has("read_write_ratio") {
		t.readsPerDay = t.perDay
		return t
	}
	t.readsKnown = true
	r, w := p.ReadShare, 1-p.ReadShare
	t.readsPerDay = t.perDay * r
	writesPerDay := t.perDay * w
	s.Lines = append(s.Lines,
		newLine("reads_per_day", "reads per day", "requests per day × read share",
			fmt.Sprintf("%s × %s", Num(t.perDay), Num(r)), t.readsPerDay, "reads/day"),
		newLine("writes_per_day", "writes per day", "requests per day × (1 - read share)",
			fmt.Sprintf("%s × %s", Num(t.perDay), Num(w)), writesPerDay, "writes/day"),
		newLine("average_read_rps", "average reads per second", "reads per day / 86,400 s",
			fmt.Sprintf("%s / 86,400", Num(t.readsPerDay)), t.readsPerDay/secondsPerDay, "reads/s"),
		newLine("peak_read_rps", "peak reads per second", "peak requests per second × read share",
			fmt.Sprintf("%s × %s", Num(t.peak), Num(r)), t.peak*r, "reads/s"),
		newLine("average_write_rps", "average writes per second", "writes per day / 86,400 s",
			fmt.Sprintf("%s / 86,400", Num(writesPerDay)), writesPerDay/secondsPerDay, "writes/s"),
		newLine("peak_write_rps", "peak writes per second", "peak requests per second × (1 - read share)",
			fmt.Sprintf("%s × %s", Num(t.peak), Num(w)), t.peak*w, "writes/s"),
	)
	return t
}

func storage(p *Plan) Section {
	s := Section{Title: "storage"}
	if !p.hasStorage() {
		s.Skipped = "needs new_records and record_size"
		return s
	}
	records := p.NewRecords.PerDay()
	perDay := records * p.RecordSize
	perYear := perDay * 365
	s.Lines = append(s.Lines,
		newLine("storage_per_day", "storage per day", "new records per day × record size",
			fmt.Sprintf("%s × %s B", Num(records), Num(p.RecordSize)), perDay, "B/day"),
		newLine("storage_per_year", "storage per year", "storage per day × 365 days",
			fmt.Sprintf("%s B × 365", Num(perDay)), perYear, "B/year"),
	)
	total, totalLabel := perYear, "storage per year"
	if p.Has("retention") {
		d := days(p.Retention)
		total, totalLabel = perDay*d, "storage over the retention"
		s.Lines = append(s.Lines, newLine("storage_retention", totalLabel, "storage per day × retention in days",
			fmt.Sprintf("%s B × %s", Num(perDay), Num(d)), total, "B"))
	}
	if p.Has("replication") {
		key := "storage_retention_replicated"
		if !p.Has("retention") {
			key = "storage_per_year_replicated"
		}
		s.Lines = append(s.Lines, newLine(key, totalLabel+" with replication", totalLabel+" × replication factor",
			fmt.Sprintf("%s B × %d", Num(total), p.Replication), total*float64(p.Replication), "B"))
	}
	return s
}

func bandwidth(p *Plan, t trafficResult) Section {
	s := Section{Title: "bandwidth"}
	perRequest := t.ok && (p.Has("request_size") || p.Has("response_size"))
	if !perRequest && !p.hasStorage() {
		s.Skipped = "needs the traffic inputs and request_size or response_size, or new_records and record_size"
		return s
	}
	add := func(key, label, what string, size float64) {
		for _, v := range []struct {
			key, label, rate string
			rps              float64
		}{
			{key + "_average", label + " (average)", "average requests per second", t.avg},
			{key + "_peak", label + " (peak)", "peak requests per second", t.peak},
		} {
			bps := v.rps * size
			s.Lines = append(s.Lines, withBits(newLine(v.key, v.label, v.rate+" × "+what,
				fmt.Sprintf("%s × %s B", Num(v.rps), Num(size)), bps, "B/s")))
		}
	}
	if t.ok && p.Has("request_size") {
		add("ingress", "ingress", "request size", p.RequestSize)
	}
	if t.ok && p.Has("response_size") {
		add("egress", "egress", "response size", p.ResponseSize)
	}
	if p.hasStorage() {
		s.Lines = append(s.Lines, dataBandwidth(p)...)
	}
	return s
}

// withBits adds the line's B/s value in bit/s.
func withBits(l Line) Line {
	l.Also = &Also{Value: l.Value * 8, Unit: "bit/s", Rounded: Human(l.Value*8, "bit/s")}
	return l
}

// dataBandwidth is the classic estimate of bandwidth from the data rather
// than the requests: what comes in is the new data of a day spread over
// the day, and what goes out is that times the reads per write (each piece
// of data read as often as the read:write ratio says).
func dataBandwidth(p *Plan) []Line {
	perDay := p.NewRecords.PerDay() * p.RecordSize
	in := perDay / secondsPerDay
	lines := []Line{withBits(newLine("incoming_data", "incoming data (new data per second)", "storage per day / 86,400 s",
		fmt.Sprintf("%s B / 86,400", Num(perDay)), in, "B/s"))}
	if !p.Has("read_write_ratio") {
		return lines
	}
	r := p.ReadShare
	if r >= 1 {
		return lines // no writes: no ratio to read the new data by
	}
	readsPerWrite := r / (1 - r)
	out := withBits(newLine("outgoing_data", "outgoing data (reads of the new data)", "incoming data × reads per write",
		fmt.Sprintf("%s B/s × %s", Num(in), Num(readsPerWrite)), in*readsPerWrite, "B/s"))
	out.Note = fmt.Sprintf("reads per write = read share / (1 - read share) = %s / %s", Num(r), Num(1-r))
	return append(lines, out)
}

func cache(p *Plan, t trafficResult) Section {
	s := Section{Title: "cache"}
	size, sizeName := p.CacheItemSize, "cache item size"
	switch {
	case p.Has("cache_item_size"):
	case p.Has("response_size"):
		size, sizeName = p.ResponseSize, "response size"
	case p.Has("record_size"):
		size, sizeName = p.RecordSize, "record size"
	default:
		size = -1
	}
	if !t.ok || !p.Has("cache_share") || size < 0 {
		s.Skipped = "needs the traffic inputs, cache_share and cache_item_size (or response_size or record_size)"
		return s
	}
	reads := "reads per day"
	if !t.readsKnown {
		reads = "requests per day"
	}
	mem := t.readsPerDay * p.CacheShare * size
	l := newLine("cache_memory", "cache memory (upper bound)", reads+" × cache share × "+sizeName,
		fmt.Sprintf("%s × %s × %s B", Num(t.readsPerDay), Num(p.CacheShare), Num(size)), mem, "B")
	l.Note = "an upper bound: reads of the same item share one cached copy"
	if !t.readsKnown {
		l.Note += "; no read_write_ratio given, so every request counts as a read"
	}
	s.Lines = append(s.Lines, l)
	return s
}

func concurrency(p *Plan, t trafficResult) Section {
	s := Section{Title: "concurrency (Little's law)"}
	if !t.ok || !p.Has("latency") {
		s.Skipped = "needs the traffic inputs and latency"
		return s
	}
	w := p.Latency.Seconds()
	s.Lines = append(s.Lines,
		newLine("in_flight_average", "requests in flight (average)", "average requests per second × latency (L = λW)",
			fmt.Sprintf("%s × %s s", Num(t.avg), Num(w)), t.avg*w, "requests"),
		newLine("in_flight_peak", "requests in flight (peak)", "peak requests per second × latency (L = λW)",
			fmt.Sprintf("%s × %s s", Num(t.peak), Num(w)), t.peak*w, "requests"),
	)
	return s
}

func instances(p *Plan, t trafficResult) Section {
	s := Section{Title: "instances"}
	if !t.ok || p.InstanceCapacity.Period == 0 {
		s.Skipped = "needs the traffic inputs and instance_capacity (or instance_capacity_from)"
		return s
	}
	util := 1.0
	switch {
	case p.Has("target_utilisation"):
		util = p.TargetUtilisation
	case p.Has("headroom"):
		util = 1 - p.Headroom
	}
	_, l := Instances(t.peak, p.InstanceCapacity.PerSecond(), util, p.Redundancy)
	var notes []string
	if p.CapacityBasis != "" {
		notes = append(notes, "capacity: "+p.CapacityBasis)
	}
	if !p.Has("target_utilisation") && !p.Has("headroom") {
		notes = append(notes, "no target_utilisation or headroom given: planned at 100% of capacity")
	}
	if p.Has("headroom") {
		notes = append(notes, fmt.Sprintf("target utilisation = 1 - headroom = 1 - %s", Num(p.Headroom)))
	}
	for i, n := range notes {
		if i > 0 {
			l.Note += "; "
		}
		l.Note += n
	}
	s.Lines = append(s.Lines, l)
	return s
}

// Instances returns how many instances serve a peak rate when each serves
// capacity requests per second at most and runs at the target utilisation,
// plus spare instances for N+k redundancy: ceil(peak / (capacity ×
// utilisation)) + k. The line shows every term.
func Instances(peak, capacity, utilisation float64, spare int) (int, Line) {
	load := peak / (capacity * utilisation)
	n := ceil(load) + spare
	l := newLine("instances", "instances needed",
		"ceil(peak requests per second / (capacity per instance × target utilisation)) + k",
		fmt.Sprintf("ceil(%s / (%s × %s)) + %d = ceil(%s) + %d", Num(peak), Num(capacity), Num(utilisation), spare, Num(load), spare),
		float64(n), "instances")
	l.Rounded = fmt.Sprintf("%d instances (N+%d)", n, spare)
	return n, l
}

// ceil rounds up, forgiving the last bits of float error so that exactly
// 20 instances' worth of load (7000 / (500 × 0.7)) does not become 21.
func ceil(x float64) int {
	if x <= 0 {
		return 0
	}
	r := math.Round(x)
	if math.Abs(x-r) <= 1e-9*math.Max(1, math.Abs(x)) {
		return int(r)
	}
	return int(math.Ceil(x))
}
