// Package refs has remote interfaces whose parameters and results are
// remote interfaces: of this package, of package notify, and through an
// alias.
package refs

import (
	"context"

	"github.com/remoting-go/remoting/stubgen/testdata/refs/notify"
)

// Shop is a remote factory of carts.
type Shop interface {
	// NewCart returns a new cart, or nil.
	NewCart(ctx context.Context, owner string) (Cart, error)
	// Find mixes a reference with data among the results.
	Find(ctx context.Context, id int) (Cart, bool, error)
}

// Cart is made by Shop for one client.
type Cart interface {
	Add(ctx context.Context, sku string, qty int) error
	Total(ctx context.Context) (int, error)
}

// Watcher is an alias of a remote interface, and remote too.
type Watcher = Observer

// Room passes callback objects to the server.
type Room interface {
	// Subscribe passes an object of this package.
	Subscribe(ctx context.Context, obs Observer) error
	// Listen passes an object of package notify, among data, and returns one.
	Listen(ctx context.Context, topic string, l notify.Listener, tags ...string) (notify.Listener, error)
	// Relay takes and returns objects through parameter names that the
	// generated code must not use as they are.
	Relay(ctx context.Context, a Observer, ref Watcher) (Observer, error)
}

// Observer is implemented by clients.
type Observer interface {
	Notify(ctx context.Context, msg string) error
}
