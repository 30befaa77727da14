// Package base has an interface that another package embeds.
package base

import "context"

// Status is the health of a service.
type Status struct {
	OK     bool
	Detail string
}

// Checker reports health.
type Checker interface {
	Health(ctx context.Context) (Status, error)
}
