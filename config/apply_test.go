package config_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/config"
	"github.com/remoting-go/remoting/pool"
)

// chainHolder records the chains it is given; calling its chain with an
// empty invocation returns the names of the interceptors in order.
type chainHolder struct {
	sets  int
	chain remoting.Interceptor
}

func (h *chainHolder) SetInterceptors(ics ...remoting.Interceptor) {
	h.sets++
	h.chain = remoting.Chain(ics...)
}

// names runs the chain and returns the names its interceptors put into Meta.
func (h *chainHolder) names() string {
	if h.chain == nil {
		return ""
	}
	inv := &remoting.Invocation{Meta: remoting.Metadata{}}
	h.chain(context.Background(), inv, func(context.Context, *remoting.Invocation) error { return nil })
	return inv.Meta["trail"]
}

// named returns a registry entry whose interceptor appends name to the
// "trail" of Meta.
func named(name string) config.Factory {
	return func(*config.Config) (remoting.Interceptor, error) {
		return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
			inv.Meta["trail"] += name
			return next(ctx, inv)
		}, nil
	}
}

// counted is a real pool that counts the calls of its Resize.
type counted struct {
	pool.Sizer
	calls int
}

func (c *counted) Resize(min, max int) error {
	c.calls++
	return c.Sizer.Resize(min, max)
}

// newCounted returns a counted pool of ints without a reaper.
func newCounted(t *testing.T) *counted {
	p, err := pool.New(func(context.Context) (int, error) { return 0, nil }, pool.Options[int]{IdleTimeout: -1})
	require.NoError(t, err, "pool.New")
	t.Cleanup(func() { p.Close() })
	return &counted{Sizer: p}
}

// bounds returns c's bounds and the calls of its Resize.
func (c *counted) bounds() [3]int {
	st := c.Stats()
	return [3]int{st.Min, st.Max, c.calls}
}

func TestApply(t *testing.T) {
	reg := config.Registry{"a": named("a"), "b": named("b"), "c": named("c"),
		"broken": func(*config.Config) (remoting.Interceptor, error) { return nil, errors.New("no key") }}
	var srv, cli chainHolder
	render := newCounted(t)
	ttls := map[string]time.Duration{}
	targets := &config.Targets{
		Interceptors: reg,
		Servers:      []config.ChainSetter{&srv},
		Clients:      []config.ChainSetter{&cli},
		Pools:        map[string]pool.Sizer{"render": render},
		LeaseTTL: func(typ string, ttl time.Duration) error {
			ttls[typ] = ttl
			return nil
		},
	}
	c1 := &config.Config{
		Listen:       "tcp://127.0.0.1:0",
		Types:        map[string]config.TypePolicy{"render": {Pool: config.PoolPolicy{Min: 1, Max: 4}}, "cart": {LeaseTTL: time.Minute}},
		Interceptors: config.Interceptors{Client: []string{"a"}, Server: []string{"a", "b"}},
	}
	require.NoError(t, targets.Apply(nil, c1), "Apply(nil, c1)")
	assert.Equal(t, "ab", srv.names(), "server chain, first outermost")
	assert.Equal(t, "a", cli.names(), "client chain")
	assert.Equal(t, [3]int{1, 4, 1}, render.bounds(), "pool min, max, Resize calls")
	assert.Equal(t, map[string]time.Duration{"cart": time.Minute}, ttls)

	// Only what changed is applied.
	c2 := c1.Clone()
	c2.Interceptors.Server = []string{"c", "b", "a"}
	c2.Types["cart"] = config.TypePolicy{LeaseTTL: 2 * time.Minute}
	require.NoError(t, targets.Apply(c1, c2), "Apply(c1, c2)")
	assert.Equal(t, "cba", srv.names(), "server chain after the change")
	assert.Equal(t, 1, cli.sets, "an unchanged client chain is not set again")
	assert.Equal(t, 1, render.calls, "an unchanged pool is not resized again")
	assert.Equal(t, 2*time.Minute, ttls["cart"])

	// A chain that cannot be built leaves both chains as they were, and
	// the rest is still applied.
	c3 := c2.Clone()
	c3.Interceptors.Client = []string{"b"}
	c3.Interceptors.Server = []string{"broken"}
	c3.Types["render"] = config.TypePolicy{Pool: config.PoolPolicy{Min: 2, Max: 8}}
	err := targets.Apply(c2, c3)
	require.ErrorContains(t, err, `interceptor "broken": no key`)
	assert.Equal(t, "cba", srv.names(), "server chain kept")
	assert.Equal(t, "a", cli.names(), "client chain kept")
	assert.Equal(t, [3]int{2, 8, 2}, render.bounds(), "the pool was resized all the same")

	c4 := c3.Clone()
	c4.Interceptors.Server = []string{"nope"}
	assert.ErrorContains(t, targets.Apply(c3, c4), `unknown interceptor "nope"`)

	// An empty chain removes the interceptors.
	c5 := c2.Clone()
	c5.Interceptors.Server = nil
	require.NoError(t, targets.Apply(c2, c5))
	assert.Nil(t, srv.chain, "no server chain")
}

func TestRegistryCheck(t *testing.T) {
	reg := config.Registry{"logging": named("l"), "metrics": named("m")}
	c := &config.Config{Interceptors: config.Interceptors{Client: []string{"logging", "tracing"}, Server: []string{"metrics"}}}
	err := reg.Check(c)
	require.Error(t, err)
	assert.Equal(t, `interceptors.client: unknown interceptor "tracing" (known: logging, metrics)`, err.Error())
	c.Interceptors.Client = []string{"logging"}
	assert.NoError(t, reg.Check(c))
}

func TestOptions(t *testing.T) {
	reg := config.Registry{"a": named("a")}
	c := &config.Config{
		Listen:       "tcp://127.0.0.1:0",
		Limits:       config.Limits{MaxFrameSize: 1 << 20, MaxConcurrentCalls: 7},
		Interceptors: config.Interceptors{Server: []string{"a"}, Client: []string{"a", "a"}},
	}
	so, err := c.ServerOptions(reg)
	require.NoError(t, err)
	assert.Equal(t, 1<<20, so.MaxFrameSize)
	assert.Equal(t, 7, so.MaxConcurrentCalls)
	assert.Len(t, so.Interceptors, 1)
	co, err := c.ClientOptions(reg)
	require.NoError(t, err)
	assert.Equal(t, 1<<20, co.MaxFrameSize)
	assert.Len(t, co.Interceptors, 2)

	tlsConf, err := c.ServerTLS()
	require.NoError(t, err)
	assert.Nil(t, tlsConf, "no certificate configured")
	c.TLS = config.TLS{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}
	_, err = c.ServerTLS()
	assert.ErrorContains(t, err, "config: tls")
}
