package cluster

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Members is the live member set of a cluster as one process sees it: a
// copy of the member keys kept current by an etcd watch. Its methods are
// safe for concurrent use.
type Members struct {
	cli    *clientv3.Client
	prefix string
	log    *slog.Logger
	onGone func(Member) // a member left (its key was deleted, or its lease ended)

	set   atomic.Pointer[[]Member] // sorted by ID
	ready chan struct{}            // closed after the first read
	once  sync.Once
	done  chan struct{}
}

// WatchMembers reads the member set of the cluster and keeps it current
// until ctx ends; onGone, if not nil, is called (on the watch goroutine)
// for each member that leaves.
func WatchMembers(ctx context.Context, cli *clientv3.Client, o Options, onGone func(Member)) *Members {
	m := &Members{cli: cli, prefix: o.MembersPrefix(), log: o.Logger, onGone: onGone, ready: make(chan struct{}), done: make(chan struct{})}
	empty := []Member{}
	m.set.Store(&empty)
	go m.run(ctx)
	return m
}

// Wait waits for the first read of the member set, until ctx ends.
func (m *Members) Wait(ctx context.Context) error {
	select {
	case <-m.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the watch has stopped.
func (m *Members) Done() <-chan struct{} { return m.done }

// Live returns the members, sorted by ID. The slice is shared: do not
// change it.
func (m *Members) Live() []Member { return *m.set.Load() }

// Get returns the member id.
func (m *Members) Get(id string) (Member, bool) {
	set := m.Live()
	i, ok := slices.BinarySearchFunc(set, id, func(a Member, id string) int { return strings.Compare(a.ID, id) })
	if !ok {
		return Member{}, false
	}
	return set[i], true
}

func (m *Members) run(ctx context.Context) {
	defer close(m.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := m.load(ctx)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("remoting: cluster: reading the members failed; retrying", "err", err, "in", backoff)
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		m.watch(ctx, rev)
	}
}

// load reads the whole member set and returns its revision.
func (m *Members) load(ctx context.Context) (int64, error) {
	resp, err := get(ctx, m.cli, m.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	set := make([]Member, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		mem, err := decodeMember(kv.Value)
		if err != nil {
			m.log.Warn("remoting: cluster: ignoring a bad member record", "key", string(kv.Key), "err", err)
			continue
		}
		set = append(set, mem)
	}
	slices.SortFunc(set, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	old := m.Live()
	m.set.Store(&set)
	for _, o := range old {
		if _, ok := m.Get(o.ID); !ok && m.onGone != nil {
			m.onGone(o)
		}
	}
	m.once.Do(func() { close(m.ready) })
	return resp.Header.Revision, nil
}

// watch applies the changes after rev until the watch fails or ctx ends.
func (m *Members) watch(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range m.cli.Watch(wctx, m.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			if ctx.Err() == nil {
				m.log.Warn("remoting: cluster: member watch ended; reading anew", "err", err)
			}
			return
		}
		set := slices.Clone(m.Live())
		var gone []Member
		for _, ev := range resp.Events {
			id := strings.TrimPrefix(string(ev.Kv.Key), m.prefix)
			i, found := slices.BinarySearchFunc(set, id, func(a Member, id string) int { return strings.Compare(a.ID, id) })
			switch ev.Type {
			case clientv3.EventTypeDelete:
				if found {
					gone = append(gone, set[i])
					set = slices.Delete(set, i, i+1)
				}
			case clientv3.EventTypePut:
				mem, err := decodeMember(ev.Kv.Value)
				if err != nil {
					continue
				}
				if found {
					set[i] = mem
				} else {
					set = slices.Insert(set, i, mem)
				}
			}
		}
		m.set.Store(&set)
		if m.onGone != nil {
			for _, g := range gone {
				m.onGone(g)
			}
		}
	}
}
