package node

import (
	"context"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/lifecycle"
)

// singleton is one cluster singleton this node stands for.
type singleton struct {
	name      string
	inv       *codegen.Invoker
	newS      func() lifecycle.Strategy
	cancel    context.CancelFunc
	done      chan struct{}
	leading   chan struct{} // closed the first time the node leads
	isLeading atomic.Bool
}

// Singleton makes the node a candidate for the cluster singleton name:
// an object that is registered under name on exactly one node of the
// cluster at a time, the leader of an etcd election (go.etcd.io/etcd's
// concurrency.Election) bound to the node's lease. While the node leads,
// the object is registered on its server with a strategy from
// newStrategy; when it stops leading (its lease ended or it was fenced,
// it leaves, or it closes) the object is unregistered, and a standby
// that campaigns takes over within the lease TTL. Clients reach it with
// cluster.Client.Lookup, whose references follow the leader.
//
// The object's calls check the node's lease as keyed objects' do, so a
// node that lost its lease serves none, even before it notices.
func (n *Node) Singleton(name string, inv *codegen.Invoker, newStrategy func() lifecycle.Strategy) error {
	if name == "" || newStrategy == nil || inv == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "cluster node: Singleton needs a name, an invoker and a strategy")
	}
	ctx, cancel := context.WithCancel(n.ctx)
	s := &singleton{name: name, inv: inv, newS: newStrategy, cancel: cancel, done: make(chan struct{}), leading: make(chan struct{})}
	n.mu.Lock()
	n.singletons = append(n.singletons, s)
	n.mu.Unlock()
	go s.run(ctx, n)
	return nil
}

// Leading returns a channel closed once the node first leads the
// election of singleton name, or nil if the node is no candidate.
func (n *Node) Leading(name string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.singletons {
		if s.name == name {
			return s.leading
		}
	}
	return nil
}

func (s *singleton) run(ctx context.Context, n *Node) {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil && !n.leaving.Load() {
		if n.serving() != nil {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		if !s.term(ctx, n, &first) {
			sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
}

// term campaigns once and, once elected, serves until the node stops
// leading; it reports whether it got as far as leading.
func (s *singleton) term(ctx context.Context, n *Node, first *bool) bool {
	sess, err := concurrency.NewSession(n.cli, concurrency.WithLease(n.leaseID()), concurrency.WithContext(ctx))
	if err != nil {
		return false
	}
	// Orphan, not Close: Close would revoke the node's own lease.
	defer sess.Orphan()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
		case <-cctx.Done():
		}
		cancel()
	}()
	e := concurrency.NewElection(sess, n.o.SingletonPrefix(s.name))
	if err := e.Campaign(cctx, n.o.ID); err != nil {
		return false
	}
	ref, err := n.o.Server.Register(s.name, s.inv, guarded{s.newS(), n})
	if err != nil {
		n.o.Logger.Warn("remoting: cluster: singleton elected but not registered", "name", s.name, "err", err)
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		e.Resign(rctx)
		rcancel()
		return false
	}
	n.o.Logger.Info("remoting: cluster: node leads singleton", "name", s.name, "node", n.o.ID)
	s.isLeading.Store(true)
	if *first {
		*first = false
		close(s.leading)
	}
	t := time.NewTicker(50 * time.Millisecond)
	for cctx.Err() == nil && n.serving() == nil && !n.leaving.Load() {
		select {
		case <-cctx.Done():
		case <-t.C:
		}
	}
	t.Stop()
	s.isLeading.Store(false)
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), n.o.TTL)
	n.o.Server.Unregister(uctx, ref.ID)
	e.Resign(uctx)
	ucancel()
	return true
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// guarded is a singleton's strategy: it serves a call only while the
// node's lease is surely alive.
type guarded struct {
	lifecycle.Strategy
	n *Node
}

func (g guarded) Acquire(ctx context.Context) (any, error) {
	if err := g.n.serving(); err != nil {
		return nil, err
	}
	return g.Strategy.Acquire(ctx)
}

// stopSingletons stops every singleton's campaign and waits for it to
// unregister its object and resign (Leave, Close).
func (n *Node) stopSingletons() {
	n.mu.Lock()
	all := n.singletons
	n.mu.Unlock()
	for _, s := range all {
		s.cancel()
	}
	for _, s := range all {
		<-s.done
	}
}
