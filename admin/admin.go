package admin

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/pool"
)

// DefaultAddr is the default of [Options.Addr]: loopback only, any free
// port.
const DefaultAddr = "127.0.0.1:0"

// Options configure the admin endpoint. Every source of information is
// optional: the endpoint shows what it is given. The zero value serves a
// health check and nothing else.
type Options struct {
	// Addr is the address [Start] listens on. Default [DefaultAddr]:
	// loopback only, any free port.
	Addr string
	// Token, if set, is the bearer token every request must carry
	// ("Authorization: Bearer <token>"); a request without it gets 401.
	Token string

	// Server gives the server's counts: an *invoker.Server.
	Server StatsSource
	// Objects lists the registered objects, with their strategies.
	// Default: the Server's own listing when Server is an *invoker.Server.
	Objects func() []ObjectInfo
	// Metrics gives the per-method counts and latencies of the metrics
	// interceptor and, if it is one of the server's observers, the
	// lifecycle event counts; /metrics serves it.
	Metrics *interceptor.Metrics
	// Counts gives lifecycle event counts when Metrics does not observe
	// them.
	Counts *remoting.EventCounts
	// Pools give the occupancy of pools by name: the
	// *lifecycle.PooledStrategy values that lifecycle.Pooled returns, or
	// *pool.Pool values.
	Pools map[string]pool.Sizer
	// Adaptive gives the state and decisions of adaptive pool
	// controllers by name.
	Adaptive map[string]*pool.Adaptive
	// Draining, if set, reports whether the server is draining, in
	// addition to [Handler.SetDraining]. Default: the Server's own
	// Draining when Server is an *invoker.Server, which reports true from
	// the start of Shutdown on.
	Draining func() bool
	// Fenced, if set, reports whether this node is fenced: alive but not
	// to be sent calls, as a cluster layer decides. It adds to
	// [Handler.SetFenced].
	Fenced func() bool
	// Cluster, if set, gives the node's view of its cluster for
	// /debug/remoting and /debug/remoting/cluster: members, objects
	// hosted, directory cache hits and misses, forwards, fencing. A
	// cluster node's Status fits: func() any { return n.Status() }. The
	// admin endpoint does not link the cluster package: the value is shown
	// as JSON.
	Cluster func() any
	// PublicHealth serves /livez, /readyz and /healthz without the Token,
	// for orchestrator probes that carry no credentials; the other routes
	// still need it. Default false: every route needs the Token, if one
	// is set.
	PublicHealth bool
	// Gatherer, if set, gives more metric families for /metrics, served
	// after the endpoint's own: prometheus.DefaultGatherer (the Go
	// runtime and process metrics), or the registry an OpenTelemetry
	// Prometheus exporter writes to. Its names must not clash with the
	// endpoint's remoting_* families.
	Gatherer prometheus.Gatherer
	// Logger receives the endpoint's errors. Default: discard.
	Logger *slog.Logger
}

// StatsSource is what gives a server's counts: an *invoker.Server.
type StatsSource interface {
	Stats() invoker.Stats
}

var _ StatsSource = (*invoker.Server)(nil)

// ObjectInfo describes one registered object.
type ObjectInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Interface string `json:"interface"`
	Strategy  string `json:"strategy"`
	Owner     string `json:"owner,omitempty"` // the id of the client that owns it
	Key       string `json:"key,omitempty"`   // the key of a keyed object
}

// Handler serves the admin endpoint's routes:
//
//	GET /livez            {"status":"live"} with 200 while the process serves HTTP at all
//	GET /readyz           {"status":"ready"} with 200, or 503 with {"status":"draining"}
//	                      (Shutdown has begun) or {"status":"fenced"} (see Options.Fenced)
//	GET /healthz          the same as /readyz
//	GET /debug/remoting   a [Snapshot] as JSON
//	GET /metrics          the metrics in the Prometheus text format, by the Prometheus
//	                      client library's handler
//
// It is safe for concurrent use.
type Handler struct {
	opts     Options
	mux      *http.ServeMux
	draining atomic.Bool
	fenced   atomic.Bool
	started  time.Time
}

// NewHandler returns the admin endpoint's handler, to mount on a server
// of the application's own; [Start] runs one of its own.
func NewHandler(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// An *invoker.Server can say itself what it hosts and whether it drains.
	if srv, ok := opts.Server.(interface {
		Objects() []invoker.ObjectInfo
	}); ok && opts.Objects == nil {
		opts.Objects = func() []ObjectInfo {
			objs := srv.Objects()
			out := make([]ObjectInfo, len(objs))
			for i, o := range objs {
				out[i] = ObjectInfo{ID: o.ID.String(), Name: o.Name, Interface: o.Interface, Strategy: o.Strategy, Key: o.Key}
				if !o.Owner.IsZero() {
					out[i].Owner = o.Owner.String()
				}
			}
			return out
		}
	}
	if srv, ok := opts.Server.(interface{ Draining() bool }); ok && opts.Draining == nil {
		opts.Draining = srv.Draining
	}
	h := &Handler{opts: opts, mux: http.NewServeMux(), started: time.Now()}
	h.mux.HandleFunc("GET /livez", h.livez)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	h.mux.HandleFunc("GET /healthz", h.readyz)
	h.mux.HandleFunc("GET /debug/remoting", h.debug)
	h.mux.HandleFunc("GET /debug/remoting/cluster", h.cluster)
	h.mux.Handle("GET /metrics", h.metricsHandler())
	return h
}

// SetDraining marks the server as draining (or ready again): /readyz
// then answers 503, so that a load balancer stops sending new clients.
// An *invoker.Server given as Options.Server reports its draining itself
// from the start of Shutdown; call SetDraining to stop taking new clients
// before that, for the time a load balancer takes to notice.
func (h *Handler) SetDraining(draining bool) { h.draining.Store(draining) }

// Draining reports whether the server is draining.
func (h *Handler) Draining() bool {
	return h.draining.Load() || (h.opts.Draining != nil && h.opts.Draining())
}

// SetFenced marks this node as fenced (or not): /readyz then answers 503
// while /livez still answers 200, so that an orchestrator sends it no
// calls but does not restart it. It is the hook of a cluster layer.
func (h *Handler) SetFenced(fenced bool) { h.fenced.Store(fenced) }

// Fenced reports whether this node is fenced.
func (h *Handler) Fenced() bool {
	return h.fenced.Load() || (h.opts.Fenced != nil && h.opts.Fenced())
}

// Status returns "ready" when the server accepts calls, else "draining"
// (which wins) or "fenced": what /readyz answers.
func (h *Handler) Status() string {
	switch {
	case h.Draining():
		return "draining"
	case h.Fenced():
		return "fenced"
	}
	return "ready"
}

// ServeHTTP checks the token, then serves the route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.Token != "" && !(h.opts.PublicHealth && isHealth(r.URL.Path)) && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="remoting admin"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.Token)) == 1
}

func isHealth(path string) bool {
	return path == "/livez" || path == "/readyz" || path == "/healthz"
}

func (h *Handler) livez(w http.ResponseWriter, _ *http.Request) {
	h.writeJSON(w, http.StatusOK, map[string]string{"status": "live"})
}

func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	status, code := h.Status(), http.StatusOK
	if status != "ready" {
		code = http.StatusServiceUnavailable
	}
	h.writeJSON(w, code, map[string]string{"status": status})
}

func (h *Handler) debug(w http.ResponseWriter, _ *http.Request) {
	h.writeJSON(w, http.StatusOK, h.Snapshot())
}

func (h *Handler) cluster(w http.ResponseWriter, _ *http.Request) {
	if h.opts.Cluster == nil {
		http.Error(w, "not a cluster node", http.StatusNotFound)
		return
	}
	h.writeJSON(w, http.StatusOK, h.opts.Cluster())
}

func (h *Handler) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		h.opts.Logger.Debug("admin: write response", "err", err)
	}
}

// Snapshot is what /debug/remoting shows: the state of the server, as
// far as the Options give it. Sections without a source are omitted.
type Snapshot struct {
	Status string    `json:"status"` // "ready", "draining" or "fenced"
	Time   time.Time `json:"time"`
	Uptime string    `json:"uptime"` // since the handler was made

	Server    *ServerStats            `json:"server,omitempty"`
	Objects   []ObjectInfo            `json:"objects,omitempty"`
	Instances []InstanceCount         `json:"instances,omitempty"`
	Pools     map[string]PoolInfo     `json:"pools,omitempty"`
	Adaptive  map[string]AdaptiveInfo `json:"adaptive,omitempty"`
	Methods   []MethodInfo            `json:"methods,omitempty"`
	Lifecycle []EventCount            `json:"lifecycle,omitempty"`
	Cluster   any                     `json:"cluster,omitempty"`
}

// ServerStats are the server's counts (invoker.Stats).
type ServerStats struct {
	Connections int    `json:"connections"`
	Objects     int    `json:"objects"`
	Running     int64  `json:"running"`
	Replies     uint64 `json:"replies"`
	Errors      uint64 `json:"errors"`
	Acks        uint64 `json:"acks"`
}

// InstanceCount is what the lifecycle events say of one interface's
// instances: Live is activations (and reactivations) less deactivations
// and passivations, Passivated is passivations less reactivations, and
// the lease and pool counts are the events seen.
type InstanceCount struct {
	Interface     string `json:"interface"`
	Live          int64  `json:"live"`
	Passivated    int64  `json:"passivated"`
	LeaseRenewals uint64 `json:"lease_renewals"`
	LeaseExpiries uint64 `json:"lease_expiries"`
	PoolBorrows   uint64 `json:"pool_borrows"`
	PoolExhausted uint64 `json:"pool_exhausted"`
}

// EventCount is the count of one interface's events of one kind.
type EventCount struct {
	Interface string `json:"interface"`
	Kind      string `json:"kind"`
	N         uint64 `json:"n"`
	Failed    uint64 `json:"failed,omitempty"`
}

// MethodInfo is the metrics of one method on one side; latencies are in
// milliseconds, estimated from the histogram.
type MethodInfo struct {
	Side   string            `json:"side"`
	Method string            `json:"method"`
	Calls  uint64            `json:"calls"`
	Errors uint64            `json:"errors"`
	Codes  map[string]uint64 `json:"codes"`
	MeanMs float64           `json:"mean_ms"`
	P50Ms  float64           `json:"p50_ms"`
	P90Ms  float64           `json:"p90_ms"`
	P99Ms  float64           `json:"p99_ms"`
}

// PoolInfo is the occupancy and counters of a pool (pool.Stats).
type PoolInfo struct {
	Min       int    `json:"min"`
	Max       int    `json:"max"`
	Live      int    `json:"live"`
	Idle      int    `json:"idle"`
	InUse     int    `json:"in_use"`
	Waiters   int    `json:"waiters"`
	Borrows   uint64 `json:"borrows"`
	Exhausted uint64 `json:"exhausted"`
	Created   uint64 `json:"created"`
	Destroyed uint64 `json:"destroyed"`
}

// AdaptiveInfo is the state of an adaptive pool controller.
type AdaptiveInfo struct {
	Size         int            `json:"size"`
	Min          int            `json:"min"`
	Max          int            `json:"max"`
	TargetWaitMs float64        `json:"target_wait_ms"`
	Periods      uint64         `json:"periods"`
	LastWaitMs   float64        `json:"last_wait_ms"`
	LastUse      float64        `json:"last_utilization"`
	Decisions    []DecisionInfo `json:"decisions"`
}

// DecisionInfo is one decision of an adaptive pool controller.
type DecisionInfo struct {
	Time   time.Time `json:"time"`
	From   int       `json:"from"`
	To     int       `json:"to"`
	Reason string    `json:"reason"`
	Err    string    `json:"err,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Snapshot gathers the state /debug/remoting shows.
func (h *Handler) Snapshot() Snapshot {
	o := &h.opts
	s := Snapshot{Status: h.Status(), Time: time.Now(), Uptime: time.Since(h.started).Round(time.Millisecond).String()}
	if o.Server != nil {
		st := o.Server.Stats()
		s.Server = &ServerStats{Connections: st.Connections, Objects: st.Objects, Running: st.Running,
			Replies: st.Replies, Errors: st.Errors, Acks: st.Acks}
	}
	if o.Cluster != nil {
		s.Cluster = o.Cluster()
	}
	if o.Objects != nil {
		s.Objects = o.Objects()
		slices.SortFunc(s.Objects, func(a, b ObjectInfo) int {
			return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
	}
	if len(o.Pools) > 0 {
		s.Pools = make(map[string]PoolInfo, len(o.Pools))
		for name, p := range o.Pools {
			st := p.Stats()
			s.Pools[name] = PoolInfo{Min: st.Min, Max: st.Max, Live: st.Live, Idle: st.Idle, InUse: st.InUse, Waiters: st.Waiters,
				Borrows: st.Borrows, Exhausted: st.Exhausted, Created: st.Created, Destroyed: st.Destroyed}
		}
	}
	if len(o.Adaptive) > 0 {
		s.Adaptive = make(map[string]AdaptiveInfo, len(o.Adaptive))
		for name, a := range o.Adaptive {
			st := a.Stats()
			info := AdaptiveInfo{Size: st.Size, Min: st.Min, Max: st.Max, TargetWaitMs: ms(st.TargetWait), Periods: st.Periods,
				LastWaitMs: ms(st.Last.Wait), LastUse: st.Last.Utilization, Decisions: []DecisionInfo{}}
			for _, d := range st.Decisions {
				di := DecisionInfo{Time: d.Time, From: d.From, To: d.To, Reason: d.Reason}
				if d.Err != nil {
					di.Err = d.Err.Error()
				}
				info.Decisions = append(info.Decisions, di)
			}
			s.Adaptive[name] = info
		}
	}
	if o.Metrics != nil {
		for _, m := range o.Metrics.Snapshot() {
			s.Methods = append(s.Methods, MethodInfo{Side: string(m.Side), Method: m.Method, Calls: m.Calls, Errors: m.Errors,
				Codes: m.Codes, MeanMs: ms(m.Mean()), P50Ms: ms(m.Quantile(0.5)), P90Ms: ms(m.Quantile(0.9)), P99Ms: ms(m.Quantile(0.99))})
		}
	}
	var counts []remoting.EventCount
	switch {
	case o.Counts != nil:
		counts = o.Counts.Snapshot()
	case o.Metrics != nil:
		counts = o.Metrics.Events()
	}
	s.Lifecycle, s.Instances = events(counts)
	return s
}

// events turns lifecycle counts into the event list and the instance
// counts per interface.
func events(counts []remoting.EventCount) ([]EventCount, []InstanceCount) {
	var evs []EventCount
	byIface := map[string]*InstanceCount{}
	for _, c := range counts {
		evs = append(evs, EventCount{Interface: c.Interface, Kind: c.Kind.String(), N: c.N, Failed: c.Failed})
		ic := byIface[c.Interface]
		if ic == nil {
			ic = &InstanceCount{Interface: c.Interface}
			byIface[c.Interface] = ic
		}
		n := int64(c.N)
		switch c.Kind {
		case remoting.EventActivated, remoting.EventReactivated:
			ic.Live += n
		case remoting.EventDeactivated:
			ic.Live -= n
		case remoting.EventPassivated:
			ic.Live -= n
			ic.Passivated += n
		case remoting.EventLeaseRenewed:
			ic.LeaseRenewals += c.N
		case remoting.EventLeaseExpired:
			ic.LeaseExpiries += c.N
		case remoting.EventPoolBorrow:
			ic.PoolBorrows += c.N
		case remoting.EventPoolExhausted:
			ic.PoolExhausted += c.N
		}
		if c.Kind == remoting.EventReactivated {
			ic.Passivated -= n
		}
	}
	var inst []InstanceCount
	for _, name := range slices.Sorted(maps.Keys(byIface)) {
		inst = append(inst, *byIface[name])
	}
	return evs, inst
}

// Server is an admin endpoint running on a listener of its own.
type Server struct {
	*Handler
	lis  net.Listener
	http *http.Server
	done chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Start listens on opts.Addr (default loopback) and serves the admin
// endpoint on one goroutine until Close or Shutdown. It is how a service
// turns the endpoint on; off is not calling it. A service configured with
// package config fills Options from Config.Admin and starts the endpoint
// if Config.Admin.Enabled; see the example.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	lis, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	h := NewHandler(opts)
	s := &Server{
		Handler: h,
		lis:     lis,
		http:    &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(h.opts.Logger.Handler(), slog.LevelDebug)},
		done:    make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.opts.Logger.Error("admin: serve", "err", err)
		}
	}()
	return s, nil
}

// Addr returns the address the endpoint listens on.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// URL returns the endpoint's base URL, such as "http://127.0.0.1:43121".
func (s *Server) URL() string { return "http://" + s.lis.Addr().String() }

// Shutdown stops the endpoint, letting requests in progress finish until
// ctx ends (then it closes their connections), and waits for its
// goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if s.closeErr = s.http.Shutdown(ctx); s.closeErr != nil {
			s.http.Close()
		}
	})
	<-s.done
	return s.closeErr
}

// Close stops the endpoint at once and waits for its goroutine. It is
// idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.http.Close() })
	<-s.done
	return s.closeErr
}
