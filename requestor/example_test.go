package requestor_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// A client dials the server's endpoint, looks the object up by name and
// calls it through the generated proxy.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The server: one object, "echo", on a free loopback port.
	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	if _, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{})); err != nil {
		log.Fatal(err)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)

	// The client.
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	echo, err := testservice.LookupEcho(ctx, c, "echo")
	if err != nil {
		log.Fatal(err)
	}
	reply, err := echo.Echo(ctx, "hello")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply)
	// Output: hello
}

// heard is an Echo whose Echo method tells the program what it heard and
// then waits until the program lets it return.
type heard struct {
	testservice.Impl
	heard   chan string
	release chan struct{}
}

func (h *heard) Echo(ctx context.Context, s string) (string, error) {
	h.heard <- s
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return s, nil
}

// Fire and Forget: the call returns once it is handed to the connection;
// the server runs it later and sends nothing back. A call that cannot be
// sent returns the error and is counted in OnewayFailures.
func Example_oneway() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	impl := &heard{heard: make(chan string, 1), release: make(chan struct{})}
	close(impl.release) // the method returns at once
	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	if _, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(impl)); err != nil {
		log.Fatal(err)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	echo, err := testservice.LookupEcho(ctx, c, "echo")
	if err != nil {
		log.Fatal(err)
	}

	if err := echo.Oneway().Echo(ctx, "log line"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent")
	fmt.Println("server heard:", <-impl.heard)
	fmt.Println("failures:", c.OnewayFailures())
	// Output:
	// sent
	// server heard: log line
	// failures: 0
}

// Sync with Server: the call returns once the server has accepted it,
// before the method has run to its end; the method's results and error
// are not reported.
func Example_syncWithServer() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	impl := &heard{heard: make(chan string, 1), release: make(chan struct{})}
	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	if _, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(impl)); err != nil {
		log.Fatal(err)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	echo, err := testservice.LookupEcho(ctx, c, "echo")
	if err != nil {
		log.Fatal(err)
	}

	// Echo waits for release, yet the call returns: the server accepted it.
	if err := echo.SyncWithServer().Echo(ctx, "order 7"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted")
	fmt.Println("server heard:", <-impl.heard)
	close(impl.release)
	// Output:
	// accepted
	// server heard: order 7
}

// Poll Object: the call starts at once and returns a typed future; the
// program goes on and collects the result when it needs it.
func Example_async() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	if _, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{})); err != nil {
		log.Fatal(err)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	echo, err := testservice.LookupEcho(ctx, c, "echo")
	if err != nil {
		log.Fatal(err)
	}

	first := echo.Async().Echo(ctx, "first")
	second := echo.Async().Echo(ctx, "second")
	// ... other work; first.Ready() tells without blocking whether the
	// result is in, and first.Done() is a channel to select on.
	for _, f := range []*testservice.EchoEchoFuture{first, second} {
		s, err := f.Result(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s, f.Ready())
	}
	// Output:
	// first true
	// second true
}

// Result Callback: the call starts at once and its done function runs
// exactly once with the results, on a goroutine of the runtime's (or on
// the caller's, before the call returns, if it cannot be sent).
func Example_callback() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	if _, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{})); err != nil {
		log.Fatal(err)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	echo, err := testservice.LookupEcho(ctx, c, "echo")
	if err != nil {
		log.Fatal(err)
	}

	done := make(chan struct{})
	echo.Callback().Echo(ctx, "ping", func(s string, err error) {
		defer close(done)
		if err != nil {
			fmt.Println("failed:", err)
			return
		}
		fmt.Println("got", s)
	})
	<-done
	// Output: got ping
}

// Failover: a client given the endpoints of two servers of one service
// uses the first, and when its connection fails moves to the next. The
// call that was in flight when the first server went away is not sent
// again; the next call goes to the second server.
func Example_failover() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Two servers of the same service: each registers "echo".
	serve := func() (*invoker.Server, string) {
		srv := invoker.NewServer(invoker.Options{})
		if _, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{})); err != nil {
			log.Fatal(err)
		}
		lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
		if err != nil {
			log.Fatal(err)
		}
		go srv.Serve(lis)
		return srv, "tcp://" + lis.Addr().String()
	}
	first, primary := serve()
	defer first.Close()
	second, other := serve()
	defer second.Close()

	c, err := requestor.Dial(ctx, primary, requestor.Options{Failover: []string{other}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	echo, err := testservice.LookupEcho(ctx, c, "echo")
	if err != nil {
		log.Fatal(err)
	}

	inFlight := make(chan error, 1)
	go func() { inFlight <- echo.Sleep(ctx, time.Minute) }()
	for first.Stats().Running == 0 {
		time.Sleep(time.Millisecond)
	}
	first.Close() // the first server goes away with the call running
	fmt.Println("in flight:", remoting.CodeOf(<-inFlight))

	reply, err := echo.Echo(ctx, "hello")
	fmt.Println(reply, err)
	fmt.Println("same endpoint:", c.Endpoint() == primary)
	// Output:
	// in flight: Unavailable
	// hello <nil>
	// same endpoint: true
}
