// Command target is the HTTP server the benchmarks load: it answers every
// request at once with a small body, or, with -stall-every, holds every
// request that arrives during the first -stall-for of each period until that
// stall ends (like a process paused and resumed), so the true latency of any
// schedule can be worked out exactly.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	every := flag.Duration("stall-every", 0, "period of the stalls (0: never stall)")
	stallFor := flag.Duration("stall-for", time.Second, "length of each stall, at the start of each period")
	flag.Parse()

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "target:", err)
		os.Exit(1)
	}
	start := time.Now()
	body := []byte("hello, faultline\n")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *every > 0 {
			if into := time.Since(start) % *every; into < *stallFor {
				time.Sleep(*stallFor - into)
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	// The first line tells the driver where to send load and when the
	// stall clock started.
	fmt.Printf("%s %d\n", l.Addr(), start.UnixNano())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "target:", err)
		os.Exit(1)
	}
}
