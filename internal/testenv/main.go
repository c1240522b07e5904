package testenv

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main is the TestMain of packages whose tests start goroutines or build
// the faultline binary: it runs the tests, then cleanups (servers or images
// the package's tests share), removes what BuildFaultline built, and fails
// a passing run that left goroutines behind.
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	RemoveBuilds()
	if code == 0 {
		if err := goleak.Find(kubeClientGoroutines...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// kubeClientGoroutines are what client-go leaves running for the life of
// the process once a client has talked to a cluster: the rotation of a
// kubeconfig's client certificate (started per TLS config, never stopped)
// and the HTTP/2 connections its shared transport keeps to the API server.
// Nothing in faultline uses golang.org/x/net/http2 itself.
var kubeClientGoroutines = []goleak.Option{
	goleak.IgnoreAnyFunction("k8s.io/client-go/transport.(*dynamicClientCert).run"),
	goleak.IgnoreAnyFunction("k8s.io/client-go/transport.(*dynamicClientCert).runWorker"),
	goleak.IgnoreAnyFunction("k8s.io/client-go/util/workqueue.(*delayingType[...]).waitingLoop"),
	goleak.IgnoreAnyFunction("golang.org/x/net/http2.(*ClientConn).readLoop"),
	// The rotation's poll (the deprecated PollImmediateUntil, which
	// faultline does not call).
	goleak.IgnoreAnyFunction("k8s.io/apimachinery/pkg/util/wait.PollImmediateUntil"),
	goleak.IgnoreTopFunction("k8s.io/apimachinery/pkg/util/wait.PollImmediateUntilWithContext.poller.func1.1"),
}
