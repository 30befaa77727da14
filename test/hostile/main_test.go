package hostile

import (
	"os"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// scale returns n, or full when HOSTILE_FULL is set: the tests run small
// by default and at the sizes of the attacks as first measured with
// HOSTILE_FULL=1.
func scale(n, full int) int {
	if v, _ := strconv.ParseBool(os.Getenv("HOSTILE_FULL")); v {
		return full
	}
	return n
}
