package node

import (
	"context"
	"net"
	"time"

	"github.com/remoting-go/remoting/cluster"
	"github.com/remoting-go/remoting/requestor"
)

// Client returns the node's own cluster client, made at the first call:
// code running on the node calls the cluster's objects through it. A
// call routed to this node (an object it hosts, or one the placement puts
// here) goes to the node's server in process, over a net.Pipe served by
// invoker.Server.ServeConn (collocation): through the same interceptors,
// lifecycle, modes and errors as a remote call, without a socket. The
// node closes it.
func (n *Node) Client(ctx context.Context) (*cluster.Client, error) {
	n.clientMu.Lock()
	defer n.clientMu.Unlock()
	if n.client != nil {
		return n.client, nil
	}
	// The node's own objects are called over an in-process connection to
	// its server: the same handshake, interceptors, lifecycle, modes and
	// errors as a call from another machine, without a socket.
	lo := n.o.Requestor
	lo.Failover = nil
	lo.Dialer = func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go n.o.Server.ServeConn(server)
		return client, nil
	}
	local, err := requestor.Dial(ctx, n.o.Endpoint, lo)
	if err != nil {
		return nil, err
	}
	c, err := cluster.Dial(ctx, cluster.ClientOptions{
		Options:   n.o.Options,
		Placement: n.o.Placement,
		Requestor: n.o.Requestor,
		Local:     &cluster.LocalNode{ID: n.o.ID, Caller: local},
	})
	if err != nil {
		local.Close()
		return nil, err
	}
	n.client, n.localConn = c, local
	return c, nil
}

// Status is a node's view of its cluster, for the admin endpoint.
type Status struct {
	Cluster  string `json:"cluster"`
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	// Fenced is set while the node serves no keyed object because it
	// could not renew its lease in time; Leaving once Leave has begun.
	Fenced  bool `json:"fenced"`
	Leaving bool `json:"leaving"`
	// LeaseTTL is the lease's TTL; ServesFor how long the node may serve
	// its claims without another renewal.
	LeaseTTL  string           `json:"lease_ttl"`
	ServesFor string           `json:"serves_for"`
	Members   []cluster.Member `json:"members"`
	// Hosted is the number of keyed objects active on the node.
	Hosted int `json:"hosted"`
	// Claims counts the directory entries the node made; ClaimConflicts
	// the claims that found the object on another node (answered
	// "moved"); Releases the entries it deleted; Fences the times it was
	// fenced; Evicted the objects it ended to leave or after a fence.
	Claims         uint64 `json:"claims"`
	ClaimConflicts uint64 `json:"claim_conflicts"`
	Releases       uint64 `json:"releases"`
	Fences         uint64 `json:"fences"`
	Evicted        uint64 `json:"evicted"`
	// Leads lists the singletons the node leads.
	Leads []string `json:"leads,omitempty"`
	// Client has the counts of the node's own client, if it made one:
	// directory cache hits and misses, forwards followed.
	Client *cluster.ClientStats `json:"client,omitempty"`
}

// Status returns the node's view of its cluster. admin.Options.Cluster
// takes it as func() any { return node.Status() }.
func (n *Node) Status() Status {
	st := Status{
		Cluster: n.o.Name, ID: n.o.ID, Endpoint: n.o.Endpoint,
		Fenced: n.fenced.Load(), Leaving: n.leaving.Load(),
		LeaseTTL: n.o.TTL.String(), ServesFor: max(0, time.Duration(n.serveBy.Load()-now())).Round(time.Millisecond).String(),
		Members: n.members.Live(), Hosted: n.load(),
		Claims: n.claims.Load(), ClaimConflicts: n.claimConflicts.Load(), Releases: n.releases.Load(),
		Fences: n.fences.Load(), Evicted: n.evicted.Load(),
	}
	n.mu.Lock()
	for _, s := range n.singletons {
		if s.isLeading.Load() {
			st.Leads = append(st.Leads, s.name)
		}
	}
	n.mu.Unlock()
	n.clientMu.Lock()
	if n.client != nil {
		cs := n.client.Stats()
		st.Client = &cs
	}
	n.clientMu.Unlock()
	return st
}
