package remoting_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/remoting-go/remoting"
)

func TestEventKindString(t *testing.T) {
	for k, want := range map[remoting.EventKind]string{
		remoting.EventActivated:     "Activated",
		remoting.EventPoolExhausted: "PoolExhausted",
		remoting.EventLeaseExpired:  "LeaseExpired",
		0:                           "EventKind(0)",
		42:                          "EventKind(42)",
	} {
		assert.Equal(t, want, k.String(), "EventKind(%d).String()", uint8(k))
	}
}

func TestEventCountsConcurrent(t *testing.T) {
	var c remoting.EventCounts
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Observe(remoting.Event{Interface: "a", Kind: remoting.EventPoolBorrow})
				c.Observe(remoting.Event{Interface: "b", Kind: remoting.EventPoolReturn, Err: errors.New("x")})
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 8000, c.Get("a", remoting.EventPoolBorrow))
	assert.EqualValues(t, 8000, c.Failed("b", remoting.EventPoolReturn))
	assert.Zero(t, c.Get("b", remoting.EventPoolReturn))
	assert.Zero(t, c.Get("c", remoting.EventActivated))
	assert.Len(t, c.Snapshot(), 2)
}
