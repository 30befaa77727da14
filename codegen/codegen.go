// Package codegen is the runtime package of the code that stubgen
// generates, and of nothing else: generated Client Proxies and Invokers
// import the root package remoting and this package only. Users do not
// call it; its identifiers are a contract with generated code, versioned
// by [SupportStubgenVersion3].
//
// This package starts no goroutines; Hold registers a cleanup with the
// runtime.
package codegen

import (
	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/internal/wire"
)

// SupportStubgenVersion3 is referenced by code that stubgen generated for
// this runtime's contract, whose Invokers carry a [Description]. Code
// generated for a contract this runtime does not know names a constant it
// does not have (remoting.SupportStubgenVersion1 for the first) and fails
// to compile with that name in the message: regenerate it with the stubgen
// of this module's version.
const SupportStubgenVersion3 = true

// SupportStubgenVersion2 is referenced by code of the previous contract,
// which this runtime still serves: its Invokers have no Description, so
// a server answers remoting.Describe for them with Unimplemented until
// the code is generated again.
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

// Description is the Interface Description of one remote interface, which
// the generated Invoker carries (Invoker.Description) and a server returns
// to clients that ask (cmd/remoting): its methods, their parameters and
// results by name, and a table of the types they use. The parts below make
// it up; the wire package documents each field.
type Description = dispatch.Description

// The parts of a Description: a method, a parameter or result, a type
// of the table, a struct field, and how a type travels.
type (
	MethodDesc = dispatch.MethodDesc
	ValueDesc  = dispatch.ValueDesc
	TypeDesc   = dispatch.TypeDesc
	FieldDesc  = dispatch.FieldDesc
	TypeKind   = dispatch.TypeKind
)

// The kinds of a TypeDesc.
const (
	TypeBool    = wire.TypeBool
	TypeInt     = wire.TypeInt
	TypeUint    = wire.TypeUint
	TypeFloat   = wire.TypeFloat
	TypeString  = wire.TypeString
	TypeBytes   = wire.TypeBytes
	TypeTime    = wire.TypeTime
	TypeStruct  = wire.TypeStruct
	TypeSlice   = wire.TypeSlice
	TypeArray   = wire.TypeArray
	TypeMap     = wire.TypeMap
	TypePointer = wire.TypePointer
	TypeRef     = wire.TypeRef
	TypeOpaque  = wire.TypeOpaque
)

// ExportTo exports impl through c, which must be an Exporter, for a
// parameter whose type is a remote interface, and returns its reference.
func ExportTo(c remoting.Caller, inv *Invoker, impl any) (remoting.Ref, error) {
	return dispatch.ExportTo(c, inv, impl)
}
