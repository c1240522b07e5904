//go:build !linux

package stress

import (
	"context"
	"errors"
)

// Stop finds stressors through /proc, which this platform does not have.
func Stop(ctx context.Context) (int, error) {
	return 0, errors.New("stop stressors: needs Linux (/proc)")
}
