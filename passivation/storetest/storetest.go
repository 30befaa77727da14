// Package storetest is the conformance suite of [passivation.Store]: one
// function, [Run], that checks a store against every promise the Store
// interface makes. Every store of this module passes it, and a user who
// writes a Store of their own can run it too:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) passivation.Store {
//			return mystore.Open(...)
//		})
//	}
//
// The suite checks that versions never repeat (across ids, and after a
// Delete), that exactly one of [Writers] concurrent writers to one record
// wins each round, that List during writes sees only records that were
// saved, the semantics of Delete, records of up to [MaxRecord] bytes,
// context cancellation and deadlines, Close, and that errors match the
// sentinels of package passivation with [errors.Is].
//
// [RunReopen] checks, for a store whose records outlive Close (a file, a
// server), that they do and that versions go on above the old ones.
//
// [Benchmark] measures a store the same way for every backend: Save and
// Load latency (p50, p99) and rate at 1 and 64 concurrent callers.
//
// # Goroutines
//
// Run and Benchmark start goroutines of their own for the concurrent
// calls and wait for all of them before each test or benchmark ends.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

// Parameters of the suite.
const (
	// MaxRecord is the largest record the suite saves: the default frame
	// limit of the middleware (4 MiB), the largest state an object can
	// receive in one request.
	MaxRecord = 4 << 20

	// Writers is how many goroutines race to write one record in each
	// round of the conflict test.
	Writers = 100

	// Prompt is how long a call with a context that is already canceled,
	// or whose deadline has passed, may take to fail.
	Prompt = time.Second
)

// Run runs the conformance suite on the stores that open returns, one
// subtest per promise. open must return a new, empty store each time it
// is called (a fresh table or key prefix will do); the suite closes it.
func Run(t *testing.T, open func(t *testing.T) passivation.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s passivation.Store)
	}{
		{"SaveLoad", testSaveLoad},
		{"Errors", testErrors},
		{"Conflicts", testConflicts},
		{"Delete", testDelete},
		{"VersionsNeverRepeat", testVersionsNeverRepeat},
		{"ConcurrentWriters", testConcurrentWriters},
		{"DataIsCopied", testDataIsCopied},
		{"LargeRecords", testLargeRecords},
		{"List", testList},
		{"ListDuringWrites", testListDuringWrites},
		{"Canceled", testCanceled},
		{"Deadline", testDeadline},
		{"Close", testClose},
		{"CloseDuringCalls", testCloseDuringCalls},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			require.NotNil(t, s, "open")
			t.Cleanup(func() { s.Close() })
			tc.test(t, s)
		})
	}
}

// timeout bounds every call of the suite that is expected to succeed, so
// that a store that hangs fails the test instead of stalling it.
const timeout = 30 * time.Second

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}

func testSaveLoad(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	id := remoting.NewObjectID()
	v1, err := s.Save(ctx, id, []byte("one"), 0)
	require.NoError(t, err, "Save(new)")
	assert.NotZero(t, v1, "Save(new) version")
	rec, err := s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, passivation.Record{Data: []byte("one"), Version: v1}, rec, "Load")

	v2, err := s.Save(ctx, id, []byte("two"), v1)
	require.NoError(t, err, "Save(v1)")
	assert.NotZero(t, v2, "Save(v1) version")
	assert.NotEqual(t, v1, v2, "versions of two Saves")
	rec, err = s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, passivation.Record{Data: []byte("two"), Version: v2}, rec, "Load")

	for _, data := range [][]byte{nil, {}} {
		empty := remoting.NewObjectID()
		v, err := s.Save(ctx, empty, data, 0)
		require.NoError(t, err, "Save(%#v)", data)
		rec, err = s.Load(ctx, empty)
		require.NoError(t, err, "Load")
		assert.Empty(t, rec.Data, "Load of empty data")
		assert.Equal(t, v, rec.Version, "Load of empty data")
	}
}

// testErrors checks that each error matches its sentinel, the sentinel of
// its code, and carries the code.
func testErrors(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	id := remoting.NewObjectID()
	_, err := s.Load(ctx, id)
	assert.ErrorIs(t, err, passivation.ErrNotFound, "Load of an unknown id")
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Load of an unknown id")
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "CodeOf(Load of an unknown id)")

	v, err := s.Save(ctx, id, []byte("x"), 0)
	require.NoError(t, err, "Save")
	_, err = s.Save(ctx, id, []byte("y"), 0)
	assert.ErrorIs(t, err, passivation.ErrConflict, "Save(0) of an existing record")
	assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, "Save(0) of an existing record")
	assert.Equal(t, remoting.CodeFailedPrecondition, remoting.CodeOf(err), "CodeOf(Save(0) of an existing record)")
	assert.NotErrorIs(t, err, passivation.ErrNotFound, "Save(0) of an existing record")

	err = s.Delete(ctx, id, v+1)
	assert.ErrorIs(t, err, passivation.ErrConflict, "Delete(wrong version)")
	assert.Equal(t, remoting.CodeFailedPrecondition, remoting.CodeOf(err), "CodeOf(Delete(wrong version))")
}

func testConflicts(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	id := remoting.NewObjectID()
	v1, err := s.Save(ctx, id, []byte("one"), 0)
	require.NoError(t, err, "Save")
	v2, err := s.Save(ctx, id, []byte("two"), v1)
	require.NoError(t, err, "Save")

	tests := []struct {
		name string
		call func() error
	}{
		{"Save(0) of an existing record", func() error { _, err := s.Save(ctx, id, []byte("x"), 0); return err }},
		{"Save(stale version)", func() error { _, err := s.Save(ctx, id, []byte("x"), v1); return err }},
		{"Save(unknown version)", func() error { _, err := s.Save(ctx, id, []byte("x"), v1+v2+1); return err }},
		{"Save(largest version)", func() error { _, err := s.Save(ctx, id, []byte("x"), ^uint64(0)); return err }},
		{"Save(version) of a missing record", func() error {
			_, err := s.Save(ctx, remoting.NewObjectID(), []byte("x"), v2)
			return err
		}},
		{"Delete(stale version)", func() error { return s.Delete(ctx, id, v1) }},
		{"Delete(largest version)", func() error { return s.Delete(ctx, id, ^uint64(0)) }},
		{"Delete(version) of a missing record", func() error { return s.Delete(ctx, remoting.NewObjectID(), v2) }},
	}
	for _, tc := range tests {
		err := tc.call()
		assert.ErrorIs(t, err, passivation.ErrConflict, tc.name)
		assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, tc.name)
	}
	rec, err := s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, passivation.Record{Data: []byte("two"), Version: v2}, rec, "Load after failed writes")
}

func testDelete(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	id := remoting.NewObjectID()
	v1, err := s.Save(ctx, id, []byte("one"), 0)
	require.NoError(t, err, "Save")
	v2, err := s.Save(ctx, id, []byte("two"), v1)
	require.NoError(t, err, "Save")

	assert.ErrorIs(t, s.Delete(ctx, id, v1), passivation.ErrConflict, "Delete(stale version)")
	_, err = s.Load(ctx, id)
	require.NoError(t, err, "Load after a failed Delete")

	require.NoError(t, s.Delete(ctx, id, v2), "Delete(current version)")
	_, err = s.Load(ctx, id)
	assert.ErrorIs(t, err, passivation.ErrNotFound, "Load after Delete")
	assert.ErrorIs(t, s.Delete(ctx, id, v2), passivation.ErrConflict, "Delete(version) of the deleted record")
	assert.NoError(t, s.Delete(ctx, id, 0), "Delete(0) of a missing record")
	_, err = s.Save(ctx, id, []byte("x"), v2)
	assert.ErrorIs(t, err, passivation.ErrConflict, "Save(version of the deleted record)")

	// The record can be made again, from zero.
	v3, err := s.Save(ctx, id, []byte("three"), 0)
	require.NoError(t, err, "Save(0) after Delete")
	rec, err := s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, passivation.Record{Data: []byte("three"), Version: v3}, rec, "Load after making it again")

	// Delete(0) removes whatever version there is.
	require.NoError(t, s.Delete(ctx, id, 0), "Delete(0)")
	_, err = s.Load(ctx, id)
	assert.ErrorIs(t, err, passivation.ErrNotFound, "Load after Delete(0)")

	// A Delete touches only its own record.
	other := remoting.NewObjectID()
	vo, err := s.Save(ctx, other, []byte("other"), 0)
	require.NoError(t, err, "Save")
	require.NoError(t, s.Delete(ctx, remoting.NewObjectID(), 0), "Delete(0) of another id")
	rec, err = s.Load(ctx, other)
	require.NoError(t, err, "Load")
	assert.Equal(t, passivation.Record{Data: []byte("other"), Version: vo}, rec, "Load after a Delete of another id")
}

// testVersionsNeverRepeat collects the version of every write, across ids,
// after Deletes, and from concurrent writers, and checks that no two are
// the same.
func testVersionsNeverRepeat(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	var mu sync.Mutex
	seen := map[uint64]string{}
	note := func(what string, v uint64, err error) uint64 {
		require.NoError(t, err, what)
		require.NotZero(t, v, "%s: version", what)
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := seen[v]; ok {
			assert.Failf(t, "version given twice", "version %d given to %s and to %s", v, prev, what)
		}
		seen[v] = what
		return v
	}
	save := func(what string, id remoting.ObjectID, expected uint64) uint64 {
		t.Helper()
		v, err := s.Save(ctx, id, nil, expected)
		return note(what, v, err)
	}

	a, b := remoting.NewObjectID(), remoting.NewObjectID()
	va := save("Save(a, 0)", a, 0)
	save("Save(b, 0)", b, 0)
	for i := range 5 {
		require.NoError(t, s.Delete(ctx, a, va), "Delete(a)")
		va = save(fmt.Sprintf("Save(a, 0) after Delete %d", i), a, 0)
		va = save(fmt.Sprintf("Save(a, v) after Delete %d", i), a, va)
	}
	require.NoError(t, s.Delete(ctx, a, 0), "Delete(a, 0)")
	save("Save(a, 0) after Delete(0)", a, 0)

	// Concurrent writers, each on ids of its own.
	const goroutines, writes = 16, 20
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			id := remoting.NewObjectID()
			var v uint64
			for i := range writes {
				nv, err := s.Save(ctx, id, nil, v)
				if !assert.NoError(t, err, "goroutine %d: Save %d", g, i) {
					return
				}
				v = note(fmt.Sprintf("goroutine %d write %d", g, i), nv, nil)
				if i%5 == 4 {
					if !assert.NoError(t, s.Delete(ctx, id, v), "goroutine %d: Delete", g) {
						return
					}
					v = 0
				}
			}
		})
	}
	wg.Wait()
}

// testConcurrentWriters has Writers goroutines race to save the same
// record from the same version, round after round: exactly one wins each
// round, the others get ErrConflict, and the record is the winner's.
func testConcurrentWriters(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	const rounds = 10
	id := remoting.NewObjectID()
	var version uint64 // 0 in the first round: the record does not exist yet
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]error, Writers)
		versions := make([]uint64, Writers)
		for w := range Writers {
			wg.Go(func() {
				<-start
				versions[w], results[w] = s.Save(ctx, id, fmt.Appendf(nil, "round %d writer %d", round, w), version)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for w, err := range results {
			if err == nil {
				assert.Equal(t, -1, winner, "round %d: writers %d and %d both won", round, winner, w)
				winner = w
				continue
			}
			assert.ErrorIs(t, err, passivation.ErrConflict, "round %d: Save of losing writer %d", round, w)
		}
		require.NotEqual(t, -1, winner, "round %d: no writer won", round)
		rec, err := s.Load(ctx, id)
		require.NoError(t, err, "Load")
		assert.Equal(t, fmt.Sprintf("round %d writer %d", round, winner), string(rec.Data), "round %d: Load", round)
		assert.Equal(t, versions[winner], rec.Version, "round %d: version", round)
		version = rec.Version
	}

	// Deleters race the same way.
	results := make([]error, Writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range Writers {
		wg.Go(func() {
			<-start
			results[w] = s.Delete(ctx, id, version)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for w, err := range results {
		if err == nil {
			won++
			continue
		}
		assert.ErrorIs(t, err, passivation.ErrConflict, "Delete of losing deleter %d", w)
	}
	assert.Equal(t, 1, won, "deleters that won")
}

func testDataIsCopied(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	id := remoting.NewObjectID()
	data := []byte("state")
	_, err := s.Save(ctx, id, data, 0)
	require.NoError(t, err, "Save")
	copy(data, "XXXXX")
	rec, err := s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, "state", string(rec.Data), "Load after the caller changed the saved slice")
	copy(rec.Data, "YYYYY")
	rec, err = s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, "state", string(rec.Data), "Load after the caller changed the loaded slice")
}

// testLargeRecords saves records of every size up to MaxRecord, of bytes
// of every value, and reads them back by Load and by List.
func testLargeRecords(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[remoting.ObjectID]passivation.Record{}
	var big remoting.ObjectID
	for _, size := range []int{1, 255, 256, 64 << 10, 1 << 20, MaxRecord - 1, MaxRecord} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		data[0] = 0 // a NUL first, as binary state often has
		id := remoting.NewObjectID()
		v, err := s.Save(ctx, id, data, 0)
		require.NoError(t, err, "Save(%d bytes)", size)
		rec, err := s.Load(ctx, id)
		require.NoError(t, err, "Load(%d bytes)", size)
		assert.Equal(t, v, rec.Version, "Load(%d bytes): version", size)
		assert.True(t, bytes.Equal(data, rec.Data), "Load(%d bytes): data differs (got %d bytes)", size, len(rec.Data))
		want[id] = passivation.Record{Data: data, Version: v}
		big = id
	}

	// Replace the largest record with another of the same size.
	data := bytes.Repeat([]byte{0xff, 0x00}, MaxRecord/2)
	v, err := s.Save(ctx, big, data, want[big].Version)
	require.NoError(t, err, "Save(%d bytes) over %d bytes", MaxRecord, MaxRecord)
	want[big] = passivation.Record{Data: data, Version: v}

	got := listAll(t, ctx, s)
	require.Len(t, got, len(want), "List")
	for id, w := range want {
		g := got[id]
		assert.Equal(t, w.Version, g.Version, "List: version of the %d-byte record", len(w.Data))
		assert.True(t, bytes.Equal(w.Data, g.Data), "List: the %d-byte record differs (got %d bytes)", len(w.Data), len(g.Data))
	}
}

// saveMany saves n new records, from 8 goroutines, and returns them by id.
func saveMany(t *testing.T, ctx context.Context, s passivation.Store, n int) map[remoting.ObjectID]passivation.Record {
	t.Helper()
	const goroutines = 8
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		want = make(map[remoting.ObjectID]passivation.Record, n)
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := g; i < n; i += goroutines {
				id := remoting.NewObjectID()
				data := fmt.Appendf(nil, "record %d", i)
				v, err := s.Save(ctx, id, data, 0)
				if !assert.NoError(t, err, "Save") {
					return
				}
				mu.Lock()
				want[id] = passivation.Record{Data: data, Version: v}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, want, n, "records saved")
	return want
}

// listAll returns every record by id.
func listAll(t *testing.T, ctx context.Context, s passivation.Store) map[remoting.ObjectID]passivation.Record {
	t.Helper()
	got := make(map[remoting.ObjectID]passivation.Record)
	err := s.List(ctx, func(id remoting.ObjectID, rec passivation.Record) error {
		assert.NotContains(t, got, id, "List visits an id twice")
		got[id] = rec
		return nil
	})
	require.NoError(t, err, "List")
	return got
}

func testList(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	assert.Empty(t, listAll(t, ctx, s), "List of an empty store")
	want := saveMany(t, ctx, s, 600) // more than one batch of any store of this module
	assert.Equal(t, want, listAll(t, ctx, s), "List")

	errStop := errors.New("stop")
	calls := 0
	err := s.List(ctx, func(remoting.ObjectID, passivation.Record) error {
		calls++
		return errStop
	})
	assert.ErrorIs(t, err, errStop, "List with fn failing")
	assert.Equal(t, 1, calls, "calls of fn after it failed")

	// fn may call the store: delete everything while listing.
	err = s.List(ctx, func(id remoting.ObjectID, rec passivation.Record) error {
		return s.Delete(ctx, id, rec.Version)
	})
	require.NoError(t, err, "List deleting every record")
	assert.Empty(t, listAll(t, ctx, s), "List after deleting every record")
}

// testListDuringWrites lists the store again and again while writers
// update, create and delete records. Every record List reports must be
// one that a Save made (same id, version and data), and every record that
// nobody touches during the List must be reported.
func testListDuringWrites(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	stable := saveMany(t, ctx, s, 200)

	type write struct {
		id      remoting.ObjectID
		version uint64
	}
	var (
		mu    sync.Mutex
		saved = map[write]string{} // every successful Save during the test
	)
	for id, rec := range stable {
		saved[write{id, rec.Version}] = string(rec.Data)
	}

	const writers = 8
	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		writes atomic.Int64
	)
	for w := range writers {
		wg.Go(func() {
			ids := make([]remoting.ObjectID, 10)
			vers := make([]uint64, len(ids))
			for i := range ids {
				ids[i] = remoting.NewObjectID()
			}
			for n := 0; !stop.Load(); n++ {
				i := n % len(ids)
				if n%7 == 6 && vers[i] != 0 {
					if !assert.NoError(t, s.Delete(ctx, ids[i], vers[i]), "writer %d: Delete", w) {
						return
					}
					vers[i] = 0
					continue
				}
				data := fmt.Sprintf("writer %d write %d", w, n)
				v, err := s.Save(ctx, ids[i], []byte(data), vers[i])
				if !assert.NoError(t, err, "writer %d: Save", w) {
					return
				}
				vers[i] = v
				writes.Add(1)
				mu.Lock()
				saved[write{ids[i], v}] = data
				mu.Unlock()
			}
		})
	}

	type seen struct {
		write
		data string
	}
	var all []seen
	deadline := time.Now().Add(time.Second)
	lists := 0
	for lists < 3 || time.Now().Before(deadline) {
		got := map[remoting.ObjectID]bool{}
		err := s.List(ctx, func(id remoting.ObjectID, rec passivation.Record) error {
			assert.NotContains(t, got, id, "List visits an id twice")
			got[id] = true
			all = append(all, seen{write{id, rec.Version}, string(rec.Data)})
			return nil
		})
		require.NoError(t, err, "List during writes")
		for id := range stable {
			assert.True(t, got[id], "List during writes missed a record that nobody wrote")
		}
		lists++
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d Lists during %d writes", lists, writes.Load())

	// Every write a List reported has returned by now.
	for _, r := range all {
		data, ok := saved[r.write]
		if !assert.True(t, ok, "List reported %v version %d, which no Save made", r.id, r.version) {
			continue
		}
		assert.Equal(t, data, r.data, "List: data of %v version %d", r.id, r.version)
	}
}

// prompt runs call and fails the test if it does not return within Prompt.
func prompt(t *testing.T, name string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(Prompt):
		t.Fatalf("%s: no answer after %v", name, time.Since(start))
		return nil
	}
}

// calls returns each method of s as a call with ctx.
func calls(s passivation.Store, ctx context.Context, id remoting.ObjectID, data []byte) []struct {
	name string
	call func() error
} {
	return []struct {
		name string
		call func() error
	}{
		{"Load", func() error { _, err := s.Load(ctx, id); return err }},
		{"Save(0)", func() error { _, err := s.Save(ctx, id, data, 0); return err }},
		{"Save(1)", func() error { _, err := s.Save(ctx, id, data, 1); return err }},
		{"Delete(0)", func() error { return s.Delete(ctx, id, 0) }},
		{"Delete(1)", func() error { return s.Delete(ctx, id, 1) }},
		{"List", func() error {
			return s.List(ctx, func(remoting.ObjectID, passivation.Record) error { return nil })
		}},
	}
}

// testCanceled checks that every method fails promptly, with an error that
// matches context.Canceled, when its context is canceled, and changes
// nothing.
func testCanceled(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	id := remoting.NewObjectID()
	v, err := s.Save(ctx, id, []byte("kept"), 0)
	require.NoError(t, err, "Save")

	done, cancel := context.WithCancel(ctx)
	cancel()
	fresh := remoting.NewObjectID()
	for _, target := range []remoting.ObjectID{id, fresh} {
		for _, c := range calls(s, done, target, []byte("lost")) {
			err := prompt(t, c.name, c.call)
			assert.ErrorIs(t, err, context.Canceled, "%s(canceled ctx)", c.name)
		}
	}
	rec, err := s.Load(ctx, id)
	require.NoError(t, err, "Load: calls with a canceled ctx deleted the record")
	assert.Equal(t, passivation.Record{Data: []byte("kept"), Version: v}, rec, "Load after calls with a canceled ctx")
	_, err = s.Load(ctx, fresh)
	assert.ErrorIs(t, err, passivation.ErrNotFound, "Load: a Save with a canceled ctx saved")

	// A List canceled by its fn stops promptly.
	saveMany(t, ctx, s, 300)
	listCtx, cancelList := context.WithCancel(ctx)
	defer cancelList()
	n := 0
	err = prompt(t, "List canceled by fn", func() error {
		return s.List(listCtx, func(remoting.ObjectID, passivation.Record) error {
			n++
			cancelList()
			return nil
		})
	})
	assert.ErrorIs(t, err, context.Canceled, "List canceled by fn")
	assert.Less(t, n, 301, "calls of fn after the ctx was canceled")
}

// testDeadline checks calls whose deadline has passed, and calls that
// run into their deadline: neither may hang.
func testDeadline(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	id := remoting.NewObjectID()
	_, err := s.Save(ctx, remoting.NewObjectID(), nil, 0) // something for List to list
	require.NoError(t, err, "Save")
	past, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	for _, c := range calls(s, past, id, nil) {
		err := prompt(t, c.name, c.call)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "%s(expired ctx)", c.name)
	}

	// Large saves under a deadline shorter than they may take: each ends
	// in time, and either saves or fails with DeadlineExceeded.
	data := make([]byte, MaxRecord)
	for _, d := range []time.Duration{time.Microsecond, 100 * time.Microsecond, time.Millisecond, 10 * time.Millisecond} {
		short, cancel := context.WithTimeout(ctx, d)
		err := prompt(t, fmt.Sprintf("Save(%v deadline)", d), func() error {
			_, err := s.Save(short, remoting.NewObjectID(), data, 0)
			return err
		})
		cancel()
		if err != nil {
			assert.ErrorIs(t, err, context.DeadlineExceeded, "Save(%d bytes, %v deadline)", len(data), d)
		}
	}
	// The store still works.
	_, err = s.Save(ctx, id, nil, 0)
	assert.NoError(t, err, "Save after calls ran into their deadlines")
}

func testClose(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	id := remoting.NewObjectID()
	_, err := s.Save(ctx, id, []byte("x"), 0)
	require.NoError(t, err, "Save")
	require.NoError(t, prompt(t, "Close", s.Close), "Close")
	require.NoError(t, prompt(t, "second Close", s.Close), "second Close")
	for _, c := range calls(s, ctx, id, nil) {
		err := prompt(t, c.name, c.call)
		assert.ErrorIs(t, err, passivation.ErrClosed, "%s after Close", c.name)
		assert.ErrorIs(t, err, remoting.ErrUnavailable, "%s after Close", c.name)
		assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "CodeOf(%s after Close)", c.name)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { assert.NoError(t, s.Close(), "concurrent Close") })
	}
	wg.Wait()
}

// testCloseDuringCalls closes the store while goroutines call it: every
// call returns, and calls made after Close returned fail with ErrClosed.
func testCloseDuringCalls(t *testing.T, s passivation.Store) {
	ctx := bounded(t)
	var (
		wg      sync.WaitGroup
		ready   sync.WaitGroup
		closing atomic.Bool // set just before Close
		closed  atomic.Bool // set when Close returned
	)
	for g := range 8 {
		ready.Add(1)
		wg.Go(func() {
			var once sync.Once
			defer once.Do(ready.Done)
			id := remoting.NewObjectID()
			var v uint64
			for {
				after := closed.Load()
				nv, err := s.Save(ctx, id, []byte("data"), v)
				if err == nil {
					v = nv
					_, err = s.Load(ctx, id)
				}
				once.Do(ready.Done)
				switch {
				case after:
					assert.ErrorIs(t, err, passivation.ErrClosed, "goroutine %d: call after Close", g)
					return
				case err == nil:
				case errors.Is(err, passivation.ErrClosed):
					return
				case !closing.Load():
					assert.NoError(t, err, "goroutine %d: call before Close", g)
					return
				}
				// Otherwise a call cut short by Close failed some other
				// way; the next one must find the store closed.
			}
		})
	}
	ready.Wait()
	closing.Store(true)
	require.NoError(t, prompt(t, "Close during calls", s.Close), "Close during calls")
	closed.Store(true)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatal("calls still running after Close")
	}
}

// RunReopen checks that the records of a store that outlives Close do:
// it saves and deletes records in a store open returns, has reopen close
// it and open the same store again, and checks that List gives what was
// left and that versions go on above every version given before. A store
// that keeps its records on disk or in a server runs it beside Run.
func RunReopen(t *testing.T, open func(t *testing.T) passivation.Store, reopen func(t *testing.T, s passivation.Store) passivation.Store) {
	t.Run("Reopen", func(t *testing.T) {
		ctx := bounded(t)
		s := open(t)
		want := saveMany(t, ctx, s, 100)
		var deleted remoting.ObjectID
		for id, rec := range want {
			require.NoError(t, s.Delete(ctx, id, rec.Version), "Delete")
			deleted = id
			break
		}
		delete(want, deleted)
		s = reopen(t, s)
		t.Cleanup(func() { s.Close() })
		assert.Equal(t, want, listAll(t, ctx, s), "List after reopening")

		var top uint64
		for _, rec := range want {
			top = max(top, rec.Version)
		}
		v, err := s.Save(ctx, remoting.NewObjectID(), nil, 0)
		require.NoError(t, err, "Save after reopening")
		assert.Greater(t, v, top, "version of a Save after reopening")
	})
}
