// Package dispatch is the Invoker side that both roles of a connection
// share: the table of objects one end serves (a server's objects, or the
// callback objects a client exports to its server) and the dispatch of
// each request the other end sends to the generated Invoker of the
// object's interface. It knows nothing of lifecycles: a server plugs its
// lifecycle manager in as Owners and each object's strategy in as its
// Instances, and a client serves its callback objects by one fixed
// instance each. Generated code reaches the types it needs (Invoker,
// Method, Args) through the public package codegen.
//
// Goroutines: none. Dispatch runs on the request's worker goroutine, which
// internal/peer owns.
package dispatch
