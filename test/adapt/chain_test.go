package adapt_test

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

// stamp returns an interceptor that records "name>" on the way in and
// "<name" on the way out, and appends name to Meta["path"] on the client
// (a copy: the caller's map is left alone).
func stamp(tr *trail, name string, client bool) remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		tr.add(name + ">")
		if client {
			md := maps.Clone(inv.Meta)
			if md == nil {
				md = remoting.Metadata{}
			}
			md["path"] += name
			inv.Meta = md
		}
		err := next(ctx, inv)
		tr.add("<" + name)
		return err
	}
}

// TestInvocationContext: what a client interceptor puts into the
// invocation context reaches the server's interceptors and the method.
func TestInvocationContext(t *testing.T) {
	type seen struct {
		meta, ctxMeta remoting.Metadata
		info          *remoting.ServerInfo
		iface, method string
		mode          remoting.Mode
		argsNil       bool
	}
	got := make(chan seen, 1)
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{
		func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
			got <- seen{meta: maps.Clone(inv.Meta), ctxMeta: maps.Clone(remoting.MetadataFrom(ctx)), info: remoting.ServerInfoFrom(ctx),
				iface: inv.Target.Interface, method: inv.Method, mode: inv.Mode, argsNil: inv.Args == nil && inv.Reply == nil}
			return next(ctx, inv)
		},
	}})
	srv.register(t, "probe", svc.ProbeInvoker(), lifecycle.Static(&svc.ProbeImpl{}))
	c := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{
		func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
			inv.Meta = remoting.Metadata{"tenant": "t-42", "trace": "abc"}
			return next(ctx, inv)
		},
	}})
	p := probe(t, c, "probe")
	ctx, cancel := context.WithTimeout(ctxT(t), 10*time.Second)
	defer cancel()
	s, err := p.Seen(ctx, "x")
	require.NoError(t, err)

	want := remoting.Metadata{"tenant": "t-42", "trace": "abc"}
	assert.Equal(t, map[string]string(want), s.Meta, "the method's MetadataFrom")
	assert.NotEmpty(t, s.Peer, "the method's ServerInfoFrom")
	assert.Greater(t, s.Deadline, 5*time.Second, "the method's deadline")

	sv := <-got
	assert.Equal(t, want, sv.meta, "the server interceptor's inv.Meta")
	assert.Equal(t, want, sv.ctxMeta, "the server interceptor's MetadataFrom")
	require.NotNil(t, sv.info, "the server interceptor's ServerInfoFrom")
	assert.Equal(t, s.Peer, sv.info.Caller.String(), "id seen by interceptor and method")
	assert.Contains(t, sv.info.Remote, "127.0.0.1:")
	assert.Greater(t, sv.info.Deadline, 5*time.Second, "remaining deadline")
	assert.Equal(t, svc.ProbeInterface, sv.iface)
	assert.Equal(t, "Probe.Seen", sv.method)
	assert.Equal(t, remoting.ModeSync, sv.mode)
	assert.True(t, sv.argsNil, "Args and Reply are nil on the server chain")

	require.NoError(t, p.Oneway().Seen(ctx, "y"))
	sv = <-got
	assert.Equal(t, remoting.ModeOneway, sv.mode, "mode of a one-way call")
	assert.Equal(t, want, sv.meta, "a one-way call carries the context too")
}

// TestChainOrder: on both sides the first interceptor is outermost; a
// refusal stops the rest, and on the server the object too.
func TestChainOrder(t *testing.T) {
	var clientTrail, serverTrail trail
	refuse := atomic.Bool{}
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{
		stamp(&serverTrail, "X", false),
		func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
			if refuse.Load() {
				serverTrail.add("Y refuses")
				return remoting.Errorf(remoting.CodePermissionDenied, "no")
			}
			return next(ctx, inv)
		},
		stamp(&serverTrail, "Z", false),
	}})
	srv.register(t, "probe", svc.ProbeInvoker(), lifecycle.PerRequest(srv.serials.NewProbe))
	c := dial(t, srv.endpoint, requestor.Options{})
	p := probe(t, c, "probe")
	c.SetInterceptors(stamp(&clientTrail, "A", true), stamp(&clientTrail, "B", true), stamp(&clientTrail, "C", true))

	s, err := p.Seen(ctxT(t), "x")
	require.NoError(t, err)
	assert.Equal(t, "ABC", s.Meta["path"], "client interceptors ran first to last")
	assert.Equal(t, []string{"A>", "B>", "C>", "<C", "<B", "<A"}, clientTrail.get(), "client: first outermost")
	assert.Equal(t, []string{"X>", "Z>", "<Z", "<X"}, serverTrail.get(), "server: first outermost")

	clientTrail.reset()
	serverTrail.reset()
	refuse.Store(true)
	before := srv.counts.Get(svc.ProbeInterface, remoting.EventActivated)
	_, err = p.Seen(ctxT(t), "x")
	require.ErrorIs(t, err, remoting.ErrPermissionDenied)
	assert.Equal(t, []string{"X>", "Y refuses", "<X"}, serverTrail.get(), "a refusal stops the interceptors after it")
	assert.Equal(t, before, srv.counts.Get(svc.ProbeInterface, remoting.EventActivated), "and activates nothing")
	assert.Equal(t, []string{"A>", "B>", "C>", "<C", "<B", "<A"}, clientTrail.get(), "the client chain sees the refusal come back")
}

// generation returns a chain of three interceptors that each stamp their
// generation into the invocation context: on the client into inv.Meta
// ("c1", "c2", "c3"), on the server into the method's context ("s1",
// "s2", "s3"). A call that ran half on one chain and half on another would
// carry two generations.
func generation(gen int, server bool) []remoting.Interceptor {
	var out []remoting.Interceptor
	for i := 1; i <= 3; i++ {
		key := fmt.Sprintf("c%d", i)
		if server {
			key = fmt.Sprintf("s%d", i)
		}
		v := strconv.Itoa(gen)
		out = append(out, func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
			if server {
				md := maps.Clone(remoting.MetadataFrom(ctx))
				md[key] = v
				return next(remoting.WithMetadata(ctx, md), inv)
			}
			md := maps.Clone(inv.Meta)
			if md == nil {
				md = remoting.Metadata{}
			}
			md[key] = v
			inv.Meta = md
			// Give the swap a chance to land between this link and the next.
			if i := gen % 3; i == 0 {
				time.Sleep(10 * time.Microsecond)
			}
			return next(ctx, inv)
		})
	}
	return out
}

// TestReplaceChainsUnderLoad replaces both chains over and over while 64
// callers call: no call is lost or fails, and each runs entirely on one
// generation of each chain. Run with -race.
func TestReplaceChainsUnderLoad(t *testing.T) {
	const callers, calls = 64, 40
	m := interceptor.NewMetrics(interceptor.MetricsOptions{})
	srv := startServer(t, invoker.Options{})
	srv.register(t, "probe", svc.ProbeInvoker(), lifecycle.Static(&svc.ProbeImpl{}))
	c := dial(t, srv.endpoint, requestor.Options{})
	p := probe(t, c, "probe")
	setClient := func(gen int) {
		c.SetInterceptors(append([]remoting.Interceptor{m.Client()}, generation(gen, false)...)...)
	}
	setServer := func(gen int) {
		srv.SetInterceptors(append([]remoting.Interceptor{m.Server()}, generation(gen, true)...)...)
	}
	setClient(0)
	setServer(0)

	stop := make(chan struct{})
	var swaps sync.WaitGroup
	var clientGens, serverGens atomic.Int64
	swaps.Add(1)
	go func() {
		defer swaps.Done()
		for gen := 1; ; gen++ {
			select {
			case <-stop:
				return
			default:
			}
			if gen%2 == 0 {
				setClient(gen)
				clientGens.Add(1)
			} else {
				setServer(gen)
				serverGens.Add(1)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()

	var wg sync.WaitGroup
	var ok atomic.Int64
	seenGens := sync.Map{}
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range calls {
				s, err := p.Seen(ctxT(t), fmt.Sprintf("%d/%d", i, j))
				if !assert.NoError(t, err, "caller %d call %d", i, j) {
					return
				}
				assert.Equal(t, fmt.Sprintf("%d/%d", i, j), s.Tag)
				assert.True(t, s.Meta["c1"] == s.Meta["c2"] && s.Meta["c2"] == s.Meta["c3"], "client chain mixed generations: %v", s.Meta)
				assert.True(t, s.Meta["s1"] == s.Meta["s2"] && s.Meta["s2"] == s.Meta["s3"], "server chain mixed generations: %v", s.Meta)
				seenGens.Store("c"+s.Meta["c1"], true)
				seenGens.Store("s"+s.Meta["s1"], true)
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	swaps.Wait()

	assert.Equal(t, int64(callers*calls), ok.Load(), "calls that succeeded")
	// Every call passed one client chain and one server chain, each with
	// the shared metrics interceptor in front.
	cs, _ := m.Method(interceptor.Client, "Probe.Seen")
	ss, _ := m.Method(interceptor.Server, "Probe.Seen")
	assert.Equal(t, uint64(callers*calls), cs.Calls, "client-side count")
	assert.Equal(t, uint64(callers*calls), ss.Calls, "server-side count")
	n := 0
	seenGens.Range(func(any, any) bool { n++; return true })
	t.Logf("%d calls over %d client and %d server chain swaps; %d distinct generations seen", ok.Load(), clientGens.Load(), serverGens.Load(), n)
	assert.Greater(t, n, 4, "the calls ran on several generations of the chains")
}
