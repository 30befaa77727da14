// Package basic is the example of the stubgen documentation.
package basic

import "context"

// Item is one line of a cart.
type Item struct {
	SKU string
	Qty int
}

// Cart is a shopping cart.
type Cart interface {
	Add(ctx context.Context, sku string, qty int) error
	Items(ctx context.Context) ([]Item, error)
}
