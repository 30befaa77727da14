package cluster_test

import (
	"fmt"
	"testing"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/cluster"
)

func members(n int) []cluster.Member {
	ms := make([]cluster.Member, n)
	for i := range ms {
		ms[i] = cluster.Member{ID: fmt.Sprintf("node-%02d", i), Endpoint: fmt.Sprintf("tcp://127.0.0.1:%d", 7000+i)}
	}
	return ms
}

func TestHashSpreadsAndMovesLittle(t *testing.T) {
	ms := members(4)
	const keys = 4000
	count := map[string]int{}
	before := map[int]string{}
	for i := range keys {
		id := remoting.KeyID("example.com/bank.Account", fmt.Sprint(i))
		m := cluster.Hash.Place(id, fmt.Sprint(i), ms, "")
		count[m.ID]++
		before[i] = m.ID
	}
	for _, m := range ms {
		if c := count[m.ID]; c < keys/4*8/10 || c > keys/4*12/10 {
			t.Errorf("%s got %d of %d keys, want about %d", m.ID, c, keys, keys/4)
		}
	}
	// Without node-03, only its keys move.
	moved := 0
	for i := range keys {
		id := remoting.KeyID("example.com/bank.Account", fmt.Sprint(i))
		m := cluster.Hash.Place(id, fmt.Sprint(i), ms[:3], "")
		if m.ID != before[i] {
			moved++
			if before[i] != "node-03" {
				t.Fatalf("key %d moved from %s, which stayed", i, before[i])
			}
		}
	}
	if moved != count["node-03"] {
		t.Errorf("%d keys moved, want node-03's %d", moved, count["node-03"])
	}
}

func TestLocalAndLeastLoaded(t *testing.T) {
	ms := members(3)
	id := remoting.KeyID("example.com/bank.Account", "1")
	if m := cluster.Local.Place(id, "1", ms, "node-01"); m.ID != "node-01" {
		t.Errorf("Local placed on %s, want the caller's node-01", m.ID)
	}
	if m, h := cluster.Local.Place(id, "1", ms, ""), cluster.Hash.Place(id, "1", ms, ""); m != h {
		t.Errorf("Local outside the cluster placed on %s, want Hash's %s", m.ID, h.ID)
	}
	ms[0].Load, ms[1].Load, ms[2].Load = 5, 1, 3
	if m := cluster.LeastLoaded.Place(id, "1", ms, ""); m.ID != "node-01" {
		t.Errorf("LeastLoaded placed on %s, want node-01", m.ID)
	}
}

func TestOptionsDefaultsAndKeys(t *testing.T) {
	o, err := cluster.Options{Endpoints: []string{"127.0.0.1:2379"}, Name: "shop"}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.TTL != cluster.DefaultTTL || o.MemberKey("n1") != "/remoting/shop/members/n1" {
		t.Errorf("defaults: %+v, member key %q", o, o.MemberKey("n1"))
	}
	for _, bad := range []cluster.Options{
		{Endpoints: []string{"x"}, TTL: 1500 * 1e6},
		{Endpoints: []string{"x"}, Name: "a/b"},
		{},
	} {
		if _, err := bad.WithDefaults(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	node, ep := cluster.OwnerOf([]byte(cluster.DirectoryValue("n1", 0x2a, "tcp://h:1")))
	if node != "n1" || ep != "tcp://h:1" {
		t.Errorf("OwnerOf = %q, %q", node, ep)
	}
}
