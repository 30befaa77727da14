// Command interceptors demonstrates Invocation Interceptors on both ends
// of a connection: the client adds a credential and a default deadline to
// every call; the server logs each call, measures it, authenticates the
// caller and decides what each identity may call. A refused call never
// reaches the object, which is not even created for it. At the end the
// demo prints the metrics, in Go and in the Prometheus text format.
//
// It runs a server and clients in one process over real loopback TCP:
//
//	go run ./examples/interceptors
package main

//go:generate go tool stubgen -type Ledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/admin"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Ledger is the remote interface: an account per caller.
type Ledger interface {
	// Balance returns the caller's balance in cents.
	Balance(ctx context.Context) (int64, error)
	// Deposit adds cents to the caller's balance and returns it.
	Deposit(ctx context.Context, cents int64) (int64, error)
}

// ledger is the servant. It keeps one balance per identity, the one the
// Authenticate interceptor put into the call's context.
type ledger struct {
	mu       sync.Mutex
	balances map[string]int64
}

func (l *ledger) Balance(ctx context.Context) (int64, error) {
	who, _ := interceptor.IdentityFrom(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.balances[who], nil
}

func (l *ledger) Deposit(ctx context.Context, cents int64) (int64, error) {
	who, _ := interceptor.IdentityFrom(ctx)
	if cents <= 0 {
		return 0, remoting.Errorf(remoting.CodeInvalidArgument, "deposit of %d cents", cents)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.balances[who] += cents
	return l.balances[who], nil
}

// tokens is the credential check: a token names a user.
var tokens = map[string]string{"tok-alice": "alice", "tok-audit": "auditor"}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "interceptors:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("[%6.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	// The server's chain, first outermost: log, measure, authenticate,
	// authorize. The auditor may read balances but not deposit.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey, "interface", "object", "peer", "remote":
			return slog.Attr{} // keep the demo's lines short
		}
		return a
	}}))
	metrics := interceptor.NewMetrics(interceptor.MetricsOptions{})
	counts := &remoting.EventCounts{}
	srv := invoker.NewServer(invoker.Options{
		Interceptors: []remoting.Interceptor{
			interceptor.Logging(logger, interceptor.LoggingOptions{Side: interceptor.Server}),
			metrics.Server(),
			interceptor.Authenticate(func(_ context.Context, cred string) (string, error) {
				if who, ok := tokens[cred]; ok {
					return who, nil
				}
				return "", errors.New("unknown token")
			}),
			interceptor.Authorize(func(identity, _, method string) bool {
				return identity == "alice" || method == "Ledger.Balance"
			}),
		},
		Observers: []remoting.Observer{metrics, counts},
	})
	// Lazy: the ledger is created by the first call that reaches it.
	newLedger := func(context.Context) (*ledger, error) {
		say("server:   creating the ledger (the first call got through)")
		return &ledger{balances: map[string]int64{}}, nil
	}
	if _, err := srv.Register("ledger", LedgerInvoker(), lifecycle.Lazy(newLedger)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	endpoint := "tcp://" + lis.Addr().String()
	say("server: listening on %s; chain: Logging, Metrics, Authenticate, Authorize", lis.Addr())

	// connect dials a client whose chain gives calls a deadline and, if
	// token is set, a credential.
	connect := func(token string) (*requestor.Client, *LedgerProxy, error) {
		chain := []remoting.Interceptor{metrics.Client(), interceptor.DefaultDeadline(5 * time.Second)}
		if token != "" {
			chain = append(chain, interceptor.Credential(token))
		}
		c, err := requestor.Dial(ctx, endpoint, requestor.Options{Interceptors: chain})
		if err != nil {
			return nil, nil, err
		}
		p, err := LookupLedger(ctx, c, "ledger")
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return c, p, nil
	}

	// 1. No credential: refused before the object exists.
	anon, ledgerAnon, err := connect("")
	if err != nil {
		return err
	}
	defer anon.Close()
	_, err = ledgerAnon.Balance(context.Background())
	if !errors.Is(err, remoting.ErrPermissionDenied) {
		return fmt.Errorf("anonymous Balance: want PermissionDenied, got %v", err)
	}
	say("client(anonymous): Balance refused: %v", err)
	if n := counts.Get(LedgerInterface, remoting.EventActivated); n != 0 {
		return fmt.Errorf("the ledger was created %d times for refused calls", n)
	}
	say("client(anonymous): the ledger was not created for the refused call")

	// 2. Alice deposits; the first call that gets through creates the ledger.
	alice, ledgerAlice, err := connect("tok-alice")
	if err != nil {
		return err
	}
	defer alice.Close()
	for _, cents := range []int64{1250, 750} {
		bal, err := ledgerAlice.Deposit(context.Background(), cents)
		if err != nil {
			return err
		}
		say("client(alice): Deposit(%d) -> balance %d", cents, bal)
	}
	if _, err := ledgerAlice.Deposit(context.Background(), -5); remoting.CodeOf(err) != remoting.CodeInvalidArgument {
		return fmt.Errorf("Deposit(-5): want InvalidArgument, got %v", err)
	}
	say("client(alice): Deposit(-5) failed as the method decided: InvalidArgument")

	// 3. The auditor may read but not deposit.
	audit, ledgerAudit, err := connect("tok-audit")
	if err != nil {
		return err
	}
	defer audit.Close()
	if _, err := ledgerAudit.Balance(context.Background()); err != nil {
		return err
	}
	say("client(auditor): Balance allowed")
	_, err = ledgerAudit.Deposit(context.Background(), 100)
	if !errors.Is(err, remoting.ErrPermissionDenied) {
		return fmt.Errorf("auditor Deposit: want PermissionDenied, got %v", err)
	}
	say("client(auditor): Deposit refused: %v", err)

	// 4. What the metrics saw.
	say("metrics (side, method, calls, failures by code, median latency):")
	for _, m := range metrics.Snapshot() {
		codes := []string{fmt.Sprintf("calls=%d", m.Calls)}
		for _, code := range slices.Sorted(maps.Keys(m.Codes)) {
			if code != "OK" {
				codes = append(codes, fmt.Sprintf("%s=%d", code, m.Codes[code]))
			}
		}
		say("  %-6s %-15s %s p50=%v", m.Side, m.Method, strings.Join(codes, " "), m.Quantile(0.5).Round(time.Microsecond))
	}
	server, ok := metrics.Method(interceptor.Server, "Ledger.Deposit")
	if !ok || server.Calls != 4 || server.Codes["PermissionDenied"] != 1 || server.Codes["InvalidArgument"] != 1 {
		return fmt.Errorf("server metrics of Ledger.Deposit: %+v", server)
	}
	// The same counts in the Prometheus text format, as the admin
	// endpoint's /metrics serves them through the Prometheus client library.
	adm, err := admin.Start(admin.Options{Server: srv, Metrics: metrics})
	if err != nil {
		return err
	}
	defer adm.Close()
	resp, err := http.Get(adm.URL() + "/metrics")
	if err != nil {
		return err
	}
	prom, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	say("prometheus text format from %s/metrics (excerpt):", adm.URL())
	for _, line := range strings.Split(string(prom), "\n") {
		if (strings.HasPrefix(line, "remoting_calls_total{") && strings.HasSuffix(strings.Fields(line)[0], `side="server"}`)) ||
			strings.HasPrefix(line, "remoting_lifecycle_events_total") {
			say("  %s", line)
		}
	}

	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	say("server: shut down")
	return nil
}
