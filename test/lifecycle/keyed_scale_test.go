package lifecycle_test

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testserver"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/postgres"
	"github.com/remoting-go/remoting/passivation/redis"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

// Environment of TestKeyedReactivationAtScale.
const (
	// scaleEnv, set to 1, runs the test; it takes minutes and a few GiB
	// of disk and memory, so that CI leaves it out.
	scaleEnv = "REMOTING_SCALE"
	// scaleObjectsEnv sets the number of passivated objects; default
	// scaleObjects.
	scaleObjectsEnv = "REMOTING_SCALE_OBJECTS"
)

const (
	scaleObjects = 1_000_000
	// scaleSample is how many distinct keys, drawn at random, are
	// reactivated with each number of callers.
	scaleSample = 20_000
	// scaleBatch is how many records go to the server in one pipeline
	// (Redis) or are made at a time (PostgreSQL's COPY).
	scaleBatch = 10_000
)

// TestKeyedReactivationAtScale loads a store with a million passivated
// keyed Accounts (the records lifecycle.KeyedRecord makes, which are what
// the keyed lifecycle writes; the balance of acct-i is i) in bulk, on a
// real PostgreSQL and a real Redis, and then reactivates keys drawn at
// random through a server and a client over loopback: one call of a key
// that has no instance is a Load from the store, a decode and a restore.
// It logs the time of the bulk load, the store's size
// (pg_total_relation_size; Redis's used_memory, less what it used
// empty), and the latency of reactivating calls (p50, p99) and their
// rate with 1 and with 64 callers, beside the same calls once the objects
// are live. Run it with
//
//	REMOTING_SCALE=1 nice -n 10 go test -run TestKeyedReactivationAtScale -v -timeout 30m ./test/lifecycle
func TestKeyedReactivationAtScale(t *testing.T) {
	if os.Getenv(scaleEnv) != "1" {
		t.Skipf("a measurement of minutes: %s=1 runs it", scaleEnv)
	}
	n := scaleObjects
	if s := os.Getenv(scaleObjectsEnv); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err, "%s", scaleObjectsEnv)
	}
	t.Run("postgres", func(t *testing.T) {
		pg := testserver.StartPostgres(t)
		store, err := postgres.Open(pg.ConnString()+"&pool_max_conns=64", postgres.Options{})
		require.NoError(t, err, "Open")
		t.Cleanup(func() { store.Close() })
		ctx := t.Context()
		_, err = store.Load(ctx, remoting.NewObjectID()) // creates the table
		require.ErrorIs(t, err, passivation.ErrNotFound, "Load")

		conn, err := pgx.Connect(ctx, pg.ConnString())
		require.NoError(t, err, "Connect")
		defer conn.Close(ctx)
		start := time.Now()
		copyKeyed(t, conn, store.Table(), n)
		loaded := time.Since(start)
		var size int64
		require.NoError(t, conn.QueryRow(ctx, `SELECT pg_total_relation_size($1)`, pgx.Identifier{store.Table()}.Sanitize()).Scan(&size), "pg_total_relation_size")
		t.Logf("postgres: %d records loaded in %v (%.0f/s); pg_total_relation_size %.1f MiB (%.0f bytes a record)",
			n, loaded.Round(time.Millisecond), float64(n)/loaded.Seconds(), float64(size)/(1<<20), float64(size)/float64(n))
		reactivate(t, "postgres", store, n)
	})
	t.Run("redis", func(t *testing.T) {
		r := testserver.StartRedis(t, testserver.RedisOptions{AppendFsync: "everysec"})
		store, err := redis.Open("redis://"+r.Addr()+"/0?pool_size=64", redis.Options{})
		require.NoError(t, err, "Open")
		t.Cleanup(func() { store.Close() })
		c := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
		t.Cleanup(func() { c.Close() })
		ctx := t.Context()
		empty := usedMemory(t, c)
		start := time.Now()
		pipelineKeyed(t, c, store.Prefix(), n)
		loaded := time.Since(start)
		quiesce(t, c)
		used := usedMemory(t, c)
		t.Logf("redis: %d records loaded in %v (%.0f/s); used_memory %.1f MiB, %.1f MiB over the empty server's (%.0f bytes a record)",
			n, loaded.Round(time.Millisecond), float64(n)/loaded.Seconds(), float64(used)/(1<<20), float64(used-empty)/(1<<20), float64(used-empty)/float64(n))
		keys, err := c.DBSize(ctx).Result()
		require.NoError(t, err, "DBSIZE")
		assert.EqualValues(t, n+1, keys, "keys: the records and the version counter")
		reactivate(t, "redis", store, n)
	})
}

// scaleRecords calls fn with the id and data of the records of acct-i for
// i in [from, to).
func scaleRecords(from, to int, fn func(id remoting.ObjectID, data []byte)) error {
	for i := from; i < to; i++ {
		state, err := account.State(int64(i))
		if err != nil {
			return err
		}
		id, data, err := lifecycle.KeyedRecord(account.AccountInterface, "acct-"+strconv.Itoa(i), state)
		if err != nil {
			return err
		}
		fn(id, data)
	}
	return nil
}

// copyKeyed loads n records into table with COPY, through a temporary
// table, from which one INSERT gives each row its version from the
// table's sequence, as the store's Save does: so versions stay unique.
func copyKeyed(t *testing.T, conn *pgx.Conn, table string, n int) {
	ctx := t.Context()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err, "Begin")
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `CREATE TEMPORARY TABLE keyed_import (id uuid, data bytea) ON COMMIT DROP`)
	require.NoError(t, err, "CREATE TEMPORARY TABLE")
	next, rows, at := 0, make([][]any, 0, scaleBatch), 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if at == len(rows) {
			if next == n {
				return nil, nil
			}
			to := min(n, next+scaleBatch)
			rows, at = rows[:0], 0
			if err := scaleRecords(next, to, func(id remoting.ObjectID, data []byte) { rows = append(rows, []any{id[:], data}) }); err != nil {
				return nil, err
			}
			next = to
		}
		at++
		return rows[at-1], nil
	})
	copied, err := tx.CopyFrom(ctx, pgx.Identifier{"keyed_import"}, []string{"id", "data"}, src)
	require.NoError(t, err, "COPY")
	require.EqualValues(t, n, copied, "rows copied")
	t0 := pgx.Identifier{table}.Sanitize()
	seq := pgx.Identifier{table + "_version"}.Sanitize()
	tag, err := tx.Exec(ctx, `INSERT INTO `+t0+` (id, version, data) SELECT id, nextval('`+seq+`'), data FROM keyed_import`)
	require.NoError(t, err, "INSERT from the import")
	require.EqualValues(t, n, tag.RowsAffected(), "rows inserted")
	require.NoError(t, tx.Commit(ctx), "Commit")
	// Leave autovacuum nothing to do for the million new rows, and the
	// checkpointer nothing to write, while the calls are timed.
	_, err = conn.Exec(ctx, `VACUUM (ANALYZE) `+t0)
	require.NoError(t, err, "VACUUM")
	_, err = conn.Exec(ctx, `CHECKPOINT`)
	require.NoError(t, err, "CHECKPOINT")
}

// pipelineKeyed loads n records under prefix in the layout of package
// passivation/redis (a hash <prefix>r:<id> of v, the version, and d, the
// data), taking the versions from the store's counter with one INCRBY,
// and sending the hashes in pipelines of scaleBatch, from a few
// goroutines.
func pipelineKeyed(t *testing.T, c *goredis.Client, prefix string, n int) {
	ctx := t.Context()
	last, err := c.IncrBy(ctx, prefix+"version", int64(n)).Result()
	require.NoError(t, err, "INCRBY")
	first := uint64(last) - uint64(n) + 1
	var wg sync.WaitGroup
	batches := make(chan int)
	for range 4 {
		wg.Go(func() {
			for from := range batches {
				to := min(n, from+scaleBatch)
				p := c.Pipeline()
				err := scaleRecords(from, to, func(id remoting.ObjectID, data []byte) {
					p.HSet(ctx, prefix+"r:"+id.String(), "v", strconv.FormatUint(first+uint64(from), 10), "d", data)
					from++
				})
				if assert.NoError(t, err, "records") {
					_, err = p.Exec(ctx)
					assert.NoError(t, err, "pipeline of HSET")
				}
			}
		})
	}
	for from := 0; from < n; from += scaleBatch {
		batches <- from
	}
	close(batches)
	wg.Wait()
}

// quiesce waits (up to 5 minutes) until Redis has no rewrite of its
// append-only file and no snapshot running or scheduled, as the bulk load
// can start one, so that the calls are not timed beside a fork's work.
func quiesce(t *testing.T, c *goredis.Client) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		info, err := c.Info(t.Context(), "persistence").Result()
		require.NoError(t, err, "INFO persistence")
		busy := false
		for _, field := range []string{"aof_rewrite_in_progress:1", "aof_rewrite_scheduled:1", "rdb_bgsave_in_progress:1"} {
			busy = busy || strings.Contains(info, field)
		}
		if !busy {
			return
		}
		require.True(t, time.Now().Before(deadline), "Redis still rewrites or saves after 5 minutes:\n%s", info)
		time.Sleep(100 * time.Millisecond)
	}
}

// usedMemory returns used_memory of INFO memory.
func usedMemory(t *testing.T, c *goredis.Client) int64 {
	info, err := c.Info(t.Context(), "memory").Result()
	require.NoError(t, err, "INFO memory")
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err, "used_memory %q", v)
			return n
		}
	}
	t.Fatalf("INFO memory has no used_memory:\n%s", info)
	return 0
}

// reactivate serves keyed Accounts on store, which holds n passivated
// ones, and calls Balance on distinct keys drawn at random, first with
// one caller and then with 64, each key twice: the first call
// reactivates the object, the second finds it live.
func reactivate(t *testing.T, name string, store passivation.Store, n int) {
	s := startServer(t, invoker.Options{})
	require.NoError(t, s.Keyed(account.AccountInvoker(), lifecycle.Keyed(new(account.Tracker).New, lifecycle.KeyedOptions{Store: store, Durability: lifecycle.SaveEveryCall})))
	c := s.dial(t)
	rng := rand.New(rand.NewPCG(1, 2))
	drawn := make(map[int]bool, 2*scaleSample)
	draw := func() []int {
		keys := make([]int, 0, scaleSample)
		for len(keys) < min(scaleSample, n/2) {
			if k := rng.IntN(n); !drawn[k] {
				drawn[k] = true
				keys = append(keys, k)
			}
		}
		return keys
	}
	for _, callers := range []int{1, 64} {
		keys := draw()
		for _, phase := range []string{"reactivate", "live"} {
			lat, took := balances(t, c, keys, callers)
			slices.Sort(lat)
			q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
			t.Logf("%s: %s, callers=%d: %d calls, p50 %v, p99 %v, %.0f calls/s",
				name, phase, callers, len(lat), q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), float64(len(lat))/took.Seconds())
		}
	}
}

// balances calls Balance of acct-k for each of keys, from callers
// goroutines, checks that each is k, and returns each call's latency and
// the time of all.
func balances(t *testing.T, c remoting.Caller, keys []int, callers int) ([]time.Duration, time.Duration) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	lat := make([]time.Duration, len(keys))
	var wg sync.WaitGroup
	start := time.Now()
	for w := range callers {
		wg.Go(func() {
			for i := w; i < len(keys); i += callers {
				p := byKey(t, c, "acct-"+strconv.Itoa(keys[i]))
				t0 := time.Now()
				got, err := p.Balance(ctx)
				lat[i] = time.Since(t0)
				if !assert.NoError(t, err, "Balance of acct-%d", keys[i]) || !assert.EqualValues(t, keys[i], got, "Balance of acct-%d", keys[i]) {
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	runtime.GC() // the next phase starts without this one's garbage
	return lat, took
}
