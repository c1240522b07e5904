package merge

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that Files stops and waits for its readers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
