// Package embedded has interfaces built by embedding, local and from another
// package.
package embedded

import (
	"context"

	"github.com/remoting-go/remoting/stubgen/testdata/embedded/base"
)

// Reader reads values.
type Reader interface {
	Get(ctx context.Context, key string) (value string, found bool, err error)
}

// Store embeds Reader and an interface of another package.
type Store interface {
	Reader
	base.Checker
	Put(ctx context.Context, key, value string) error
}
