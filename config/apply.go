package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/pool"
	"github.com/remoting-go/remoting/requestor"
)

// Factory makes the interceptor a [Registry] name stands for, from the
// configuration being applied. A factory of a stateful interceptor (one
// that counts, say) should return the same state each time, so that a
// reload keeps it: close over one value made at start-up.
type Factory func(c *Config) (remoting.Interceptor, error)

// Registry maps interceptor names, as the configuration's chains use them,
// to their factories. The application builds it at start-up; it is read
// only afterwards.
type Registry map[string]Factory

// Check reports the names in c's chains that r does not know, for
// [WatchOptions.Check].
func (r Registry) Check(c *Config) error {
	var errs []error
	for side, names := range map[string][]string{"client": c.Interceptors.Client, "server": c.Interceptors.Server} {
		for _, n := range names {
			if _, ok := r[n]; !ok {
				errs = append(errs, fmt.Errorf("interceptors.%s: unknown interceptor %q (known: %s)", side, n, strings.Join(slices.Sorted(maps.Keys(r)), ", ")))
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Chain returns the interceptors names stand for, in order, made with
// c. It fails on an unknown name or a failing factory.
func (r Registry) Chain(names []string, c *Config) ([]remoting.Interceptor, error) {
	out := make([]remoting.Interceptor, 0, len(names))
	for _, n := range names {
		f, ok := r[n]
		if !ok {
			return nil, fmt.Errorf("config: unknown interceptor %q", n)
		}
		ic, err := f(c)
		if err != nil {
			return nil, fmt.Errorf("config: interceptor %q: %w", n, err)
		}
		out = append(out, ic)
	}
	return out, nil
}

// ServerOptions returns the options of a server run with c: its limits
// and its interceptor chain, resolved with r (nil: no chain). The other
// fields are left at their defaults for the caller to fill.
func (c *Config) ServerOptions(r Registry) (invoker.Options, error) {
	opts := invoker.Options{
		MaxFrameSize:       c.Limits.MaxFrameSize,
		MaxConcurrentCalls: c.Limits.MaxConcurrentCalls,
	}
	if len(c.Interceptors.Server) > 0 {
		chain, err := r.Chain(c.Interceptors.Server, c)
		if err != nil {
			return opts, err
		}
		opts.Interceptors = chain
	}
	return opts, nil
}

// ClientOptions returns the options of a client run with c: its frame
// limit and its interceptor chain, resolved with r (nil: no chain).
func (c *Config) ClientOptions(r Registry) (requestor.Options, error) {
	opts := requestor.Options{MaxFrameSize: c.Limits.MaxFrameSize}
	if len(c.Interceptors.Client) > 0 {
		chain, err := r.Chain(c.Interceptors.Client, c)
		if err != nil {
			return opts, err
		}
		opts.Interceptors = chain
	}
	return opts, nil
}

// ServerTLS returns the TLS configuration of a "tls://" endpoint, loaded
// from the certificate and key files, or nil if c names none.
func (c *Config) ServerTLS() (*tls.Config, error) {
	if c.TLS.CertFile == "" && c.TLS.KeyFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("config: tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// ChainSetter is what holds an interceptor chain: an *invoker.Server or a
// *requestor.Client.
type ChainSetter interface {
	SetInterceptors(...remoting.Interceptor)
}

var (
	_ ChainSetter = (*invoker.Server)(nil)
	_ ChainSetter = (*requestor.Client)(nil)
)

// Targets are the parts of a running system that a configuration
// snapshot steers; [Targets.Apply] hands each its part. Each field is
// optional.
type Targets struct {
	// Interceptors resolves the chains' names.
	Interceptors Registry
	// Servers get the server chain and Clients the client chain.
	Servers []ChainSetter
	Clients []ChainSetter
	// Pools are resized to the pool bounds of the type of the same key
	// in Config.Types (a type with Max 0 is left alone): the
	// *lifecycle.PooledStrategy values that lifecycle.Pooled returns, or
	// *pool.Pool values.
	Pools map[string]pool.Sizer
	// LeaseTTL is called with each type whose lease_ttl is set, and
	// PassivateAfter with each type whose passivate_after is set. The
	// application passes on what its lifecycle strategies can change at
	// run time (invoker.Server.SetLeaseTTL: new objects at once, live ones
	// at their next renewal; invoker.Server.SetPassivateAfter: every live
	// object at once); an error is reported by Apply.
	LeaseTTL       func(typ string, ttl time.Duration) error
	PassivateAfter func(typ string, idle time.Duration) error
}

// Apply hands the snapshot next to the targets: the parts that differ
// from old, or all of them if old is nil. Chains are replaced whole and
// atomically (a call runs entirely on the old chain or entirely on the
// new one). Both chains are resolved before either is set, so a chain
// whose factory fails leaves both as they were. Apply returns every
// error, joined; the parts that succeeded stay applied.
//
// It is meant for a [Watcher] subscriber:
//
//	w.Subscribe(func(old, new *config.Config) {
//		if err := targets.Apply(old, new); err != nil {
//			logger.Error("config: apply", "err", err)
//		}
//	})
func (t *Targets) Apply(old, next *Config) error {
	var errs []error
	first := old == nil
	if first {
		old = &Config{}
	}

	clientChanged := first || !slices.Equal(old.Interceptors.Client, next.Interceptors.Client)
	serverChanged := first || !slices.Equal(old.Interceptors.Server, next.Interceptors.Server)
	var clientChain, serverChain []remoting.Interceptor
	var chainErr error
	if clientChanged && len(t.Clients) > 0 {
		clientChain, chainErr = t.Interceptors.Chain(next.Interceptors.Client, next)
	}
	if chainErr == nil && serverChanged && len(t.Servers) > 0 {
		serverChain, chainErr = t.Interceptors.Chain(next.Interceptors.Server, next)
	}
	if chainErr != nil {
		errs = append(errs, chainErr)
	} else {
		if clientChanged {
			for _, c := range t.Clients {
				c.SetInterceptors(clientChain...)
			}
		}
		if serverChanged {
			for _, s := range t.Servers {
				s.SetInterceptors(serverChain...)
			}
		}
	}

	for _, typ := range slices.Sorted(maps.Keys(next.Types)) {
		p := next.Types[typ]
		was, had := old.Types[typ]
		if had && !first && reflect.DeepEqual(was, p) {
			continue
		}
		if r, ok := t.Pools[typ]; ok && p.Pool.Max > 0 && (first || was.Pool != p.Pool) {
			if err := r.Resize(p.Pool.Min, p.Pool.Max); err != nil {
				errs = append(errs, fmt.Errorf("config: types.%s.pool: %w", typ, err))
			}
		}
		if t.LeaseTTL != nil && p.LeaseTTL > 0 && (first || was.LeaseTTL != p.LeaseTTL) {
			if err := t.LeaseTTL(typ, p.LeaseTTL); err != nil {
				errs = append(errs, fmt.Errorf("config: types.%s.lease_ttl: %w", typ, err))
			}
		}
		if t.PassivateAfter != nil && p.PassivateAfter > 0 && (first || was.PassivateAfter != p.PassivateAfter) {
			if err := t.PassivateAfter(typ, p.PassivateAfter); err != nil {
				errs = append(errs, fmt.Errorf("config: types.%s.passivate_after: %w", typ, err))
			}
		}
	}
	return errors.Join(errs...)
}
