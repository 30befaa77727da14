package lifecycle_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

// keyedServer starts a server whose Accounts are keyed objects living as
// opts say, on store (wrapped to count its loads and saves).
func keyedServer(t *testing.T, tr *account.Tracker, store passivation.Store, opts lifecycle.KeyedOptions, sopts invoker.Options) (*server, *account.CountingStore) {
	t.Helper()
	cs := &account.CountingStore{Store: store}
	opts.Store = cs
	s := startServer(t, sopts)
	require.NoError(t, s.Keyed(account.AccountInvoker(), lifecycle.Keyed(tr.New, opts)), "Keyed")
	return s, cs
}

// byKey returns the proxy of the Account of key on c.
func byKey(t testing.TB, c remoting.Caller, key string) *account.AccountProxy {
	t.Helper()
	p, err := account.AccountByKey(c, key)
	require.NoError(t, err, "AccountByKey(%q)", key)
	return p
}

func TestKeyedActivatesOnceUnderConcurrentFirstCalls(t *testing.T) {
	tr := &account.Tracker{NewDelay: 20 * time.Millisecond}
	ev := new(events)
	s, store := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{}, invoker.Options{Observers: []remoting.Observer{ev}})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "account/42")

	const callers = 1000
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			if _, err := acct.Deposit(ctx, 1); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "Deposit")
	}
	n, err := acct.Balance(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, callers, n, "balance after %d concurrent deposits", callers)
	assert.EqualValues(t, 1, tr.News.Load(), "instances made")
	assert.EqualValues(t, 1, tr.Activates.Load(), "activations")
	assert.EqualValues(t, 1, store.Loads.Load(), "store reads")
	ok, _ := ev.count(remoting.EventActivated, acct.Ref().ID)
	assert.Equal(t, 1, ok, "Activated events")

	var found []invoker.ObjectInfo
	for _, o := range s.Objects() {
		if o.ID == acct.Ref().ID {
			found = append(found, o)
		}
	}
	require.Len(t, found, 1, "Objects lists the keyed object")
	assert.Equal(t, lifecycle.NameKeyed, found[0].Strategy)
	assert.Equal(t, "account/42", found[0].Key)
	assert.Equal(t, account.AccountInterface, found[0].Interface)
}

func TestKeyedPassivatesAndReactivates(t *testing.T) {
	tr := new(account.Tracker)
	ev := new(events)
	s, store := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{PassivateAfter: 20 * time.Millisecond}, invoker.Options{Observers: []remoting.Observer{ev}})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "7")
	for range 5 {
		_, err := acct.Deposit(ctx, 10)
		require.NoError(t, err)
	}
	ev.wait(t, remoting.EventPassivated, acct.Ref().ID, 1)
	require.Eventually(t, func() bool { return s.Stats().Objects == 0 }, 5*time.Second, time.Millisecond, "the passivated object leaves the table")
	assert.EqualValues(t, 1, tr.Deactivates.Load(), "Deactivate at passivation")
	assert.EqualValues(t, 1, store.Saves.Load(), "saves: one, at passivation")

	n, err := acct.Balance(ctx)
	require.NoError(t, err, "Balance after passivation")
	assert.EqualValues(t, 50, n, "the state after reactivation")
	assert.EqualValues(t, 1, tr.Restores.Load(), "restores")
	assert.EqualValues(t, 2, tr.News.Load(), "instances made: the first, and the reactivated one")
	ok, _ := ev.count(remoting.EventReactivated, acct.Ref().ID)
	assert.Equal(t, 1, ok, "Reactivated events")
	key, err := acct.Key(ctx)
	require.NoError(t, err)
	assert.Equal(t, "7", key, "the constructor got the key")
}

// TestKeyedPassivationRacesCalls passivates objects all the time while
// calls keep coming: no deposit may be lost or applied twice.
func TestKeyedPassivationRacesCalls(t *testing.T) {
	tr := new(account.Tracker)
	s, _ := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{PassivateAfter: time.Millisecond}, invoker.Options{})
	c := s.dial(t)
	ctx := ctxT(t)
	const keys, per = 8, 200
	var wg sync.WaitGroup
	for k := range keys {
		acct := byKey(t, c, string(rune('a'+k)))
		for range 4 {
			wg.Go(func() {
				for i := range per {
					if _, err := acct.Deposit(ctx, 1); err != nil {
						t.Errorf("Deposit: %v", err)
						return
					}
					if i%50 == 0 {
						time.Sleep(3 * time.Millisecond) // let it passivate
					}
				}
			})
		}
	}
	wg.Wait()
	for k := range keys {
		n, err := byKey(t, c, string(rune('a'+k))).Balance(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 4*per, n, "balance of %c", 'a'+k)
	}
	assert.Greater(t, tr.Restores.Load(), int64(0), "objects were reactivated")
}

func TestKeyedBadKeys(t *testing.T) {
	tr := new(account.Tracker)
	s, _ := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{}, invoker.Options{})
	_, err := s.Register("named", account.AccountInvoker(), lifecycle.Static(&account.Impl{}))
	require.NoError(t, err)
	c := s.dial(t)
	ctx := ctxT(t)

	for _, key := range []string{"", strings.Repeat("x", remoting.MaxKeyLen+1), "bad\xff"} {
		_, err := account.AccountByKey(c, key)
		assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "AccountByKey(%q): %v", key, err)
	}
	call := func(ref remoting.Ref) error {
		var res struct {
			_ struct{} `cbor:",toarray"`
			N int64
		}
		return c.Invoke(ctx, &remoting.Invocation{Target: ref, Method: "Account.Balance", Args: &struct {
			_ struct{} `cbor:",toarray"`
		}{}, Reply: &res})
	}
	cases := []struct {
		name string
		ref  remoting.Ref
		want remoting.Code
	}{
		{"too long", remoting.Ref{ID: remoting.KeyID(account.AccountInterface, strings.Repeat("x", 300)), Key: strings.Repeat("x", 300)}, remoting.CodeInvalidArgument},
		{"not UTF-8", remoting.Ref{ID: remoting.KeyID(account.AccountInterface, "bad\xff"), Key: "bad\xff"}, remoting.CodeInvalidArgument},
		{"id of another key", remoting.Ref{ID: remoting.KeyID(account.AccountInterface, "a"), Key: "b"}, remoting.CodeNotFound},
		{"id of another interface", remoting.Ref{ID: remoting.KeyID("other.Account", "a"), Key: "a"}, remoting.CodeNotFound},
		{"key to a named object", remoting.Ref{ID: remoting.NameID("named"), Key: "a"}, remoting.CodeNotFound},
		{"key id without the key", remoting.Ref{ID: remoting.KeyID(account.AccountInterface, "a")}, remoting.CodeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := call(tc.ref)
			assert.Equal(t, tc.want, remoting.CodeOf(err), "Balance of %v: %v", tc.ref, err)
		})
	}
	assert.EqualValues(t, 0, tr.News.Load(), "no bad call made an instance")
}

func TestKeyedConstructorAndRestoreErrorsRetry(t *testing.T) {
	tr := new(account.Tracker)
	s, _ := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{PassivateAfter: 10 * time.Millisecond}, invoker.Options{})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "x")

	tr.FailNew.Store(true)
	_, err := acct.Deposit(ctx, 1)
	require.Error(t, err, "Deposit with a failing constructor")
	assert.Contains(t, err.Error(), account.ErrInjected.Error(), "the constructor's error reaches the caller")
	tr.FailNew.Store(false)
	n, err := acct.Deposit(ctx, 1)
	require.NoError(t, err, "the next call retries")
	assert.EqualValues(t, 1, n)

	require.Eventually(t, func() bool { return s.Stats().Objects == 0 }, 5*time.Second, time.Millisecond, "passivated")
	tr.FailRestore.Store(true)
	_, err = acct.Balance(ctx)
	require.Error(t, err, "Balance with a failing restore")
	assert.Contains(t, err.Error(), account.ErrInjected.Error(), "the restore's error reaches the caller")
	tr.FailRestore.Store(false)
	n, err = acct.Balance(ctx)
	require.NoError(t, err, "the next call retries")
	assert.EqualValues(t, 1, n, "state after the retried restore")
}

func TestKeyedEveryCallSaveFailure(t *testing.T) {
	tr := new(account.Tracker)
	s, store := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{Durability: lifecycle.SaveEveryCall}, invoker.Options{})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "x")

	_, err := acct.Deposit(ctx, 5)
	require.NoError(t, err)
	store.FailSaves.Store(true)
	_, err = acct.Deposit(ctx, 100)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Deposit whose save fails: %v", err)
	store.FailSaves.Store(false)
	n, err := acct.Balance(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 5, n, "the next call reloads the last state saved")
	assert.EqualValues(t, 2, store.Loads.Load(), "loads: the first activation and the reload")

	tr.FailSave.Store(true)
	_, err = acct.Deposit(ctx, 100)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Deposit whose SaveState fails: %v", err)
	tr.FailSave.Store(false)
	n, err = acct.Deposit(ctx, 1)
	require.NoError(t, err)
	assert.EqualValues(t, 6, n, "the failed call's effect is not kept")

	// A method's own error does not keep it from being saved; a panic
	// drops the instance.
	require.Error(t, acct.Fail(ctx, 10))
	require.Error(t, acct.Panic(ctx, 1000))
	n, err = acct.Balance(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 16, n, "after an error (saved) and a panic (dropped)")
}

func TestKeyedReadOnlyMethodsDoNotSave(t *testing.T) {
	tr := new(account.Tracker)
	s, store := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{Durability: lifecycle.SaveEveryCall}, invoker.Options{})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "x")
	for range 3 {
		_, err := acct.Deposit(ctx, 1)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, store.Saves.Load(), "a save per deposit")
	for range 5 {
		_, err := acct.Balance(ctx)
		require.NoError(t, err)
		_, err = acct.Key(ctx)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, store.Saves.Load(), "read-only methods do not save")
}

func TestKeyedInvocationModes(t *testing.T) {
	tr := new(account.Tracker)
	// A keyed object runs one call at a time, but not in the order sent:
	// each request runs on a goroutine of its own, and a one-way call can
	// reach the object after a later call. One call of a connection at a
	// time runs them in the order sent.
	s, store := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{Durability: lifecycle.SaveEveryCall}, invoker.Options{MaxConcurrentCalls: 1})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "modes")

	require.NoError(t, acct.Oneway().Deposit(ctx, 1), "Oneway")
	require.NoError(t, acct.SyncWithServer().Deposit(ctx, 10), "SyncWithServer")
	n, err := acct.Async().Deposit(ctx, 100).Result(ctx)
	require.NoError(t, err, "Async")
	assert.EqualValues(t, 111, n, "Async: the calls run in order, one at a time")
	done := make(chan int64, 1)
	acct.Callback().Deposit(ctx, 1000, func(n int64, err error) {
		assert.NoError(t, err, "Callback")
		done <- n
	})
	assert.EqualValues(t, 1111, <-done, "Callback")
	assert.EqualValues(t, 4, store.Saves.Load(), "a save per call, in every mode")
}

func TestKeyedInterceptorsSeeTheKey(t *testing.T) {
	var mu sync.Mutex
	var seen []remoting.Ref
	see := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		mu.Lock()
		seen = append(seen, inv.Target)
		mu.Unlock()
		return next(ctx, inv)
	}
	tr := new(account.Tracker)
	s, _ := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{}, invoker.Options{Interceptors: []remoting.Interceptor{see}})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "seen")
	_, err := acct.Deposit(ctx, 1)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 1)
	assert.Equal(t, "seen", seen[0].Key, "inv.Target.Key")
	assert.Equal(t, acct.Ref().ID, seen[0].ID, "inv.Target.ID")
	assert.Equal(t, account.AccountInterface, seen[0].Interface, "inv.Target.Interface")
}

func TestKeyedServerRestartOnBolt(t *testing.T) {
	for _, d := range []lifecycle.Durability{lifecycle.SaveOnPassivation, lifecycle.SaveEveryCall} {
		t.Run(d.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "accounts.db")
			ctx := ctxT(t)
			serve := func() (*invoker.Server, string, func()) {
				store, err := bolt.Open(path, bolt.Options{})
				require.NoError(t, err)
				lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
				require.NoError(t, err)
				srv := invoker.NewServer(invoker.Options{})
				require.NoError(t, srv.Keyed(account.AccountInvoker(), lifecycle.Keyed(new(account.Tracker).New, lifecycle.KeyedOptions{Store: store, Durability: d})))
				served := make(chan error, 1)
				go func() { served <- srv.Serve(lis) }()
				return srv, "tcp://" + lis.Addr().String(), func() {
					require.NoError(t, srv.Shutdown(ctx), "Shutdown")
					<-served
					require.NoError(t, store.Close())
				}
			}
			_, ep, stop := serve()
			c, err := requestor.Dial(ctx, ep, requestor.Options{})
			require.NoError(t, err)
			for i := range 10 {
				_, err := byKey(t, c, string(rune('0'+i))).Deposit(ctx, int64(i+1))
				require.NoError(t, err)
			}
			c.Close()
			stop()

			_, ep, stop = serve()
			defer stop()
			c, err = requestor.Dial(ctx, ep, requestor.Options{})
			require.NoError(t, err)
			defer c.Close()
			for i := range 10 {
				n, err := byKey(t, c, string(rune('0'+i))).Balance(ctx)
				require.NoError(t, err)
				assert.EqualValues(t, i+1, n, "balance of %d after the restart", i)
			}
		})
	}
}

// TestKeyedLeavesNothingBehind: a call that an interceptor refuses, an
// activation that fails and a save that fails leave no object in the
// table, so that calls of many keys that never activate cost no memory.
func TestKeyedLeavesNothingBehind(t *testing.T) {
	deny := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		if strings.HasPrefix(inv.Target.Key, "deny") {
			return remoting.Errorf(remoting.CodePermissionDenied, "no")
		}
		return next(ctx, inv)
	}
	tr := new(account.Tracker)
	s, store := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{Durability: lifecycle.SaveEveryCall}, invoker.Options{Interceptors: []remoting.Interceptor{deny}})
	c := s.dial(t)
	ctx := ctxT(t)
	for i := range 20 {
		_, err := byKey(t, c, fmt.Sprint("deny-", i)).Deposit(ctx, 1)
		assert.Equal(t, remoting.CodePermissionDenied, remoting.CodeOf(err), "refused: %v", err)
	}
	assert.Zero(t, s.Stats().Objects, "objects after refused calls")
	tr.FailNew.Store(true)
	for i := range 20 {
		_, err := byKey(t, c, fmt.Sprint("new-", i)).Deposit(ctx, 1)
		assert.Error(t, err, "failing constructor")
	}
	tr.FailNew.Store(false)
	assert.Zero(t, s.Stats().Objects, "objects after failed activations")
	store.FailSaves.Store(true)
	_, err := byKey(t, c, "save").Deposit(ctx, 1)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "failing save: %v", err)
	store.FailSaves.Store(false)
	assert.Zero(t, s.Stats().Objects, "objects after a failed save")
	assert.EqualValues(t, 0, tr.News.Load()-tr.Deactivates.Load(), "instances left in memory")
}

// TestKeyedEveryCallPassivatesWithoutSaving: with SaveEveryCall the store
// has the state when the object passivates, so passivation writes nothing.
func TestKeyedEveryCallPassivatesWithoutSaving(t *testing.T) {
	tr := new(account.Tracker)
	ev := new(events)
	s, store := keyedServer(t, tr, passivation.NewMemoryStore(), lifecycle.KeyedOptions{Durability: lifecycle.SaveEveryCall, PassivateAfter: 10 * time.Millisecond}, invoker.Options{Observers: []remoting.Observer{ev}})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "x")
	_, err := acct.Deposit(ctx, 3)
	require.NoError(t, err)
	ev.wait(t, remoting.EventPassivated, acct.Ref().ID, 1)
	assert.EqualValues(t, 1, store.Saves.Load(), "saves: the deposit's only")
	n, err := acct.Balance(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 3, n, "after reactivation")
}

// TestKeyedEveryIntervalSaves: with SaveEveryInterval the calls write
// nothing; the state they changed is in the store an interval later, where
// another server on the same store finds it.
func TestKeyedEveryIntervalSaves(t *testing.T) {
	shared := passivation.NewMemoryStore()
	t.Cleanup(func() { shared.Close() })
	opts := lifecycle.KeyedOptions{Durability: lifecycle.SaveEveryInterval, SaveInterval: 50 * time.Millisecond, PassivateAfter: time.Minute}
	s, store := keyedServer(t, new(account.Tracker), shared, opts, invoker.Options{})
	c := s.dial(t)
	ctx := ctxT(t)
	acct := byKey(t, c, "x")
	for range 10 {
		_, err := acct.Deposit(ctx, 1)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, store.Saves.Load(), int64(1), "saves right after the calls")
	require.Eventually(t, func() bool { return store.Saves.Load() >= 1 }, 5*time.Second, time.Millisecond, "a save within the interval")
	time.Sleep(100 * time.Millisecond)
	assert.LessOrEqual(t, store.Saves.Load(), int64(2), "saves after the calls stopped: no more than the changes need")
	for range 5 {
		_, err := acct.Balance(ctx)
		require.NoError(t, err)
	}
	time.Sleep(100 * time.Millisecond)
	before := store.Saves.Load()
	assert.LessOrEqual(t, before, int64(2), "read-only calls mark nothing to save")

	other, _ := keyedServer(t, new(account.Tracker), shared, lifecycle.KeyedOptions{}, invoker.Options{})
	n, err := byKey(t, other.dial(t), "x").Balance(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 10, n, "another server on the store sees the saved state")
}
