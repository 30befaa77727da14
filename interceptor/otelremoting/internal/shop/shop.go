// Package shop is the remote interface that the tests of package
// otelremoting call: an order in every invocation mode, a failure, and a
// callback to an object the client exports.
package shop

//go:generate go tool stubgen -type Shop,Watcher

import (
	"context"

	"github.com/remoting-go/remoting"
)

// Shop is the test interface.
type Shop interface {
	// Order returns a receipt for n of sku; n <= 0 is InvalidArgument,
	// the sku "broken" fails in the method.
	Order(ctx context.Context, sku string, n int) (string, error)
	// Watch calls w.Notify with sku before it returns.
	Watch(ctx context.Context, sku string, w Watcher) error
}

// Watcher is a callback object a client exports.
type Watcher interface {
	// Notify tells the watcher of msg.
	Notify(ctx context.Context, msg string) error
}

// Impl implements Shop. Its zero value is ready; Ordered, if set, is sent
// the ctx of every Order call.
type Impl struct {
	Ordered chan context.Context
}

// Order implements Shop.
func (s *Impl) Order(ctx context.Context, sku string, n int) (string, error) {
	if s.Ordered != nil {
		s.Ordered <- ctx
	}
	switch {
	case n <= 0:
		return "", remoting.Errorf(remoting.CodeInvalidArgument, "order of %d", n)
	case sku == "broken":
		return "", errBroken
	}
	return sku + " ordered", nil
}

// Watch implements Shop.
func (s *Impl) Watch(ctx context.Context, sku string, w Watcher) error {
	return w.Notify(ctx, sku+" in stock")
}

type brokenError struct{}

func (brokenError) Error() string { return "the shop is broken" }

var errBroken error = brokenError{}
