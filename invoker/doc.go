// Package invoker is the server side of the Remoting Patterns: the Server
// Request Handler, which accepts connections and reads requests, and the
// dispatch that finds the object an Object ID names, asks its lifecycle
// strategy for an instance and calls the method through the object's
// generated Invoker (stubgen's <Interface>Invoker(), a [codegen.Invoker]).
//
//	srv := invoker.NewServer(invoker.Options{})
//	ref, err := srv.Register("cart", cart.CartInvoker(), lifecycle.Static(impl))
//	lis, err := invoker.Listen("tcp://127.0.0.1:4000", nil)
//	go srv.Serve(lis)
//	defer srv.Shutdown(ctx)
//
// # Which call registers which kind of object
//
//	kind of object                              call                                         lifecycle
//	one shared instance, by name                Register(name, inv, lifecycle.Static(impl))   the server's
//	created on first call, by name              Register(name, inv, lifecycle.Lazy(newT))     the server's
//	a fresh instance per call, by name          Register(name, inv, lifecycle.PerRequest(newT)) each call's
//	instances borrowed from a pool, by name     Register(name, inv, lifecycle.Pooled(newT, opts)) the pool's
//	anonymous, under an id of your own          RegisterID(id, inv, strategy)                 the strategy's
//	made by a remote factory for one client     Policy(inv, lifecycle.ClientDependent(opts))   the client's: lease, passivation
//	                                            (set once per interface; the factory
//	                                            method just returns the object)
//	named by a key, activated by its first call Keyed(inv, lifecycle.Keyed(newT, opts))      the key's: passivation, durability
//	(any client calls it, through <I>ByKey)     (set once per interface)
//	a client's callback object                  none: the client passes it as an argument    the connection's
//
// Keyed takes a [lifecycle.KeyedObjects], because keyed objects come into
// being when their keys are first called. Register and RegisterID take any
// [lifecycle.Strategy]; Policy takes a
// [lifecycle.Policy], because factory-made objects come into being per
// call and belong to the client that called the factory. Unregister
// removes an object registered by either call.
//
// Serve accepts connections from a listener; ServeConn serves one
// connection the program made itself, such as one end of a [net.Pipe]
// whose other end a requestor.Client dials through its Options.Dialer: a
// client in the same process, with no socket. Both hold a connection to
// the same limits and handshake, and count it in Stats.
//
// Goroutines: Serve runs one accept loop per listener (in the caller's
// goroutine). ServeConn runs its connection's handshake in the caller's
// goroutine and returns when the connection ends. Each accepted
// connection gets one goroutine for its handshake, then
// the goroutines of its session: yamux's receive and send loops, a reader
// for the control stream, one that accepts the client's call streams, one
// that waits for the session to end, and one reader per call stream the
// client opens. A stream's writer runs only while it has frames queued,
// and a keepalive ping only while it waits for its answer. Each request
// runs in a goroutine of its own (workers are reused while requests keep
// coming, so their stacks stay grown), at most Options.MaxConcurrentCalls
// at once per connection (further requests wait unread, which pushes back
// on the client). Shutdown and Close stop all of them; Close waits for
// them. The hops of one call, with the goroutine each runs on, are drawn
// in the documentation of the module's internal/peer package.
//
// # What a connection costs
//
// Whatever a client sends, a connection's goroutines, memory and time are
// bounded, and so are the server's; the options below set the bounds. An
// idle connection (the handshake done, one call stream open) measured
// 6 goroutines and 25.7 KiB of heap over 5,000 connections; a handshake
// that stalls, 3 goroutines and about 17 KiB until HandshakeTimeout.
//
//	what                          idle      at most                                   bounded by
//	goroutines of the session     5         5                                         -
//	call stream readers           1         MaxStreams-1 (15)                         MaxStreams
//	stream writers                0         MaxStreams (16), while frames queue       MaxStreams
//	request workers               0         MaxConcurrentCalls (1024)                 MaxConcurrentCalls
//	answers to pings (yamux)      0         16 at once, 4 a second                    fixed
//	keepalive ping                0         1, for at most WriteTimeout               KeepAliveInterval
//	frames being read, queued     0         MaxConnBuffered (64 MiB); then closed     MaxConnBuffered
//	  and requests of running calls
//	what arguments decode to      0         MaxConnBuffered, with the frames; then    MaxConnBuffered
//	                                          the call is refused (ResourceExhausted),
//	                                          plus 32 KiB per running call
//	yamux receive buffers         0         MaxStreams x StreamWindow (16 MiB)        MaxStreams, StreamWindow
//	a frame                       -         MaxFrameSize (4 MiB), grown as it arrives MaxFrameSize
//	the socket read of a large    0         64 KiB, counted with the frames           MaxConnBuffered
//	  frame's rest
//	handshake                     -         HandshakeTimeout (10s), on the connection HandshakeTimeout
//	before the handshake          -         4 KiB frames, 8 KiB of data, 1 stream     fixed
//	a write to a client           -         WriteTimeout (10s); then closed           WriteTimeout
//	a vanished client             -         KeepAliveInterval + WriteTimeout          both
//	streams opened                -         2 x MaxStreams at once, 16 a second;      MaxStreams
//	                                          MaxStreams refused, then closed
//	frames without data           -         1,000 at once, 100 a second, and one      fixed
//	  (window updates, resets)                per 16 KiB the server writes
//
// Server-wide, connections are bounded by MaxConnections (and per remote
// host by MaxConnectionsPerAddress), and the bytes all of them hold by
// MaxBuffered; a connection past any of these is refused with
// ResourceExhausted and a message that says which, which the client's dial
// reports. At most 64 such refusals run at once, each for at most a second
// and the half second the server waits for the client to hang up; past
// that a connection is closed without a word. Accept errors (running out
// of file descriptors, say) are retried with a backoff of 5 ms doubling
// to 1 s; Serve returns only when its listener is closed or the server
// shuts down.
package invoker
