// Command oneway demonstrates the Fire and Forget pattern: a client sends
// log lines to a sink and goes on at once, without waiting for the sink
// to write them or to answer. The sink gets every line, in the order sent;
// a failure to send is counted, never raised later.
//
// Order: one client connection delivers its calls to the server in the
// order one goroutine sent them, but the server runs each call in a
// goroutine of its own, so calls may run in another order. The sink's
// server therefore runs one call of a connection at a time
// (invoker.Options.MaxConcurrentCalls = 1), which makes the calls run in
// the order they were sent.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/oneway
package main

//go:generate go tool stubgen -type Sink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Sink is the remote interface: a log sink.
type Sink interface {
	// Log writes one line; seq numbers the lines of one sender from 1.
	Log(ctx context.Context, seq int, line string) error
	// Written returns how many lines the sink has written and how many of
	// them came out of order.
	Written(ctx context.Context) (lines, outOfOrder int, err error)
}

// sink is the servant. Writing a line takes a while, like a disk would.
type sink struct {
	perLine time.Duration
	say     func(string, ...any)

	mu         sync.Mutex
	last       int
	lines      int
	outOfOrder int
}

func (s *sink) Log(_ context.Context, seq int, line string) error {
	time.Sleep(s.perLine)
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq != s.last+1 {
		s.outOfOrder++
	}
	s.last = seq
	s.lines++
	if s.lines == 1 || s.lines%100 == 0 {
		s.say("server: wrote line %d: %q", seq, line)
	}
	return nil
}

func (s *sink) Written(context.Context) (int, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines, s.outOfOrder, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "oneway:", err)
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

	// One call of a connection at a time: lines are written in the order
	// they were sent.
	srv := invoker.NewServer(invoker.Options{MaxConcurrentCalls: 1})
	impl := &sink{perLine: time.Millisecond, say: say}
	if _, err := srv.Register("sink", SinkInvoker(), lifecycle.Static(impl)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	say("server: sink listening on %s; writing a line takes %v", lis.Addr(), impl.perLine)

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := LookupSink(ctx, c, "sink")
	if err != nil {
		return err
	}

	// A synchronous call waits for the line to be written and answered.
	t0 := time.Now()
	if err := s.Log(ctx, 1, "sync: hello"); err != nil {
		return err
	}
	syncTook := time.Since(t0)
	say("client: one synchronous Log returned after %v", syncTook.Round(time.Microsecond))

	// Fire and forget: the client goes on as soon as each line is handed
	// to the connection.
	const lines = 500
	t0 = time.Now()
	for seq := 2; seq <= lines; seq++ {
		if err := s.Oneway().Log(ctx, seq, fmt.Sprintf("request %d served", seq)); err != nil {
			return fmt.Errorf("Oneway().Log(%d): %w", seq, err)
		}
	}
	sent := time.Since(t0)
	n, _, err := impl.Written(ctx) // a peek at the servant, for the demo
	if err != nil {
		return err
	}
	say("client: %d one-way Logs returned after %v in all (%v each); the sink had written %d lines by then",
		lines-1, sent.Round(time.Microsecond), (sent / (lines - 1)).Round(time.Microsecond), n)
	if n >= lines {
		return fmt.Errorf("the one-way calls waited for the sink: it had written all %d lines when they returned", n)
	}

	// Written is sent after the last line and runs after it.
	t0 = time.Now()
	written, outOfOrder, err := s.Written(ctx)
	if err != nil {
		return err
	}
	say("client: Written() = %d lines, %d out of order (it waited %v for the sink to catch up)",
		written, outOfOrder, time.Since(t0).Round(time.Millisecond))
	if written != lines || outOfOrder != 0 {
		return fmt.Errorf("want %d lines in order, the sink wrote %d with %d out of order", lines, written, outOfOrder)
	}

	// The same lines to a sink whose server runs calls concurrently (the
	// default): every line arrives, but they run in whatever order the
	// server's goroutines get to them.
	n, outOfOrder, err = concurrentSink(ctx, lines)
	if err != nil {
		return err
	}
	say("client: the same %d lines to a sink with the default MaxConcurrentCalls: %d written, %d out of order", lines, n, outOfOrder)
	if n != lines {
		return fmt.Errorf("want %d lines written by the concurrent sink, got %d", lines, n)
	}

	// A line the method fails on, or for an object that does not exist,
	// is not reported: nobody waits for an answer.
	missing := NewSinkProxy(c, remoting.Ref{Endpoint: c.Endpoint(), ID: remoting.NewObjectID(), Interface: SinkInterface})
	err = missing.Oneway().Log(ctx, 1, "into the void")
	say("client: one-way Log to an object the server does not have: err = %v", err)
	if err != nil {
		return fmt.Errorf("want no error from a one-way call the server cannot run, got %v", err)
	}

	// A line that cannot be sent is: the connection is gone.
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	say("server: shut down")
	// A line sent while the client has not yet seen the connection end is
	// lost without a trace, as fire and forget allows; once it has, sends
	// fail and are counted.
	lost := 0
	for seq := lines + 1; ; seq++ {
		err = s.Oneway().Log(ctx, seq, "too late")
		if err != nil || ctx.Err() != nil {
			break
		}
		lost++
		time.Sleep(time.Millisecond)
	}
	say("client: one-way Log after shutdown: %v (%d sent before the client saw the connection end); OnewayFailures() = %d",
		err, lost, c.OnewayFailures())
	if !errors.Is(err, remoting.ErrUnavailable) || c.OnewayFailures() != 1 {
		return fmt.Errorf("want Unavailable and one failure counted, got %v and %d", err, c.OnewayFailures())
	}
	return nil
}

// concurrentSink sends lines one-way to a sink on a server with the
// default options and returns what the sink wrote once every line is in.
func concurrentSink(ctx context.Context, lines int) (written, outOfOrder int, err error) {
	srv := invoker.NewServer(invoker.Options{})
	impl := &sink{perLine: time.Millisecond, say: func(string, ...any) {}}
	if _, err := srv.Register("sink", SinkInvoker(), lifecycle.Static(impl)); err != nil {
		return 0, 0, err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return 0, 0, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Close()
		<-served
	}()
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	s, err := LookupSink(ctx, c, "sink")
	if err != nil {
		return 0, 0, err
	}
	for seq := 1; seq <= lines; seq++ {
		if err := s.Oneway().Log(ctx, seq, fmt.Sprintf("request %d served", seq)); err != nil {
			return 0, 0, err
		}
	}
	for ctx.Err() == nil {
		if written, outOfOrder, err = s.Written(ctx); err != nil || written >= lines {
			return written, outOfOrder, err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return written, outOfOrder, ctx.Err()
}
