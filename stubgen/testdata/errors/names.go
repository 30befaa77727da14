package errs

import "context"

// StoreProxy has the name of Store's generated proxy.
type StoreProxy struct{}

// Store clashes with StoreProxy.
type Store interface { // ERROR: Store: the generated StoreProxy clashes with the type declared at names.go:6:6
	Get(ctx context.Context) error
}

// Cart and CartItems generate the same helper names.
type Cart interface {
	ItemsX(ctx context.Context) error
}

type CartItems interface { // ERROR: CartItems: the generated cartItemsXArgs clashes with the one generated for Cart // ERROR: CartItems: the generated cartItemsXInvoke clashes // ERROR: CartItems: the generated CartItemsXFuture clashes
	X(ctx context.Context) error
}

// Remote has methods named like the proxy's own.
type Remote interface { // ERROR: Remote: the generated RemoteAsync clashes with the type declared at names.go:
	Ref(ctx context.Context) error            // ERROR: Remote.Ref: clashes with the Ref accessor of the generated proxy
	c(ctx context.Context) error              // ERROR: Remote.c: clashes with the field c of the generated proxy
	Oneway(ctx context.Context) error         // ERROR: Remote.Oneway: clashes with the Oneway view accessor of the generated proxy; rename the method
	SyncWithServer(ctx context.Context) error // ERROR: Remote.SyncWithServer: clashes with the SyncWithServer view accessor
	Async(ctx context.Context) error          // ERROR: Remote.Async: clashes with the Async view accessor
	Callback(ctx context.Context) error       // ERROR: Remote.Callback: clashes with the Callback view accessor
	p(ctx context.Context) error              // ERROR: Remote.p: clashes with the field p of the generated views
}

// RemoteAsync has the name of Remote's generated Async view.
type RemoteAsync struct{}

// impl is named like a local variable of the generated code.
type impl interface { // ERROR: impl: the generated code declares a local variable impl
	Do(ctx context.Context) error
}
