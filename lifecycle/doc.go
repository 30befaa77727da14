// Package lifecycle is the Lifecycle Manager of the Remoting Patterns: it
// decides which instance serves an invocation of an Object ID, when that
// instance is created and when it ends.
//
// Every registered object has one [Strategy], chosen at registration:
//
//	srv.Register("catalog", catalog.CatalogInvoker(), lifecycle.Static(impl))
//	srv.Register("index", search.IndexInvoker(), lifecycle.Lazy(loadIndex))
//	srv.Register("calc", calc.CalculatorInvoker(), lifecycle.PerRequest(newCalculator))
//	srv.Register("render", render.RendererInvoker(), lifecycle.Pooled(newRenderer, lifecycle.PoolOptions{Max: 4}))
//
// The server asks the strategy for an instance with [Strategy.Acquire]
// before each invocation and gives it back with [Strategy.Return] after it.
//
//   - [Static] (Static Instance): the instance exists before registration
//     and serves every call until the server shuts down.
//   - [Lazy] (Lazy Acquisition): the instance is created by the first call,
//     exactly once however many calls arrive together, and then serves
//     every call until shutdown.
//   - [PerRequest] (Per-Request Instance): each call gets a fresh instance,
//     which ends with the call.
//   - [Pooled] (Pooling): calls borrow instances from a bounded pool and
//     give them back, cleaned, for later calls.
//
// The constructors of Lazy, PerRequest and Pooled are typed,
// func(context.Context) (T, error), so an ordinary constructor serves as it
// is. Pooled returns a [*PooledStrategy], whose Resize and Stats make it a
// pool.Sizer for configuration reloads, adaptive sizing and the admin
// endpoint. Every strategy of the package names itself for introspection
// (invoker.Server.Objects): [NameStatic], [NameLazy], [NamePerRequest],
// [NamePooled], for the objects remote factories make,
// [NameClientDependent], and for keyed objects [NameKeyed].
//
// # What is for whom
//
// For users: the strategies ([Static], [Lazy], [PerRequest], [Pooled] and
// [PooledStrategy]), the policy of client-dependent objects
// ([ClientDependent], [Passivate] and their Options, [Renewal]), keyed
// objects ([Keyed], [KeyedOptions], [Durability]), the hooks
// ([Activator], [Deactivator], [Resetter], [StateSaver], [StateRestorer]),
// the Default* constants and [ErrClosed]. For the server, and for a user
// who writes a strategy of their own: [Strategy], [Binding] and [Fanout].
// [Dependents] is the server's: invoker.Server makes one and calls it, as
// it calls the [KeyedObjects] that Keyed returns; an
// application reaches it through the server (Server.Policy,
// Server.SetLeaseTTL, Server.SetPassivateAfter).
//
// # Client-dependent objects
//
// Objects that remote factories return (a method whose result is a remote
// interface) are Client-Dependent Instances: each belongs to the client
// that called the factory, and another client gets NotFound for it. Their
// lifecycle is a [Policy] per interface, registered with
// invoker.Server.Policy:
//
//	srv.Policy(cart.CartInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{
//		TTL:         30 * time.Second,
//		Passivation: lifecycle.Passivate(newCart, lifecycle.PassivationOptions{After: 10 * time.Minute, Store: store}),
//	}))
//
// With a TTL, each object has a lease (Leasing), renewed by its calls and
// by the client that holds its proxy (requestor.Client renews the leases
// of the objects its proxies hold, until a proxy is released or garbage
// collected). An object ends when its client releases it, when its lease
// runs out, or when its client has been disconnected for longer than the
// server's grace period. With [Passivate], an object that sat idle has its
// state saved to a passivation.Store and its instance dropped, until its
// next call (Passivation); a server that starts on the same store brings
// the passivated objects back. A [Dependents], one per server, keeps them.
//
// # Keyed objects
//
// A keyed object is named by its interface and a key (account/42, a room
// name) instead of being registered or made by a factory: any client calls
// it through the generated <Interface>ByKey, which computes its reference
// (remoting.KeyRef) without a call. Its lifecycle is [Keyed], set once per
// interface with invoker.Server.Keyed:
//
//	srv.Keyed(bank.AccountInvoker(), lifecycle.Keyed(newAccount, lifecycle.KeyedOptions{
//		Store:      store,
//		Durability: lifecycle.SaveEveryCall,
//	}))
//
// The first call of a key activates its object from the state the store
// keeps (Lazy Acquisition), exactly once however many calls arrive; an
// idle object saves its state and leaves memory (Passivation), and the next
// call of its key brings it back, in this server or another on the store.
// An object serves one call at a time. [Durability] says when its state
// is saved: when it passivates ([SaveOnPassivation]); after every call
// that is not read-only, before the reply ([SaveEveryCall]), so that an
// acknowledged call survives a crash of the server; or at most an
// interval after such a call changed it ([SaveEveryInterval]), which
// bounds what a crash loses and costs a call no write.
//
// # Lifecycle hooks
//
// An implementation takes part in its lifecycle by having any of the
// optional methods [Activator], [Deactivator] and [Resetter]. The
// strategies call them as follows; a dash means never.
//
//	strategy    Activate                      Deactivate                            Reset
//	----------  ----------------------------  ------------------------------------  ------------------------------
//	Static      -                             at Close                              -
//	Lazy        after the constructor, on     at Close                              -
//	            the first call
//	PerRequest  after the constructor, before after the call, in Return             -
//	            each call
//	Pooled      after the constructor, when   when the pool destroys the instance:  in Return, before the instance
//	            the pool needs an instance    failed Reset, idle past IdleTimeout,  serves again
//	                                          Close
//	client-     after RestoreState, when a    when the object ends (release,        -
//	dependent   call reactivates the object   expiry, client gone), when it is
//	                                          passivated, and at Close
//	keyed       after the constructor and     when it is passivated, when a save    -
//	            RestoreState (if the store    after a call fails or a method
//	            has a state), on the first    panics (SaveEveryCall), and at Close
//	            call of the key
//
// A client-dependent instance that a factory made is ready when it is
// returned, so it gets no Activate, as a Static instance does not. The
// hooks of passivation, [StateSaver] and [StateRestorer], are listed with
// [Passivate].
//
// Activate runs on the goroutine of the call that needs the instance, with
// that call's context; its error fails the creation and goes to the
// caller. Deactivate and Reset run on the goroutine that ends or returns
// the instance, with Close's context at Close and context.Background()
// otherwise; a client-dependent instance is deactivated on the goroutine
// that ends it (End's, or the Dependents' for expiries and
// passivations). A hook that panics is treated as one that returned an
// Internal error.
//
// # Events
//
// A strategy reports what happens to its instances as events
// ([remoting.Event]) to [Binding.Observe], which the server builds from its
// observers (invoker.Options.Observers) with [Fanout].
// [remoting.EventCounts] tallies them per interface and kind. The events
// are vocabulary of the root package, so that an observer (the metrics of
// package interceptor, say) need not import this one. The strategies of
// this package report:
//
//	strategy    events
//	----------  -------------------------------------------------------------------
//	Static      Activated at Bind; Deactivated at Close
//	Lazy        Activated per creation attempt (with Err if it failed); Deactivated at Close
//	PerRequest  Activated per call (with Err if creation failed); Deactivated after it
//	Pooled      Activated per instance created; PoolBorrow, PoolReturn per call;
//	            PoolExhausted when a waiting call gives up; Deactivated per instance destroyed
//	client-     Activated when the factory's instance is exported; LeaseRenewed per renewal
//	dependent   (by a call, at most every sixteenth of the TTL, or by the client's renewer);
//	            LeaseExpired when the lease runs out or the client stayed away; Passivated
//	            per passivation (with Err if saving failed: the instance stays); Reactivated
//	            per reactivation (with Err if it failed); Deactivated per instance dropped
//	keyed       Activated per activation of a key the store has no state for, Reactivated
//	            per activation from a stored state (each with Err if it failed);
//	            Passivated per passivation, and per save at Close (SaveOnPassivation),
//	            with Err if saving failed; Deactivated per instance dropped. Each event
//	            carries the object's Key
//
// # Goroutines
//
// Static, Lazy and PerRequest start no goroutines: constructors and hooks
// run on the callers' goroutines. Pooled makes its [pool.Pool] at the first
// call, which starts the pool's reaper goroutine; Close stops it. A
// [Dependents] runs two goroutines, each started when first needed: one that
// ends the client-dependent objects whose lease ran out, and one that
// passivates idle objects; see [Dependents]. A [KeyedObjects] runs one,
// started by Bind, that passivates its idle objects, and with
// SaveEveryInterval a second that saves the changed ones; constructors,
// restores and the saves after calls run on the calls' goroutines.
package lifecycle
