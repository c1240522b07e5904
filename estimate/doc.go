// Package estimate turns numbers into capacity plans: back-of-envelope
// arithmetic from users, requests and sizes (every output line carrying its
// formula and the arithmetic), the Universal Scalability Law fitted to
// measured points, Little's law, the latency SLO search over a load sweep
// and instance counts. It is pure arithmetic over numbers: the load engine
// plugs into Sweep as a function, and nothing here sends a request.
package estimate
