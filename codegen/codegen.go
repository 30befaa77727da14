// Package codegen is the runtime package of the code that stubgen
// generates, and of nothing else: generated Client Proxies and Invokers
// import the root package remoting and this package only. Users do not
// call it; its identifiers are a contract with generated code, versioned
// by [SupportStubgenVersion2].
//
// This package starts no goroutines; Hold registers a cleanup with the
// runtime.
package codegen

import (
	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/dispatch"
)

// SupportStubgenVersion2 is referenced by code that stubgen generated for
// this runtime's contract. Code generated for another contract names a
// constant this runtime does not have (remoting.SupportStubgenVersion1 for
// the first) and fails to compile with that name in the message:
// regenerate it with the stubgen of this module's version.
const SupportStubgenVersion2 = true

// Invoker is the server side of one remote interface, as stubgen
// generates it (cart.CartInvoker()): the interface's name and, per method,
// the function that decodes the arguments, calls the implementation and
// returns the results. invoker.Server.Register takes one.
type Invoker = dispatch.Invoker

// Method is the generated dispatcher of one method of an Invoker.
type Method = dispatch.Method

// Args is the encoded argument struct of one call and the call's view of
// its connection: Decode, Export (for results whose type is a remote
// interface) and Caller (to call back the objects a caller passed).
type Args = dispatch.Args

// Exporter is a Caller that can make local objects reachable from the
// other end of its connection (requestor.Client, and Args.Caller()).
type Exporter = dispatch.Exporter

// ExportTo exports impl through c, which must be an Exporter, for a
// parameter whose type is a remote interface, and returns its reference.
func ExportTo(c remoting.Caller, inv *Invoker, impl any) (remoting.Ref, error) {
	return dispatch.ExportTo(c, inv, impl)
}
