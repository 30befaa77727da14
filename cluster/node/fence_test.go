package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

// An activation that outlasts the node's right to serve (the object was
// claimed, then etcd went away while the instance was being made) must
// not serve its first call: by the time the instance is ready the lease
// may have ended and the object be active on another node.
func TestActivationOutlastingTheLeaseDoesNotServe(t *testing.T) {
	c := newCluster(t, 1, lifecycle.SaveEveryCall)
	c.tracker.NewDelay = 2500 * time.Millisecond // longer than the node serves without etcd
	cl := c.client(nil)
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() {
		_, err := deposit(ctx, cl, "slow", 1)
		errc <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for c.directory() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the object was not claimed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.etcd.Stop()
	err := <-errc
	if err := c.etcd.Restart(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, remoting.ErrUnavailable) {
		t.Fatalf("first call: %v; want Unavailable, the node having lost its right to serve during the activation", err)
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		b, err := deposit(cctx, cl, "slow", 0)
		cancel()
		if err == nil {
			if b != 0 {
				t.Errorf("balance %d, want 0: the deposit of the first call ran", b)
			}
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("no answer after etcd came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A claim made under a lease the node has since lost is never served,
// even once the node serves again under a new lease: its directory key
// went with the old lease, so another node may hold the object.
func TestClaimUnderAnEndedLeaseIsNotServed(t *testing.T) {
	c := newCluster(t, 1, lifecycle.SaveEveryCall)
	nd := c.nodes[0].node
	ctx := context.Background()
	id := remoting.KeyID(account.AccountInterface, "stale")
	if err := nd.Claim(ctx, id, account.AccountInterface, "stale"); err != nil {
		t.Fatal(err)
	}
	if err := nd.Hosting(id); err != nil {
		t.Fatalf("Hosting after the claim: %v", err)
	}
	// End the node's lease behind its back, as etcd does to a node it has
	// not heard from.
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.etcd.Endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, c.opts.MemberKey(nd.ID()))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("member key: %v, %v", resp, err)
	}
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := nd.Status(); st.Fences == 0 || st.Fenced; st = nd.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not rejoin: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := nd.Hosting(id); !errors.Is(err, remoting.ErrUnavailable) {
		t.Errorf("Hosting of a claim under the ended lease: %v, want Unavailable", err)
	}
	if err := nd.Claim(ctx, id, account.AccountInterface, "stale"); err != nil {
		t.Fatalf("claim anew: %v", err)
	}
	if err := nd.Hosting(id); err != nil {
		t.Errorf("Hosting after claiming anew: %v", err)
	}
}
