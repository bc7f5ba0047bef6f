package lokifake

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a fake or its tests start is stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
