package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
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
