package cluster

import (
	"context"
	"fmt"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/remoting-go/remoting"
)

// singleton is what a Client knows of a cluster singleton it looked up.
type singleton struct {
	name string
	mu   sync.Mutex
	node string // the leader last found; empty: look it up
}

func (s *singleton) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node
}

func (s *singleton) set(node string) {
	s.mu.Lock()
	s.node = node
	s.mu.Unlock()
}

// forget forgets node as the leader, if it is.
func (s *singleton) forget(node string) {
	s.mu.Lock()
	if s.node == node {
		s.node = ""
	}
	s.mu.Unlock()
}

// Leader returns the id of the node that leads the election of singleton
// name, or "" if no node does.
func (c *Client) Leader(ctx context.Context, name string) (string, error) {
	resp, err := get(ctx, c.cli, c.o.SingletonPrefix(name), clientv3.WithFirstCreate()...)
	if err != nil {
		return "", Unavailable("read the leader of "+name, err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// Lookup returns the reference of the object registered under name: a
// cluster singleton (see cluster/node.Node.Singleton), whose calls go to
// whichever node leads its election when they are made, or else an
// object that every node registers under name, on the node Hash places
// the name on. It implements [remoting.Resolver], for the generated
// Lookup<Interface> functions. A singleton's reference has no Endpoint:
// it names the cluster's singleton, not a node, and serves only through
// this Client.
func (c *Client) Lookup(ctx context.Context, name, iface string) (remoting.Ref, error) {
	leader, err := c.Leader(ctx, name)
	if err != nil {
		return remoting.Ref{}, err
	}
	if leader == "" {
		members := c.members.Live()
		if len(members) == 0 {
			return remoting.Ref{}, remoting.Errorf(remoting.CodeUnavailable, "cluster %s has no live node", c.o.Name)
		}
		m := Hash.Place(remoting.NameID(name), name, members, "")
		r, err := c.resolverOf(ctx, m)
		if err != nil {
			return remoting.Ref{}, err
		}
		ref, err := r.Lookup(ctx, name, iface)
		if err != nil {
			return remoting.Ref{}, err
		}
		ref.Endpoint = m.Endpoint
		return ref, nil
	}
	m, ok := c.members.Get(leader)
	if !ok {
		return remoting.Ref{}, remoting.Errorf(remoting.CodeUnavailable, "cluster: singleton %q: its leader %s is not a live member", name, leader)
	}
	r, err := c.resolverOf(ctx, m)
	if err != nil {
		return remoting.Ref{}, err
	}
	ref, err := r.Lookup(ctx, name, iface)
	if err != nil {
		return remoting.Ref{}, err
	}
	v, _ := c.singletons.LoadOrStore(ref.ID, &singleton{name: name})
	v.(*singleton).set(leader)
	ref.Endpoint = ""
	return ref, nil
}

// invokeSingleton sends inv to the leader of s. A call that finds no
// leader, or a leader that no longer has the object, fails with
// Unavailable or NotFound, and the next call looks the leader up anew.
func (c *Client) invokeSingleton(ctx context.Context, inv *remoting.Invocation, s *singleton) error {
	leader := s.get()
	if leader == "" {
		var err error
		if leader, err = c.Leader(ctx, s.name); err != nil {
			return err
		}
		if leader == "" {
			return remoting.Errorf(remoting.CodeUnavailable, "cluster: singleton %q has no leader now; try again", s.name)
		}
		s.set(leader)
	}
	m, ok := c.members.Get(leader)
	if !ok {
		s.forget(leader)
		return remoting.Errorf(remoting.CodeUnavailable, "cluster: singleton %q: its leader %s is not a live member; try again", s.name, leader)
	}
	caller, err := c.callerOf(ctx, m)
	if err != nil {
		s.forget(leader)
		return err
	}
	forget := func(err error) {
		switch remoting.CodeOf(err) {
		case remoting.CodeUnavailable, remoting.CodeNotFound:
			s.forget(leader)
		}
	}
	if inv.Mode == remoting.ModeAsync {
		call := *inv
		call.Done = func(err error) { forget(err); inv.Done(err) }
		return caller.Invoke(ctx, &call)
	}
	err = caller.Invoke(ctx, inv)
	forget(err)
	return err
}

// resolverOf returns the Resolver that reaches member m.
func (c *Client) resolverOf(ctx context.Context, m Member) (remoting.Resolver, error) {
	if l := c.o.Local; l != nil && l.ID == m.ID {
		return l.Caller, nil
	}
	cl, err := c.connect(ctx, m.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("cluster: node %s: %w", m.ID, err)
	}
	return cl, nil
}
