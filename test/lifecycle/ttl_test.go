package lifecycle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// A changed lease time to live reaches new objects at once and live ones at
// their next renewal, while the server runs.
func TestSetLeaseTTL(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	srv := depServer(t, tr, lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: time.Hour}),
		invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	m := maker(t, unheld{c}, c.Endpoint())
	old, oldID := newTally(t, m, 0)

	const short = 150 * time.Millisecond
	require.NoError(t, srv.SetLeaseTTL(tally.TallyInvoker(), short), "SetLeaseTTL")
	_, newID := newTally(t, m, 0)
	start := time.Now()
	ev.wait(t, remoting.EventLeaseExpired, newID, 1)
	assert.Less(t, time.Since(start), 5*time.Second, "a new object lives by the new time to live")

	// The old object's lease was granted for an hour; its next renewal
	// (a call) moves it to the new time to live.
	_, err := old.Add(ctxT(t), 1)
	require.NoError(t, err)
	ev.wait(t, remoting.EventLeaseExpired, oldID, 1)

	assert.Error(t, srv.SetLeaseTTL(tally.MakerInvoker(), short), "an interface without a client-dependent policy")
	assert.Error(t, srv.SetLeaseTTL(tally.TallyInvoker(), -time.Second), "a negative time to live")
}

// A shorter passivation idle time reaches live objects at once, not only
// after the deadline the old time gave them.
func TestSetPassivateAfter(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	store := passivation.NewMemoryStore()
	srv := depServer(t, tr, passivating(tr, time.Hour, store, 0), invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	_, id := newTally(t, maker(t, c, c.Endpoint()), 1)

	require.NoError(t, srv.SetPassivateAfter(tally.TallyInvoker(), 100*time.Millisecond), "SetPassivateAfter")
	start := time.Now()
	ev.wait(t, remoting.EventPassivated, id, 1)
	assert.Less(t, time.Since(start), 5*time.Second, "passivated by the new idle time")

	assert.Error(t, srv.SetPassivateAfter(tally.MakerInvoker(), time.Second), "an interface without a passivating policy")
	assert.Error(t, srv.SetPassivateAfter(tally.TallyInvoker(), 0), "a zero idle time")
}
