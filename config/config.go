package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/remoting-go/remoting"
)

// Config is one snapshot of a service's configuration. [Load] fills it
// and [Config.Validate] checks it; a [Watcher] publishes a new one when
// the file changes. A snapshot is treated as immutable once published:
// read it, do not change it (use [Config.Clone] to derive another).
//
// The keys, as written in a file (YAML shown; TOML and JSON alike):
//
//	listen: tcp://127.0.0.1:7000       # the server's endpoint
//	limits:
//	  max_frame_size: 1048576          # bytes; 0: the runtime's default
//	  max_concurrent_calls: 256        # per connection; 0: the runtime's default
//	tls:                               # for a tls:// endpoint, both or neither
//	  cert_file: /etc/svc/cert.pem
//	  key_file: /etc/svc/key.pem
//	types:                             # lifecycle policy per object type (lowercase, no dots)
//	  render:
//	    pool: {min: 1, max: 16}        # 0 or unset: the defaults of lifecycle.Pooled
//	  cart:
//	    lease_ttl: 2m                  # unset: the policy the application registers
//	    passivate_after: 10m
//	    store_path: /var/lib/svc/cart.db
//	interceptors:                      # chains by name, first outermost
//	  client: [logging, metrics]
//	  server: [logging, metrics, auth]
//	admin:                             # the health and introspection endpoint
//	  enabled: false
//	  addr: 127.0.0.1:9090             # unset: package admin's default, loopback
//	  token: ""
//	  public_health: false             # true: /livez, /readyz, /healthz need no token
type Config struct {
	// Listen is the endpoint the server listens on, as invoker.Listen
	// takes it. Default "tcp://127.0.0.1:0" (loopback, any free port).
	Listen string `mapstructure:"listen"`
	// Limits bound what one connection may ask of the server.
	Limits Limits `mapstructure:"limits"`
	// TLS names the certificate of a "tls://" endpoint.
	TLS TLS `mapstructure:"tls"`
	// Types holds the lifecycle policy of each object type, keyed by a
	// name the application chooses (its registration name, say). Keys
	// are lowercase: viper folds the case of keys, and a dot in a key
	// would nest it.
	Types map[string]TypePolicy `mapstructure:"types"`
	// Interceptors names the interceptor chains, resolved by a
	// [Registry] the application provides.
	Interceptors Interceptors `mapstructure:"interceptors"`
	// Admin configures the health and introspection endpoint.
	Admin Admin `mapstructure:"admin"`
}

// Limits bound what one connection may ask of the server. Zero means the
// runtime's default, as invoker.Options documents it: Limits go to
// invoker.Options unchanged, and config keeps no default of its own.
type Limits struct {
	// MaxFrameSize is the largest request the server accepts, in bytes
	// (invoker.Options.MaxFrameSize).
	MaxFrameSize int `mapstructure:"max_frame_size"`
	// MaxConcurrentCalls bounds the calls one connection may have running
	// (invoker.Options.MaxConcurrentCalls).
	MaxConcurrentCalls int `mapstructure:"max_concurrent_calls"`
}

// TLS names the server's certificate and key files (PEM).
type TLS struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// TypePolicy is the lifecycle policy of one object type. Zero fields are
// unset: what the application registered, with the defaults of package
// lifecycle, applies. config keeps no default of its own, so that each
// default is the one constant its package defines.
type TypePolicy struct {
	// Pool bounds a pooled type's instances. Unset: the bounds the
	// application gave lifecycle.Pooled (whose Max defaults to
	// [pool.DefaultMax]).
	Pool PoolPolicy `mapstructure:"pool"`
	// LeaseTTL is the lease time to live of a client-dependent type.
	// Unset: the TTL of the policy the application registered.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// PassivateAfter is the idle time after which an instance is
	// passivated. Unset: the After of the policy the application
	// registered (which defaults to lifecycle.DefaultPassivateAfter).
	PassivateAfter time.Duration `mapstructure:"passivate_after"`
	// StorePath is the file of the passivation store.
	StorePath string `mapstructure:"store_path"`
}

// PoolPolicy bounds a pool; Max 0 means unset.
type PoolPolicy struct {
	Min int `mapstructure:"min"`
	Max int `mapstructure:"max"`
}

// Interceptors names the client and server interceptor chains, first
// outermost.
type Interceptors struct {
	Client []string `mapstructure:"client"`
	Server []string `mapstructure:"server"`
}

// Admin configures the admin endpoint (package admin). It is off unless
// Enabled.
type Admin struct {
	Enabled bool `mapstructure:"enabled"`
	// Addr is the address it listens on, as admin.Options.Addr. Default
	// empty: package admin's default (admin.DefaultAddr, loopback only).
	// An address that is not loopback needs a Token.
	Addr string `mapstructure:"addr"`
	// Token, if set, is the bearer token every request must carry.
	Token string `mapstructure:"token"`
	// PublicHealth lets requests without the Token reach the health
	// routes, for orchestrator probes, as admin.Options.PublicHealth.
	// Default false.
	PublicHealth bool `mapstructure:"public_health"`
}

// Clone returns a deep copy of c, to derive a changed configuration from
// a published snapshot.
func (c *Config) Clone() *Config {
	out := *c
	out.Types = maps.Clone(c.Types)
	out.Interceptors.Client = slices.Clone(c.Interceptors.Client)
	out.Interceptors.Server = slices.Clone(c.Interceptors.Server)
	return &out
}

// Policy returns the policy of the type named typ, and whether there is
// one. The name is matched without regard to case.
func (c *Config) Policy(typ string) (TypePolicy, bool) {
	p, ok := c.Types[strings.ToLower(typ)]
	return p, ok
}

// Validate checks the configuration and returns every problem found,
// joined, each naming its key, such as
//
//	types.render.pool: min 5 is above max 2
//
// It reads the TLS files' metadata (they must exist) but nothing else.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	network, _, err := remoting.ParseEndpoint(c.Listen)
	if err != nil {
		bad("listen", "%v", strings.TrimPrefix(err.Error(), "remoting: "))
	}

	if c.Limits.MaxFrameSize < 0 {
		bad("limits.max_frame_size", "%d is negative", c.Limits.MaxFrameSize)
	}
	if c.Limits.MaxConcurrentCalls < 0 {
		bad("limits.max_concurrent_calls", "%d is negative", c.Limits.MaxConcurrentCalls)
	}

	switch cert, key := c.TLS.CertFile, c.TLS.KeyFile; {
	case cert == "" && key == "":
		if network == "tls" {
			bad("tls", "listen %q needs tls.cert_file and tls.key_file", c.Listen)
		}
	case cert == "" || key == "":
		bad("tls", "cert_file and key_file go together; one is missing")
	default:
		if err == nil && network != "tls" {
			bad("tls", "a certificate is configured but listen %q is not a tls:// endpoint", c.Listen)
		}
		for k, f := range map[string]string{"tls.cert_file": cert, "tls.key_file": key} {
			if _, err := os.Stat(f); err != nil {
				bad(k, "%v", err)
			}
		}
	}

	for _, name := range slices.Sorted(maps.Keys(c.Types)) {
		p := c.Types[name]
		key := "types." + name
		if name == "" || strings.ContainsAny(name, ". ") || name != strings.ToLower(name) {
			bad(key, "type names are lowercase, without dots or spaces")
		}
		switch {
		case p.Pool.Min < 0:
			bad(key+".pool", "min %d is negative", p.Pool.Min)
		case p.Pool.Max < 0:
			bad(key+".pool", "max %d is negative", p.Pool.Max)
		case p.Pool.Max == 0 && p.Pool.Min > 0:
			bad(key+".pool", "min %d needs a max", p.Pool.Min)
		case p.Pool.Min > p.Pool.Max:
			bad(key+".pool", "min %d is above max %d", p.Pool.Min, p.Pool.Max)
		}
		if p.LeaseTTL < 0 {
			bad(key+".lease_ttl", "%v is negative", p.LeaseTTL)
		}
		if p.PassivateAfter < 0 {
			bad(key+".passivate_after", "%v is negative", p.PassivateAfter)
		}
		if p.StorePath != "" && p.PassivateAfter == 0 {
			bad(key+".store_path", "is set but passivate_after is not")
		}
	}

	for side, names := range map[string][]string{"client": c.Interceptors.Client, "server": c.Interceptors.Server} {
		seen := map[string]bool{}
		for i, n := range names {
			switch {
			case strings.TrimSpace(n) == "":
				bad("interceptors."+side, "name %d is empty", i+1)
			case seen[n]:
				bad("interceptors."+side, "%q appears twice", n)
			}
			seen[n] = true
		}
	}

	if c.Admin.Enabled && c.Admin.Addr != "" {
		host, _, err := net.SplitHostPort(c.Admin.Addr)
		switch {
		case err != nil:
			bad("admin.addr", "%v", err)
		case c.Admin.Token == "" && !isLoopback(host):
			bad("admin", "addr %q is not a loopback address: set admin.token", c.Admin.Addr)
		}
	}

	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
