package storetest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMemoryStore runs the suite on the store it is measured against
// first: if the memory store fails it, the suite is wrong.
func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) passivation.Store { return passivation.NewMemoryStore() })
}

func BenchmarkMemoryStore(b *testing.B) {
	s := passivation.NewMemoryStore()
	b.Cleanup(func() { s.Close() })
	storetest.Benchmark(b, s)
}
