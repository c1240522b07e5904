package experiments

import (
	"testing"

	"github.com/faultline-dev/faultline/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
