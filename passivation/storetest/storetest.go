package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

// Opener opens stores of one implementation for [Run].
type Opener struct {
	// Open returns a new, empty store. Run closes it (again, if the test
	// closed it already).
	Open func(t *testing.T) passivation.Store

	// Reopen closes s and opens the same store again, to check that the
	// records outlive Close; nil for a store that does not outlive Close.
	Reopen func(t *testing.T, s passivation.Store) passivation.Store
}

// Run checks that the stores o opens keep the contract of
// passivation.Store, each check in a subtest on a new store of its own:
// loads, saves and deletes; version conflicts; versions never given
// twice; data copied in and out; concurrent writers of which exactly one
// wins; List, also with fn writing to the store; records that outlive a
// reopen; canceled contexts; and Close.
func Run(t *testing.T, o Opener) {
	tests := []struct {
		name string
		test func(t *testing.T, o Opener, s passivation.Store)
	}{
		{"SaveLoadDelete", testSaveLoadDelete},
		{"Conflicts", testConflicts},
		{"VersionsNeverReused", testVersionsNeverReused},
		{"DataIsCopied", testDataIsCopied},
		{"ConcurrentWriters", testConcurrentWriters},
		{"List", testList},
		{"Reopen", testReopen},
		{"Context", testContext},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := o.Open(t)
			t.Cleanup(func() { s.Close() })
			tc.test(t, o, s)
		})
	}
}

var ctx = context.Background()

func testSaveLoadDelete(t *testing.T, _ Opener, s passivation.Store) {
	id := remoting.NewObjectID()
	_, err := s.Load(ctx, id)
	assert.ErrorIs(t, err, passivation.ErrNotFound, "Load of an unknown id")
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Load of an unknown id")

	v1, err := s.Save(ctx, id, []byte("one"), 0)
	require.NoError(t, err, "Save(new)")
	assert.NotZero(t, v1, "Save(new) version")
	rec, err := s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, passivation.Record{Data: []byte("one"), Version: v1}, rec, "Load")

	v2, err := s.Save(ctx, id, []byte("two"), v1)
	require.NoError(t, err, "Save(v1)")
	assert.Greater(t, v2, v1, "version of the second Save")
	rec, err = s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, passivation.Record{Data: []byte("two"), Version: v2}, rec, "Load")

	empty := remoting.NewObjectID()
	_, err = s.Save(ctx, empty, nil, 0)
	require.NoError(t, err, "Save(nil data)")
	rec, err = s.Load(ctx, empty)
	require.NoError(t, err, "Load")
	assert.Empty(t, rec.Data, "Load of empty data")

	require.NoError(t, s.Delete(ctx, id, v2), "Delete(v2)")
	_, err = s.Load(ctx, id)
	assert.ErrorIs(t, err, passivation.ErrNotFound, "Load after Delete")
	assert.NoError(t, s.Delete(ctx, id, 0), "Delete(0) of a missing record")
	require.NoError(t, s.Delete(ctx, empty, 0), "Delete(0)")
	_, err = s.Load(ctx, empty)
	assert.ErrorIs(t, err, passivation.ErrNotFound, "Load after Delete(0)")
}

func testConflicts(t *testing.T, _ Opener, s passivation.Store) {
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
		{"Save(future version)", func() error { _, err := s.Save(ctx, id, []byte("x"), v2+1); return err }},
		{"Save(version) of a missing record", func() error {
			_, err := s.Save(ctx, remoting.NewObjectID(), []byte("x"), v1)
			return err
		}},
		{"Delete(stale version)", func() error { return s.Delete(ctx, id, v1) }},
		{"Delete(version) of a missing record", func() error { return s.Delete(ctx, remoting.NewObjectID(), v1) }},
	}
	for _, tc := range tests {
		err := tc.call()
		assert.ErrorIs(t, err, passivation.ErrConflict, tc.name)
		assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, tc.name)
		assert.Equal(t, remoting.CodeFailedPrecondition, remoting.CodeOf(err), "CodeOf(%s)", tc.name)
	}
	rec, err := s.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, passivation.Record{Data: []byte("two"), Version: v2}, rec, "Load after failed writes")
}

func testVersionsNeverReused(t *testing.T, _ Opener, s passivation.Store) {
	a, b := remoting.NewObjectID(), remoting.NewObjectID()
	seen := map[uint64]bool{}
	note := func(v uint64, err error) uint64 {
		t.Helper()
		require.NoError(t, err, "Save")
		assert.False(t, seen[v], "version %d given twice", v)
		seen[v] = true
		return v
	}
	va := note(s.Save(ctx, a, nil, 0))
	note(s.Save(ctx, b, nil, 0))
	require.NoError(t, s.Delete(ctx, a, va), "Delete")
	va = note(s.Save(ctx, a, nil, 0))
	note(s.Save(ctx, a, nil, va))
}

func testDataIsCopied(t *testing.T, _ Opener, s passivation.Store) {
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

// testConcurrentWriters has writers race to save the same record from the
// same version, round after round: exactly one wins each round.
func testConcurrentWriters(t *testing.T, _ Opener, s passivation.Store) {
	const writers, rounds = 8, 10
	id := remoting.NewObjectID()
	var version uint64
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]error, writers)
		versions := make([]uint64, writers)
		for w := range writers {
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
			assert.ErrorIs(t, err, passivation.ErrConflict, "round %d: Save of a losing writer", round)
		}
		require.NotEqual(t, -1, winner, "round %d: no writer won", round)
		rec, err := s.Load(ctx, id)
		require.NoError(t, err, "Load")
		assert.Equal(t, fmt.Sprintf("round %d writer %d", round, winner), string(rec.Data), "round %d: Load", round)
		assert.Equal(t, versions[winner], rec.Version, "round %d: version", round)
		version = rec.Version
	}
}

// saveMany saves n records and returns them by id.
func saveMany(t *testing.T, s passivation.Store, n int) map[remoting.ObjectID]passivation.Record {
	t.Helper()
	want := make(map[remoting.ObjectID]passivation.Record, n)
	for i := range n {
		id := remoting.NewObjectID()
		data := fmt.Appendf(nil, "record %d", i)
		v, err := s.Save(ctx, id, data, 0)
		require.NoError(t, err, "Save")
		want[id] = passivation.Record{Data: data, Version: v}
	}
	return want
}

// listAll returns every record by id.
func listAll(t *testing.T, s passivation.Store) map[remoting.ObjectID]passivation.Record {
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

func testList(t *testing.T, _ Opener, s passivation.Store) {
	assert.Empty(t, listAll(t, s), "List of an empty store")
	want := saveMany(t, s, 300) // more than a batch of some stores
	assert.Equal(t, want, listAll(t, s), "List")

	errStop := errors.New("stop")
	calls := 0
	err := s.List(ctx, func(remoting.ObjectID, passivation.Record) error {
		calls++
		return errStop
	})
	assert.ErrorIs(t, err, errStop, "List with fn failing")
	assert.Equal(t, 1, calls, "calls of fn after it failed")

	// fn may write to the store: delete everything while listing.
	err = s.List(ctx, func(id remoting.ObjectID, rec passivation.Record) error {
		return s.Delete(ctx, id, rec.Version)
	})
	require.NoError(t, err, "List deleting every record")
	assert.Empty(t, listAll(t, s), "List after deleting every record")
}

func testReopen(t *testing.T, o Opener, s passivation.Store) {
	if o.Reopen == nil {
		t.Skip("the store does not outlive Close")
	}
	want := saveMany(t, s, 100)
	var deleted remoting.ObjectID
	for id, rec := range want {
		require.NoError(t, s.Delete(ctx, id, rec.Version), "Delete")
		deleted = id
		break
	}
	delete(want, deleted)
	s = o.Reopen(t, s)
	t.Cleanup(func() { s.Close() })
	assert.Equal(t, want, listAll(t, s), "List after reopening")

	// Versions go on from where they were.
	var top uint64
	for _, rec := range want {
		top = max(top, rec.Version)
	}
	v, err := s.Save(ctx, remoting.NewObjectID(), nil, 0)
	require.NoError(t, err, "Save after reopening")
	assert.Greater(t, v, top, "version of a Save after reopening")
}

func testContext(t *testing.T, _ Opener, s passivation.Store) {
	done, cancel := context.WithCancel(ctx)
	cancel()
	id := remoting.NewObjectID()
	_, err := s.Save(done, id, nil, 0)
	assert.ErrorIs(t, err, context.Canceled, "Save(canceled ctx)")
	_, err = s.Load(done, id)
	assert.ErrorIs(t, err, context.Canceled, "Load(canceled ctx)")
	assert.ErrorIs(t, s.Delete(done, id, 0), context.Canceled, "Delete(canceled ctx)")
	_, err = s.Save(ctx, id, nil, 0)
	require.NoError(t, err, "Save")
	assert.ErrorIs(t, s.List(done, func(remoting.ObjectID, passivation.Record) error { return nil }), context.Canceled, "List(canceled ctx)")
	_, err = s.Load(ctx, id)
	assert.NoError(t, err, "Load: the canceled Delete deleted nothing")
}

func testClose(t *testing.T, _ Opener, s passivation.Store) {
	require.NoError(t, s.Close(), "Close")
	require.NoError(t, s.Close(), "second Close")
	id := remoting.NewObjectID()
	calls := map[string]func() error{
		"Load":   func() error { _, err := s.Load(ctx, id); return err },
		"Save":   func() error { _, err := s.Save(ctx, id, nil, 0); return err },
		"Delete": func() error { return s.Delete(ctx, id, 0) },
		"List": func() error {
			return s.List(ctx, func(remoting.ObjectID, passivation.Record) error { return nil })
		},
	}
	for name, call := range calls {
		err := call()
		assert.ErrorIs(t, err, passivation.ErrClosed, "%s after Close", name)
		assert.ErrorIs(t, err, remoting.ErrUnavailable, "%s after Close", name)
	}
}
