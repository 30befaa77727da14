// Command syncwithserver demonstrates the Sync with Server pattern: the
// client waits until the server has received the call and found the object
// and method, not until the method has run. A slow job is handed over in
// about a round trip, and the client knows it arrived; a call the server
// cannot accept (an unknown object) fails with NotFound, which Fire and
// Forget could not tell. What the method itself returns is not reported.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/syncwithserver
package main

//go:generate go tool stubgen -type Indexer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Indexer is the remote interface: it rebuilds search indexes.
type Indexer interface {
	// Reindex rebuilds the index of one catalog; it takes a while.
	Reindex(ctx context.Context, catalog string) error
}

// indexer is the servant.
type indexer struct {
	took time.Duration
	say  func(string, ...any)
	done atomic.Int64 // reindexes finished
	ran  chan string  // the catalog of every reindex that ended
}

func (ix *indexer) Reindex(ctx context.Context, catalog string) error {
	ix.say("server: reindexing %q ...", catalog)
	defer func() { ix.ran <- catalog }()
	if catalog == "broken" {
		err := errors.New("catalog \"broken\" has no items")
		ix.say("server: reindexing %q failed: %v", catalog, err)
		return err
	}
	t := time.NewTimer(ix.took)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	ix.done.Add(1)
	ix.say("server: reindexed %q", catalog)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "syncwithserver:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Printf("[%6.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	srv := invoker.NewServer(invoker.Options{})
	impl := &indexer{took: 300 * time.Millisecond, say: say, ran: make(chan string, 8)}
	if _, err := srv.Register("indexer", IndexerInvoker(), lifecycle.Static(impl)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	say("server: indexer listening on %s; a reindex takes %v", lis.Addr(), impl.took)

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	ix, err := LookupIndexer(ctx, c, "indexer")
	if err != nil {
		return err
	}

	// Synchronous: the client waits for the whole job.
	t0 := time.Now()
	if err := ix.Reindex(ctx, "books"); err != nil {
		return err
	}
	<-impl.ran
	say("client: Reindex(books) returned after %v, when the job was done", time.Since(t0).Round(time.Millisecond))

	// Sync with Server: the client waits for the server's ack only.
	t0 = time.Now()
	if err := ix.SyncWithServer().Reindex(ctx, "music"); err != nil {
		return err
	}
	took := time.Since(t0)
	finished := impl.done.Load()
	say("client: SyncWithServer().Reindex(music) returned after %v: the server has it; reindexes finished so far: %d",
		took.Round(time.Microsecond), finished)
	if took >= impl.took/2 || finished != 1 {
		return fmt.Errorf("SyncWithServer waited for the job: returned after %v with %d reindexes finished", took, finished)
	}
	say("client: going on with other work while the server reindexes")

	// The method's own failure is not reported: the server accepted the
	// call, and that is all the client asked to know.
	err = ix.SyncWithServer().Reindex(ctx, "broken")
	say("client: SyncWithServer().Reindex(broken) = %v", err)
	if err != nil {
		return fmt.Errorf("want no error from an accepted call, got %v", err)
	}

	// A call the server cannot accept is reported, unlike Fire and Forget.
	gone := NewIndexerProxy(c, remoting.Ref{Endpoint: c.Endpoint(), ID: remoting.NewObjectID(), Interface: IndexerInterface})
	t0 = time.Now()
	err = gone.SyncWithServer().Reindex(ctx, "films")
	say("client: SyncWithServer().Reindex(films) on an unknown object failed after %v with code %v: %v",
		time.Since(t0).Round(time.Microsecond), remoting.CodeOf(err), err)
	if !errors.Is(err, remoting.ErrNotFound) {
		return fmt.Errorf("want NotFound for an unknown object, got %v", err)
	}
	err = gone.Oneway().Reindex(ctx, "films")
	say("client: the same call as Oneway().Reindex(films) = %v: fire and forget cannot tell", err)

	// Shutdown lets the accepted jobs finish.
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	say("server: shut down after the accepted jobs ended; reindexes finished: %d", impl.done.Load())
	if impl.done.Load() != 2 {
		return fmt.Errorf("want books and music reindexed, %d reindexes finished", impl.done.Load())
	}
	return nil
}
