package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testserver"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/postgres"
)

// Bounds of the outage tests.
const (
	callTimeout = 300 * time.Millisecond
	// slack is how far past its deadline a call may return: the time to
	// notice the deadline and unwind, with the race detector on, on a
	// machine of 2 busy cores.
	slack = 350 * time.Millisecond
	// resumeWithin bounds the time from the server accepting connections
	// again to the first successful Save.
	resumeWithin = 2 * time.Second
)

// TestOutage crashes the server (pg_ctl's -m immediate) under a load of
// saves and starts it again: while it is down every call fails with
// Unavailable and none outlives its deadline; once it is back, saves
// succeed within resumeWithin; and no save that returned nil is lost.
func TestOutage(t *testing.T) {
	pg := testserver.StartPostgres(t)
	s := open(t, pg.ConnString())
	ctx := t.Context()
	_, err := s.Load(ctx, remoting.NewObjectID()) // creates the table
	require.ErrorIs(t, err, passivation.ErrNotFound, "Load")

	const workers = 16
	type worker struct {
		id        remoting.ObjectID
		acked     int    // the last n whose Save returned nil, or -1
		ackedVers uint64 // its version
	}
	var (
		stop       atomic.Bool
		wg         sync.WaitGroup
		mu         sync.Mutex
		ws         = make([]worker, workers)
		lastOK     atomic.Int64 // UnixNano of the latest successful Save
		oks, fails atomic.Int64
		slowest    atomic.Int64 // the longest call, in nanoseconds
		badErrs    []error
	)
	call := func(f func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		start := time.Now()
		err := f(cctx)
		d := time.Since(start)
		for {
			cur := slowest.Load()
			if int64(d) <= cur || slowest.CompareAndSwap(cur, int64(d)) {
				break
			}
		}
		// A worker is the only writer of its record, so a conflict means
		// that an earlier Save which failed was committed all the same,
		// after the Load that looked for it: allowed, and resolved by
		// another Load.
		if err != nil && remoting.CodeOf(err) != remoting.CodeUnavailable && !errors.Is(err, passivation.ErrConflict) {
			mu.Lock()
			badErrs = append(badErrs, err)
			mu.Unlock()
		}
		return err
	}
	for w := range ws {
		ws[w] = worker{id: remoting.NewObjectID(), acked: -1}
		wg.Go(func() {
			var (
				version uint64
				known   = true // version is the record's
			)
			for n := 0; !stop.Load(); n++ {
				if !known {
					// A failed Save may have been committed: find out.
					err := call(func(ctx context.Context) error {
						rec, err := s.Load(ctx, ws[w].id)
						if errors.Is(err, passivation.ErrNotFound) {
							version, err = 0, nil
						} else if err == nil {
							version = rec.Version
						}
						return err
					})
					if err != nil {
						fails.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					known = true
				}
				var nv uint64
				err := call(func(ctx context.Context) error {
					var err error
					nv, err = s.Save(ctx, ws[w].id, []byte(strconv.Itoa(n)), version)
					return err
				})
				if err != nil {
					fails.Add(1)
					known = false
					time.Sleep(10 * time.Millisecond)
					continue
				}
				version = nv
				oks.Add(1)
				lastOK.Store(time.Now().UnixNano())
				mu.Lock()
				ws[w].acked, ws[w].ackedVers = n, nv
				mu.Unlock()
			}
		})
	}

	time.Sleep(500 * time.Millisecond)
	okBefore := oks.Load()
	pg.Crash(t)
	crashed := time.Now()
	okCrashed := oks.Load() // the server has exited
	time.Sleep(time.Second)
	failsDown := fails.Load()
	okDown := oks.Load()
	pg.Start(t)
	back := time.Now()
	for lastOK.Load() < back.UnixNano() && time.Since(back) < resumeWithin+time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	resumed := time.Unix(0, lastOK.Load()).Sub(back)
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	t.Logf("%d saves before the crash, %d acknowledged in all, %d failed calls; down %v; resumed %v after the server was ready; slowest call %v",
		okBefore, oks.Load(), fails.Load(), back.Sub(crashed).Round(time.Millisecond), resumed.Round(time.Millisecond), time.Duration(slowest.Load()).Round(time.Millisecond))
	assert.Positive(t, okBefore, "saves before the crash")
	assert.Greater(t, failsDown, int64(0), "calls that failed while the server was down")
	assert.LessOrEqual(t, okDown-okCrashed, int64(workers), "saves acknowledged after the server exited (at most those answered just before)")
	for i, err := range badErrs {
		if i == 5 {
			break
		}
		assert.Fail(t, "a call failed with another code than Unavailable", "%v (code %v)", err, remoting.CodeOf(err))
	}
	assert.LessOrEqual(t, time.Duration(slowest.Load()), callTimeout+slack, "the slowest call, with a deadline of %v", callTimeout)
	assert.Less(t, resumed, resumeWithin, "time to the first save after the server was back")
	assert.Positive(t, resumed, "a save after the server was back")

	// Nothing acknowledged is lost: each record holds the last acknowledged
	// save of its worker, or a later one that failed but was committed.
	for w, wk := range ws {
		rec, err := s.Load(ctx, wk.id)
		if wk.acked < 0 {
			continue
		}
		require.NoError(t, err, "worker %d: Load", w)
		n, err := strconv.Atoi(string(rec.Data))
		require.NoError(t, err, "worker %d: data %q", w, rec.Data)
		assert.GreaterOrEqual(t, n, wk.acked, "worker %d: the record is older than its last acknowledged save", w)
		if n == wk.acked {
			assert.Equal(t, wk.ackedVers, rec.Version, "worker %d: version of the last acknowledged save", w)
		}
	}
}

// TestSlowServer holds a lock on a record, so that a Save of it waits:
// the Save fails with Unavailable at its deadline, and the server's
// statement_timeout has stopped the statement too.
func TestSlowServer(t *testing.T) {
	pg := testserver.StartPostgres(t)
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, pg.ConnString()+"&pool_max_conns=1")
	require.NoError(t, err, "pgxpool.New")
	defer pool.Close()
	s, err := postgres.New(pool, postgres.Options{})
	require.NoError(t, err, "New")
	defer s.Close()
	id := remoting.NewObjectID()
	v, err := s.Save(ctx, id, []byte("x"), 0)
	require.NoError(t, err, "Save")

	locker, err := pgx.Connect(ctx, pg.ConnString())
	require.NoError(t, err, "Connect")
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	require.NoError(t, err, "Begin")
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, fmt.Sprintf("SELECT 1 FROM %s WHERE id = $1 FOR UPDATE", s.Table()), id[:])
	require.NoError(t, err, "lock the row")

	short, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	start := time.Now()
	_, err = s.Save(short, id, []byte("y"), v)
	took := time.Since(start)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "CodeOf(Save of a locked row): %v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Save of a locked row")
	assert.LessOrEqual(t, took, callTimeout+slack, "Save of a locked row: time to fail")
	t.Logf("Save of a locked row failed after %v: %v", took.Round(time.Millisecond), err)

	// The server gave up on the statement as well: nobody waits for the
	// lock any more.
	var waiting int
	deadline := time.Now().Add(time.Second)
	for {
		require.NoError(t, locker.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'`).Scan(&waiting), "pg_stat_activity")
		if waiting == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.Zero(t, waiting, "statements still waiting for the lock")

	// The timeout was for that statement only: the connection has none.
	var setting string
	require.NoError(t, pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&setting), "SHOW statement_timeout")
	assert.Equal(t, "0", setting, "statement_timeout of the pool's connection after a call with a deadline")

	require.NoError(t, tx.Rollback(ctx), "Rollback")
	_, err = s.Save(ctx, id, []byte("y"), v)
	assert.NoError(t, err, "Save once the lock is released")
}
