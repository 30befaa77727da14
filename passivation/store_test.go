package passivation_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var ctx = context.Background()

// TestStore runs the conformance tests against the memory store.
func TestStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) passivation.Store { return passivation.NewMemoryStore() })
}
