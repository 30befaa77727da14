// Package pool implements the Pooling pattern of the Remoting Patterns
// (Völter, Kircher, Zdun): a bounded set of interchangeable instances that
// serve invocations one at a time, so that the cost of creating an instance
// is paid once and the number of instances stays within a limit.
//
// A [Pool] creates instances on demand with a factory, up to [Options.Max]
// at once, hands an idle instance to each [Pool.Borrow] and takes it back
// with [Pool.Return] (after [Options.Reset] cleaned it) or [Pool.Discard]
// (when it broke). A borrower that finds every instance in use waits in
// line, first come first served, until one is returned or its context
// ends; then it gets an error that matches [remoting.ErrResourceExhausted].
// Idle instances above [Options.Min] are destroyed after
// [Options.IdleTimeout], and [Pool.Resize] changes the bounds at run time.
//
// [Sizer] is the one interface of a pool that can be resized and read: a
// [*Pool] is one, and so is the strategy that lifecycle.Pooled returns.
// [Adaptive] steers a Sizer by the waits it measures; config resizes
// Sizers on a reload, and admin shows their [Stats].
//
// For users: all of it. [CheckBounds] and [Options.Bounds] are for those
// who hold bounds for a pool they have not made yet, as lifecycle.Pooled
// does before its first call.
//
// # Goroutines
//
// [New] starts one goroutine, the reaper, which destroys instances that
// were idle for too long. [Pool.Close] and [Pool.Shutdown] stop it and wait
// for it. Every other call runs on its caller's goroutine: the factory runs
// on the borrower's, Reset on the returner's, Destroy on whichever goroutine
// made the instance surplus (a returner, Resize, Close, or the reaper).
// None of them runs with the pool's lock held, so they may call the pool.
package pool
