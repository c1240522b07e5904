// Package loadgen is faultline's load engine: open-model schedules (constant
// and ramping arrival rates, optionally Poisson) and the closed model (a fixed
// or ramping number of virtual users), an HTTP client side tuned for
// generating load, and per-interval HdrHistogram recording.
//
// In the open model every request has an intended start time on the schedule
// and its latency is measured from that time, so a stalled server shows in
// the tail instead of silently slowing the generator down (no coordinated
// omission). Three distributions are recorded: latency from the intended
// start (the headline), service time from the actual send, and send lag (how
// late the request left compared with its schedule). Requests that cannot be
// sent because --max-in-flight is exceeded are counted as dropped.
//
// In the closed model there is no schedule: each virtual user sends its next
// request when the previous one completes, so the headline latency is the
// service time, and is labelled so.
package loadgen
