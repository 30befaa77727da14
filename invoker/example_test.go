package invoker_test

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
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// A server registers an object under a name, with the lifecycle strategy
// that says which instance serves each call (here Static: one shared
// instance), and serves a listener; clients find the object by its name.
func ExampleServer_Register() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := invoker.NewServer(invoker.Options{})
	ref, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered", ref.Interface)
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	echo, err := testservice.LookupEcho(ctx, c, "echo")
	if err != nil {
		log.Fatal(err)
	}
	reply, err := echo.Echo(ctx, "hello")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply)
	c.Close()

	// Shutdown lets calls in flight finish; then Serve returns.
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-served)
	// Output:
	// registered github.com/remoting-go/remoting/internal/testservice.Echo
	// hello
	// invoker: server closed
}

// Static: one instance, made by the program, serves every call at once
// until the server shuts down; it must be safe for concurrent use.
func ExampleServer_Register_static() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	if _, err := srv.Register("counter", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{})); err != nil {
		log.Fatal(err)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)

	// Two clients share the one instance.
	for range 2 {
		c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
		if err != nil {
			log.Fatal(err)
		}
		counter, err := testservice.LookupEcho(ctx, c, "counter")
		if err != nil {
			log.Fatal(err)
		}
		n, err := counter.Count(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("count", n)
		c.Close()
	}
	// Output:
	// count 1
	// count 2
}

// Lazy: the instance is made by the first call, not at registration, and
// then serves every call.
func ExampleServer_Register_lazy() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	newCounter := func(context.Context) (*testservice.Impl, error) {
		fmt.Println("making the instance")
		return &testservice.Impl{}, nil
	}
	if _, err := srv.Register("counter", testservice.EchoInvoker(), lifecycle.Lazy(newCounter)); err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered")
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
	counter, err := testservice.LookupEcho(ctx, c, "counter")
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		n, err := counter.Count(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("count", n)
	}
	// Output:
	// registered
	// making the instance
	// count 1
	// count 2
}

// PerRequest: every call gets a fresh instance, which ends with the call;
// nothing is shared between calls.
func ExampleServer_Register_perRequest() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	newCounter := func(context.Context) (*testservice.Impl, error) {
		fmt.Println("making an instance")
		return &testservice.Impl{}, nil
	}
	if _, err := srv.Register("counter", testservice.EchoInvoker(), lifecycle.PerRequest(newCounter)); err != nil {
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
	counter, err := testservice.LookupEcho(ctx, c, "counter")
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		n, err := counter.Count(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("count", n)
	}
	// Output:
	// making an instance
	// count 1
	// making an instance
	// count 1
}

// Pooled: calls borrow an instance from a bounded pool, one call per
// instance at a time, and give it back when they end; instances are made
// on demand, up to Max, and reused.
func ExampleServer_Register_pooled() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	newCounter := func(context.Context) (*testservice.Impl, error) {
		fmt.Println("making an instance")
		return &testservice.Impl{}, nil
	}
	pooled := lifecycle.Pooled(newCounter, lifecycle.PoolOptions{Max: 2})
	if _, err := srv.Register("counter", testservice.EchoInvoker(), pooled); err != nil {
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
	counter, err := testservice.LookupEcho(ctx, c, "counter")
	if err != nil {
		log.Fatal(err)
	}
	// One call after the other: the instance the first made serves the
	// second.
	for range 2 {
		n, err := counter.Count(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("count", n)
	}
	// Output:
	// making an instance
	// count 1
	// count 2
}

// Client-Dependent Instance: a remote factory (Maker.NewTally) returns a
// new object for its caller, which belongs to that client alone and lives
// as the interface's Policy says (here with a lease the client's proxy
// keeps renewed) until the client releases it.
func ExampleServer_Policy() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	// The policy of the objects factories make, set once per interface
	// before Serve; the factory itself is an ordinary object.
	err := srv.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: time.Minute}))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := srv.Register("maker", tally.MakerInvoker(), lifecycle.Static((&tally.Tracker{}).Maker())); err != nil {
		log.Fatal(err)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)
	endpoint := "tcp://" + lis.Addr().String()

	alice, err := requestor.Dial(ctx, endpoint, requestor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	maker, err := tally.LookupMaker(ctx, alice, "maker")
	if err != nil {
		log.Fatal(err)
	}
	t, err := maker.NewTally(ctx, 10)
	if err != nil {
		log.Fatal(err)
	}
	n, err := t.Add(ctx, 5)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice's tally:", n)

	// Another client cannot reach it, even with its reference.
	bob, err := requestor.Dial(ctx, endpoint, requestor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()
	ref := t.(remoting.Proxy).Ref()
	_, err = tally.NewTallyProxy(bob, ref).Get(ctx)
	fmt.Println("bob:", remoting.CodeOf(err))

	// Release ends it at once.
	if err := remoting.Release(ctx, t.(remoting.Proxy)); err != nil {
		log.Fatal(err)
	}
	_, err = t.Get(ctx)
	fmt.Println("after release:", remoting.CodeOf(err))
	// Output:
	// alice's tally: 15
	// bob: NotFound
	// after release: NotFound
}
