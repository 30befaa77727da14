package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testserver"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/redis"
	"github.com/remoting-go/remoting/passivation/storetest"
)

func TestMain(m *testing.M) {
	goredis.SetLogger(quiet{}) // the outage tests make go-redis log every refused dial
	goleak.VerifyTestMain(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var prefixes atomic.Int64

// open returns a store under a key prefix of its own; the test closes it.
func open(t testing.TB, srv *testserver.Redis) *redis.Store {
	t.Helper()
	s, err := redis.Open("redis://"+srv.Addr()+"/0", redis.Options{Prefix: fmt.Sprintf("test%d*[x]:", prefixes.Add(1))})
	require.NoError(t, err, "Open")
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	srv := testserver.StartRedis(t, testserver.RedisOptions{AppendFsync: "everysec"})
	storetest.Run(t, func(t *testing.T) passivation.Store { return open(t, srv) })
}

// TestPrefixes: stores under different prefixes, one of which starts the
// other, do not see each other's records.
func TestPrefixes(t *testing.T) {
	srv := testserver.StartRedis(t, testserver.RedisOptions{})
	ctx := t.Context()
	a, err := redis.Open("redis://"+srv.Addr(), redis.Options{Prefix: "app:"})
	require.NoError(t, err, "Open")
	defer a.Close()
	b, err := redis.Open("redis://"+srv.Addr(), redis.Options{Prefix: "app:r:x"})
	require.NoError(t, err, "Open")
	defer b.Close()
	def, err := redis.Open("redis://"+srv.Addr(), redis.Options{})
	require.NoError(t, err, "Open")
	defer def.Close()
	assert.Equal(t, redis.DefaultPrefix, def.Prefix(), "Prefix of the zero Options")

	for _, s := range []*redis.Store{a, b, def} {
		_, err := s.Save(ctx, remoting.NewObjectID(), []byte(s.Prefix()), 0)
		require.NoError(t, err, "Save")
	}
	for _, s := range []*redis.Store{a, b, def} {
		n := 0
		require.NoError(t, s.List(ctx, func(_ remoting.ObjectID, rec passivation.Record) error {
			n++
			assert.Equal(t, s.Prefix(), string(rec.Data), "List under %q", s.Prefix())
			return nil
		}), "List")
		assert.Equal(t, 1, n, "records under %q", s.Prefix())
	}
}

// TestServerDown: a store whose server is not there fails every call with
// Unavailable at once, and works when the server comes up.
func TestServerDown(t *testing.T) {
	srv := testserver.StartRedis(t, testserver.RedisOptions{})
	require.NoError(t, srv.Stop(), "Stop")
	s := open(t, srv)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Save(ctx, remoting.NewObjectID(), []byte("x"), 0)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "CodeOf(Save to a stopped server): %v", err)
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "Save to a stopped server")
	assert.Less(t, time.Since(start), time.Second, "Save to a stopped server: time to fail")
	t.Logf("Save to a stopped server: %v", err)

	srv.Start(t)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err = s.Save(t.Context(), remoting.NewObjectID(), []byte("x"), 0)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.NoError(t, err, "Save once the server is up")
}

// TestRefusing: a server that refuses writes (out of memory under
// maxmemory with noeviction) gives Unavailable with Redis's error as cause.
func TestRefusing(t *testing.T) {
	srv := testserver.StartRedis(t, testserver.RedisOptions{})
	ctx := t.Context()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer c.Close()
	s := redis.New(c, redis.Options{})
	defer s.Close()
	require.NoError(t, c.ConfigSet(ctx, "maxmemory", "1").Err(), "CONFIG SET maxmemory")
	_, err := s.Save(ctx, remoting.NewObjectID(), []byte("x"), 0)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "CodeOf(Save to a full server): %v", err)
	assert.True(t, goredis.IsOOMError(err), "the cause is Redis's OOM error: %v", err)
	require.NoError(t, c.ConfigSet(ctx, "maxmemory", "0").Err(), "CONFIG SET maxmemory")
	_, err = s.Save(ctx, remoting.NewObjectID(), []byte("x"), 0)
	assert.NoError(t, err, "Save after the limit was lifted")
}

// Bounds of the outage test.
const (
	callTimeout  = 300 * time.Millisecond
	slack        = 350 * time.Millisecond
	resumeWithin = 2 * time.Second
)

// load is a load of saves: workers each save their own record again and
// again, and remember the last save that returned nil.
type load struct {
	s       *redis.Store
	stop    atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	acked   []int    // per worker, the last n acknowledged, or -1
	vers    []uint64 // its version
	ids     []remoting.ObjectID
	lastOK  atomic.Int64 // UnixNano of the latest successful Save
	oks     atomic.Int64
	fails   atomic.Int64
	slowest atomic.Int64
	badErrs []error
}

func startLoad(s *redis.Store, workers int) *load {
	l := &load{s: s, acked: make([]int, workers), vers: make([]uint64, workers), ids: make([]remoting.ObjectID, workers)}
	for w := range workers {
		l.acked[w] = -1
		l.ids[w] = remoting.NewObjectID()
		l.wg.Go(func() { l.work(w) })
	}
	return l
}

func (l *load) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	d := int64(time.Since(start))
	for cur := l.slowest.Load(); d > cur && !l.slowest.CompareAndSwap(cur, d); cur = l.slowest.Load() {
	}
	// A worker is the only writer of its record, so a conflict means that
	// an earlier Save which failed was applied all the same, after the
	// Load that looked for it: allowed, and resolved by another Load.
	if err != nil && remoting.CodeOf(err) != remoting.CodeUnavailable && !errors.Is(err, passivation.ErrConflict) {
		l.mu.Lock()
		l.badErrs = append(l.badErrs, err)
		l.mu.Unlock()
	}
	return err
}

func (l *load) work(w int) {
	var version uint64
	known := true
	for n := 0; !l.stop.Load(); n++ {
		if !known {
			err := l.call(func(ctx context.Context) error {
				rec, err := l.s.Load(ctx, l.ids[w])
				if errors.Is(err, passivation.ErrNotFound) {
					version, err = 0, nil
				} else if err == nil {
					version = rec.Version
				}
				return err
			})
			if err != nil {
				l.fails.Add(1)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			known = true
		}
		var nv uint64
		err := l.call(func(ctx context.Context) error {
			var err error
			nv, err = l.s.Save(ctx, l.ids[w], []byte(strconv.Itoa(n)), version)
			return err
		})
		if err != nil {
			l.fails.Add(1)
			known = false
			time.Sleep(10 * time.Millisecond)
			continue
		}
		version = nv
		l.oks.Add(1)
		l.lastOK.Store(time.Now().UnixNano())
		l.mu.Lock()
		l.acked[w], l.vers[w] = n, nv
		l.mu.Unlock()
	}
}

func (l *load) end() {
	l.stop.Store(true)
	l.wg.Wait()
}

// lost returns how many workers' records are older than their last
// acknowledged save, and how many acknowledged saves those lost in all
// (the saves of each worker are in sequence, each over the last).
func (l *load) lost(t *testing.T) (records, saves int) {
	for w, id := range l.ids {
		if l.acked[w] < 0 {
			continue
		}
		n := -1 // no record
		rec, err := l.s.Load(t.Context(), id)
		if err == nil {
			n, err = strconv.Atoi(string(rec.Data))
			require.NoError(t, err, "worker %d: data %q", w, rec.Data)
		} else {
			require.ErrorIs(t, err, passivation.ErrNotFound, "worker %d: Load", w)
		}
		if n < l.acked[w] {
			records++
			saves += l.acked[w] - n
		}
	}
	return records, saves
}

// waitUp waits until s answers again after its server came back: go-redis
// probes a server that refused as many dials as its pool has connections
// once a second.
func waitUp(t *testing.T, s *redis.Store) {
	t.Helper()
	deadline := time.Now().Add(resumeWithin)
	for {
		_, err := s.Load(t.Context(), remoting.NewObjectID())
		if errors.Is(err, passivation.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not answer within %v of its server: %v", resumeWithin, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutage kills the server under a load of saves and starts it again:
// while it is down every call fails with Unavailable and none outlives its
// deadline, and once it is back saves succeed within resumeWithin. With
// appendfsync always no acknowledged save is lost.
func TestOutage(t *testing.T) {
	srv := testserver.StartRedis(t, testserver.RedisOptions{AppendFsync: "always"})
	s := open(t, srv)
	l := startLoad(s, 16)
	time.Sleep(300 * time.Millisecond)
	okBefore := l.oks.Load()
	srv.Crash(t)
	crashed := time.Now()
	time.Sleep(time.Second)
	failsDown := l.fails.Load()
	srv.Start(t)
	back := time.Now()
	for l.lastOK.Load() < back.UnixNano() && time.Since(back) < resumeWithin+time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	resumed := time.Unix(0, l.lastOK.Load()).Sub(back)
	time.Sleep(300 * time.Millisecond)
	l.end()

	t.Logf("%d saves before the kill, %d acknowledged in all, %d failed calls; down %v; resumed %v after the server was ready; slowest call %v",
		okBefore, l.oks.Load(), l.fails.Load(), back.Sub(crashed).Round(time.Millisecond), resumed.Round(time.Millisecond), time.Duration(l.slowest.Load()).Round(time.Millisecond))
	assert.Positive(t, okBefore, "saves before the kill")
	assert.Positive(t, failsDown, "calls that failed while the server was down")
	for i, err := range l.badErrs {
		if i == 5 {
			break
		}
		assert.Fail(t, "a call failed with another code than Unavailable", "%v (code %v)", err, remoting.CodeOf(err))
	}
	assert.LessOrEqual(t, time.Duration(l.slowest.Load()), callTimeout+slack, "the slowest call, with a deadline of %v", callTimeout)
	assert.Less(t, resumed, resumeWithin, "time to the first save after the server was back")
	assert.Positive(t, resumed, "a save after the server was back")
	records, _ := l.lost(t)
	assert.Zero(t, records, "records that lost acknowledged saves (appendfsync always)")
}

// TestKillLoss measures what a SIGKILL of Redis under load loses of the
// acknowledged saves, for each persistence setting. Only appendfsync
// always promises to lose nothing, and is held to it. A kill leaves the
// kernel's page cache, so everysec and no normally lose nothing either,
// but not always: Redis postpones its write(2) while a background fsync
// is slow, answering all the same (see the package doc). Snapshots alone
// lose every write since the last snapshot.
func TestKillLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement; -short leaves it out")
	}
	for _, fsync := range []string{"always", "everysec", "no", ""} {
		name := "appendfsync=" + fsync
		if fsync == "" {
			name = "rdb-only" // snapshots at Redis's default intervals
		}
		t.Run(name, func(t *testing.T) {
			srv := testserver.StartRedis(t, testserver.RedisOptions{AppendFsync: fsync})
			s := open(t, srv)
			l := startLoad(s, 16)
			time.Sleep(500 * time.Millisecond)
			srv.Crash(t)
			l.end()
			srv.Start(t)
			waitUp(t, s)
			records, saves := l.lost(t)
			t.Logf("%s: %d saves acknowledged by %d workers; after SIGKILL %d records had lost %d acknowledged saves",
				name, l.oks.Load(), len(l.ids), records, saves)
			if fsync == "always" {
				assert.Zero(t, records, "records that lost acknowledged saves")
			}
		})
	}
}

// BenchmarkStore measures Save and Load on a local server with an
// append-only file under appendfsync everysec (the default once it is on)
// and always, with a pool of up to 64 connections:
//
//	go test -run X -bench . ./passivation/redis
func BenchmarkStore(b *testing.B) {
	for _, fsync := range []string{"everysec", "always"} {
		b.Run("appendfsync="+fsync, func(b *testing.B) {
			srv := testserver.StartRedis(b, testserver.RedisOptions{AppendFsync: fsync})
			s, err := redis.Open("redis://"+srv.Addr()+"/0?pool_size=64", redis.Options{})
			require.NoError(b, err, "Open")
			b.Cleanup(func() { s.Close() })
			storetest.Benchmark(b, s)
		})
	}
}
