package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
)

// directory is a lifecycle.Directory that records what the objects ask
// of it and answers as its fields say.
type directory struct {
	mu       sync.Mutex
	claimErr error
	hosting  error
	claims   int
	releases []remoting.ObjectID
	attached *lifecycle.KeyedObjects
}

func (d *directory) Claim(context.Context, remoting.ObjectID, string, string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.claims++
	return d.claimErr
}

func (d *directory) Hosting(remoting.ObjectID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hosting
}

func (d *directory) Release(_ context.Context, id remoting.ObjectID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releases = append(d.releases, id)
}

func (d *directory) Attach(k *lifecycle.KeyedObjects) { d.attached = k }

func (d *directory) set(claimErr, hosting error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.claimErr, d.hosting = claimErr, hosting
}

var errElsewhere = remoting.Errorf(remoting.CodeUnavailable, "the object is active elsewhere")

func TestDirectoryClaimsBeforeActivation(t *testing.T) {
	ctx := ctxT(t)
	dir := &directory{}
	store := passivation.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	k := lifecycle.Keyed(newCounter, lifecycle.KeyedOptions{Store: store, Directory: dir})
	require.NoError(t, k.Bind(binding(), nil))
	t.Cleanup(func() { k.Close() })
	assert.Same(t, k, dir.attached, "Bind attaches the objects")
	id := remoting.KeyID(binding().Interface, "a")

	dir.set(errElsewhere, nil)
	_, err := k.Object(id, "a").Acquire(ctx)
	assert.Same(t, errElsewhere, err, "a refused claim fails the call with the directory's error")
	assert.Equal(t, 0, k.Len())
	assert.Empty(t, dir.releases, "nothing to release for a claim refused")

	dir.set(nil, nil)
	st := k.Object(id, "a")
	v, err := st.Acquire(ctx)
	require.NoError(t, err, "the next call claims again")
	v.(*counter).n = 7
	st.Return(v)
	assert.Equal(t, 2, dir.claims)

	// Evict with save: the state is saved, then the claim released.
	n, err := k.Evict(ctx, true)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []remoting.ObjectID{id}, dir.releases)
	rec, err := store.Load(ctx, id)
	require.NoError(t, err, "Evict saved the state")
	assert.NotZero(t, rec.Version)
	_, err = st.Acquire(ctx)
	assert.True(t, k.Left(err), "an evicted object has left: %v", err)
}

func TestDirectoryLostClaimsDropUnsaved(t *testing.T) {
	ctx := ctxT(t)
	dir := &directory{}
	store := passivation.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	k := lifecycle.Keyed(newCounter, lifecycle.KeyedOptions{Store: store, Directory: dir})
	require.NoError(t, k.Bind(binding(), nil))
	t.Cleanup(func() { k.Close() })
	id := remoting.KeyID(binding().Interface, "b")
	st := k.Object(id, "b")
	v, err := st.Acquire(ctx)
	require.NoError(t, err)
	v.(*counter).n = 5
	st.Return(v)

	n, err := k.Evict(ctx, false)
	require.NoError(t, err)
	assert.Zero(t, n, "Evict without save ends nothing while the directory lets the objects serve")

	fenced := remoting.Errorf(remoting.CodeUnavailable, "fenced")
	dir.set(nil, fenced)
	_, err = st.Acquire(ctx)
	assert.Same(t, fenced, err, "a call of a live object fails once Hosting does")
	assert.Equal(t, 0, k.Len(), "and the object is dropped")
	_, err = store.Load(ctx, id)
	assert.True(t, errors.Is(err, passivation.ErrNotFound), "dropped unsaved: the store keeps what was saved before (%v)", err)
	assert.Equal(t, []remoting.ObjectID{id}, dir.releases)

	// Closing the server saves nothing either.
	dir.set(nil, nil)
	st = k.Object(id, "b")
	v, err = st.Acquire(ctx)
	require.NoError(t, err)
	st.Return(v)
	dir.set(nil, fenced)
	require.NoError(t, st.Close(ctx))
	_, err = store.Load(ctx, id)
	assert.True(t, errors.Is(err, passivation.ErrNotFound), "Close with lost claims saves nothing (%v)", err)
}

// A call that outlasts the claim is not saved: with SaveEveryCall it
// fails, and the store keeps the state saved while the claim held.
func TestDirectoryCommitAfterLostClaimSavesNothing(t *testing.T) {
	ctx := ctxT(t)
	dir := &directory{}
	store := passivation.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	k := lifecycle.Keyed(newCounter, lifecycle.KeyedOptions{Store: store, Directory: dir, Durability: lifecycle.SaveEveryCall})
	require.NoError(t, k.Bind(binding(), nil))
	t.Cleanup(func() { k.Close() })
	id := remoting.KeyID(binding().Interface, "c")
	st := k.Object(id, "c")
	commit := st.(interface {
		Commit(ctx context.Context, inst any) error
	})
	v, err := st.Acquire(ctx)
	require.NoError(t, err)
	v.(*counter).n = 1
	require.NoError(t, commit.Commit(ctx, v))
	st.Return(v)
	saved, err := store.Load(ctx, id)
	require.NoError(t, err)

	v, err = st.Acquire(ctx)
	require.NoError(t, err)
	v.(*counter).n = 2
	fenced := remoting.Errorf(remoting.CodeUnavailable, "fenced")
	dir.set(nil, fenced) // the lease ends while the call runs
	err = commit.Commit(ctx, v)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Commit after the claim was lost: %v", err)
	st.Return(v)
	rec, err := store.Load(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, saved.Version, rec.Version, "the store keeps the save made under the claim")
	assert.Equal(t, 0, k.Len(), "the instance is dropped")
}
