package adapt_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/admin"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// strategyServer serves one object of every strategy, and a
// client-dependent Tally (with a lease and passivation) that a client
// made through the Maker; it returns the server and the Tally's id.
func strategyServer(t *testing.T) (*server, remoting.ObjectID) {
	t.Helper()
	srv := startServer(t, invoker.Options{})
	tr := new(tally.Tracker)
	require.NoError(t, srv.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{
		TTL:         time.Minute,
		Passivation: lifecycle.Passivate(tr.New, lifecycle.PassivationOptions{After: time.Hour}),
	})), "Policy")
	srv.register(t, "maker", tally.MakerInvoker(), lifecycle.Static(tr.Maker()))
	srv.register(t, "static", svc.ProbeInvoker(), lifecycle.Static(&svc.ProbeImpl{}))
	srv.register(t, "lazy", svc.ProbeInvoker(), lifecycle.Lazy(srv.serials.NewProbe))
	srv.register(t, "perrequest", svc.ProbeInvoker(), lifecycle.PerRequest(srv.serials.NewProbe))
	srv.register(t, "pooled", svc.WorkerInvoker(), lifecycle.Pooled(srv.serials.NewWorker, lifecycle.PoolOptions{}))

	c := dial(t, srv.endpoint, requestor.Options{})
	m := tally.NewMakerProxy(c, remoting.Ref{Endpoint: srv.endpoint, ID: remoting.NameID("maker"), Interface: tally.MakerInterface})
	tl, err := m.NewTally(ctxT(t), 1)
	require.NoError(t, err, "NewTally")
	return srv, tl.(*tally.TallyProxy).Ref().ID
}

// wantStrategies is the strategy of each object of strategyServer, by
// name; the Tally has none.
var wantStrategies = map[string]string{
	"maker":      "static",
	"static":     "static",
	"lazy":       "lazy",
	"perrequest": "perrequest",
	"pooled":     "pooled",
}

// Server.Objects names each object's strategy as documented, not after
// the strategy's Go type or its type argument.
func TestObjectsNameStrategies(t *testing.T) {
	srv, tallyID := strategyServer(t)
	got := map[string]string{}
	for _, o := range srv.Objects() {
		if o.ID == tallyID {
			assert.Equal(t, "clientdependent", o.Strategy, "strategy of the client-dependent Tally")
			assert.False(t, o.Owner.IsZero(), "owner of the client-dependent Tally")
			continue
		}
		got[o.Name] = o.Strategy
	}
	assert.Equal(t, wantStrategies, got, "Server.Objects strategies by name")
}

// /debug/remoting shows the same names.
func TestAdminNamesStrategies(t *testing.T) {
	srv, tallyID := strategyServer(t)
	adm, err := admin.Start(admin.Options{Server: srv.Server})
	require.NoError(t, err, "admin.Start")
	t.Cleanup(func() { adm.Close() })

	var snap admin.Snapshot
	require.Equal(t, http.StatusOK, getJSON(t, adm.URL(), "/debug/remoting", "", &snap), "GET /debug/remoting")
	got := map[string]string{}
	for _, o := range snap.Objects {
		if o.ID == tallyID.String() {
			assert.Equal(t, "clientdependent", o.Strategy, "strategy of the client-dependent Tally")
			continue
		}
		got[o.Name] = o.Strategy
	}
	assert.Equal(t, wantStrategies, got, "/debug/remoting strategies by name")
	assert.Len(t, snap.Objects, len(wantStrategies)+1, "/debug/remoting objects")
}
