package lifecycle_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// childStoreEnv, set to a store's path, makes TestKilledWhilePassivating
// serve as the child process that the test kills.
const childStoreEnv = "REMOTING_LIFECYCLE_CHILD_STORE"

// TestKilledWhilePassivating kills, with SIGKILL, a server process that
// passivates objects all the time, and then checks that its bbolt file
// opens, that every record in it is whole, and that a new server on it
// brings back every object, each with a state it really had.
func TestKilledWhilePassivating(t *testing.T) {
	if path := os.Getenv(childStoreEnv); path != "" {
		serveUntilKilled(path)
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWhilePassivating$")
	cmd.Env = append(os.Environ(), childStoreEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "start the child")
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	// The child says where it listens, then names each object it
	// passivates.
	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan(), "the child's first line")
	addr, ok := strings.CutPrefix(lines.Text(), "listening ")
	require.True(t, ok, "the child's first line: %q", lines.Text())
	var mu sync.Mutex
	passivated := map[remoting.ObjectID]int{}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for lines.Scan() {
			if s, ok := strings.CutPrefix(lines.Text(), "passivated "); ok {
				if id, err := remoting.ParseObjectID(s); err == nil {
					mu.Lock()
					passivated[id]++
					mu.Unlock()
				}
			}
		}
		io.Copy(io.Discard, out)
	}()

	ctx := ctxT(t)
	c, err := requestor.Dial(ctx, "tcp://"+addr, requestor.Options{RedialBackoff: 10 * time.Millisecond})
	require.NoError(t, err, "Dial the child")
	t.Cleanup(func() { c.Close() })
	m := maker(t, c, c.Endpoint())

	// Objects with states of their own, each passivated at least once.
	const objects = 40
	type obj struct {
		tl       tally.Tally
		id       remoting.ObjectID
		start    int64
		last     int64 // the last value a call acknowledged
		inFlight bool  // a call may have changed it without an answer
	}
	objs := make([]*obj, objects)
	for i := range objs {
		o := &obj{start: int64(1000 * (i + 1))}
		o.tl, o.id = newTally(t, m, o.start)
		o.last = o.start
		objs[i] = o
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range objs {
			if passivated[o.id] == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "every object passivated once")

	// Churn: every call reactivates an object, which passivates again
	// 5ms later; the child dies in the middle of it.
	stop := make(chan struct{})
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		for {
			select {
			case <-stop:
				return
			default:
			}
			o := objs[rand.IntN(objects)]
			o.inFlight = true
			n, err := o.tl.Add(ctx, 1)
			if err != nil {
				return // the child is dead
			}
			o.last, o.inFlight = n, false
		}
	}()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, cmd.Process.Kill(), "SIGKILL the child")
	killed = true
	cmd.Wait()
	close(stop)
	<-churned
	<-readDone
	mu.Lock()
	total := 0
	for _, n := range passivated {
		total += n
	}
	mu.Unlock()
	t.Logf("the child passivated %d times before it was killed", total)

	// The file opens, and every record in it is whole.
	store, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err, "open the killed child's store")
	records := 0
	err = store.List(ctx, func(id remoting.ObjectID, rec passivation.Record) error {
		records++
		_, err := passivation.Schema(rec.Data)
		assert.NoError(t, err, "record of %v", id)
		return nil
	})
	require.NoError(t, err, "List")
	assert.Equal(t, objects, records, "records in the store")

	// A new server on the file, at the child's address, brings every
	// object back for the same client, with a state it had.
	lis, err := net.Listen("tcp", addr)
	require.NoError(t, err, "listen on the child's address")
	t.Cleanup(func() { store.Close() })
	tr := new(tally.Tracker)
	ev := new(events)
	srv := newServerOn(t, lis, tr, passivating(tr, time.Minute, store, 0), ev)
	assert.Equal(t, objects+1, srv.Stats().Objects, "objects registered: the maker and every tally")
	for i, o := range objs {
		var n int64
		require.Eventually(t, func() bool { n, err = o.tl.Get(ctx); return err == nil }, 5*time.Second, 10*time.Millisecond,
			"Get of object %d on the new server: %v", i, err)
		hi := o.last
		if o.inFlight {
			hi++
		}
		assert.True(t, n >= o.start && n <= hi, "object %d came back with %d, want a value it had, in [%d, %d]", i, n, o.start, hi)
	}
	assert.EqualValues(t, objects, tr.Restores.Load(), "objects reactivated")
}

// serveUntilKilled is the child process: a server whose Tallies passivate
// 5ms after their last call, to the store in path. It prints its address,
// then the id of each object it passivates, and serves until it is
// killed.
func serveUntilKilled(path string) {
	store, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	say := remoting.ObserverFunc(func(e remoting.Event) {
		if e.Kind == remoting.EventPassivated && e.Err == nil {
			mu.Lock()
			fmt.Printf("passivated %s\n", e.ObjectID)
			mu.Unlock()
		}
	})
	tr := new(tally.Tracker)
	srv := invoker.NewServer(invoker.Options{Observers: []remoting.Observer{say}})
	if err := srv.Policy(tally.TallyInvoker(), passivating(tr, 5*time.Millisecond, store, 0)); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	if _, err := srv.Register("maker", tally.MakerInvoker(), lifecycle.Static(tr.Maker())); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	fmt.Printf("listening %s\n", lis.Addr())
	srv.Serve(lis)
	select {}
}
