// Package peer is one end of a connection, and both roles at once: it sends
// invocations to the other end (the Requestor's half: call streams it opens,
// pending calls correlated by request id) and serves the invocations the
// other end sends (the Server Request Handler's half: call streams it
// accepts, one goroutine per running request, a bound on how many run at
// once). The requestor and invoker packages give it their role: a client
// is a Peer that mostly calls, a server connection a Peer that mostly serves,
// and either can do the other, which is how a server calls back objects its
// client exported over the same connection.
//
// # The call path
//
// One sync call, from a generated proxy to the instance and back, hop by
// hop, with the goroutine each hop runs on:
//
//	#   hop                                                     goroutine
//	1   proxy method builds a remoting.Invocation               caller
//	2   requestor.Client.Invoke: the client's interceptor chain caller
//	3   peer.Send: the mode is interpreted (the one place),     caller
//	    the connection found or dialed (Client.prepare)
//	4   Peer.send: arguments encoded (wire.MarshalBuffer),      caller
//	    request id registered, frame queued on the stream
//	5   transport writer: queued frames coalesced into one      caller if nobody writes and
//	    write to the yamux stream                               its deadline allows, else the
//	                                                            stream writer (one per stream)
//	6   yamux send loop: framed, one writev to the socket       yamux sendLoop (one per session)
//	7   --- network ---
//	8   yamux receive loop: frame into the stream's buffer      yamux recvLoop (one per session)
//	9   lead: frame read and parsed, a concurrency token        the stream's reader, a worker
//	    taken, the reading handed on to an idle worker          (Leader/Followers)
//	10  handle: deadline and cancel set up; dispatch.Registry   the same worker (reused, at most
//	    .Dispatch: object found, server interceptor chain,     MaxConcurrentCalls running requests
//	                                                            per connection)
//	    ack for Sync with Server, lifecycle strategy's
//	    Acquire, generated Invoker decodes the arguments
//	    and calls the instance's method, Return
//	11  reply encoded and queued on the stream                  worker
//	12  transport writer, yamux, network, yamux (5-8 again)     server's writer, sendLoop; client's recvLoop
//	13  callStream.read: reply matched to its pending call      call stream reader (one per stream)
//	    by request id, the caller woken
//	14  await: results decoded into the Invocation's Reply,     caller
//	    proxy returns them
//
// Fewer hand-offs are not always faster. A yamux patched so that a sender
// writes its frame itself when nothing is queued, skipping hop 6, made a
// lone caller's sync call 1.4 times slower on a two-core virtual machine:
// the runtime's threads then went to sleep between frames three times as
// often, and waking a sleeping thread costs more there than the hand-off
// it saved. Not handing the reading on at hop 9 (the worker reads on once
// its request has run) made no difference that could be measured.
//
// A Fire-and-Forget call ends at hop 5 on the caller's side (its frame is
// always left to the stream writer, which gathers a caller's frames into
// few writes), and the server sends nothing at hop 11 and keeps no cancel
// for it at hop 10. A Sync-with-Server call returns when the ack of hop 10
// arrives. An async call (Poll Object, Result Callback) returns after hop
// 4; the call stream reader of hop 13 does hop 14 itself and runs Done, so
// that an async call costs the same hand-offs as a sync one. A watchdog
// has another goroutine take over the reading if a Done runs on for
// doneGrace while other calls wait. A cancel or an expired deadline at
// hop 14 queues a cancel frame, which the stream reader of hop 9 turns
// into the cancel of the request's context; an async call's context is
// watched only once the call is 1-2 ms old (see watchAfter), as most
// calls end sooner.
//
// Goroutines: New starts one goroutine that accepts the other end's call
// streams and one that waits for the session's end; each accepted stream
// is read by one worker at a time, which runs the request it reads after
// handing the reading to another (workers are reused, each idle one
// waiting on a channel of its own; idle ones exit after 10 s); each call
// stream this end opens gets a reader goroutine, and a new one each time
// the watchdog takes the reading from a Done that runs on. Close stops all
// of them and waits for them, including requests still running (their
// context is canceled) and the Done of every async call.
package peer
