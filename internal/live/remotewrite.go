package live

import (
	"math"
	"sort"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/prompb"
)

// writeRequest turns gathered families into a remote-write 1.0 request,
// every sample at ts (Unix milliseconds) and carrying extra labels beside
// its own. A histogram goes as a native histogram under its own name and,
// like a scrape of its classic buckets, as NAME_bucket{le}, NAME_sum and
// NAME_count.
func writeRequest(families []*dto.MetricFamily, ts int64, extra map[string]string) *prompb.WriteRequest {
	req := &prompb.WriteRequest{}
	add := func(name string, labels []*dto.LabelPair, more map[string]string, v float64) {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels:  labelSet(name, labels, extra, more),
			Samples: []prompb.Sample{{Value: v, Timestamp: ts}},
		})
	}
	for _, f := range families {
		name := f.GetName()
		for _, m := range f.Metric {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.Label, nil, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m.Label, nil, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, m.Label, nil, m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				if h.GetSchema() != 0 || len(h.PositiveSpan) > 0 {
					req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
						Labels:     labelSet(name, m.Label, extra, nil),
						Histograms: []prompb.Histogram{nativeHistogram(h, ts)},
					})
				}
				for _, b := range h.Bucket {
					add(name+"_bucket", m.Label, map[string]string{"le": formatBound(b.GetUpperBound())}, float64(b.GetCumulativeCount()))
				}
				add(name+"_bucket", m.Label, map[string]string{"le": "+Inf"}, float64(h.GetSampleCount()))
				add(name+"_sum", m.Label, nil, h.GetSampleSum())
				add(name+"_count", m.Label, nil, float64(h.GetSampleCount()))
			}
		}
	}
	return req
}

// nativeHistogram is h's native part in remote-write form: the same
// schema, spans and deltas the exposition format carries.
func nativeHistogram(h *dto.Histogram, ts int64) prompb.Histogram {
	out := prompb.Histogram{
		Count:          &prompb.Histogram_CountInt{CountInt: h.GetSampleCount()},
		Sum:            h.GetSampleSum(),
		Schema:         h.GetSchema(),
		ZeroThreshold:  h.GetZeroThreshold(),
		ZeroCount:      &prompb.Histogram_ZeroCountInt{ZeroCountInt: h.GetZeroCount()},
		PositiveDeltas: h.PositiveDelta,
		NegativeDeltas: h.NegativeDelta,
		Timestamp:      ts,
	}
	for _, s := range h.PositiveSpan {
		out.PositiveSpans = append(out.PositiveSpans, prompb.BucketSpan{Offset: s.GetOffset(), Length: s.GetLength()})
	}
	for _, s := range h.NegativeSpan {
		out.NegativeSpans = append(out.NegativeSpans, prompb.BucketSpan{Offset: s.GetOffset(), Length: s.GetLength()})
	}
	return out
}

// labelSet is __name__, the metric's labels, extra and more, sorted by
// name as remote write requires; a metric's own label wins over extra.
func labelSet(name string, own []*dto.LabelPair, extra, more map[string]string) []prompb.Label {
	set := map[string]string{}
	for k, v := range extra {
		set[k] = v
	}
	for _, l := range own {
		set[l.GetName()] = l.GetValue()
	}
	for k, v := range more {
		set[k] = v
	}
	set["__name__"] = name
	out := make([]prompb.Label, 0, len(set))
	for k, v := range set {
		out = append(out, prompb.Label{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// formatBound writes a bucket bound as the exposition format does.
func formatBound(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
